"""The model's classes that the app's first frame does not need. That frame shows the
list of dialogs (`opchat.model`'s `Conversation`, `ConversationFilter` and enums), and
nothing else is read before it: channels, messages and their attachments, quick
replies, presence, the events and their payloads come once the store is open;
contacts and their identities, operators, labels, saved replies, the figures, search
results, the contact panel's card and merges, hidden items when asked for; what
transports exchange with the hub (inbound and outbound messages, templates) once the
hub starts.

Import them from `opchat.model`, which loads this module the first time one of them is
asked for (PEP 562): creating a frozen dataclass costs ~0.5 ms, and these ~15 ms were
paid by every start before its first frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from opchat.model import Conversation, Direction, EventKind, Health, MessageState, PresenceKind

__all__ = [
    "EVENT_DATA",
    "Attachment",
    "AttachmentData",
    "Channel",
    "ChannelHealthData",
    "Contact",
    "ContactCard",
    "ContactChangedData",
    "ContactHit",
    "ContactIdentity",
    "ContactMergedData",
    "ContactNotesData",
    "ConversationAssignData",
    "ConversationFailedData",
    "ConversationLabelData",
    "ConversationRatedData",
    "ConversationStatusData",
    "Event",
    "Figures",
    "HiddenItem",
    "Identity",
    "InboundMessage",
    "Ingested",
    "Label",
    "LabelHit",
    "MergePlan",
    "MergeSuggestion",
    "Message",
    "MessageHiddenData",
    "MessageNewData",
    "MessageReactionData",
    "MessageRetryingData",
    "MessageStateData",
    "NoData",
    "Operator",
    "OutboundMessage",
    "Presence",
    "QuickRepliesData",
    "QuickReply",
    "Rating",
    "ReasonData",
    "SavedReply",
    "SearchHit",
    "SearchResults",
    "Spread",
    "StatsReport",
    "Template",
    "TemplateUse",
    "TranscriptData",
    "check_event_data",
    "event_payload",
]


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


@dataclass(frozen=True, slots=True)
class QuickReply:
    id: int
    shortcut: str
    title: str
    body: str
    uses: int = 0


# What each kind's ``data`` holds, typed. The store checks every event it writes
# against these (a key not declared here is a bug, raised at once); readers take
# ``Event.payload``, which ignores keys a newer opchat added and fills missing ones with
# the defaults. A field named like a Python keyword ends in "_" (``from_`` is "from").
# NamedTuples, not dataclasses: every process that follows the change feed defines them
# all, and a NamedTuple costs a tenth as much to define (measured: 33 µs against 370 µs).


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


# Each kind's declared keys, as `check_event_data` compares them (every event written
# is checked: worked out once, not at each).
_DECLARED = {kind: frozenset(_data_key(name) for name in shape._fields)
             for kind, shape in EVENT_DATA.items()}


def check_event_data(kind: str, data: dict[str, Any]) -> None:
    """TypeError if ``data`` holds a key ``kind``'s payload does not declare (for the
    writer: what it records must be what readers are told to expect)."""
    known = _DECLARED.get(kind)
    if known is None:
        raise TypeError(f"event kind {kind!r} has no payload in model.EVENT_DATA")
    if not known.issuperset(data):
        unknown = set(data) - known
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
