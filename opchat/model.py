"""The domain, as plain data: what a dialog, a message or a channel is.

Nothing here does I/O. The store returns these objects, the inbox hands them
to the UI, and transports speak :class:`InboundMessage` / :class:`OutboundMessage`
to the hub. Only what the app's first frame shows (the list of dialogs) is
defined here; the rest is `opchat.model_later`'s, handed out from here when
first asked for (see there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time `__getattr__` below loads them
    from opchat.model_later import *  # noqa: F403


def __getattr__(name: str) -> Any:
    """The classes of `opchat.model_later`, loaded when first asked for (see there why)."""
    if not name.startswith("_"):
        import opchat.model_later as later

        if name in later.__all__:
            value = getattr(later, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    import opchat.model_later as later

    return sorted({*globals(), *later.__all__})


class Direction(StrEnum):
    IN = "in"  # from the customer
    OUT = "out"  # from an operator to the customer
    NOTE = "note"  # private note, never sent
    AUTO = "auto"  # sent by opchat itself (automatic answer); not a human reply


class MessageState(StrEnum):
    RECEIVED = "received"  # inbound, stored
    QUEUED = "queued"  # outbound, waiting in the outbox
    SENT = "sent"  # the platform accepted it
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # given up; `Message.error` says why, the operator may retry


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Health(StrEnum):
    STARTING = "starting"
    OK = "ok"
    DEGRADED = "degraded"  # working with trouble (retrying, slow, partial)
    DOWN = "down"  # not working; the detail says why
    STOPPED = "stopped"  # no hub runs this channel now


# The HTTP API's writes are done as the operator "api:" + the token's name: a row in
# `operators` (so the events log names the token) that is nobody to give a dialog to.
API_OPERATOR_PREFIX = "api:"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A dialog as the conversation list shows it."""

    id: int
    channel_id: int
    channel_name: str
    channel_kind: str
    contact_id: int
    contact_name: str
    status: Status
    unread: int
    waiting_since: float | None  # first unanswered customer message, epoch seconds
    last_message_at: float
    preview: str  # the last message's text, raw (sanitised when drawn)
    preview_direction: Direction
    preview_author: str = ""  # who wrote the last message (operator login for replies)
    assignee: str | None = None  # operator login
    first_response_s: float | None = None
    created_at: float = 0.0
    labels: tuple[str, ...] = ()
    # The operator's reply that failed and keeps the dialog waiting (until a later
    # reply is delivered or the failure is dismissed); None when there is none.
    failed_message_id: int | None = None
    last_inbound_at: float | None = None  # the customer's last message (reply windows)
    # The current round (from the customer's first message to resolving; store/stats.py):
    # when it began, None when none is open, and whether a human has answered in it.
    round_start: float | None = None
    round_answered: bool = False


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """Which dialogs a list shows, and in what order."""

    statuses: frozenset[Status] | None = None  # None: every status
    waiting_only: bool = False
    order: str = "recent"  # "recent": newest activity first; "waiting": longest wait first
    assignee: str | None = None  # only dialogs assigned to this operator login
    unassigned: bool = False  # only dialogs assigned to nobody
    label: str | None = None  # only dialogs with this label (any case)
    unread_only: bool = False
    failed_only: bool = False  # only dialogs whose last reply failed (they wait too)
    channel: str | None = None  # only dialogs on the channel of this name
    # The SLA view: open or pending dialogs that owe a response (waiting since at or
    # before ``waiting_before``) or a resolution (round begun at or before
    # ``round_before``); None leaves that kind out. The store selects these candidates,
    # oldest first; the inbox keeps those about to miss a target or having missed it
    # (opchat/sla.py), most urgent first.
    at_risk: bool = False
    waiting_before: float | None = None
    round_before: float | None = None


class PresenceKind(StrEnum):
    ONLINE = "online"  # the operator has opchat open (who = login)
    VIEWING = "viewing"  # the operator has this dialog open
    TYPING = "typing"  # the operator is composing a reply in this dialog
    CUSTOMER_TYPING = "customer_typing"  # the customer is typing; text: their draft, if shared


