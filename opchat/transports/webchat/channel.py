"""The web chat: a widget a business pastes into its site with one <script> tag.

The hub's shared aiohttp server (see ``Hub``/``WebServer``) serves, under this
channel's ``path``:

    /            a demo page that embeds the widget (try both sides at once)
    /widget.js   the widget: plain JavaScript, no build step
    /widget.css  its styles
    /ws          one WebSocket per open page; the protocol is docs/WEBCHAT.md

A visitor is a random id plus an HMAC of it under a secret kept in the data dir
(``webchat.secret``, 0600): the widget keeps that token in localStorage, so the
dialog survives a reload or a new tab, and nobody can forge another visitor's
token. The visitor id is the chat id, so one visitor is one dialog.

What the widget sends is acknowledged only after ``sink.ingest`` returns; its
client id becomes part of the external id, so a resend after a reconnect is
stored once. Replies are pushed to the visitor's open sockets; a visitor who is
away gets them as history on their next connect (``sink.history``). The
offline form and "call me back" are messages too, with a contact and labels.

Presence goes both ways but is never stored as messages: the visitor's typing
(and draft, with ``sneak_peek``) through ``sink.customer_typing``; the
operator's typing and reading through :meth:`typing` and :meth:`seen`, which
the hub calls. Who is online (``sink.operators_online``) and the working hours
(``opchat.hours``) decide whether the widget offers the chat or the offline form.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import hmac
import inspect
import ipaddress
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from opchat.config import ChannelSettings
from opchat.hours import WorkingHours, timezone
from opchat.model import (
    Direction,
    Health,
    InboundMessage,
    Message,
    MessageState,
    OutboundMessage,
    UnstorableMessage,
)
from opchat.transports import (
    DEFAULT_LISTEN,
    Capabilities,
    Delivery,
    OptionSet,
    Sink,
    error_summary,
    files,
    parse_listen,
)
from opchat.transports.webchat.options import (
    LIST_TEXTS,
    OPTIONS,
    PLAIN_TEXTS,
    TEXT_KEYS,
    TEXT_LANGUAGES,
    operator_photo,
)

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("opchat.webchat")

STATIC = Path(__file__).parent / "static"
SECRET_FILENAME = "webchat.secret"
TOKEN_VERSION = "v1"
MAX_FRAME = 64 * 1024  # bytes of one WebSocket frame; larger closes the socket (1009)
MAX_TEXT = 4000  # characters of one message; longer gets a "too_long" error frame
MAX_CID = 64
MAX_DRAFT = 1000  # characters of a typing frame's draft (the sneak peek); more: "too_long"
MAX_NAME = 100  # a visitor's name in a form, and operator_name
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_WHEN = 100  # "call me back" time, free text
MAX_URL = 500  # page and referrer kept in the contact's profile
MAX_TITLE = 200
MAX_LANGUAGE = 35
MAX_USER_AGENT = 300
MAX_CHOICE = 64  # characters of a pressed button's payload (Telegram's limit too)
STATUS_INTERVAL = 5.0  # seconds between checks of who is online, for open widgets
MAX_IDS = 100  # ids in one "received"/"seen" frame
MAX_SOCKETS_PER_IP = 20
HISTORY_LIMIT = 200
VIOLATIONS_BEFORE_CLOSE = 50  # rate-limited frames before the socket is closed (1008)
MAX_ID = 2**63 - 1  # message ids are SQLite integers: larger ones name nothing
MAX_REFUSED_ORIGINS = 20  # refused origins remembered (and logged); more are only counted
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


# Tokens -------------------------------------------------------------------------------


def load_secret(data_dir: Path) -> bytes:
    """The data dir's web chat secret, created (0600) on first use."""
    return files.load_secret(Path(data_dir) / SECRET_FILENAME, data_dir).encode()


