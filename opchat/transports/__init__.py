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

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from opchat.model import Health, MessageState

if TYPE_CHECKING:
    from opchat.config import ChannelSettings
    from opchat.model import (
        Attachment,
        InboundMessage,
        Ingested,
        Message,
        OutboundMessage,
        Template,
    )

ENTRY_POINT_GROUP = "opchat.transports"


@dataclass(frozen=True, slots=True)
class Capabilities:
    media: bool = False
    edits: bool = False
    typing: bool = False
    buttons: bool = False
    max_len: int = 4096  # longest text one platform message may carry
    # Seconds after the customer's last message in which any reply may be sent (Meta's
    # 24-hour customer service window); 0: no such limit. Past it, only what the platform
    # allows (a WhatsApp template...).
    reply_window: int = 0
    templates: bool = False  # approved message templates go past the window (HasTemplates)


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

    async def report(self, external_id: str, state: MessageState,
                     error: str | None = None) -> None:
        """A receipt for a message this channel sent: DELIVERED, READ, or FAILED after all
        (``error``: why, in words for the operator). The mark never moves backwards; a
        receipt that beats the send's own answer is kept until the send is recorded."""
        ...

    async def offer_templates(self, templates: Sequence[Template]) -> None:
        """The message templates the platform offers now (replacing what it offered
        before), for the operators' template picker."""
        ...

    async def react(self, external_id: str, by: str, emoji: str) -> None:
        """``by`` (the platform's id of who reacted) put ``emoji`` on this channel's message
        ``external_id``; "" takes their reaction away. Shown on that message, never as a
        message of its own; a reaction to a message not stored is let go."""
        ...

    async def read_until(self, chat_id: str, at: float) -> None:
        """The customer at ``chat_id`` has read everything this channel sent them up to
        ``at`` (epoch seconds, the platform's watermark): those messages are READ. Never
        backwards; nothing if they have no dialog."""
        ...

    async def reachable(self, chat_id: str, reachable: bool) -> None:
        """The platform says whether the customer at ``chat_id`` may be written to now
        (they blocked or unsubscribed, or allowed messages again): the dialog carries the
        label :data:`UNREACHABLE_LABEL` while they may not. Let go if they have no dialog."""
        ...

    async def deleted(self, external_id: str) -> None:
        """The customer deleted (unsent) this channel's message ``external_id``. It is
        kept, and shown as deleted by the customer; one not stored is let go."""
        ...

    async def sent_elsewhere(self, message: InboundMessage) -> bool:
        """The business sent ``message`` to the customer at ``message.chat_id`` from
        another tool (the platform's own inbox, another app), as the platform echoes it:
        stored as an outgoing message already sent, never sent again. Recognised by
        ``external_id`` (a message opchat sent, or an echo delivered twice, is not stored
        again). False when it was not stored: a duplicate, or a customer with no dialog."""
        ...

    async def profile(self, sender_id: str) -> dict[str, Any] | None:
        """What this channel keeps of the customer ``sender_id``: the profile transports
        gave with their messages (``InboundMessage.profile``, merged), or None if they
        have never written. Lets a transport fetch a customer's name once, not per
        message."""
        ...

    def health(self, state: Health, detail: str = "") -> None:
        """Tell the status bar how the channel is doing (e.g. DEGRADED, "network down")."""
        ...

    async def typical_answer(self) -> float | None:
        """How soon this channel's customers are usually answered, in seconds: the
        median first response of the last 7 days in the channel's working hours; None
        while there are too few to say (a widget then claims nothing)."""
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

    # Optional abilities are the protocols below; the hub asks ``isinstance(transport,
    # ShowsTyping)`` and the like, and `load_transport` checks their shape at load.


# Optional abilities ----------------------------------------------------------------------
# A transport has one by defining its method(s). Calls are best effort where the text
# says so: errors are logged, never retried.