# What `Message.meta` / `InboundMessage.meta` may say about a message. Transports fill in
# what their platform has; the thread shows it. All values are untrusted text.
MESSAGE_META = {
    "forwarded_from": "str: who the message was forwarded from",
    "forwarded": '"once" or "many": forwarded from someone the platform does not name',
    "unsupported": "str: the platform's words on a message it could not pass on "
                   "(kind is then \"unsupported\")",
    "referral": "{headline, body, source_url, source_type, source_id}: the ad or post "
                "the customer came from",
    "entities": "list of [offset, length, style]: style is bold, italic, underline, "
                "strike, code, pre, link, spoiler; offsets in characters of `body`",
    "callback": "str: the data of a button the customer pressed (body is its label)",
    "location": "[latitude, longitude]",
    "kind": "str: what the platform called it when it is not plain text (sticker, ...)",
    "callback_request": "{phone, when}: a 'call me back' request left on the web chat",
    "contact_form": "true: left on the web chat's offline form",
    "contact": "{name, email, phone}: the contact details the customer gave with it",
    "links": "list of [offset, length, url]: links whose address is not their text",
    "quote": "str: the part of the replied-to message the customer quoted",
    "reactions": "{who: emoji}: reactions the customer put on the message",
    "template": "{name, language, header, body}: an outgoing message sent as this "
                "template with these variables (see TemplateUse)",
    "deleted": "true: the customer deleted (unsent) it; it is kept as it was",
    "elsewhere": "str: an outgoing message the business sent from another tool, as the "
                 "platform echoed it (the tool's name, or \"\"); opchat never sent it",
    "app": "str: the platform's id of the app an echo (see elsewhere) was sent from",
    "story": "{url, id, mention}: the customer replied to the business's story at url "
             "(mention true: mentioned the business in their own story)",
    "automated": 'str: a machine wrote it ("auto-reply", "bounce", "bulk"); the automatic '
                 "answers never answer it (no mail loops)",
    "email": "{message_id, subject, from, references, full}: what an e-mail carried "
             "(full: the whole text, when quoted history or a signature was folded away)",
    "rating": "int 1-5: the customer's rating of the dialog they were asked to rate "
              "(the message is their answer; the dialog stays resolved)",
    "rating_asked": "true: an automatic message asking the customer to rate the dialog",
    "by_email": "str: the email channel a web chat visitor's reply by e-mail came through "
                "(an answer to them went by e-mail; the web chat's email_channel)",
    "greeted": "true: the platform showed the customer the channel's greeting before this "
               "first message (Viber's welcome message); it is not said again",
}


# How `opchat stats` and the stats screen may group the figures (opchat/store/stats.py).
STATS_GROUPINGS = ("channel", "operator", "label", "hour", "day")
STATS_PERIODS = ("today", "yesterday", "7d", "30d")  # and a range typed as dates


class EventKind(StrEnum):
    """What an `events` row says happened; its value is the row's ``kind``. Rows of a
    newer opchat may hold kinds not listed here: readers keep them as plain strings."""

    MESSAGE_NEW = "message.new"  # data: direction; channel when it queued a send
    MESSAGE_STATE = "message.state"  # data: state (and error, retry, channel)
    MESSAGE_RETRYING = "message.retrying"  # data: after, error
    MESSAGE_REACTION = "message.reaction"  # data: emoji ("" taken away), by
    MESSAGE_DELETED = "message.deleted"  # the customer deleted it (kept, shown so)
    MESSAGE_HIDDEN = "message.hidden"  # data: direction (reason, versions)
    MESSAGE_UNHIDDEN = "message.unhidden"
    CONVERSATION_NEW = "conversation.new"
    CONVERSATION_STATUS = "conversation.status"  # data: from, to (until, reason)
    CONVERSATION_ASSIGN = "conversation.assign"  # data: from, to (reason)
    CONVERSATION_LABEL = "conversation.label"  # data: added or removed
    CONVERSATION_READ = "conversation.read"
    CONVERSATION_HIDDEN = "conversation.hidden"
    CONVERSATION_UNHIDDEN = "conversation.unhidden"  # data: reason
    CONVERSATION_FAILED = "conversation.failed"  # a reply failed: the dialog waits again
    CONVERSATION_FAILURE_CLEARED = "conversation.failure_cleared"  # data: reason
    CONVERSATION_RATED = "conversation.rated"  # data: rating (1-5), comment
    # data: to (an e-mail address), reason; message: only this answer (reason "offline")
    TRANSCRIPT_REQUESTED = "transcript.requested"
    # data: request (its event id), to, channel, error; mail_id: its Message-ID
    TRANSCRIPT_SENT = "transcript.sent"
    CONTACT_MERGED = "contact.merged"
    CONTACT_NOTES = "contact.notes"
    # A channel told something new of a contact: data: contact, fields (name, phone, email)
    CONTACT_CHANGED = "contact.changed"
    CHANNEL_HEALTH = "channel.health"  # data: channel, health, detail
    ATTACHMENT_REQUESTED = "attachment.requested"
    ATTACHMENT_READY = "attachment.ready"
    ATTACHMENT_FAILED = "attachment.failed"
    QUICK_REPLIES_SAVED = "quick_replies.saved"
    QUICK_REPLIES_DELETED = "quick_replies.deleted"


MATCH_START = "\x02"  # control characters never survive sanitising, so they can't be forged
MATCH_END = "\x03"

_MARKED = re.compile(f"{MATCH_START}([^{MATCH_END}]*){MATCH_END}")


def split_marked(text: str) -> list[tuple[str, bool]]:
    """A hit's text as (piece, matched) pairs, the markers gone; pieces are still raw."""
    pieces: list[tuple[str, bool]] = []
    last = 0
    for found in _MARKED.finditer(text):
        pieces += [(text[last:found.start()], False), (found.group(1), True)]
        last = found.end()
    pieces.append((text[last:], False))
    return [(piece, matched) for piece, matched in pieces if piece]


class ShortcutTaken(ValueError):
    """Another quick reply (shared or someone's private one) has this shortcut."""

    def __init__(self, shortcut: str) -> None:
        super().__init__(f"the shortcut /{shortcut} is taken by another reply")
        self.shortcut = shortcut


class UnstorableMessage(ValueError):
    """An inbound message whose data the store refuses; storing it again cannot help.

    Its neighbours are stored; the channel acknowledges it upstream (so the platform
    does not deliver it for ever) and the store has logged it with its channel and id.
    """


def redacted_url(url: str) -> str:
    """A database URL without its password, to show or log."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)
