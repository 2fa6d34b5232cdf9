"""The domain, as plain data: what a dialog, a message or a channel is.

Nothing here does I/O. The store returns these objects, the inbox hands them
to the UI, and transports speak :class:`InboundMessage` / :class:`OutboundMessage`
to the hub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

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


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    name: str
    kind: str
    health: Health = Health.STOPPED
    health_detail: str = ""
    # What its transport can carry (Capabilities' fields: media, edits, max_len...), as
    # the hub last found it; None until a hub has loaded the channel.
    capabilities: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def carries_files(self) -> bool | None:
        """False when the channel cannot send files; None when not known yet."""
        return None if self.capabilities is None else bool(self.capabilities.get("media"))

    @property
    def reply_window(self) -> int:
        """Seconds after the customer's last message in which a free reply may be sent
        (Meta's 24-hour window); 0 when the channel has no such limit (or is not known)."""
        window = (self.capabilities or {}).get("reply_window")
        return window if isinstance(window, int) and window > 0 else 0

    @property
    def has_templates(self) -> bool:
        """Whether approved message templates may go past the reply window (WhatsApp)."""
        return bool((self.capabilities or {}).get("templates"))


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


@dataclass(frozen=True, slots=True)
class Presence:
    """Ephemeral state shared between processes: not stored for history, not audited."""

    kind: PresenceKind
    who: str  # operator login; "" for the customer
    conversation_id: int  # 0 when it is not about one dialog
    text: str
    at: float
    expires_at: float
    seq: int

    def active(self, now: float) -> bool:
        return now < self.expires_at


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # photo, document, voice, video, audio, sticker, location, contact, ...
    filename: str = ""
    mime: str = ""
    size: int | None = None
    ref: str = ""  # the platform's handle for fetching it (file_id, URL)
    local_path: str | None = None  # set once downloaded into the data dir
    id: int | None = None
    # The file's SHA-256 (hex) when a PostgreSQL store keeps its bytes for every machine.
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    direction: Direction
    author: str  # customer's name, operator login, or channel name
    body: str  # raw, as received or typed; sanitised only when drawn
    created_at: float
    state: MessageState
    error: str | None = None
    external_id: str | None = None
    reply_to_id: int | None = None
    attachments: tuple[Attachment, ...] = ()
    # See MESSAGE_META. Not hashed: a message is identified by its other fields.
    meta: dict[str, Any] = field(default_factory=dict, hash=False)
    edit_of_id: int | None = None  # this message is an edit of that one (kept as it was)


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


@dataclass(frozen=True, slots=True)
class QuickReply:
    id: int
    shortcut: str
    title: str
    body: str
    uses: int = 0


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


# What each kind's ``data`` holds, typed. The store checks every event it writes
# against these (a key not declared here is a bug, raised at once); readers take
# ``Event.payload``, which ignores keys a newer opchat added and fills missing ones with
# the defaults. A field named like a Python keyword ends in "_" (``from_`` is "from").
# NamedTuples, not dataclasses: the model is imported before the first frame, and a
# NamedTuple costs a tenth as much to define (measured: 33 µs against 370 µs).


class MessageNewData(NamedTuple):
    direction: str = ""  # a Direction's value
    channel: str | None = None  # the channel it is queued on, when it is sent
    auto: tuple[str, ...] = ()  # the rules of an automatic answer


class MessageStateData(NamedTuple):
    state: str = ""  # a MessageState's value
    error: str | None = None
    retry: bool = False  # queued again by an operator
    channel: str | None = None  # the channel it is queued on


class MessageReactionData(NamedTuple):
    emoji: str = ""  # "": the reaction was taken away
    by: str = ""  # the platform's id of who reacted


class MessageRetryingData(NamedTuple):
    after: float = 0.0  # seconds until the next attempt
    error: str = ""


class MessageHiddenData(NamedTuple):  # also message.unhidden
    direction: str = ""
    reason: str | None = None
    versions: int | None = None  # an edited message's versions, hidden together


class ConversationStatusData(NamedTuple):
    from_: str = ""
    to: str = ""
    until: float | None = None  # snoozed until
    reason: str | None = None


class ConversationAssignData(NamedTuple):
    from_: str | None = None
    to: str | None = None
    reason: str | None = None


class ConversationLabelData(NamedTuple):
    added: str | None = None
    removed: str | None = None


class ReasonData(NamedTuple):  # conversation.unhidden, conversation.failure_cleared
    reason: str | None = None


class ConversationFailedData(NamedTuple):
    waiting_since: float | None = None  # since when the customer waits again


class ContactMergedData(NamedTuple):
    contact: int = 0  # kept
    merged: int = 0  # gone into it
    kept_name: str = ""
    merged_name: str = ""
    conversations: tuple[int, ...] = ()
    identities: tuple[dict[str, Any], ...] = ()  # each moved: id, channel, external_id, name
    filled: tuple[str, ...] = ()  # fields the kept contact lacked and took


class ContactNotesData(NamedTuple):
    contact: int = 0
    chars: int = 0


class ContactChangedData(NamedTuple):
    contact: int = 0
    fields: tuple[str, ...] = ()  # which of name, phone, email the channel filled or changed


class ChannelHealthData(NamedTuple):
    channel: str = ""
    health: str = ""  # a Health's value
    detail: str = ""


class AttachmentData(NamedTuple):  # attachment.requested, .ready, .failed
    attachment: int = 0
    error: str | None = None


class QuickRepliesData(NamedTuple):  # quick_replies.saved, .deleted
    count: int | None = None
    shortcut: str | None = None
    title: str | None = None
    body: str | None = None


class ConversationRatedData(NamedTuple):
    rating: int = 0  # 1 to 5
    comment: str = ""


class TranscriptData(NamedTuple):  # transcript.requested, transcript.sent
    to: str = ""
    reason: str = ""  # why it was asked: "operator" or "resolved"
    request: int = 0  # transcript.sent: the transcript.requested event it answers
    channel: str = ""  # the e-mail channel it went through
    error: str = ""  # not sent: why
    # An operator's answer (this message id) mailed to a web chat visitor who left,
    # instead of the whole dialog; with its Message-ID once sent.
    message: int = 0
    mail_id: str = ""


class NoData(NamedTuple):  # conversation.new, .read, .hidden, message.deleted
    pass


EVENT_DATA: dict[str, type] = {
    EventKind.MESSAGE_NEW: MessageNewData,
    EventKind.MESSAGE_STATE: MessageStateData,
    EventKind.MESSAGE_RETRYING: MessageRetryingData,
    EventKind.MESSAGE_REACTION: MessageReactionData,
    EventKind.MESSAGE_DELETED: NoData,
    EventKind.MESSAGE_HIDDEN: MessageHiddenData,
    EventKind.MESSAGE_UNHIDDEN: MessageHiddenData,
    EventKind.CONVERSATION_NEW: NoData,
    EventKind.CONVERSATION_STATUS: ConversationStatusData,
    EventKind.CONVERSATION_ASSIGN: ConversationAssignData,
    EventKind.CONVERSATION_LABEL: ConversationLabelData,
    EventKind.CONVERSATION_READ: NoData,
    EventKind.CONVERSATION_HIDDEN: NoData,
    EventKind.CONVERSATION_UNHIDDEN: ReasonData,
    EventKind.CONVERSATION_FAILED: ConversationFailedData,
    EventKind.CONVERSATION_FAILURE_CLEARED: ReasonData,
    EventKind.CONVERSATION_RATED: ConversationRatedData,
    EventKind.TRANSCRIPT_REQUESTED: TranscriptData,
    EventKind.TRANSCRIPT_SENT: TranscriptData,
    EventKind.CONTACT_MERGED: ContactMergedData,
    EventKind.CONTACT_NOTES: ContactNotesData,
    EventKind.CONTACT_CHANGED: ContactChangedData,
    EventKind.CHANNEL_HEALTH: ChannelHealthData,
    EventKind.ATTACHMENT_REQUESTED: AttachmentData,
    EventKind.ATTACHMENT_READY: AttachmentData,
    EventKind.ATTACHMENT_FAILED: AttachmentData,
    EventKind.QUICK_REPLIES_SAVED: QuickRepliesData,
    EventKind.QUICK_REPLIES_DELETED: QuickRepliesData,
}


def _data_key(name: str) -> str:
    return name.rstrip("_")


def check_event_data(kind: str, data: dict[str, Any]) -> None:
    """TypeError if ``data`` holds a key ``kind``'s payload does not declare (for the
    writer: what it records must be what readers are told to expect)."""
    shape = EVENT_DATA.get(kind)
    if shape is None:
        raise TypeError(f"event kind {kind!r} has no payload in model.EVENT_DATA")
    known = {_data_key(name) for name in shape._fields}
    unknown = set(data) - known
    if unknown:
        raise TypeError(f"{kind} data has undeclared keys: {', '.join(sorted(unknown))}")


def event_payload(kind: str, data: dict[str, Any]) -> object | None:
    """``data`` as ``kind``'s payload dataclass; None for a kind this opchat does not know.
    Keys it does not declare are left out; lists become tuples."""
    shape = EVENT_DATA.get(kind)
    if shape is None:
        return None
    values = {}
    for name in shape._fields:
        key = _data_key(name)
        if key in data:
            value = data[key]
            values[name] = tuple(value) if isinstance(value, list) else value
    return shape(**values)


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the append-only `events` table: the audit log and the change feed."""

    id: int
    at: float
    kind: str  # an EventKind's value (equal to the member), or a newer opchat's kind
    conversation_id: int | None = None
    message_id: int | None = None
    operator: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> object | None:
        """``data`` typed by the kind (see EVENT_DATA): match it with ``isinstance`` or
        ``match``; None for a newer opchat's kind."""
        return event_payload(self.kind, self.data)


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