class Tokens:
    """Visitor tokens: ``v1.<visitor id>.<hex HMAC-SHA256 of channel and id>``."""

    def __init__(self, secret: bytes, channel: str) -> None:
        self._secret = secret
        self._channel = channel

    def _mac(self, visitor: str) -> str:
        message = f"visitor:{self._channel}:{visitor}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, str]:
        visitor = secrets.token_urlsafe(18)
        return visitor, f"{TOKEN_VERSION}.{visitor}.{self._mac(visitor)}"

    def verify(self, token: Any) -> str | None:
        """The visitor id the token was issued for, or None (checked in constant time)."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        version, _, rest = token.partition(".")
        visitor, _, mac = rest.partition(".")
        if version != TOKEN_VERSION or not VISITOR_ID.fullmatch(visitor):
            return None
        return visitor if hmac.compare_digest(mac.encode(), self._mac(visitor).encode()) else None


# Rate limits --------------------------------------------------------------------------


class TokenBuckets:
    """One token bucket per key (visitor, IP): ``burst`` at once, ``rate`` a second after."""

    def __init__(self, burst: float, rate: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 if allowed (a token is spent), else the seconds until one is free."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 10_000:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[key]


# The store, as seen through the sink -------------------------------------------------


class StoreFailed(Exception):
    """A call to the sink (the store behind it) failed; the reason is its summary."""


class WatchedSink:
    """The hub's sink, telling ``on_result`` how each call went: the web chat shows
    the channel DEGRADED while the store fails and OK again once it works."""

    def __init__(self, sink: Sink, on_result) -> None:
        self._sink = sink
        self._on_result = on_result

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._sink, name)
        if not inspect.iscoroutinefunction(call):
            return call

        async def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await call(*args, **kwargs)
            except (asyncio.CancelledError, UnicodeError, UnstorableMessage):
                raise  # a visitor's unstorable text is their problem, not the store's
            except Exception as exc:
                reason = error_summary(exc)
                self._on_result(name, reason)
                raise StoreFailed(reason) from exc
            self._on_result(name, None)
            return result

        return watched


# The channel's settings ---------------------------------------------------------------


class FrameError(Exception):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.frame = {"type": "error", "code": code, "detail": detail, **extra}


@dataclass(eq=False)
class Visit:
    """One open WebSocket."""

    ws: Any  # aiohttp.web.WebSocketResponse
    ip: str
    user_agent: str
    visitor: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # what the visitor called themselves in a form, if anything
    typing: bool = False  # told the hub "typing" and not yet "stopped"
    violations: int = 0


def _origins(value: Any) -> set[str]:
    if value in (None, ""):
        return set()
    items = [value] if isinstance(value, str) else list(value)
    return {str(item).rstrip("/") for item in items}


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""




def _texts(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The widget's words the config overrides, per language: the ``texts`` table
    (``[channels.NAME.texts.ru] title = "…"``) over ``title``/``subtitle``/``placeholder``."""
    plain = {key: str(options[key]) for key in PLAIN_TEXTS if options.get(key) not in (None, "")}
    table = options.get("texts")
    if table in (None, ""):
        table = {}
    if not isinstance(table, dict):
        raise ValueError('option texts must be a table of languages, e.g. [channels.site.texts.ru] '
                         'title = "Напишите нам"')
    texts = {}
    for language, words in table.items():
        if language not in TEXT_LANGUAGES:
            raise ValueError(f"texts: unknown language {language!r} (the widget speaks "
                             f"{', '.join(TEXT_LANGUAGES)})")
        if not isinstance(words, dict):
            raise ValueError(f"texts.{language} must be a table of texts, e.g. title = \"…\"")
        for key, value in words.items():
            if key not in TEXT_KEYS:
                raise ValueError(f"texts.{language}: unknown text {key!r} (known: "
                                 f"{', '.join(TEXT_KEYS)})")
            if key in LIST_TEXTS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"texts.{language}.{key} must be a list of texts")
            elif not isinstance(value, str):
                raise ValueError(f"texts.{language}.{key} must be text, not {value!r}")
    for language in TEXT_LANGUAGES:
        words = {**plain, **(table.get(language) or {})}
        if words:
            texts[language] = words
    return texts


def text_language(tag: Any) -> str:
    """The widget's language for a browser language tag ("ru-RU" -> "ru"), else "en"."""
    primary = tag.split("-")[0].lower() if isinstance(tag, str) else ""
    return primary if primary in TEXT_LANGUAGES else "en"


def _flag(options: dict[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"option {key} must be true or false, not {value!r}")
    return value


def _greetings(value: Any) -> dict[str, str]:
    """The ``greetings`` table: path prefix -> greeting."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValueError('option greetings must be a table like { "/pricing" = "Questions '
                         'about prices?" }')
    table = {}
    for prefix, greeting in value.items():
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError(f"greetings: {prefix!r} is not a path (it starts with /)")
        if not isinstance(greeting, str):
            raise ValueError(f"greetings: the greeting for {prefix!r} is not text")
        table[prefix.rstrip("/") or "/"] = greeting
    return table




Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _proxies(value: Any) -> bool | list[Network]:
    """``trust_proxy``: false, true (the peer is a proxy) or its addresses / networks."""
    if value in (None, False, ""):
        return False
    if value is True:
        return True
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("option trust_proxy must be true, false or a list of addresses")
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError(f"trust_proxy: {item!r} is not an IP address or network") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # "[v6]" or "[v6]:port"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "v4:port"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _page_path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _message_id(value: Any, name: str) -> int:
    """A message id a frame names (0: none), or bad_frame."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise FrameError("bad_frame", f"\"{name}\" must be a message id (0 for all)")
    return value


def _cid_of(frame: Any) -> dict[str, str]:
    """The frame's client id, to name it in an error frame, if it has a fair one."""
    cid = frame.get("cid") if isinstance(frame, dict) else None
    return {"cid": cid} if isinstance(cid, str) and 0 < len(cid) <= MAX_CID else {}


def _kind_of(frame: Any) -> str:
    kind = frame.get("type") if isinstance(frame, dict) else None
    return _one_line(kind)[:40] if isinstance(kind, str) else "?"


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9][0-9 ().\-]*")


# The channel --------------------------------------------------------------------------


