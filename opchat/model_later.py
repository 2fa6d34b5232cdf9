"""The model's classes that the app's first frame does not need: contacts and their
identities, operators, labels, saved replies, the figures, search results, the contact
panel's card and merges, hidden items; and what transports exchange with the hub
(inbound and outbound messages, templates), which the app's process needs only once
its hub starts, after the first frame.

Import them from `opchat.model`, which loads this module the first time one of them is
asked for (PEP 562): creating a frozen dataclass costs ~0.5 ms, and these ~10 ms were
paid by every start before its first frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from opchat.model import Attachment, Conversation, QuickReply

__all__ = [
    "Contact",
    "ContactCard",
    "ContactHit",
    "ContactIdentity",
    "Figures",
    "HiddenItem",
    "Identity",
    "InboundMessage",
    "Ingested",
    "Label",
    "LabelHit",
    "MergePlan",
    "MergeSuggestion",
    "Operator",
    "OutboundMessage",
    "Rating",
    "SavedReply",
    "SearchHit",
    "SearchResults",
    "Spread",
    "StatsReport",
    "Template",
    "TemplateUse",
]


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """One contact's address on one channel (a Telegram user, a phone on WhatsApp...)."""

    id: int
    contact_id: int
    channel_id: int
    external_id: str
    display_name: str = ""
    username: str | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    login: str
    name: str


@dataclass(frozen=True, slots=True)
class Label:
    id: int
    name: str
    color: str = ""  # a colour name or #rrggbb; "" lets the UI choose


@dataclass(frozen=True, slots=True)
class SavedReply(QuickReply):
    """A quick reply with what migration 2 added to it."""

    folder: str = ""
    owner: str | None = None  # the login of the operator it is private to; None: shared
    attachment: str | None = None  # a file path sent with the reply
    variants: dict[str, str] = field(default_factory=dict, hash=False)  # channel kind -> text


class Spread(NamedTuple):
    """Durations in seconds: how many, and their median, 90th percentile and mean."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    mean: float | None = None


class Figures(NamedTuple):
    """One row of response-time figures: a whole period, or one channel, operator,
    label, hour of day or day of it (see opchat/store/stats.py for what each counts)."""

    key: str
    counts: dict[str, int]  # started, reopened, missed, in, out
    durations: dict[str, Spread]  # first_response, reply, resolution
    within: dict[float, float | None]  # seconds -> share of first responses that quick
    # The same durations counting only the channel's working hours (None: not asked).
    work: dict[str, Spread] | None = None
    work_within: dict[float, float | None] | None = None

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def spread(self, kind: str, working: bool = False) -> Spread:
        return (self.work or {} if working else self.durations).get(kind, Spread())

    def share_within(self, limit: float, working: bool = False) -> float | None:
        return (self.work_within or {} if working else self.within).get(limit)

    def ratings(self) -> tuple[int, float | None, float | None]:
        """Customers' ratings: how many, their average, the share of 4 and 5."""
        given = [self.count(f"rating_{n}") for n in range(1, 6)]
        total = sum(given)
        if not total:
            return 0, None, None
        return (total, sum(n * c for n, c in enumerate(given, 1)) / total,
                (given[3] + given[4]) / total)


class Rating(NamedTuple):
    """A customer's rating of a resolved dialog (1 to 5), and what they added."""

    conversation_id: int
    rating: int
    comment: str
    at: float
    operator: str  # who resolved the dialog they rated ("" if nobody did)
    channel: str


class StatsReport(NamedTuple):
    """What the stats screen shows of [start, end)."""

    start: float
    end: float
    whole: Figures | None  # None: nothing happened
    by_channel: list[Figures]
    by_operator: list[Figures]
    by_hour: list[Figures]  # answers ("out") only; keys "00".."23", local; empty hours absent
    by_day: list[Figures]  # dialogs started and reopened only; keys "YYYY-MM-DD", local
    first_responses: tuple[int, ...]  # how many per bar of `limits`
    limits: tuple[float, ...]  # each bar's upper bound in seconds; the last is infinite
    first_responses_work: tuple[int, ...] | None = None  # the same in working time, if asked


@dataclass(frozen=True, slots=True)
class SearchHit:
    message_id: int
    conversation_id: int
    contact_name: str
    channel_name: str
    created_at: float
    snippet: str  # raw text around the match; MATCH_START/MATCH_END mark the hit


@dataclass(frozen=True, slots=True)
class ContactHit:
    """A contact whose name, phone or e-mail matches; opens their newest conversation."""

    contact_id: int
    name: str  # MATCH_START/MATCH_END mark the hit, as in SearchHit.snippet
    phone: str  # "" when there is none; marked when the phone matched
    email: str  # "" when there is none; marked when the e-mail matched
    conversation_id: int  # their most recent conversation
    channel_name: str
    last_message_at: float


@dataclass(frozen=True, slots=True)
class LabelHit:
    """A conversation that carries a matching label."""

    label: str  # the label's name, the match marked
    conversation_id: int
    contact_name: str
    channel_name: str
    last_message_at: float


