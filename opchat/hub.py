"""The runtime that talks to the outside world; only the hub lock's holder runs it.

The hub runs every configured channel's transport, stores what they receive
(:meth:`ChannelSink.ingest` returns only after COMMIT), and delivers the
outbox: one worker per channel, so a slow platform never holds up another,
and messages to one customer leave in the order they were written.

Any number of ``opchat`` processes may share a data dir; the first to take
``hub.lock`` runs the hub, the others are followers. When the holder exits,
the operating system frees the lock and a follower takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import hashlib
import ipaddress
import logging
import math
import os
import random
import re
import resource
import socket
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from opchat import transcript
from opchat.autoreply import AutoAnswerer
from opchat.config import (
    ApiSettings,
    ChannelSettings,
    TranscriptSettings,
    WebhookSettings,
    private_modes,
)
from opchat.hours import WorkClock
from opchat.i18n import _, current_language
from opchat.inbox import FILES_DIR, Inbox
from opchat.model import (
    Attachment,
    AttachmentData,
    Conversation,
    Direction,
    Event,
    EventKind,
    Health,
    InboundMessage,
    Ingested,
    Message,
    MessageNewData,
    MessageState,
    MessageStateData,
    Presence,
    PresenceKind,
    Status,
    Template,
    TranscriptData,
)
from opchat.sanitize import redact
from opchat.store import OutboxItem, StoreError
from opchat.transports import (
    DEFAULT_LISTEN,
    UNREACHABLE_LABEL,
    Downloads,
    KnowsVisitors,
    MarksSeen,
    Rejected,
    Retry,
    SendsMail,
    ServesHTTP,
    ShowsTyping,
    Transport,
    TransportFactory,
    TrustsProxies,
    UnknownChannelKind,
    error_summary,
    load_transport,
    parse_listen,
)

log = logging.getLogger("opchat.hub")

CUSTOMER_TYPING_TTL = 8.0  # a customer's "typing" lasts this long unless renewed
DOWNLOAD_TIMEOUT = 300.0  # seconds one file may take to fetch
REPLAY = 600.0  # seconds of events a starting hub looks back on (files asked for...)
# What a starting hub answers late.
REPLAYED = frozenset({EventKind.ATTACHMENT_REQUESTED, EventKind.CONVERSATION_NEW,
                      EventKind.TRANSCRIPT_REQUESTED})
SNOOZE_CHECK = 15.0  # at most this many seconds between looks for snoozes that ended
TYPING_REPEAT = 4.0  # seconds between repeated typing(chat, True) calls to a transport
SEND_TIMEOUT = 60.0  # seconds one send may take before it counts as failed
MAX_ATTEMPTS = 10  # after this many failed attempts the message is marked failed
MAX_BACKOFF = 300.0
RESTART_BACKOFF = (1, 2, 5, 10, 30, 60)  # waits between restarts of a crashed transport
LOCK_FILENAME = "hub.lock"
TRANSCRIPT_MESSAGES = 2000  # the newest messages a transcript holds at most
TYPICAL_DAYS = 7  # the typical answer time a channel may tell customers: of the last week,
TYPICAL_MIN = 5  # once at least this many dialogs had a first response,
TYPICAL_TTL = 300.0  # worked out again at most this often (seconds)
# The web server. A request's headers must arrive, and a kept-alive connection speak
# again, within this many seconds: idle and trickling connections cost a file each.
REQUEST_TIMEOUT = 10.0
MAX_CONNECTIONS_PER_IP = 50  # TCP connections one address may hold (20 web chat sockets...)
OPEN_FILES_WANTED = 65536  # the soft open-files limit the hub asks for (up to the hard one)
ACCEPT_PAUSE = 0.5  # seconds without accepting after running out of file descriptors
OUT_OF_FILES_QUIET = 60.0  # running out of file descriptors is logged at most this often
LISTEN_BACKLOG = 128
# The HTTP API's health is a pseudo-channel's, as each outgoing webhook's (status bar, doctor).
API_CHANNEL, API_CHANNEL_KIND = "api:http", "http-api"


class HubLock:
    """An exclusive ``flock`` on a file in the data dir; freed by the OS if we die."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILENAME
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        mode = private_modes(self.path.parent)[0]
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, mode)
        # os.open's mode goes through the umask; the data dir's mode decides instead.
        with contextlib.suppress(OSError):  # another operator's file: theirs to set
            os.fchmod(fd, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder_pid(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def storable(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate replaced by U+FFFD, which SQLite accepts.

    A platform's JSON may carry ``\\ud800`` alone; SQLite refuses to store it, and one
    such update would stop its channel for good (refetched for ever). What holds none
    comes back as the very same object, copied nowhere.
    """
    kind = type(value)
    if kind is str:
        return _fixed(value)
    if value is None or kind in _LEAVES:
        return value
    if isinstance(value, dict):
        pairs = [(k, v, storable(k), storable(v)) for k, v in value.items()]
        if all(k is k2 and v is v2 for k, v, k2, v2 in pairs):
            return value
        return {k2: v2 for _, _, k2, v2 in pairs}
    if isinstance(value, (list, tuple)):
        items = [storable(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, str):  # a str subclass
        return _fixed(value)
    names = _init_fields(kind)
    if names:
        # A message has some twenty fields, most of them text, None or empty: their text
        # is tested in one encode, and only what holds more is walked (an ingest's
        # messages all pass here, on the event loop).
        values = [getattr(value, name) for name in names]
        try:
            "".join([v for v in values if type(v) is str]).encode()
        except UnicodeEncodeError:
            texts_clean = False
        else:
            texts_clean = True
        changed = {}
        for name, old in zip(names, values, strict=True):
            if old is None or not old or (texts_clean and type(old) is str):
                continue  # None, an empty text or container, a 0, or clean text
            new = storable(old)
            if new is not old:
                changed[name] = new
        return replace(value, **changed) if changed else value
    return value


def _fixed(text: str) -> str:
    try:
        text.encode()  # the usual case, and the quickest test: UTF-8 has no lone surrogate
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


_LEAVES = frozenset((int, float, bool, bytes))


@functools.cache
def _init_fields(cls: type) -> tuple[str, ...]:
    """The fields a dataclass is made from (none for any other class)."""
    return tuple(f.name for f in fields(cls) if f.init) if is_dataclass(cls) else ()


_SURROGATE = re.compile("[\ud800-\udfff]")


class ChannelSink:
    """The hub as one channel's transport sees it (see ``opchat.transports.Sink``)."""

    def __init__(self, hub: Hub, channel: str) -> None:
        self._hub = hub
        self.channel = channel

    async def ingest(self, message: InboundMessage) -> Ingested:
        [filed] = await self._filed([message])
        return await self._hub.inbox.store.inbound.ingest(filed)

    async def ingest_batch(
        self, messages: Sequence[InboundMessage], cursor: str | None = None
    ) -> list[Ingested]:
        return await self._hub.inbox.store.inbound.ingest_batch(
            await self._filed(messages),
            None if cursor is None else (self.channel, storable(cursor)),
        )

    async def _filed(self, messages: Sequence[InboundMessage]) -> list[InboundMessage]:
        """The messages as this channel files them; but a reply by e-mail to an answer
        mailed from another channel's dialog (the web chat's offline form, `email_channel`)
        joins that dialog, as that customer's message."""
        relaying = self._relaying()
        filed = []
        for message in messages:
            own = self._own(message)
            email = message.meta.get("email") if relaying else None
            if isinstance(email, dict) and email.get("references"):
                nearest = [str(r) for r in reversed(email["references"])]
                if message.reply_to_external_id:
                    nearest.insert(0, message.reply_to_external_id)
                found = await self._hub.inbox.store.transcripts.mailed_from(
                    relaying, list(dict.fromkeys(nearest)))
                if found is not None:
                    own = replace(own, channel=found.channel, chat_id=found.chat_id,
                                  sender_id=found.sender_id,
                                  sender_name=found.sender_name or own.sender_name,
                                  reply_to_external_id=None,  # our mail: a note there
                                  meta={**own.meta, "by_email": self.channel})
            filed.append(own)
        attachments = self._hub.inbox.store.attachments
        if attachments.shared:  # files saved on arrival (e-mail's): for every machine
            filed = [replace(m, attachments=tuple(await attachments.kept(m.attachments)))
                     if any(a.local_path for a in m.attachments) else m for m in filed]
        return filed

    async def cursor(self) -> str | None:
        return await self._hub.inbox.store.channels.cursor(self.channel)

    async def report(self, external_id: str, state: MessageState,
                     error: str | None = None) -> None:
        store = self._hub.inbox.store
        await store.outbox.report(self.channel, external_id, state, error)
        relaying = self._relaying()
        if state is MessageState.FAILED and relaying:
            # A mail that carried a web chat answer came back: that dialog says so.
            found = await store.transcripts.mailed_from(relaying, [external_id])
            if found is not None:
                await store.transcripts.mail_failed(found, external_id, _(
                    "The answer sent by e-mail did not arrive: {why}",
                    why=error or _("no reason given")))

    def _relaying(self) -> list[str]:
        """The web chat channels whose answers go by e-mail through this channel."""
        return [web for web, mail in self._hub.mail_relays.items() if mail == self.channel]

    async def offer_templates(self, templates: Sequence[Template]) -> None:
        await self._hub.inbox.store.templates.replace(self.channel, templates)

    async def react(self, external_id: str, by: str, emoji: str) -> None:
        await self._hub.inbox.store.reactions.react(self.channel, external_id, by, emoji)

    async def read_until(self, chat_id: str, at: float) -> None:
        await self._hub.inbox.store.outbox.read_until(self.channel, chat_id, at)

    async def deleted(self, external_id: str) -> None:
        await self._hub.inbox.store.elsewhere.deleted(self.channel, external_id)

    async def reachable(self, chat_id: str, reachable: bool) -> None:
        await self._hub.inbox.store.elsewhere.reachable(self.channel, chat_id, reachable,
                                                        UNREACHABLE_LABEL)

    async def sent_elsewhere(self, message: InboundMessage) -> bool:
        return await self._hub.inbox.store.elsewhere.echo(self._own(message))

    async def profile(self, sender_id: str) -> dict[str, Any] | None:
        return await self._hub.inbox.store.contacts.identity_profile(self.channel, sender_id)

    async def history(self, chat_id: str, after_id: int = 0, limit: int = 200) -> list[Message]:
        return await self._hub.inbox.store.messages.for_chat(self.channel, chat_id, after_id, limit)

    def health(self, state: Health, detail: str = "") -> None:
        self._hub.set_health(self.channel, state, detail)

    async def customer_typing(self, chat_id: str, text: str = "", active: bool = True) -> None:
        await self._hub.inbox.store.presence.customer_typing(self.channel, chat_id, text,
                                                    CUSTOMER_TYPING_TTL if active else 0)

    async def operators_online(self) -> list[str]:
        rows = await self._hub.inbox.store.presence.current(PresenceKind.ONLINE)
        return sorted({row.who for row in rows})

    async def typical_answer(self) -> float | None:
        return await self._hub.typical_answer(self.channel)

    async def attachment_saved(self, ref: str, local_path: Path) -> None:
        await self._hub.inbox.store.attachments.saved(self.channel, ref, str(local_path))

    def _own(self, message: InboundMessage) -> InboundMessage:
        # A transport cannot file messages under another channel's name; and what it
        # hands over is made storable here, once for every channel.
        return storable(message if message.channel == self.channel
                        else replace(message, channel=self.channel))


class Hub:
    def __init__(
        self,
        inbox: Inbox,
        channels: Sequence[ChannelSettings],
        data_dir: Path,
        loader: Callable[[str], TransportFactory] = load_transport,
        auto_assign_cap: int | None = None,
        transcripts: TranscriptSettings | None = None,
        webhooks: Sequence[WebhookSettings] = (),
        api: ApiSettings | None = None,
        runs: Collection[str] | None = None,
        duties: bool = True,
        sockets: KeptSockets | None = None,
    ) -> None:
        """``runs``: the channels whose transports and outboxes this hub runs (None: all);
        ``duties``: whether it also does what one hub does for all (automatic answers,
        assigning, snoozes, webhooks, transcripts on resolve). Several hubs on one
        PostgreSQL store share the channels this way (run_hub_when_free); ``sockets``:
        where the web server's listening sockets stay from this run to the next."""
        self.sockets = sockets
        self.inbox = inbox
        self.api = api  # `[api]`: the HTTP API (opchat/api/) on the web server; None: off
        self.runs = None if runs is None else frozenset(runs)
        self.duties = duties
        self.webhooks = list(webhooks)  # `[webhooks.NAME]`: sent by opchat/webhooks.py
        self.transcripts = transcripts  # the e-mail channel transcripts go out through
        # A web chat channel -> the email channel its answers go through to a visitor
        # who left an address and the page (`email_channel`).
        self.mail_relays = {c.name: str(c.options["email_channel"]) for c in channels
                            if c.options.get("email_channel")}
        # New dialogs go to the online operator with the fewest open ones, while that is
        # under this cap; None: nobody is assigned automatically.
        self.auto_assign_cap = auto_assign_cap
        self._snoozes_changed = asyncio.Event()  # someone snoozed a dialog: look again
        self._background: set[asyncio.Task[None]] = set()
        self._replayed_up_to = 0  # events up to this id came from before the hub started
        self.loader = loader
        self.channels = list(channels)
        self._secrets = {c.name: c.secrets() for c in self.channels}
        for webhook in self.webhooks:  # what a receiver's answer must not put on show
            self._secrets[f"webhook:{webhook.name}"] = webhook.secrets()
        self.data_dir = Path(data_dir)
        self.transports: dict[str, Transport] = {}
        self._wake: dict[str, asyncio.Event] = {}
        # How long an outbox worker with nothing due sleeps before it looks again anyway
        # (its wake-up comes from the change feed; this is the safety net).
        self.outbox_idle = 5.0
        self._health_writes: set[asyncio.Task[None]] = set()
        self.backoff_base = 1.0  # seconds before the first retry; doubles each attempt
        self.web: WebServer | None = None
        self._typical: dict[str, tuple[float, float | None]] = {}  # channel -> (when, answer)

    async def typical_answer(self, channel: str) -> float | None:
        """The median first response of the last ``TYPICAL_DAYS`` days on ``channel`` in
        its working hours, if at least ``TYPICAL_MIN`` dialogs had one; worked out at
        most every ``TYPICAL_TTL`` seconds."""
        now = self.inbox.store.clock()
        cached = self._typical.get(channel)
        if cached is not None and now - cached[0] < TYPICAL_TTL:
            return cached[1]
        work = WorkClock.of(self.channels)
        rows = await self.inbox.store.stats.figures(now - TYPICAL_DAYS * 86400, now,
                                                    "channel", work)
        spread = next((f.spread("first_response", working=True) for f in rows
                       if f.key == channel), None)
        typical = spread.median if spread is not None and spread.count >= TYPICAL_MIN else None
        self._typical[channel] = (now, typical)
        return typical

    def set_health(self, channel: str, state: Health, detail: str = "") -> None:
        # Health goes into the append-only events table and every status bar: an
        # error text carrying a URL must not carry the channel's token with it.
        detail = redact(detail, self._secrets.get(channel, ()))
        if state in (Health.DOWN, Health.DEGRADED):
            log.warning("channel %s is %s: %s", channel, state.value, detail)
        task = asyncio.create_task(self._record_health(channel, state, detail))
        self._health_writes.add(task)
        task.add_done_callback(self._health_writes.discard)

    async def _record_health(self, channel: str, state: Health, detail: str) -> None:
        try:
            await self.inbox.store.channels.set_health(channel, state, detail)
        except Exception as exc:  # the store is what failed (a full disk): said once, here
            log.warning("channel %s: cannot record its health (%s: %s): %s", channel,
                        state.value, detail, error_summary(exc))

    async def run(self) -> None:
        """Run until cancelled."""
        store = self.inbox.store
        running = [c for c in self.channels if self.runs is None or c.name in self.runs]
        interrupted = await store.outbox.recover_interrupted_sends(
            None if self.runs is None else [c.name for c in running])
        if interrupted:
            log.warning("%d message(s) were being sent when the hub stopped; marked failed",
                        interrupted)
        if self.runs is None:  # the one hub (SQLite's lock): what it does not run, none does
            await self._stop_unconfigured()
        for channel in running:
            await store.channels.ensure(channel.name, channel.kind)
            try:
                factory = self.loader(channel.kind)
                self.transports[channel.name] = factory(channel, self.data_dir)
            except UnknownChannelKind as exc:
                why = _("unknown channel kind '{kind}'", kind=exc.kind)
                log.warning("channel %s cannot start: %s", channel.name, why)
                await store.channels.set_health(channel.name, Health.DOWN, why)
            except Exception as exc:  # a broken plugin or a bad setting: this channel only
                # One line for the operator (serve's stderr, the status bar); the log
                # file also keeps the traceback of a failure nobody foresaw.
                why = _cannot_start(exc)
                log.warning("channel %s cannot start: %s", channel.name, why,
                            exc_info=not isinstance(exc, _FORESEEN))
                await store.channels.set_health(channel.name, Health.DOWN, why)
            # The UI never imports transports: it reads what a channel can carry (files?)
            # from the store, and refuses at once what would only fail in the outbox.
            transport = self.transports.get(channel.name)
            if transport is not None and is_dataclass(transport.capabilities):
                await store.channels.set_capabilities(channel.name, asdict(transport.capabilities))
        tasks = [asyncio.create_task(self._follow_outbox_events(), name="hub-feed"),
                 asyncio.create_task(self._follow_presence(), name="hub-presence")]
        if self.duties:
            await self._check_menus()
            tasks += [asyncio.create_task(self._wake_snoozed(), name="hub-snoozes"),
                      asyncio.create_task(AutoAnswerer(self.inbox, self.channels,
                                                       self.typical_answer).run(),
                                          name="hub-auto-answers")]
        if self.webhooks and self.duties:
            from opchat.webhooks import WebhookSender

            tasks.append(asyncio.create_task(
                WebhookSender(self.inbox, self.webhooks, self.set_health).run(),
                name="hub-webhooks"))
        if self.api is not None or any(isinstance(t, ServesHTTP)
                                       for t in self.transports.values()):
            self.web = WebServer(self)
            await self.web.mount()
        if self.sockets is not None:
            self.sockets.keep_only(self.web.listens() if self.web is not None else ())
        for name, transport in self.transports.items():
            self._wake[name] = asyncio.Event()
            await store.channels.set_health(name, Health.STARTING)
            tasks.append(asyncio.create_task(self._keep_running(name, transport),
                                             name=f"transport-{name}"))
            tasks.append(asyncio.create_task(self._deliver(name, transport),
                                             name=f"outbox-{name}"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *self._background]:
                task.cancel()
            await asyncio.gather(*tasks, *self._background, return_exceptions=True)
            if self.web is not None:
                with contextlib.suppress(Exception):
                    await self.web.close()
            await asyncio.gather(*self._health_writes, return_exceptions=True)
            with contextlib.suppress(Exception):
                hooks = ([f"webhook:{w.name}" for w in self.webhooks]
                         + ([API_CHANNEL] if self.api is not None else [])
                         if self.duties else [])
                for name in [*self.transports, *hooks]:
                    await store.channels.set_health(name, Health.STOPPED)

    async def _stop_unconfigured(self) -> None:
        """The channels the store knows and this hub's config does not name are run by
        no one now. Their last health would stand as if they still ran (their hub was
        killed, or an operator's config named them and another's, now the hub's, does
        not): each is shown stopped, and why."""
        store = self.inbox.store
        configured = {c.name for c in self.channels}
        why = _("not run: the config of the hub (process {pid}) does not name it",
                pid=os.getpid())
        for channel in await store.channels.all():
            if not (channel.name in configured or _runs_itself(channel.name)):
                await self._record_health(channel.name, Health.STOPPED, why)

    async def _check_menus(self) -> None:
        """A menu option naming a quick reply that is not in the store: said at start.

        Until the reply exists the option hands the dialog to an operator instead."""
        from opchat.config import missing_menu_replies

        shared = {reply.shortcut for reply in await self.inbox.store.replies.all()
                  if getattr(reply, "owner", None) is None}
        for problem in missing_menu_replies(self.channels, shared):
            log.warning("%s", problem)

    async def _keep_running(self, name: str, transport: Transport) -> None:
        if self.web is not None and name in self.web.channels:
            # A channel that serves HTTP runs once its address is bound.
            await self.web.bound(name)
        failures = 0
        while True:
            try:
                await transport.run(ChannelSink(self, name))
                failures = 0
                log.info("channel %s stopped by itself; restarting", name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The operator gets a sentence; the log also keeps the traceback of what
                # nobody foresaw (serve's stderr shows only the line: logs.OneLineFormatter).
                log.warning("channel %s stopped: %s", name, error_summary(exc),
                            exc_info=not isinstance(exc, _FORESEEN))
                self.set_health(name, Health.DOWN, _cannot_start(exc))
                failures += 1
            await asyncio.sleep(RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)])

    async def _follow_outbox_events(self) -> None:
        """Wake a channel's outbox worker when any process queues a message; act on the
        events the hub answers (files asked for, new dialogs to assign, read marks).

        It starts REPLAY seconds back, so what was asked while no hub ran (the lock
        changing hands, transports starting) is answered, and it keeps its place
        when it has to follow again after an error."""
        store = self.inbox.store
        after = await store.events.event_id_before(store.clock() - REPLAY)
        self._replayed_up_to = await store.events.last_event_id()
        while True:
            try:
                async for events in self.inbox.changes(after_id=after):
                    for name in _outboxes_with_work(events, self._wake):
                        self._wake[name].set()
                    for event in events:
                        await self._answer(event)
                        after = event.id
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was busy or away: follow again shortly
                log.exception("the hub lost the change feed; following again")
                for wake in self._wake.values():
                    wake.set()
                await asyncio.sleep(1.0)

    async def _answer(self, event: Event) -> None:
        # Replayed events are only those whose answer is still wanted: a read mark
        # now would claim later messages read too.
        if event.id <= self._replayed_up_to and event.kind not in REPLAYED:
            return
        try:
            if event.kind == EventKind.CONVERSATION_READ:
                await self._tell_seen(event)
            elif event.kind == EventKind.CONVERSATION_NEW and self.duties:
                await self._auto_assign(event)
            elif event.kind == EventKind.ATTACHMENT_REQUESTED:
                self._in_background(self._fetch_attachment(event))
            elif event.kind == EventKind.CONVERSATION_STATUS and "until" in event.data:
                self._snoozes_changed.set()
            elif event.kind == EventKind.TRANSCRIPT_REQUESTED and self._sends_transcripts():
                self._in_background(self._send_transcript(event))
            if (self.duties and event.kind == EventKind.CONVERSATION_STATUS and event.operator
                    and event.data.get("to") == Status.RESOLVED.value
                    and self.transcripts is not None and self.transcripts.on_resolve):
                await self._transcript_on_resolve(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # one event's trouble must not cost the others theirs
            log.exception("the hub could not act on event %d (%s)", event.id, event.kind)

    def _elsewhere(self, channel: str) -> bool:
        """Whether ``channel`` is configured but run by another hub (not this one's)."""
        return (self.runs is not None and channel not in self.runs
                and any(c.name == channel for c in self.channels))

    def _sends_transcripts(self) -> bool:
        """The hub running the transcripts' e-mail channel sends them; with none that
        runs, the one with the duties says why not."""
        name = self.transcripts.channel if self.transcripts is not None else ""
        if self.runs is None:
            return True
        if name and any(c.name == name for c in self.channels):
            return name in self.runs
        return self.duties

    async def _transcript_on_resolve(self, event: Event) -> None:
        """`[transcripts] on_resolve`: the customer gets the dialog by e-mail, if an
        address is known for them."""
        conversation = (await self.inbox.conversation(event.conversation_id)
                        if event.conversation_id is not None else None)
        if conversation is None:
            return
        card = await self.inbox.contact_card(conversation.contact_id)
        if card is not None and card.contact.email:
            await self.inbox.store.transcripts.request(conversation.id, card.contact.email,
                                                      None, reason="resolved")

    async def _send_transcript(self, event: Event) -> None:
        """A transcript was asked for: send it through the e-mail channel, then record
        that it went (a note in the thread) or why not; a request is answered once."""
        store = self.inbox.store
        data = event.payload
        if not isinstance(data, TranscriptData) or event.conversation_id is None:
            return
        if await store.transcripts.answered(event.id):
            return
        conversation = await self.inbox.conversation(event.conversation_id)
        if conversation is None:
            return
        if data.message:
            await self._send_answer(event, data, conversation)
            return
        name = self.transcripts.channel if self.transcripts is not None else ""
        transport = self.transports.get(name)
        if not isinstance(transport, SendsMail):
            why = (_("no e-mail channel is set for transcripts ([transcripts] channel)")
                   if not name else _("channel {name} is not running", name=name))
            await store.transcripts.done(event.id, conversation.id, data.to, name,
                                         _("Transcript to {to} not sent: {why}",
                                           to=data.to, why=why), why)
            return
        auto = next((c.auto for c in self.channels if c.name == conversation.channel_name
                     and c.auto is not None), None)
        language = auto.language if auto is not None else current_language()
        messages = await store.messages.page(conversation.id, None, TRANSCRIPT_MESSAGES)
        try:
            await transport.mail(data.to, transcript.subject(conversation, language),
                                 transcript.text(conversation, messages, language))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else error_summary(exc)
            log.warning("transcript of dialog %d to %s not sent: %s", conversation.id,
                        data.to, error_summary(exc))
            await store.transcripts.done(event.id, conversation.id, data.to, name,
                                         _("Transcript to {to} not sent: {why}",
                                           to=data.to, why=why), why)
            return
        await store.transcripts.done(event.id, conversation.id, data.to, name,
                                     _("Transcript sent to {to} by e-mail ({channel})",
                                       to=data.to, channel=name))

    async def _send_answer(self, event: Event, data: TranscriptData,
                           conversation: Conversation) -> None:
        """An operator's answer to a web chat visitor who left, by e-mail: the dialog's
        subject, threaded under the visitor's last mail; a reply to it comes back into
        this dialog (``ChannelSink._filed``)."""
        store = self.inbox.store
        name = self.mail_relays.get(conversation.channel_name, "")
        transport = self.transports.get(name)
        message = await store.messages.get(data.message)
        if message is None:
            return
        history = [m for m in await store.messages.page(conversation.id, None, 200)
                   if m.direction is Direction.IN]
        subject, in_reply_to, references = _mail_thread(history)
        if not subject:
            subject = _("Your message to {business}", business=self._business(conversation))
        try:
            if not isinstance(transport, SendsMail):
                raise Rejected(_("channel {name} is not running", name=name))
            mail_id = await transport.mail(
                data.to, subject, message.body, in_reply_to=in_reply_to,
                references=references, automatic=False,
                attachments=[a for a in [await self._readable(a, conversation.channel_name)
                                          for a in message.attachments]
                             if a.local_path and Path(a.local_path).is_file()])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else error_summary(exc)
            log.warning("answer %d in dialog %d not mailed to %s: %s", message.id,
                        conversation.id, data.to, error_summary(exc))
            await store.transcripts.done(event.id, conversation.id, data.to, name,
                                         _("The visitor has left; the answer did not go to "
                                           "{to} by e-mail: {why}", to=data.to, why=why), why)
            return
        await store.transcripts.done(event.id, conversation.id, data.to, name,
                                     _("The visitor has left: the answer went to {to} by "
                                       "e-mail ({channel})", to=data.to, channel=name),
                                     mail_id=mail_id)

    def _business(self, conversation: Conversation) -> str:
        channel = next((c for c in self.channels if c.name == conversation.channel_name),
                       None)
        options = channel.options if channel is not None else {}
        return str(options.get("operator_name") or options.get("title") or _("us"))

    def _in_background(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fetch_attachment(self, event: Event) -> None:
        """An operator asked for a file: the channel's transport fetches it into the
        data dir; the store records where (attachment.ready) or why not (.failed)."""
        store = self.inbox.store
        data = event.payload
        if not isinstance(data, AttachmentData):
            return
        attachment_id = data.attachment
        found = await store.attachments.get(attachment_id)
        if found is None:
            return
        # Fetched before, here or (PostgreSQL) by a machine that kept it in the store.
        here = await self.inbox.local_file(found.attachment, found.channel, self.data_dir)
        if here is not None:
            await store.attachments.fetched(attachment_id, str(here))
            return
        transport = self.transports.get(found.channel)
        if self._elsewhere(found.channel):
            return  # the hub that runs that channel fetches it
        if not isinstance(transport, Downloads):
            await store.attachments.fetched(attachment_id, None,
                                           f"channel {found.channel} cannot fetch files")
            return
        try:
            path = await asyncio.wait_for(
                transport.download(found.attachment,
                                   self.data_dir / FILES_DIR / found.channel),
                DOWNLOAD_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("channel %s: fetching attachment %d failed: %s", found.channel,
                        attachment_id, error_summary(exc))
            # The transport's words are for the operator; the class name is not.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else error_summary(exc)
            await store.attachments.fetched(attachment_id, None, reason)
        else:
            await store.attachments.fetched(attachment_id, str(path))

    async def _auto_assign(self, event: Event) -> None:
        if self.auto_assign_cap is None or event.conversation_id is None:
            return
        store = self.inbox.store
        online = sorted({p.who for p in await store.presence.current(PresenceKind.ONLINE)})
        chosen = await store.workflow.auto_assign(event.conversation_id, online,
                                                  self.auto_assign_cap)
        if chosen is not None:
            log.info("dialog %d assigned to %s (fewest open)", event.conversation_id, chosen)

    async def _wake_snoozed(self) -> None:
        """Reopen snoozed dialogs when their time comes (whoever snoozed them)."""
        store = self.inbox.store
        while True:
            try:
                await store.workflow.wake_snoozed()
                due = await store.workflow.next_snooze_end()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not wake snoozed dialogs; trying again")
                due = None
            wait = SNOOZE_CHECK if due is None else due - store.clock()
            self._snoozes_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._snoozes_changed.wait(),
                                       min(SNOOZE_CHECK, max(0.05, wait)))

    async def _follow_presence(self) -> None:
        """Pass operators' typing to the transports that can show it to the customer."""
        last_sent: dict[int, float] = {}  # conversation -> when typing(True) last went out
        while True:
            try:
                async for rows in self.inbox.presence_changes():
                    for row in rows:
                        if row.kind == PresenceKind.TYPING:
                            await self._tell_typing(row, last_sent)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the hub lost the presence feed; following again")
                await asyncio.sleep(1.0)

    async def _tell_typing(self, row: Presence, last_sent: dict[int, float]) -> None:
        now = self.inbox.clock()
        active = row.active(now)
        if active and now - last_sent.get(row.conversation_id, -TYPING_REPEAT) < TYPING_REPEAT:
            return
        if not active and row.conversation_id not in last_sent:
            return
        if active:
            last_sent[row.conversation_id] = now
        else:
            last_sent.pop(row.conversation_id, None)
        await self._best_effort(
            row.conversation_id, "typing",
            lambda t, chat: t.typing(chat, active) if isinstance(t, ShowsTyping) else None)

    async def _tell_seen(self, event: Event) -> None:
        if event.conversation_id is not None:
            await self._best_effort(
                event.conversation_id, "seen",
                lambda t, chat: t.seen(chat) if isinstance(t, MarksSeen) else None)

    async def _best_effort(
        self, conversation_id: int, what: str,
        call: Callable[[Transport, str], Coroutine[Any, Any, None] | None],
    ) -> None:
        """Tell a dialog's transport something it may be able to show (``call`` gives
        None when it has not that ability); log and forget any failure."""
        address = await self.inbox.store.conversations.address(conversation_id)
        if address is None or address[0] not in self.transports:
            return
        told = call(self.transports[address[0]], address[1])
        if told is None:
            return
        try:
            await asyncio.wait_for(told, 10.0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("channel %s: %s for dialog %d failed: %s", address[0], what,
                        conversation_id, error_summary(exc))

    async def _deliver(self, name: str, transport: Transport) -> None:
        failures = 0
        while True:
            try:
                await self._deliver_due(name, transport)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store failed (locked, disk full): never a dead hub
                failures += 1
                log.exception("channel %s: the outbox failed", name)
                self.set_health(name, Health.DEGRADED, f"outbox: {error_summary(exc)}")
                await asyncio.sleep(RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)])

    async def _deliver_due(self, name: str, transport: Transport) -> None:
        store = self.inbox.store
        wake = self._wake[name]
        wake.clear()
        # One at a time: a row claimed but not yet attempted would look "interrupted"
        # (and be failed rather than resent) if the hub stopped meanwhile.
        items = await store.outbox.claim_due([name], limit=1)
        for item in items:
            await self._send_one(transport, item)
        if items:
            return
        due = await store.outbox.next_due([name])
        idle = self.outbox_idle
        timeout = idle if due is None else max(0.05, min(idle, due - store.clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _send_one(self, transport: Transport, item: OutboxItem) -> None:
        store = self.inbox.store
        out = item.message
        if out.attachments and not transport.capabilities.media:
            await store.outbox.mark_failed(out.message_id, f"channel {item.channel} cannot send "
                                                    "files; send the text alone")
            return
        if out.attachments:  # attached on another machine: its bytes from the store
            out = replace(out, attachments=tuple(
                [await self._readable(a, item.channel) for a in out.attachments]))
        try:
            delivery = await asyncio.wait_for(transport.send(out), SEND_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Rejected as exc:
            log.warning("channel %s rejected message %d: %s", item.channel, out.message_id,
                        exc.reason)
            await store.outbox.mark_failed(out.message_id, exc.reason,
                                    UNREACHABLE_LABEL if exc.unreachable else None)
        except Retry as exc:
            await self._retry_later(item, exc.reason, exc.after, exc.progress)
        except TimeoutError:
            # The platform may have taken it and not answered: sending again could
            # give the customer the message twice. The operator sees why and decides.
            await store.outbox.mark_failed(out.message_id, f"no answer in {SEND_TIMEOUT:.0f} s: "
                                                    "it may or may not have arrived")
        except Exception as exc:  # a transport bug must not stop the outbox
            log.exception("channel %s failed to send message %d", item.channel, out.message_id)
            await self._retry_later(item, error_summary(exc), None)
        else:
            await store.outbox.mark_sent(out.message_id, delivery.external_id, delivery.state)
            if (item.channel in self.mail_relays and isinstance(transport, KnowsVisitors)
                    and not transport.present(out.chat_id)):
                await self._mail_answer(item)

    async def _readable(self, attachment: Attachment, channel: str) -> Attachment:
        """The attachment with a path this machine can read: the store's copy written
        into this data dir when the file was saved on another machine (PostgreSQL); as
        it was if there is none (the transport then says the file is missing)."""
        path = await self.inbox.local_file(attachment, channel, self.data_dir)
        return attachment if path is None else replace(attachment, local_path=str(path))

    async def _mail_answer(self, item: OutboxItem) -> None:
        """The web chat visitor left the page: an operator's answer also goes to the
        address they left (the offline form, or the one they last wrote from), through
        the channel's `email_channel`; the thread says so."""
        store = self.inbox.store
        out = item.message
        try:
            message = await store.messages.get(out.message_id)
            if message is None or message.direction is not Direction.OUT:
                return  # automatic answers stay on the page
            history = await store.messages.for_chat(item.channel, out.chat_id, 0, 200)
            address = ""
            for earlier in reversed(history):
                if earlier.direction is not Direction.IN:
                    continue
                left = earlier.meta.get("contact")
                mailed = earlier.meta.get("email")
                if isinstance(left, dict) and left.get("email"):
                    address = str(left["email"])
                elif earlier.meta.get("by_email") and isinstance(mailed, dict):
                    address = str(mailed.get("from") or "")
                if address:
                    break
            if address:
                await store.transcripts.request(message.conversation_id, address, None,
                                                reason="offline", message=message.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the answer is on the page when they come back
            log.warning("channel %s: could not mail message %d to a visitor who left: %s",
                        item.channel, out.message_id, error_summary(exc))

    async def _retry_later(self, item: OutboxItem, reason: str, after: float | None,
                           progress: str | None = None) -> None:
        out = item.message
        if out.attempt >= MAX_ATTEMPTS:
            await self.inbox.store.outbox.mark_failed(
                out.message_id, f"gave up after {out.attempt} attempts: {reason}")
            return
        if after is None:
            after = min(MAX_BACKOFF, self.backoff_base * 2.0 ** (out.attempt - 1))
            after *= random.uniform(0.8, 1.2)  # spread retries of many messages
        log.info("channel %s: message %d will be retried in %.1f s (%s)", item.channel,
                 out.message_id, after, reason)
        await self.inbox.store.outbox.reschedule(out.message_id, after, reason, progress)


class WebServer:
    """The hub's one aiohttp application, for every channel that mounts routes.

    aiohttp is imported only here, only when such a channel is configured.
    Channels sharing a ``listen`` address share one listening socket; each
    distinct address gets its own. An address that cannot be bound (in use,
    not ours) shows its channels DOWN and is tried again with backoff, while
    the rest of the hub carries on.

    The hub accepts connections itself, so that a flood of idle ones cannot take
    every file descriptor (and with them the web chat, the webhooks and the
    store): one address holds at most ``MAX_CONNECTIONS_PER_IP`` (trusted proxies
    excepted), all together at most what the open-files limit leaves after a
    reserve. Over the first, a connection is hung up on before a byte is read;
    over the second, the oldest connection that has sent no request yet makes
    room. A request's headers must arrive, and a kept-alive connection must speak
    again, within ``REQUEST_TIMEOUT``.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.channels: dict[str, str] = {}  # channel name -> listen address
        self.addresses: dict[str, tuple[str, int]] = {}  # listen address -> bound (host, port)
        self._bound: dict[str, asyncio.Event] = {}
        self._runner = None
        self._api_runner = None  # the HTTP API's own application, on its own address
        self.api_listen: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.gate: ConnectionGate | None = None
        # Connections that have not sent a whole request yet, oldest first: when the
        # server is full, the oldest of them makes room for a newcomer.
        self._silent: dict[object, None] = {}

    async def mount(self) -> None:
        from aiohttp import web

        store = self.hub.inbox.store

        @web.middleware
        async def spoke(request: web.Request, handler):
            self._silent.pop(request.protocol, None)
            return await handler(request)

        app = web.Application(middlewares=[spoke])
        for name, transport in list(self.hub.transports.items()):
            if not isinstance(transport, ServesHTTP):
                continue
            listen = str(transport.listen or DEFAULT_LISTEN)
            try:
                parse_listen(listen)
                transport.mount(app)
            except Exception as exc:  # a bad address, routes clashing with another channel
                log.exception("channel %s could not mount its routes", name)
                await store.channels.set_health(name, Health.DOWN, error_summary(exc))
                del self.hub.transports[name]
                continue
            self.channels[name] = listen
            self._bound[name] = asyncio.Event()
        self.gate = ConnectionGate(MAX_CONNECTIONS_PER_IP,
                                   connections_allowed(raise_open_files_limit()),
                                   self._trusted_proxy)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                                     keepalive_timeout=REQUEST_TIMEOUT)
        await self._runner.setup()
        for listen in sorted(set(self.channels.values())):
            self._tasks.append(asyncio.create_task(self._listen(listen), name=f"web-{listen}"))
        api = self.hub.api
        if api is not None:
            await store.channels.ensure(API_CHANNEL, API_CHANNEL_KIND)
            await store.channels.set_health(API_CHANNEL, Health.STARTING)
        if api is not None and api.listen in self.channels.values():
            why = (f"off: api.listen {api.listen} is a channel's address too; give it an "
                   "address of its own")
            log.error("the HTTP API is %s", why)
            await store.channels.set_health(API_CHANNEL, Health.DOWN, why)
        elif api is not None:
            from opchat.api.server import Api

            self.api_listen = api.listen
            self._api_runner = web.AppRunner(Api(store, api, self.hub).app((spoke,)),
                                             access_log=None, shutdown_timeout=2.0,
                                             keepalive_timeout=REQUEST_TIMEOUT)
            await self._api_runner.setup()
            self._tasks.append(asyncio.create_task(self._listen(api.listen, api=True),
                                                   name=f"web-api-{api.listen}"))

    async def bound(self, channel: str) -> None:
        await self._bound[channel].wait()

    def listens(self) -> set[str]:
        """The addresses this web server listens on (once mounted)."""
        return set(self.channels.values()) | (
            {self.api_listen} if self.api_listen is not None else set())

    def _trusted_proxy(self, address: str) -> bool:
        """A reverse proxy speaks for many visitors: its connections are not capped."""
        for name in self.channels:
            transport = self.hub.transports.get(name)
            if isinstance(transport, TrustsProxies) and transport.trusts_proxy(address):
                return True
        return False

    async def _listen(self, listen: str, api: bool = False) -> None:
        host, port = parse_listen(listen)
        names = ([] if api else
                 [name for name, address in self.channels.items() if address == listen])
        runner = self._api_runner if api else self._runner
        failures = 0
        kept = self.hub.sockets
        while True:
            try:
                sock = (kept.take(listen, host, port) if kept is not None
                        else _listening_socket(host, port))
            except OSError as exc:
                detail = (f"address {listen} in use" if exc.errno == errno.EADDRINUSE
                          else f"cannot listen on {listen}: {exc.strerror or exc}")
                for name in names if not api else [API_CHANNEL]:
                    self.hub.set_health(name, Health.DOWN, detail)
                failures += 1
                await asyncio.sleep(RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)])
                continue
            bound_port = sock.getsockname()[1]
            self.addresses[listen] = (host, bound_port)
            log.info("web server listening on %s:%d for %s", host, bound_port,
                     ", ".join(names) if not api else "the HTTP API")
            for name in names:
                self._bound[name].set()
            if api:
                self.hub.set_health(API_CHANNEL, Health.OK, f"http://{host}:{bound_port}/api/v1")
            try:
                await self._accept(sock, runner)
            finally:
                if kept is not None:
                    kept.keep(listen, sock)  # for the next run (see KeptSockets)
                else:
                    sock.close()

    async def _accept(self, sock: socket.socket, runner: Any) -> None:
        """Take connections one by one, hanging up at once on those over a limit."""
        loop = asyncio.get_running_loop()
        gate = self.gate
        assert gate is not None and runner is not None
        told_out_of_files = -OUT_OF_FILES_QUIET
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue  # that one client gave up or was refused: next
                # Out of file descriptors (or memory, or something stranger): wait and
                # try again, saying so once rather than once per waiting connection
                # (asyncio's own way), and never leaving the web chat unserved for good.
                if loop.time() - told_out_of_files >= OUT_OF_FILES_QUIET:
                    told_out_of_files = loop.time()
                    what = ("out of file descriptors" if exc.errno in (errno.EMFILE,
                                                                       errno.ENFILE)
                            else "cannot accept connections")
                    log.error("web server: %s (%s, %d connections open); new connections "
                              "wait", what, exc.strerror or exc, gate.total)
                await asyncio.sleep(ACCEPT_PAUSE)
                continue
            address = str(peer[0])
            if not gate.admit(address, self._make_room):
                conn.close()
                continue
            try:
                await loop.connect_accepted_socket(
                    lambda address=address: self._connection(address, runner), conn)
            except Exception as exc:  # it went away in the meantime
                log.debug("web server: connection from %s lost at once: %s", address, exc)
                gate.release(address)
                conn.close()

    def _connection(self, address: str, runner: Any):
        handler = _counted_handler()(runner.server, loop=asyncio.get_running_loop(),
                                     access_log=None, keepalive_timeout=REQUEST_TIMEOUT)
        handler.on_lost = functools.partial(self._lost, handler, address)
        self._silent[handler] = None
        return handler

    def _lost(self, handler: object, address: str) -> None:
        self._silent.pop(handler, None)
        assert self.gate is not None
        self.gate.release(address)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without sending a request."""
        for handler in self._silent:
            del self._silent[handler]
            handler.force_close()  # type: ignore[attr-defined]
            return True
        return False

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for runner in (self._runner, self._api_runner):
            if runner is not None:
                await runner.cleanup()


class ConnectionGate:
    """How many connections each address holds, and whether one more may come in.

    Refusals are logged once per address (again only after it let go of all its
    connections), and the whole server being full once until it has room again.
    """

    def __init__(self, per_address: int, total: int,
                 exempt: Callable[[str], bool] = lambda address: False) -> None:
        self.per_address = per_address
        self.limit = total
        self.exempt = exempt
        self.total = 0
        self._open: dict[str, int] = {}
        self._told: set[str] = set()
        self._told_full = False

    def admit(self, address: str, make_room: Callable[[], bool] = lambda: False) -> bool:
        """Count one more connection from ``address``, or say no. When the server is
        full, ``make_room`` may close another connection (True) to let this one in."""
        trusted = self.exempt(address)
        address = peer_key(address)
        held = self._open.get(address, 0)
        if held >= self.per_address and not trusted:
            if address not in self._told:
                self._told.add(address)
                log.warning("web server: refusing connections from %s: %d open already",
                            address, held)
            return False
        if self.total >= self.limit:
            if not self._told_full:
                self._told_full = True
                log.warning("web server: too many connections (%d open, as many as this "
                            "process can hold); closing those that sent nothing for the "
                            "longest to let new ones in", self.total)
            if not make_room():
                return False
        self._open[address] = held + 1
        self.total += 1
        return True

    def release(self, address: str) -> None:
        address = peer_key(address)
        held = self._open.get(address, 0) - 1
        if held < 0:
            return
        self.total -= 1
        if held:
            self._open[address] = held
        else:
            del self._open[address]
            self._told.discard(address)
        if self._told_full and self.total < self.limit * 0.9:
            self._told_full = False


def peer_key(address: str) -> str:
    """Whom a connection counts against: its address, but for IPv6 its /64, which
    one host usually holds whole (and could spread a flood over)."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files toward its hard limit (every
    visitor's connection is one); the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard,
                                                                         OPEN_FILES_WANTED)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open files limit from %d to %d: %s", soft,
                        wanted, exc)
        else:
            log.info("open files limit raised from %d to %d", soft, wanted)
            soft = wanted
    return soft


def connections_allowed(open_files: int) -> int:
    """Connections the web server may hold when the process may open ``open_files``:
    the rest stays for the store, the log, the other channels and the terminal."""
    return max(16, open_files - max(64, open_files // 4))


class KeptSockets:
    """Listening sockets kept open from one run of the hub to the next, in this process.

    Hubs sharing a PostgreSQL store restart theirs whenever channels move between them
    (`share_channels`). A socket closed for that moment refuses whatever arrives then
    (a platform's webhook, a reverse proxy's try, which then takes the hub for dead);
    kept open, those connections wait in its backlog for the next run to accept them.
    An address the next run does not listen on is closed at once, so that nothing
    waits there for nobody.
    """

    def __init__(self) -> None:
        self._kept: dict[str, socket.socket] = {}

    def take(self, listen: str, host: str, port: int) -> socket.socket:
        """The socket kept for ``listen``, else a new one."""
        sock = self._kept.pop(listen, None)
        return sock if sock is not None else _listening_socket(host, port)

    def keep(self, listen: str, sock: socket.socket) -> None:
        old = self._kept.pop(listen, None)
        if old is not None and old is not sock:
            old.close()
        self._kept[listen] = sock

    def keep_only(self, listens: Collection[str]) -> None:
        """Close every kept socket but those of ``listens``."""
        for listen in [kept for kept in self._kept if kept not in listens]:
            self._kept.pop(listen).close()

    def close(self) -> None:
        self.keep_only(())


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG,
                                dualstack_ipv6=family == socket.AF_INET6 and host == "::")
    sock.setblocking(False)
    return sock


@functools.cache
def _counted_handler():
    """aiohttp's connection handler, telling the gate when its connection closes."""
    from aiohttp.web_protocol import RequestHandler

    class CountedHandler(RequestHandler):
        __slots__ = ("on_lost",)

        def connection_lost(self, exc: BaseException | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                on_lost, self.on_lost = getattr(self, "on_lost", None), None
                if on_lost is not None:
                    on_lost()

    return CountedHandler


def _runs_itself(name: str) -> bool:
    """The HTTP API's and the webhooks' rows: their health is set as they run."""
    return name == API_CHANNEL or name.startswith("webhook:")


async def _stop_unrun_shared(inbox: Inbox, db: Any, configured: Collection[str]) -> None:
    """On a store several hubs share (PostgreSQL): a channel this hub's config does not
    name, whose lock no hub holds, is run by none now (the hub that ran it was stopped
    or killed, and no running hub's config names it, or none has room for it). Its last
    health would stand as if it still ran: it is shown stopped, and why. Marked while
    holding its lock, so a hub taking it meanwhile starts it after (its own health
    comes later)."""
    why = _("not run: no running hub has taken it")
    for channel in await inbox.store.channels.all():
        if (channel.name in configured or _runs_itself(channel.name)
                or (channel.health is Health.STOPPED and channel.health_detail == why)):
            continue
        lock = f"channel:{channel.name}"
        if await db.try_lock(lock):
            try:
                await inbox.store.channels.set_health(channel.name, Health.STOPPED, why)
            finally:
                await db.unlock(lock)


# How often the hub with the duties looks for channels no hub runs (in polls of the locks).
UNRUN_EVERY = 10


async def run_hub_when_free(
    inbox: Inbox,
    channels: Sequence[ChannelSettings],
    data_dir: Path,
    on_role: Callable[[str], None] = lambda role: None,
    poll: float = 1.0,
    loader: Callable[[str], TransportFactory] = load_transport,
    auto_assign_cap: int | None = None,
    transcripts: TranscriptSettings | None = None,
    webhooks: Sequence[WebhookSettings] = (),
    api: ApiSettings | None = None,
) -> None:
    """Follow until the hub lock is free, then run the hub until cancelled.

    The lock is a file in the data dir. A store several machines share (PostgreSQL)
    holds locks instead, one per channel and one for the duties (`share_channels`).
    """
    if getattr(inbox.store.db, "shared_locks", False):
        sockets = KeptSockets()

        def start(runs: frozenset[str], duties: bool) -> Coroutine[Any, Any, None]:
            # The HTTP API is served by the hub with the duties, as the webhooks.
            return _run_hub(inbox, channels, data_dir, loader, auto_assign_cap, transcripts,
                            webhooks, api if duties else None, runs=runs, duties=duties,
                            sockets=sockets)

        names = [c.name for c in channels]
        try:
            await share_channels(inbox.store.db, names, start, on_role, poll,
                                 idle=sockets.close,
                                 unrun=lambda: _stop_unrun_shared(inbox, inbox.store.db, names))
        finally:
            sockets.close()
        return
    lock = HubLock(data_dir)
    role = ""
    try:
        while not lock.try_acquire():
            if role != "follower":
                role = "follower"
                on_role(role)
                log.info("another process (pid %s) runs the hub; following", lock.holder_pid())
            await asyncio.sleep(poll)
        on_role("hub")
        log.info("this process runs the hub (pid %d)", os.getpid())
        await _run_hub(inbox, channels, data_dir, loader, auto_assign_cap, transcripts,
                       webhooks, api)
    finally:
        lock.release()


async def share_channels(
    db: Any,
    names: Sequence[str],
    start: Callable[[frozenset[str], bool], Coroutine[Any, Any, None]],
    on_role: Callable[[str], None] = lambda role: None,
    poll: float = 1.0,
    idle: Callable[[], None] = lambda: None,
    unrun: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Hubs on several machines sharing one PostgreSQL store share its channels.

    Each channel is run by the one process holding its lock in the database (a session
    lock: the server frees it when that process dies or loses its connection), and one
    process holds the duties done once for all. Every ``poll`` seconds each hub counts
    the hubs alive and takes free channels up to its fair share (the channels divided by
    the hubs, rounded up), giving back what it holds beyond it once another hub is
    there to take it; a dead hub's channels are taken within a poll or two. Each change
    restarts this process's hub with what it now holds, ``start(channels, duties)``
    (its transports stop before a channel is given back, so two hubs never run one
    channel). ``db``: a database with locks shared by every process (store/pg.py);
    ``idle``: called when this process is left running nothing; ``unrun``: called by
    the process with the duties when it takes them and every `UNRUN_EVERY` polls after,
    to show the channels no hub runs as stopped (`_stop_unrun_shared`)."""
    # Each process tries the channels in its own order, so that hubs starting together
    # take different ones.
    salt = os.urandom(8)
    order = sorted(names, key=lambda n: hashlib.sha256(salt + n.encode()).digest())
    held: set[str] = set()
    duties = False
    running: tuple[frozenset[str], bool] | None = None
    task: asyncio.Task[None] | None = None
    polls = 0
    try:
        while True:
            drop: set[str] = set()
            try:
                if (held or duties) and not await db.holds(
                        "duties" if duties else f"channel:{next(iter(held))}"):
                    log.error("the hub's locks in the database were lost; taking them again")
                    held.clear()
                    duties = False
                duties = duties or await db.try_lock("duties")
                fair = math.ceil(len(names) / max(1, await db.members()))
                for name in order:
                    if len(held) >= fair:
                        break
                    if name not in held and await db.try_lock(f"channel:{name}"):
                        held.add(name)
                if len(held) > fair:
                    drop = set([n for n in order if n in held][fair:])
            except StoreError as exc:
                log.warning("cannot reach the locks in the database: %s", exc)
            wanted = (frozenset(held - drop), duties)
            if wanted != running:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    task = None
                for name in drop:
                    with contextlib.suppress(StoreError):
                        await db.unlock(f"channel:{name}")
                    held.discard(name)
                running = wanted
                if held or duties:
                    log.info("this process (pid %d) runs %s%s", os.getpid(),
                             ", ".join(sorted(held)) or "no channel",
                             " and the shared duties" if duties else "")
                    task = asyncio.create_task(start(frozenset(held), duties))
                    on_role("hub")
                else:
                    log.info("other processes run every channel; following")
                    idle()
                    on_role("follower")
            if duties and unrun is not None and polls % UNRUN_EVERY == 0:
                try:
                    await unrun()
                except StoreError as exc:
                    log.warning("cannot look for channels no hub runs: %s", exc)
            polls = polls + 1 if duties else 0  # from 0 again: at once when taken
            await asyncio.sleep(poll)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        db.unlock_all()


async def _run_hub(inbox: Inbox, channels: Sequence[ChannelSettings], data_dir: Path,
                   loader: Callable[[str], TransportFactory], auto_assign_cap: int | None,
                   transcripts: TranscriptSettings | None,
                   webhooks: Sequence[WebhookSettings], api: ApiSettings | None = None,
                   runs: Collection[str] | None = None, duties: bool = True,
                   sockets: KeptSockets | None = None) -> None:
    failures = 0
    while True:
        try:
            await Hub(inbox, channels, data_dir, loader, auto_assign_cap, transcripts,
                      webhooks, api, runs, duties, sockets).run()
        except asyncio.CancelledError:
            raise
        except Exception:  # the hub must not stay dead while we hold its lock
            failures += 1
            log.exception("the hub stopped on an error; restarting it")
        await asyncio.sleep(RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)])


# Failures a transport raises on purpose, with a sentence that says it all: no traceback.
_FORESEEN = (ValueError, LookupError, OSError)


def _cannot_start(exc: BaseException) -> str:
    """Why a channel is down, as a sentence for the operator (no Python class name)."""
    summary = error_summary(exc)  # the one place errors become text (and secrets are hidden)
    text = summary.removeprefix(f"{type(exc).__name__}: ")
    if text == type(exc).__name__:
        return _("it stopped on an internal error (see the log with log.level = \"DEBUG\")")
    return text[:1].upper() + text[1:]


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|ответ|отв)\s*(?:\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)


def _mail_thread(history: Sequence[Message]) -> tuple[str, str | None, list[str]]:
    """(subject, In-Reply-To, References) of an answer mailed in a web chat dialog: under
    the visitor's last mail if they wrote one, else "Re:" what they wrote in the form."""
    for message in reversed(history):
        mailed = message.meta.get("email") if message.direction is Direction.IN else None
        if isinstance(mailed, dict) and mailed.get("message_id"):
            subject = str(mailed.get("subject") or "")
            parent = str(mailed["message_id"])
            references = [str(r) for r in mailed.get("references") or []] + [parent]
            base = _REPLY_PREFIX.sub("", subject).strip() or subject
            return (f"Re: {base}" if base else "", parent, references)
    for message in reversed(history):
        if message.direction is Direction.IN and message.meta.get("contact_form"):
            words = " ".join((message.body or "").split())
            if words:
                return ("Re: " + (words if len(words) <= 60 else words[:59] + "…"), None, [])
    return ("", None, [])


def _outboxes_with_work(events: Sequence[Event], channels: Collection[str]) -> set[str]:
    """The channels whose outbox these events gave work: a reply or automatic answer
    queued, a failed message queued again. Each such event names its channel; one that
    does not (written by an older opchat) may concern any of them."""
    woken: set[str] = set()
    for event in events:
        match event.payload:
            case MessageNewData(direction="out" | "auto", channel=channel) | \
                    MessageStateData(state="queued", channel=channel):
                if not isinstance(channel, str):
                    return set(channels)
                woken.add(channel)
    return woken & set(channels)