@runtime_checkable
class ShowsTyping(Protocol):
    """The platform can show the customer that an operator is typing."""

    async def typing(self, chat_id: str, active: bool) -> None:
        """Called with True when an operator types in a dialog of this channel (again
        every few seconds while they keep typing), False when they stop. Best effort."""
        ...


@runtime_checkable
class MarksSeen(Protocol):
    """The platform can show the customer that their messages were read."""

    async def seen(self, chat_id: str) -> None:
        """An operator opened a dialog with unread messages. Best effort."""
        ...


@runtime_checkable
class Downloads(Protocol):
    """The platform keeps files for opchat to fetch when an operator asks for one."""

    async def download(self, attachment: Attachment, dest_dir: Path) -> Path:
        """Save the file under ``dest_dir`` (a folder of the data dir; never a name taken
        raw from the platform) and return its path, or raise saying why it cannot."""
        ...


@runtime_checkable
class ServesHTTP(Protocol):
    """A webhook or the web chat: routes on the hub's one aiohttp server.

    The hub calls ``mount`` (add routes, on_shutdown hooks) before the server starts,
    listens on each distinct ``listen`` address ("host:port", DEFAULT_LISTEN if empty),
    and starts ``run`` only once the channel's address is bound. A busy address shows
    the channel DOWN and is retried. ``mount`` may be set on the instance only (a
    Telegram bot serves HTTP in webhook mode, not when it polls).
    """

    listen: str

    def mount(self, app: Any) -> None:  # app: aiohttp.web.Application
        ...


@runtime_checkable
class TrustsProxies(Protocol):
    """A channel serving HTTP that knows its reverse proxies (the web chat's
    ``trust_proxy``): the hub does not cap the connections of a proxy."""

    def trusts_proxy(self, peer: str) -> bool:
        ...


@runtime_checkable
class Checks(Protocol):
    """``opchat channel test`` and ``doctor`` can ask the platform whether all is well."""

    async def check(self) -> str:
        """A short line saying what answered (e.g. "@shop_bot"), or raise saying why not."""
        ...


@runtime_checkable
class SendsMail(Protocol):
    """A transport that sends e-mail on the business's behalf (the email channel): the
    hub sends dialog transcripts through it."""

    async def mail(self, to: str, subject: str, text: str, *, in_reply_to: str | None = None,
                   references: Sequence[str] = (), attachments: Sequence[Attachment] = (),
                   automatic: bool = True) -> str:
        """Send ``text`` to ``to``; returns the Message-ID (without <>). ``in_reply_to``
        and ``references`` thread it under earlier mail; ``automatic`` marks it
        Auto-Submitted (a transcript), not an operator's answer. Rejected / Retry as
        `send`."""
        ...


@runtime_checkable
class KnowsVisitors(Protocol):
    """The channel can tell whether a customer has it open now (the web chat: a page
    with the widget): the hub mails the answer to one who left (``email_channel``)."""

    def present(self, chat_id: str) -> bool:
        """Whether the customer at ``chat_id`` has the channel open this moment."""
        ...


@runtime_checkable
class HasTemplates(Protocol):
    """The platform keeps approved message templates (WhatsApp), which are all it takes
    outside the reply window (``Capabilities.reply_window``); ``OutboundMessage.template``
    asks for one."""

    async def templates(self) -> list[Template]:
        """Every template of the account, approved or not, as the platform lists them;
        raise saying why they cannot be listed."""
        ...


# The shape each method must have: coroutine or not, and the arguments after self.
_SHAPES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "run": (True, ("sink",)),
    "send": (True, ("out",)),
    "typing": (True, ("chat_id", "active")),
    "seen": (True, ("chat_id",)),
    "download": (True, ("attachment", "dest_dir")),
    "check": (True, ()),
    "templates": (True, ()),
    "mount": (False, ("app",)),
    "trusts_proxy": (False, ("peer",)),
    "present": (False, ("chat_id",)),
}


