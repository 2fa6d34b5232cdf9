"""The contract between opchat and a messaging channel.

A transport is one small class per channel kind. The hub constructs it with
the channel's settings, calls :meth:`Transport.run` with a :class:`Sink` bound
to that channel, and calls :meth:`Transport.send` from the outbox. Transports
never touch the store or the UI.

Transports are found through the ``opchat.transports`` entry-point group, so a
plugin package can add a channel kind without changing opchat::

    # pyproject.toml of the plugin
    [project.entry-points."opchat.transports"]
    line = "opchat_line:LineTransport"

See ``docs/PLUGINS.md`` for a complete example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from opchat.model import (
    Health,
    InboundMessage,
    Ingested,
    Message,
    MessageState,
    OutboundMessage,
)

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

ENTRY_POINT_GROUP = "opchat.transports"


@dataclass(frozen=True, slots=True)
class Capabilities:
    media: bool = False
    edits: bool = False
    typing: bool = False
    buttons: bool = False
    max_len: int = 4096  # longest text one platform message may carry


@dataclass(frozen=True, slots=True)
class Delivery:
    """A transport's answer to a successful send."""

    external_id: str | None = None  # the platform's id of the sent message
    state: MessageState = MessageState.SENT


class Retry(Exception):
    """Not now: try again after ``after`` seconds (rate limit, temporary outage).

    ``progress``: what already went out (say, the first parts of a long message),
    as a string of the transport's own making. It is stored with the outbox row
    and comes back as ``OutboundMessage.progress`` on the next attempt, even after
    a restart, so that the retry goes on from there instead of sending it twice.
    """

    def __init__(self, reason: str = "", after: float | None = None,
                 progress: str | None = None) -> None:
        super().__init__(reason or "temporary failure")
        self.reason = reason or "temporary failure"
        self.after = after
        self.progress = progress


class Rejected(Exception):
    """Never: the platform refused this message for good (blocked, bad address...).

    ``unreachable``: the customer cannot be written to at all any more (they
    blocked the bot, deleted the account): the dialog is labelled
    :data:`UNREACHABLE_LABEL` so the operator sees it before writing again.
    """

    def __init__(self, reason: str, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


UNREACHABLE_LABEL = "blocked"


class Sink(Protocol):
    """The hub, as one channel's transport sees it."""

    async def ingest(self, message: InboundMessage) -> Ingested:
        """Store one inbound message; returns only after it is committed."""
        ...

    async def ingest_batch(
        self, messages: Sequence[InboundMessage], cursor: str | None = None
    ) -> list[Ingested]:
        """Store messages and this channel's new ``cursor`` (a poll offset) in ONE transaction."""
        ...

    async def cursor(self) -> str | None:
        """The cursor last committed by :meth:`ingest_batch`, or None."""
        ...

    async def report(self, external_id: str, state: MessageState) -> None:
        """A delivery or read receipt for a message this channel sent."""
        ...

    def health(self, state: Health, detail: str = "") -> None:
        """Tell the status bar how the channel is doing (e.g. DEGRADED, "network down")."""
        ...

    async def customer_typing(self, chat_id: str, text: str = "", active: bool = True) -> None:
        """The customer at ``chat_id`` is typing (``active=False``: stopped). ``text`` is
        what they have typed so far, for channels that share it (the web chat's sneak
        peek); pass "" where the platform says only "typing". Ignored when the customer
        has no dialog yet. Never stored as a message."""
        ...

    async def operators_online(self) -> list[str]:
        """Logins of the operators who have opchat open now."""
        ...

    async def attachment_saved(self, ref: str, local_path: Path) -> None:
        """A file this channel received (``Attachment.ref``) was saved at ``local_path``
        by the transport itself (fetched eagerly, under a size limit)."""
        ...

    async def history(self, chat_id: str, after_id: int = 0, limit: int = 200) -> list[Message]:
        """What the customer at ``chat_id`` can see of their dialog: their messages and
        the replies sent to them (never private notes), with ids above ``after_id``,
        oldest first, at most the newest ``limit``. For clients that keep no history
        of their own, such as the web chat widget."""
        ...


@runtime_checkable
class Transport(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    async def run(self, sink: Sink) -> None:
        """Poll or serve until cancelled. Await ``sink.ingest`` BEFORE acking upstream."""
        ...

    async def send(self, out: OutboundMessage) -> Delivery:
        """Deliver one message, or raise :class:`Retry` / :class:`Rejected`."""
        ...

    # Optional, not part of the runtime check. A transport whose platform can show an
    # operator's typing or read marks defines
    #
    #     async def typing(self, chat_id: str, active: bool) -> None: ...
    #     async def seen(self, chat_id: str) -> None: ...   # the operator read the dialog
    #
    # and one whose platform keeps files for opchat to fetch later defines
    #
    #     async def download(self, attachment: Attachment, dest_dir: Path) -> Path: ...
    #
    # which the hub calls when an operator asks for the file: it saves the file under
    # dest_dir (a folder of the data dir; never a name taken raw from the platform) and
    # returns its path, or raises saying why it cannot.
    #
    # The hub calls ``typing(chat_id, True)`` when an operator types in a dialog of this
    # channel (again every few seconds while they keep typing) and ``typing(chat_id,
    # False)`` when they stop; ``seen`` when an operator opens a dialog with unread
    # messages. Both are best effort: errors are logged, never retried.
    #
    # A transport that serves HTTP (a webhook,
    # the web chat widget) also defines
    #
    #     listen: str                                  # "host:port"; default DEFAULT_LISTEN
    #     def mount(self, app: aiohttp.web.Application) -> None: ...
    #
    # The hub then runs ONE aiohttp application for every such channel: it calls
    # ``mount`` (add routes, on_shutdown hooks) before the server starts, listens on
    # each distinct ``listen`` address, and starts ``run`` only once the channel's
    # address is bound. A busy address shows the channel DOWN and is retried.


DEFAULT_LISTEN = "127.0.0.1:8765"


def parse_listen(listen: str) -> tuple[str, int]:
    """ "host:port" (or "[v6]:port") as (host, port); ValueError if it is not one."""
    host, sep, port = str(listen).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {listen!r} is not host:port")
    return host, int(port)


def error_summary(exc: BaseException) -> str:
    """An exception as one line of text, "Type: first line", with secrets hidden."""
    from opchat.sanitize import redact

    text = redact(str(exc)).strip()
    text = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TransportFactory(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __call__(self, channel: ChannelSettings, data_dir: Path) -> Transport: ...


class UnknownChannelKind(LookupError):
    def __init__(self, kind: str, known: Sequence[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.known = tuple(known)


def available_kinds() -> list[str]:
    """Channel kinds installed, without importing any transport module."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_transport(kind: str) -> TransportFactory:
    """Import the transport class for ``kind``; only now is its module (and its SDK) loaded."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            return ep.load()
    raise UnknownChannelKind(kind, available_kinds())