@dataclass(frozen=True, slots=True)
class SearchResults:
    contacts: tuple[ContactHit, ...] = ()
    labels: tuple[LabelHit, ...] = ()
    messages: tuple[SearchHit, ...] = ()

    def __len__(self) -> int:
        return len(self.contacts) + len(self.labels) + len(self.messages)


# One customer across channels: the contact panel, merging, what is hidden -----------------


@dataclass(frozen=True, slots=True)
class ContactIdentity:
    """An identity as the contact panel shows it: with its channel and profile."""

    identity: Identity
    channel_name: str
    channel_kind: str
    profile: dict[str, Any] = field(default_factory=dict, hash=False)  # untrusted values


@dataclass(frozen=True, slots=True)
class MergeSuggestion:
    """Another contact that may be the same person (never merged without asking)."""

    contact: Contact
    reason: str  # "phone" or "email": what matches
    conversations: int = 0


@dataclass(frozen=True, slots=True)
class ContactCard:
    """Everything the contact panel shows about one person."""

    contact: Contact
    notes: str
    identities: tuple[ContactIdentity, ...]
    conversations: tuple[Conversation, ...]  # on every channel, newest first; not hidden ones
    labels: tuple[str, ...]  # of all their conversations
    suggestions: tuple[MergeSuggestion, ...]
    ratings: tuple[Rating, ...] = ()  # the ratings they gave, newest first


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What merging ``other`` into ``kept`` moves, and what ``kept`` becomes."""

    kept: Contact
    other: Contact
    result: Contact  # ``kept`` after the merge: its empty name, phone, email filled in
    identities: tuple[ContactIdentity, ...]  # move from ``other`` to ``kept``
    conversations: tuple[Conversation, ...]  # move from ``other`` to ``kept``
    notes_added: bool  # ``other``'s notes are added to ``kept``'s


@dataclass(frozen=True, slots=True)
class HiddenItem:
    """A hidden conversation or message, with who hid it and when (from the events)."""

    kind: str  # "conversation" or "message"
    id: int
    conversation_id: int
    title: str  # contact and channel, or the message's first words; untrusted
    at: float | None
    operator: str | None


# What transports exchange with the hub ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a customer sent, as a transport hands it to the hub.

    ``external_id`` must be stable across re-deliveries of the same message and
    unique in the whole channel (prefix the chat where the platform numbers
    messages per chat): the store keeps one row per (channel, external_id), so a
    redelivered message is recognised and not stored twice.
    """

    channel: str  # the channel's configured name
    chat_id: str  # the platform's dialog address; replies go there
    external_id: str
    sender_id: str
    sender_name: str
    body: str
    sent_at: float | None = None  # the platform's timestamp, epoch seconds
    username: str | None = None
    phone: str | None = None
    email: str | None = None
    reply_to_external_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    profile: dict[str, Any] = field(default_factory=dict)  # language, page URL, ...
    meta: dict[str, Any] = field(default_factory=dict)  # see MESSAGE_META
    edit_of_external_id: str | None = None  # an edit of that message: store it beside it
    labels: tuple[str, ...] = ()  # labels the dialog gets (created if new), e.g. "callback"


@dataclass(frozen=True, slots=True)
class Template:
    """A message template the platform approved (WhatsApp's): see opchat.templates."""

    name: str
    language: str  # the platform's code, e.g. en_US
    status: str = "APPROVED"  # APPROVED, PENDING, REJECTED, PAUSED...
    category: str = ""  # UTILITY, MARKETING, AUTHENTICATION
    header: str = ""  # text with {{1}}… variables
    body: str = ""
    footer: str = ""
    buttons: tuple[str, ...] = ()  # quick-reply labels the customer can press


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """A template as one message uses it: which, and the values of its variables."""

    name: str
    language: str
    header: tuple[str, ...] = ()  # {{1}}… of the header, in order
    body: tuple[str, ...] = ()  # {{1}}… of the body


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What the outbox asks a transport to deliver."""

    message_id: int
    channel: str
    chat_id: str
    body: str
    attempt: int = 1
    reply_to_external_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # (label, payload) of buttons to offer, where the channel can show them
    # (Capabilities.buttons); a press comes back with meta["callback"] = payload.
    # Channels without buttons send the text alone, which says the same.
    buttons: tuple[tuple[str, str], ...] = ()
    # What the transport said of an earlier attempt when it asked to retry
    # (Retry.progress): e.g. which parts of a long message went already.
    progress: str | None = None
    # Send this approved template (the body is its text as filled, for channels and
    # logs that show text); outside a reply window it is all a platform takes.
    template: TemplateUse | None = None


@dataclass(frozen=True, slots=True)
class Ingested:
    """The answer of `Sink.ingest`: the message is committed when you hold this."""

    message_id: int
    conversation_id: int
    duplicate: bool  # already stored earlier: acknowledge upstream, do nothing else
    # Why the message could not be stored at all (its data is poisoned: a value the
    # database refuses); the batch around it was stored and its cursor moved past it.
    # Only `Sink.ingest_batch` answers so; `Sink.ingest` raises UnstorableMessage.
    skipped: str | None = None