def check_transport(factory: type) -> None:
    """TypeError, saying what is wrong, if ``factory`` is not a transport class: the
    required members, and every optional ability it defines, in the documented shape."""
    name = getattr(factory, "__name__", repr(factory))
    for attribute in ("kind", "capabilities", "run", "send"):
        if not hasattr(factory, attribute):
            raise TypeError(f"{name} is not a transport: it has no {attribute!r}")
    if not isinstance(factory.capabilities, Capabilities):
        raise TypeError(f"{name}.capabilities must be a Capabilities(...)")
    for method, (is_async, params) in _SHAPES.items():
        member = inspect.getattr_static(factory, method, None)
        if member is None:
            continue
        arguments = ", ".join(("self", *params))
        shape = f"{'async ' if is_async else ''}def {method}({arguments})"
        function = member.__func__ if isinstance(member, staticmethod | classmethod) else member
        if not callable(function) or inspect.iscoroutinefunction(function) != is_async:
            raise TypeError(f"{name}.{method} must be `{shape}`")
        try:
            inspect.signature(function).bind(None, *params)
        except TypeError:
            raise TypeError(f"{name}.{method} must be `{shape}`") from None


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


def progress_list(progress: str | None) -> list[Any]:
    """``Retry.progress`` written as a JSON list (the ids of the parts that went), read
    back; [] if there is none or it cannot be read."""
    import json

    try:
        parts = json.loads(progress) if progress else []
    except ValueError:
        return []
    return parts if isinstance(parts, list) else []


# Options ------------------------------------------------------------------------------
# Each channel kind declares the options of its `[channels.NAME]` table once. The config
# checks a table against them when it loads (a misspelt key or a bad value is an error
# with file, line and key, not a channel DOWN later), without importing the transport:
# the declaration is found through the entry-point group OPTIONS_GROUP, in a module light
# enough for every process to import.

OPTIONS_GROUP = "opchat.channel_options"

# The kinds opchat comes with, and where each declares its options: found without
# importlib.metadata, whose scan of every installed package (importing the `email`
# package to read them) cost ~45 ms in each process whose config has a channel, the
# app's before its first frame. pyproject.toml names the same in OPTIONS_GROUP (a test
# holds the two equal), for `opchat channel options` and for plugins' kinds.
BUILT_IN_OPTIONS = {
    "demo": "opchat.transports.demo:OPTIONS",
    "webchat": "opchat.transports.webchat.options:OPTIONS",
    "telegram": "opchat.transports.telegram.options:OPTIONS",
    "whatsapp": "opchat.transports.meta.options:WHATSAPP",
    "messenger": "opchat.transports.meta.options:MESSENGER",
    "instagram": "opchat.transports.meta.options:INSTAGRAM",
    "vk": "opchat.transports.vk.options:OPTIONS",
    "email": "opchat.transports.email.options:OPTIONS",
    "max": "opchat.transports.max.options:OPTIONS",
    "viber": "opchat.transports.viber.options:OPTIONS",
    "api": "opchat.transports.api:OPTIONS",
}

# What an Option's ``kind`` checks before its own ``check``: the value's TOML type and,
# for some, its form.
OPTION_KINDS = ("text", "flag", "count", "seconds", "number", "variable", "listen", "url",
                "list", "table", "any")