class WebChatTransport:
    kind: ClassVar[str] = "webchat"
    options: ClassVar[OptionSet]  # OPTIONS, at the end of this module
    capabilities: ClassVar[Capabilities] = Capabilities(typing=True, buttons=True,
                                                        max_len=MAX_TEXT)
    # A socket that has not said a valid hello by then is closed: it holds one of the
    # IP's few sockets and the hub's file descriptors, and no browser of ours waits.
    hello_timeout: ClassVar[float] = 30.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        self.name = channel.name
        self._read_options(channel.options)
        self.tokens = Tokens(load_secret(data_dir), channel.name)
        self._closing: set[asyncio.Task[Any]] = set()  # silent sockets being closed
        self.visitor_messages = TokenBuckets(burst=8, rate=1.0)
        self.ip_messages = TokenBuckets(burst=30, rate=3.0)
        self.ip_frames = TokenBuckets(burst=120, rate=20.0)
        self.visitor_typing = TokenBuckets(burst=6, rate=4.0)
        self.visits: dict[str, set[Visit]] = {}  # visitor -> open sockets
        self.sockets_per_ip: dict[str, int] = {}
        # visitor -> the highest of their message ids an operator has read, as far as
        # this hub has seen since it started (the store keeps no read state for them).
        self.read_up_to: dict[str, int] = {}
        self.clock = time.time
        self._status: dict[str, Any] | None = None  # as last pushed to every socket
        self._sink: Sink | None = None
        self._hub_sink: Sink | None = None  # unwatched, for health
        self._failing: dict[str, str] = {}  # sink call -> why it failed last (until it works)
        self.refused_origins: dict[str, int] = {}  # origin -> refusals (MAX_REFUSED_ORIGINS)
        self._no_origin_told = False
        self._health: tuple[Health, str] | None = None  # as last told to the hub
        self._ready = asyncio.Event()

    def _read_options(self, options: dict[str, Any]) -> None:
        # Every option is checked here: a bad one shows the channel DOWN with this
        # message (the hub catches it), before any visitor sees a half-set widget.
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = "/" + str(options.get("path", "")).strip("/") if options.get("path") else ""
        self.origins = _origins(options.get("origin"))
        public_url = str(options.get("public_url") or "")
        parts = urlsplit(public_url)
        self.public_origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        self.allow_no_origin = _flag(options, "allow_no_origin", False)
        self.trusted_proxies = _proxies(options.get("trust_proxy", False))
        self.sneak_peek = _flag(options, "sneak_peek", True)
        self.hours: WorkingHours | None = None
        zone = options.get("timezone")
        if options.get("hours") not in (None, ""):
            if zone in (None, ""):
                raise ValueError('option hours needs timezone too, e.g. timezone = '
                                 '"Europe/Berlin"')
            self.hours = WorkingHours.parse(str(options["hours"]), str(zone))
        elif zone not in (None, ""):
            timezone(str(zone))  # checked all the same: a typo should not wait for hours
        # "" : the widget's own greeting in the visitor's language (or texts.LANG.greeting)
        self.greeting = str(options.get("greeting") or "")
        self.greetings = _greetings(options.get("greetings"))
        self.operator_name = str(options.get("operator_name", ""))[:MAX_NAME]
        self.operator_photo = operator_photo(options.get("operator_photo"), self.path)
        self.texts = _texts(options)
        self.widget_config = {
            "greeting": self.greeting,
            "color": str(options.get("color", "#2563eb")),
            "max_len": MAX_TEXT,
            "max_draft": MAX_DRAFT,
            "sneak_peek": self.sneak_peek,
            "operator_name": self.operator_name,
            "operator_photo": self.operator_photo,
            "offline_form": _flag(options, "offline_form", True),
            "callback": _flag(options, "callback", True),
            "hours": "",
        }

    # The contract ---------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._hub_sink = sink
        self._sink = WatchedSink(sink, self._store_result)
        self._health = None
        self._ready.set()
        self._tell_health()
        while True:
            # Operators come and go and the shop opens and closes: tell open widgets,
            # so the offline form gives way to the chat (and back) without a reload.
            await asyncio.sleep(STATUS_INTERVAL)
            if not self.visits:
                continue
            try:
                status = await self._availability()
            except StoreFailed:  # said once, and shown as the channel's health: next round
                continue
            except Exception:
                log.exception("channel %s: could not tell who is online", self.name)
                continue
            if status != self._status:
                self._status = status
                for visitor in list(self.visits):
                    await self._push(visitor, {"type": "status", **status})

    async def send(self, out: OutboundMessage) -> Delivery:
        message: dict[str, Any] = {"id": out.message_id, "from": "operator", "text": out.body,
                                   "at": time.time()}
        if out.buttons:  # a menu, "rate us": the widget shows them under the message
            message["buttons"] = [[label, payload] for label, payload in out.buttons]
        frame = {"type": "message", "message": message}
        await self._push(out.chat_id, frame)
        # Offline visitors get it as history when they come back: it is sent either way.
        return Delivery(external_id=self._out_id(out.chat_id, out.message_id))

    def present(self, chat_id: str) -> bool:
        """Whether the visitor has a page with the widget open now (a socket)."""
        return bool(self.visits.get(chat_id))

    async def typing(self, chat_id: str, active: bool) -> None:
        """An operator is typing in this visitor's dialog (or stopped)."""
        await self._push(chat_id, {"type": "typing", "active": bool(active),
                                   "name": self.operator_name})

    async def seen(self, chat_id: str) -> None:
        """An operator read the dialog: every visitor message so far is read."""
        sink = await self._sink_ready()
        messages = await sink.history(chat_id, 0, HISTORY_LIMIT)
        up_to = max((m.id for m in messages if m.direction is Direction.IN), default=0)
        if not up_to:
            return
        # A message stored between the operator opening the dialog and this query would
        # be counted read too; the window is one query long.
        self.read_up_to[chat_id] = max(up_to, self.read_up_to.get(chat_id, 0))
        await self._push(chat_id, {"type": "seen", "up_to": self.read_up_to[chat_id]})

    # Health ---------------------------------------------------------------------------

    def _tell_health(self) -> None:
        """OK, or DEGRADED saying why: the store fails, or browsers were refused."""
        if self._hub_sink is None:
            return
        from opchat.i18n import _

        if self._failing:
            state = Health.DEGRADED
            detail = _("cannot store: {reason}").format(
                reason="; ".join(sorted(set(self._failing.values()))))
        elif self.refused_origins:
            state = Health.DEGRADED
            origins = list(self.refused_origins)
            named = ", ".join(origins[:3]) + (" …" if len(origins) > 3 else "")
            detail = (_("refused origin {origin} — add it to origin") if len(origins) == 1
                      else _("refused origins {origins} — add them to origin")
                      ).format(origin=named, origins=named)
        else:
            state, detail = Health.OK, f"{self.listen}{self.path}"
        if (state, detail) != self._health:
            self._health = (state, detail)
            self._hub_sink.health(state, detail)

    def _store_result(self, call: str, failure: str | None) -> None:
        if failure is None:
            if self._failing.pop(call, None) is not None:
                log.warning("channel %s: the store works again (%s)", self.name, call)
                self._tell_health()
            return
        if self._failing.get(call) != failure:  # said once per reason, not per frame
            log.error("channel %s: the store failed (%s): %s", self.name, call, failure)
        self._failing[call] = failure
        self._tell_health()

    def _refuse_origin(self, origin: str | None) -> None:
        """Say once per origin that it was refused: a wrong ``origin`` setting would
        otherwise drop every chat unseen."""
        if not origin:
            if not self._no_origin_told:
                self._no_origin_told = True
                log.warning("channel %s: refused a client that sent no Origin (an app or a "
                            "script; allow_no_origin lets them in)", self.name)
            return
        origin = _one_line(origin)[:100]
        if origin in self.refused_origins:
            self.refused_origins[origin] += 1
            return
        if len(self.refused_origins) >= MAX_REFUSED_ORIGINS:
            return
        parts = urlsplit(origin) if origin.isprintable() else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return  # not what a browser sends: nobody's misconfigured site
        self.refused_origins[origin] = 1
        log.warning("channel %s: refused a chat from origin %s; if it is your site, add it "
                    "to origin in the config", self.name, origin)
        self._tell_health()

    def mount(self, app: web.Application) -> None:
        app.router.add_get(self.path + "/", self._demo_page)
        app.router.add_get(self.path + "/widget.js", self._static("widget.js"))
        app.router.add_get(self.path + "/widget.css", self._static("widget.css"))
        app.router.add_get(self.path + "/ws", self._socket)
        app.on_shutdown.append(self._close_all)

    # HTTP -----------------------------------------------------------------------------

    def _static(self, filename: str):
        from aiohttp import web

        content_type = {"js": "text/javascript", "css": "text/css"}[filename.rsplit(".", 1)[1]]
        body = (STATIC / filename).read_bytes()
        zipped = gzip.compress(body, compresslevel=9, mtime=0)  # once: every page loads it
        tag = hashlib.sha256(body).hexdigest()[:20]
        # One validator per representation (RFC 9110): the gzipped bytes are other bytes.
        etags = {"identity": f'"{tag}"', "gzip": f'"{tag}-gz"'}

        async def handler(request: web.Request) -> web.Response:
            # "no-cache": kept, but asked again each time, so a new opchat's widget is used
            # at once; the question costs a 304 without a body while nothing changed.
            headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding",
                       "X-Content-Type-Options": "nosniff"}
            encoding = "gzip" if _accepts_gzip(request.headers.get("Accept-Encoding", "")) \
                else "identity"
            headers["ETag"] = etags[encoding]
            if _etag_matches(request.headers.get("If-None-Match", ""), etags.values()):
                return web.Response(status=304, headers=headers)
            if encoding == "gzip":
                headers["Content-Encoding"] = "gzip"
            return web.Response(body=zipped if encoding == "gzip" else body,
                                content_type=content_type, charset="utf-8", headers=headers)

        return handler

    async def _demo_page(self, request: web.Request) -> web.Response:
        from aiohttp import web

        html = (STATIC / "demo.html").read_text(encoding="utf-8")
        html = html.replace("{{widget}}", self.path + "/widget.js")
        photo = urlsplit(self.operator_photo)
        images = "'self' data:" + (f" {photo.scheme}://{photo.netloc}" if photo.netloc else "")
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
                                       f"style-src 'self' 'unsafe-inline'; img-src {images}",
            "X-Content-Type-Options": "nosniff"})

    def origin_allowed(self, origin: str | None, own: Iterable[str] = ()) -> bool:
        if not origin:
            # Browsers always send one; a page elsewhere must be allowed by name. Other
            # clients (apps) send none, and are let in only when the business says so.
            return self.allow_no_origin
        origin = origin.rstrip("/")
        return (origin in own or origin == self.public_origin or origin in self.origins
                or "*" in self.origins)

    def own_origins(self, local: Any) -> set[str]:
        """The origins of the hub's own pages (the demo page), from the address the
        connection came in on (``sockname``), never from the Host header: a host name
        rebound to the hub's address must not pass for it."""
        if not isinstance(local, tuple) or len(local) < 2:
            return set()
        host, port = parse_listen(self.listen)[0], int(local[1])
        address = _address(host)
        if address is None or address.is_unspecified:  # "0.0.0.0": whichever it came in on
            address = _address(str(local[0]))
        if address is None:
            return set()
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        shown = f"[{address}]" if address.version == 6 else str(address)
        own = {f"http://{shown}:{port}"}
        if address.is_loopback:  # browsers resolve "localhost" themselves, never by DNS
            own.add(f"http://localhost:{port}")
        return own

    def client_ip(self, peer: str | None, forwarded: Iterable[str] = ()) -> str:
        """The address per-IP limits count: the peer's, or behind a trusted proxy the
        right-most X-Forwarded-For entry that is not a trusted proxy."""
        peer = peer or "?"
        if not self.trusted_proxies or not self._trusted(peer, is_peer=True):
            return peer  # anyone can write the header: only a trusted proxy's counts
        hops = [hop for header in forwarded for hop in header.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # not written by a proxy of ours: keep the last hop we trust
            client = str(address)
            if not self._trusted(client):
                break
        return client

    def trusts_proxy(self, peer: str) -> bool:
        """Whether ``peer`` is one of this channel's reverse proxies (``trust_proxy``):
        the hub does not cap the connections of a proxy, which speaks for many."""
        return bool(self.trusted_proxies) and self._trusted(peer, is_peer=True)

    def _trusted(self, address: str, is_peer: bool = False) -> bool:
        if self.trusted_proxies is True:
            return is_peer  # "the peer is a proxy", and only the peer
        if not self.trusted_proxies:
            return False
        parsed = _address(address)
        return parsed is not None and any(parsed in net for net in self.trusted_proxies)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import WSMsgType, web

        # Checked before the upgrade: a page on a site not in the allowlist gets no socket.
        origin = request.headers.get("Origin")
        local = request.transport.get_extra_info("sockname") if request.transport else None
        if not self.origin_allowed(origin, self.own_origins(local)):
            self._refuse_origin(origin)
            return web.Response(status=403, text="origin not allowed\n")
        ip = self.client_ip(request.remote, request.headers.getall("X-Forwarded-For", ()))
        if self.sockets_per_ip.get(ip, 0) >= MAX_SOCKETS_PER_IP:
            return web.Response(status=429, text="too many connections\n")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0)
        await ws.prepare(request)
        visit = Visit(ws, ip, request.headers.get("User-Agent", "")[:MAX_USER_AGENT])
        self.sockets_per_ip[ip] = self.sockets_per_ip.get(ip, 0) + 1
        silent = asyncio.get_running_loop().call_later(
            self.hello_timeout, self._close_silent, visit)
        try:
            async for frame in ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    # Binary frames count against the same limits: they are answered too.
                    await self._frame(visit, frame.data if frame.type == WSMsgType.TEXT
                                      else None)
                if visit.violations > VIOLATIONS_BEFORE_CLOSE:
                    await ws.close(code=1008, message=b"rate limit")
        finally:
            silent.cancel()
            self.sockets_per_ip[ip] -= 1
            if not self.sockets_per_ip[ip]:
                del self.sockets_per_ip[ip]
            if visit.visitor is not None:
                self._forget(visit)
                if visit.typing:  # gone mid-word: the operator should not wait for it
                    with contextlib.suppress(Exception):  # it expires by itself anyway
                        await self._tell_typing(visit, "", False)
        return ws

    def _close_silent(self, visit: Visit) -> None:
        if visit.visitor is None and not visit.ws.closed:
            log.info("channel %s: closing a socket from %s that sent no hello in %g s",
                     self.name, visit.ip, self.hello_timeout)
            task = asyncio.ensure_future(visit.ws.close(code=1008, message=b"hello expected"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close_all(self, app: web.Application) -> None:
        visits = [visit for visits in self.visits.values() for visit in visits]
        for visit in visits:
            with contextlib.suppress(Exception):
                await visit.ws.close(code=1001, message=b"server shutting down")

    # Frames ---------------------------------------------------------------------------

    async def _frame(self, visit: Visit, data: str | None) -> None:
        """Answer one frame (``None``: a binary one). Whatever happens, the visitor gets
        a frame back and the socket lives; what is not the visitor's fault is logged."""
        frame: Any = None
        try:
            if self.ip_frames.take(visit.ip):
                visit.violations += 1
                raise FrameError("rate_limited", "too many frames")
            if data is None:
                raise FrameError("bad_frame", "frames must be JSON text")
            try:
                frame = json.loads(data)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                raise FrameError("bad_json", "the frame is not JSON") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("bad_frame", "a frame is a JSON object with a \"type\"")
            kind = frame["type"]
            handler = self._handlers.get(kind)
            if handler is None:
                raise FrameError("unknown_type", f"unknown frame type {kind[:40]!r}")
            if kind not in ("hello", "ping") and visit.visitor is None:
                raise FrameError("hello_first", "send a hello frame first")
            await handler(self, visit, frame)
        except FrameError as error:
            await self._reply(visit, error.frame)
        except (UnicodeError, UnstorableMessage):
            await self._reply(visit, FrameError(
                "bad_frame", "the text has characters that cannot be stored",
                **_cid_of(frame)).frame)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:
            if not isinstance(exc, StoreFailed):  # those are logged once per reason
                log.exception("channel %s: a %s frame failed", self.name,
                              _kind_of(frame))
            await self._reply(visit, FrameError(
                "server_error", "the hub could not do this now; try again shortly",
                **_cid_of(frame)).frame)

    async def _hello(self, visit: Visit, frame: dict[str, Any]) -> None:
        token = frame.get("token")
        if token is None:
            visitor, token = self.tokens.issue()
        else:
            visitor = self.tokens.verify(token)
            if visitor is None:
                raise FrameError("bad_token", "the token is not valid; say hello without one")
        last_id = _message_id(frame.get("last_id", 0), "last_id")
        if visit.visitor is not None and visit.visitor != visitor:
            self._forget(visit)
        visit.visitor = visitor
        page = frame.get("page") if isinstance(frame.get("page"), dict) else {}
        visit.profile = {key: value for key, value in {
            "page": _text(page.get("url"), MAX_URL),
            "title": _text(page.get("title"), MAX_TITLE),
            "referrer": _text(page.get("referrer"), MAX_URL),
            "language": _text(frame.get("language"), MAX_LANGUAGE),
            "user_agent": visit.user_agent,
        }.items() if value}
        visit.name = _one_line(_text(frame.get("name"), MAX_NAME))
        self.visits.setdefault(visitor, set()).add(visit)
        language = visit.profile.get("language", "")
        texts = self.texts.get(text_language(language), {})
        config = {**self.widget_config, "texts": texts,
                  "greeting": self.greeting_for(visit.profile.get("page", ""),
                                                texts.get("greeting", "")),
                  "hours": self.hours.describe(language) if self.hours else ""}
        await self._reply(visit, {"type": "welcome", "visitor": visitor, "token": token,
                                  "config": config, "status": await self._availability()})
        await self._history(visit, {"after": last_id})

    async def _history(self, visit: Visit, frame: dict[str, Any]) -> None:
        after = _message_id(frame.get("after", 0), "after")
        sink = await self._sink_ready()
        assert visit.visitor is not None
        messages = await sink.history(visit.visitor, after, HISTORY_LIMIT)
        # Read marks survive a reload only as far as can be known: an operator who
        # answered had read what came before the answer; and what this hub was told
        # since it started.
        up_to = self.read_up_to.get(visit.visitor, 0)
        last_in = 0
        for message in messages:
            if message.direction is Direction.IN:
                last_in = message.id
            elif message.direction is Direction.OUT:
                up_to = max(up_to, last_in)
        await self._reply(visit, {"type": "history",
                                  "messages": [self._public(m, visit.visitor) for m in messages],
                                  "seen_up_to": up_to})

    async def _message(self, visit: Visit, frame: dict[str, Any]) -> None:
        cid = self._cid(frame)
        text = self._body(frame, "text", cid)
        choice = frame.get("choice")  # the payload of a button pressed (the text: its words)
        if choice is not None and (not isinstance(choice, str) or not 0 < len(choice)
                                   <= MAX_CHOICE or not choice.isprintable()):
            raise FrameError("bad_field", f"\"choice\" must be a button's payload, at most "
                             f"{MAX_CHOICE} printable characters", cid=cid, field="choice")
        await self._store(visit, cid, text,
                          meta={"callback": choice} if choice is not None else None)

    async def _contact(self, visit: Visit, frame: dict[str, Any]) -> None:
        """The offline form: a message with a way to answer it."""
        cid = self._cid(frame)
        name = self._field(frame, "name", MAX_NAME, cid)
        email = self._field(frame, "email", MAX_EMAIL, cid)
        phone = self._field(frame, "phone", MAX_PHONE, cid)
        if email and not EMAIL.fullmatch(email):
            raise FrameError("bad_field", "this is not an email address", cid=cid, field="email")
        if phone:
            self._check_phone(phone, cid)
        if not email and not phone:
            raise FrameError("bad_field", "leave an email or a phone number", cid=cid,
                             field="email")
        text = self._body(frame, "text", cid)
        contact = {key: value for key, value in
                   {"name": name, "email": email, "phone": phone}.items() if value}
        # "contact" keeps what was left even when the contact existed already (the store
        # fills a contact's email and phone only when it creates it).
        await self._store(visit, cid, text, name=name, email=email or None,
                          phone=phone or None,
                          meta={"contact_form": True, "contact": contact})

    async def _callback(self, visit: Visit, frame: dict[str, Any]) -> None:
        """"Call me back": a phone and a convenient time, as a labelled message."""
        cid = self._cid(frame)
        phone = self._field(frame, "phone", MAX_PHONE, cid)
        if not phone:
            raise FrameError("bad_field", "a phone number is needed", cid=cid, field="phone")
        self._check_phone(phone, cid)
        when = self._field(frame, "when", MAX_WHEN, cid)
        name = self._field(frame, "name", MAX_NAME, cid)
        body = f"Call me back: {phone}" + (f", {when}" if when else "")
        await self._store(visit, cid, body, name=name, phone=phone, labels=("callback",),
                          meta={"callback_request": {"phone": phone, "when": when}},
                          echo=True)

    async def _store(self, visit: Visit, cid: str, body: str, *, name: str = "",
                     email: str | None = None, phone: str | None = None,
                     labels: tuple[str, ...] = (), meta: dict[str, Any] | None = None,
                     echo: bool = False) -> None:
        """Ingest what the visitor sent, then (only then) acknowledge it."""
        visitor = visit.visitor
        assert visitor is not None
        wait = max(self.visitor_messages.take(visitor), self.ip_messages.take(visit.ip))
        if wait:
            visit.violations += 1
            raise FrameError("rate_limited", "too many messages; wait a little", cid=cid,
                             retry_after=round(wait, 1))
        if name:  # this socket and the visitor's other tabs write under it from now on
            for other in self.visits.get(visitor, ()):
                other.name = name
        sink = await self._sink_ready()
        ingested = await sink.ingest(InboundMessage(
            channel=self.name, chat_id=visitor, external_id=f"{visitor}:c:{cid}",
            sender_id=visitor, sender_name=visit.name or f"Visitor {visitor[:4]}", body=body,
            sent_at=time.time(), email=email, phone=phone, profile=visit.profile,
            meta=meta or {}, labels=labels))
        if visit.typing:  # the draft is now a message: the operator should not see both
            try:
                await self._tell_typing(visit, "", False)
            except Exception as exc:  # it expires by itself; the ack matters more
                log.warning("channel %s: could not clear a draft: %s", self.name, exc)
        # Stored: now it may be acknowledged, and shown in the visitor's other tabs.
        ack = {"type": "ack", "cid": cid, "id": ingested.message_id,
               "duplicate": ingested.duplicate}
        if echo:
            ack["text"] = body  # built here, so the client cannot know it
        await self._reply(visit, ack)
        if not ingested.duplicate:
            await self._push(visitor, {"type": "message", "message": {
                "id": ingested.message_id, "from": "visitor", "cid": cid, "text": body,
                "at": time.time()}}, skip=visit)

    async def _receipt(self, visit: Visit, frame: dict[str, Any]) -> None:
        ids = frame.get("ids")
        if (not isinstance(ids, list) or len(ids) > MAX_IDS
                or not all(isinstance(i, int) and not isinstance(i, bool)
                           and 0 < i <= MAX_ID for i in ids)):
            raise FrameError("bad_frame", f"\"ids\" must be a list of at most {MAX_IDS} ids")
        state = MessageState.READ if frame["type"] == "seen" else MessageState.DELIVERED
        sink = await self._sink_ready()
        assert visit.visitor is not None
        for message_id in ids:
            # The external id names the visitor: nobody can mark another's messages.
            await sink.report(self._out_id(visit.visitor, message_id), state)

    async def _typing(self, visit: Visit, frame: dict[str, Any]) -> None:
        """The visitor is typing; ``text`` is their draft (the sneak peek), if shared."""
        active, text = frame.get("active", True), frame.get("text", "")
        if not isinstance(active, bool):
            raise FrameError("bad_frame", "\"active\" must be true or false")
        if not isinstance(text, str):
            raise FrameError("bad_frame", "\"text\" must be a string")
        if len(text) > MAX_DRAFT:
            raise FrameError("too_long", f"a draft may have at most {MAX_DRAFT} characters")
        assert visit.visitor is not None
        if not active and not visit.typing:
            return  # nothing to stop: spare the store a write
        wait = self.visitor_typing.take(visit.visitor)
        if wait:
            visit.violations += 1
            raise FrameError("rate_limited", "too many typing frames", retry_after=round(wait, 1))
        # With sneak peek off the draft is dropped here whatever the client sent.
        await self._tell_typing(visit, text if self.sneak_peek and active else "", active)

    async def _ping(self, visit: Visit, frame: dict[str, Any]) -> None:
        await self._reply(visit, {"type": "pong"})

    _handlers: ClassVar[dict[str, Any]] = {
        "hello": _hello, "history": _history, "message": _message, "received": _receipt,
        "seen": _receipt, "typing": _typing, "contact": _contact, "callback": _callback,
        "ping": _ping,
    }

    # Helpers --------------------------------------------------------------------------

    def greeting_for(self, url: str, in_language: str = "") -> str:
        """The greeting for a page: the longest ``greetings`` prefix of its path, by whole
        path segments ("/pricing" covers "/pricing/team", not "/pricingx"), else the
        visitor's language's (``in_language``), else ``greeting``; "" leaves it to the
        widget."""
        path = _page_path(url)
        best = ""
        for prefix in self.greetings:
            covers = prefix == "/" or path == prefix or path.startswith(prefix + "/")
            if covers and len(prefix) > len(best):
                best = prefix
        return self.greetings[best] if best else (in_language or self.greeting)

    async def _availability(self) -> dict[str, Any]:
        """Open now (by the working hours), anyone online, and when it opens next."""
        now = self.clock()
        is_open = self.hours is None or self.hours.is_open(now)
        sink = await self._sink_ready()
        online = bool(await sink.operators_online())
        next_open = None if is_open or self.hours is None else self.hours.next_open(now)
        typical = getattr(sink, "typical_answer", None)  # a plugin's sink may lack it
        answer = None
        if typical is not None:
            try:
                answer = await typical()
            except Exception as exc:  # the widget then claims no time; the chat goes on
                log.warning("channel %s: how soon people are answered is unknown now: %s",
                            self.name, exc)
        return {"open": is_open, "online": online, "next_open": next_open,
                "typical": None if answer is None else round(answer)}

    async def _tell_typing(self, visit: Visit, text: str, active: bool) -> None:
        assert visit.visitor is not None
        visit.typing = active
        sink = await self._sink_ready()
        await sink.customer_typing(visit.visitor, text, active)

    @staticmethod
    def _cid(frame: dict[str, Any]) -> str:
        cid = frame.get("cid")
        if not isinstance(cid, str) or not 0 < len(cid) <= MAX_CID:
            raise FrameError("bad_frame", f"\"cid\" must be a string of 1–{MAX_CID} characters")
        return cid

    @staticmethod
    def _body(frame: dict[str, Any], key: str, cid: str) -> str:
        text = frame.get(key)
        if not isinstance(text, str) or not text.strip():
            raise FrameError("bad_frame", f"\"{key}\" must be a non-empty string", cid=cid)
        if len(text) > MAX_TEXT:
            raise FrameError("too_long", f"a message may have at most {MAX_TEXT} characters",
                             cid=cid)
        return text

    @staticmethod
    def _field(frame: dict[str, Any], key: str, limit: int, cid: str) -> str:
        """An optional one-line field of a form; "" when absent."""
        value = frame.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise FrameError("bad_frame", f"\"{key}\" must be a string", cid=cid)
        if len(value) > limit:
            raise FrameError("bad_field", f"at most {limit} characters", cid=cid, field=key)
        return _one_line(value)

    @staticmethod
    def _check_phone(phone: str, cid: str) -> None:
        if not PHONE.fullmatch(phone) or sum(ch.isdigit() for ch in phone) < 5:
            raise FrameError("bad_field", "this is not a phone number", cid=cid, field="phone")

    async def _sink_ready(self) -> Sink:
        # The socket may open in the instant between the port binding and run() starting.
        await asyncio.wait_for(self._ready.wait(), 10.0)
        assert self._sink is not None
        return self._sink

    @staticmethod
    def _out_id(visitor: str, message_id: int) -> str:
        return f"{visitor}:o:{message_id}"

    @staticmethod
    def _public(message: Message, visitor: str) -> dict[str, Any]:
        """A stored message as the visitor sees it."""
        public: dict[str, Any] = {"id": message.id, "text": message.body,
                                  "at": message.created_at, "state": message.state.value}
        if message.direction is Direction.IN:
            public["from"] = "visitor"
            prefix = f"{visitor}:c:"
            if message.external_id and message.external_id.startswith(prefix):
                public["cid"] = message.external_id[len(prefix):]
        else:
            public["from"] = "operator"
            buttons = message.meta.get("buttons")
            if isinstance(buttons, list) and buttons:
                public["buttons"] = buttons
        return public

    async def _reply(self, visit: Visit, frame: dict[str, Any]) -> None:
        if not visit.ws.closed:
            text = json.dumps(frame, ensure_ascii=False)
            try:
                text.encode()
            except UnicodeError:  # a lone surrogate: escaped, as JSON allows
                text = json.dumps(frame)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await visit.ws.send_str(text)

    async def _push(self, visitor: str, frame: dict[str, Any], skip: Visit | None = None) -> None:
        for visit in list(self.visits.get(visitor, ())):
            if visit is not skip:
                await self._reply(visit, frame)

    def _forget(self, visit: Visit) -> None:
        assert visit.visitor is not None
        visits = self.visits.get(visit.visitor)
        if visits is not None:
            visits.discard(visit)
            if not visits:
                del self.visits[visit.visitor]


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0)."""
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().lower()
            return not quality.startswith("q=") or quality[2:].strip() not in ("0", "0.0",
                                                                                "0.00", "0.000")
    return False


def _etag_matches(header: str, etags: Iterable[str]) -> bool:
    """If-None-Match names one of ``etags`` (weak or strong, as a GET compares them)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = {item.strip().removeprefix("W/") for item in header.split(",")}
    return any(etag in wanted for etag in etags)




def widget_files() -> Iterable[Path]:
    return [STATIC / "widget.js", STATIC / "widget.css"]


WebChatTransport.options = OPTIONS