class OptionProblem(ValueError):
    """A channel option's value is wrong. ``at``: the keys below the option where the
    mistake is (for a table, so the config error points at its line)."""

    def __init__(self, problem: str, at: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.at = at


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a channel kind.

    The declaration is all there is: the config checks a table by it, `opchat channel
    add KIND` offers it as ``--NAME`` (underscores as dashes; a flag as ``--NAME`` and
    ``--no-NAME``; a list, repeated), and `opchat channel options KIND` lists it.
    """

    name: str
    kind: str = "text"  # one of OPTION_KINDS
    help: str = ""  # one line, English (Russian through opchat.i18n)
    secret: bool = False  # a secret when written in the file; `NAME_env` names a variable
    # More than ``kind`` checks: called with the value and the setting's dotted name;
    # raises OptionProblem saying what is wrong.
    check: Callable[[Any, str], None] | None = None
    # The channel cannot run without it (for a secret: it, or `NAME_env`).
    required: bool = False
    metavar: str = ""  # the value's name in `channel add --help` (default: by kind)

    @property
    def flag(self) -> str:
        """How `opchat channel add` spells it; "" for a table (given with --set)."""
        return "" if self.kind == "table" else "--" + self.name.replace("_", "-")


@dataclass(frozen=True, slots=True)
class OptionSet:
    """What a channel kind's table may hold."""

    options: tuple[Option, ...]
    # Rules across options (e.g. a webhook needs https), called with the whole table;
    # raises OptionProblem with ``at`` naming the option at fault.
    check: Callable[[Mapping[str, Any], str], None] | None = None
    # What to tell the admin once `opchat channel add` has written the channel (the
    # snippet to paste, the command that checks a token...): lines, already translated.
    added: Callable[[ChannelSettings], list[str]] | None = None

    def get(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)

    @property
    def names(self) -> list[str]:
        return [option.name for option in self.options]


# Options every kind takes: the channel's automatic answers (checked by the config,
# run by the hub), in a kind's table beside its own options.
COMMON_OPTIONS = OptionSet((
    Option("hours", "text", 'working hours, e.g. "Mon-Fri 09:00-18:00, Sat 10:00-14:00"',
           metavar="SPEC"),
    Option("timezone", "text", "the time zone of the hours, e.g. Europe/Berlin",
           metavar="ZONE"),
    Option("away_message", "text", "the automatic answer outside the hours"),
    Option("greeting_message", "text", "the automatic answer to a new dialog"),
    Option("menu", "text", "a [menus.NAME] offered to a new dialog", metavar="NAME"),
    Option("language", "text", "the automatic answers' language: en or ru", metavar="LANG"),
    Option("rating", "flag", "ask the customer to rate a dialog 1-5 when it is resolved"),
    Option("rating_question", "text", "the rating question (default: opchat's, with buttons "
           "1-5)"),
))


@functools.cache
def channel_options(kind: str) -> OptionSet | None:
    """The options ``kind`` declares, or None for a kind that declares none (a plugin
    that leaves its options to itself). Imports only the declaring module."""
    where = BUILT_IN_OPTIONS.get(kind)
    if where is not None:
        import importlib

        module, _, name = where.partition(":")
        declared = getattr(importlib.import_module(module), name)
    else:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=OPTIONS_GROUP) if ep.name == kind]
        if not found:
            return None
        where, declared = found[0].value, found[0].load()
    if not isinstance(declared, OptionSet):
        raise TypeError(f"{where} is not an OptionSet")
    for option in declared.options:
        if option.kind not in OPTION_KINDS:
            raise TypeError(f"{where}: option {option.name!r} has an unknown "
                            f"kind {option.kind!r} (one of {', '.join(OPTION_KINDS)})")
    return declared


class TransportFactory(Protocol):
    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __call__(self, channel: ChannelSettings, data_dir: Path) -> Transport: ...


class UnknownChannelKind(LookupError):
    def __init__(self, kind: str, known: Sequence[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.known = tuple(known)


class MissingModule(LookupError):
    """A channel kind's module needs a Python module not installed here (its SDK)."""

    def __init__(self, kind: str, module: str) -> None:
        from opchat.i18n import _

        super().__init__(_("the {kind} channel needs the Python module {module}, which is "
                           "not installed where opchat runs (pip install it there)",
                           kind=kind, module=module))
        self.kind = kind
        self.module = module


def available_kinds() -> list[str]:
    """Channel kinds installed, without importing any transport module."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_transport(kind: str) -> TransportFactory:
    """Import the transport class for ``kind``; only now is its module (and its SDK) loaded."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            try:
                factory = ep.load()
            except ModuleNotFoundError as exc:
                missing = exc.name or str(exc)
                if missing.split(".")[0] == "opchat":
                    raise  # our own module: a bug, not an installation to mend
                raise MissingModule(kind, missing) from exc
            check_transport(factory)
            return factory
    raise UnknownChannelKind(kind, available_kinds())
