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
away gets them as history on their next connect (``sink.history``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opchat.config import ChannelSettings
from opchat.model import Direction, Health, InboundMessage, Message, MessageState, OutboundMessage
from opchat.transports import DEFAULT_LISTEN, Capabilities, Delivery, Sink, parse_listen

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("opchat.webchat")

STATIC = Path(__file__).parent / "static"
SECRET_FILENAME = "webchat.secret"
TOKEN_VERSION = "v1"
MAX_FRAME = 64 * 1024  # bytes of one WebSocket frame; larger closes the socket (1009)
MAX_TEXT = 4000  # characters of one message; longer gets a "too_long" error frame
MAX_CID = 64
MAX_IDS = 100  # ids in one "received"/"seen" frame
MAX_SOCKETS_PER_IP = 20
HISTORY_LIMIT = 200
VIOLATIONS_BEFORE_CLOSE = 50  # rate-limited frames before the socket is closed (1008)
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


# Tokens -------------------------------------------------------------------------------


def load_secret(data_dir: Path) -> bytes:
    """The data dir's web chat secret, created (0600) on first use."""
    path = Path(data_dir) / SECRET_FILENAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text().strip()
        if len(text) < 32:
            raise ValueError(f"{path} is too short to be a secret; delete it to make a new one"
                             ) from None
        return text.encode()
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)
    return secret.encode()


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


# The channel --------------------------------------------------------------------------


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
    violations: int = 0


def _origins(value: Any) -> set[str]:
    if value in (None, ""):
        return set()
    items = [value] if isinstance(value, str) else list(value)
    return {str(item).rstrip("/") for item in items}


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class WebChatTransport:
    kind: ClassVar[str] = "webchat"
    capabilities: ClassVar[Capabilities] = Capabilities(typing=True, max_len=MAX_TEXT)

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = "/" + str(options.get("path", "")).strip("/") if options.get("path") else ""
        self.origins = _origins(options.get("origin"))
        self.widget_config = {
            "title": str(options.get("title", "Chat with us")),
            "subtitle": str(options.get("subtitle", "We usually answer in a few minutes")),
            "greeting": str(options.get("greeting", "Hello! How can we help?")),
            "placeholder": str(options.get("placeholder", "Type a message…")),
            "color": str(options.get("color", "#2563eb")),
            "max_len": MAX_TEXT,
        }
        self.tokens = Tokens(load_secret(data_dir), channel.name)
        self.visitor_messages = TokenBuckets(burst=8, rate=1.0)
        self.ip_messages = TokenBuckets(burst=30, rate=3.0)
        self.ip_frames = TokenBuckets(burst=120, rate=20.0)
        self.visits: dict[str, set[Visit]] = {}  # visitor -> open sockets
        self.sockets_per_ip: dict[str, int] = {}
        self._sink: Sink | None = None
        self._ready = asyncio.Event()

    # The contract ---------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._ready.set()
        sink.health(Health.OK, f"{self.listen}{self.path}")
        await asyncio.Event().wait()

    async def send(self, out: OutboundMessage) -> Delivery:
        frame = {"type": "message", "message": {
            "id": out.message_id, "from": "operator", "text": out.body, "at": time.time()}}
        await self._push(out.chat_id, frame)
        # Offline visitors get it as history when they come back: it is sent either way.
        return Delivery(external_id=self._out_id(out.chat_id, out.message_id))

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

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type, charset="utf-8",
                                headers={"Cache-Control": "no-cache",
                                         "X-Content-Type-Options": "nosniff"})

        return handler

    async def _demo_page(self, request: web.Request) -> web.Response:
        from aiohttp import web

        html = (STATIC / "demo.html").read_text(encoding="utf-8")
        html = html.replace("{{widget}}", self.path + "/widget.js")
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
                                       "style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            "X-Content-Type-Options": "nosniff"})

    def origin_allowed(self, origin: str | None, own: str) -> bool:
        if not origin:
            return False  # browsers always send one; a page elsewhere must be allowed by name
        origin = origin.rstrip("/")
        return origin == own or origin in self.origins or "*" in self.origins

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import WSMsgType, web

        # Checked before the upgrade: a page on a site not in the allowlist gets no socket.
        if not self.origin_allowed(request.headers.get("Origin"),
                                   f"{request.scheme}://{request.host}"):
            return web.Response(status=403, text="origin not allowed\n")
        ip = request.remote or "?"
        if self.sockets_per_ip.get(ip, 0) >= MAX_SOCKETS_PER_IP:
            return web.Response(status=429, text="too many connections\n")
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0)
        await ws.prepare(request)
        visit = Visit(ws, ip, request.headers.get("User-Agent", "")[:300])
        self.sockets_per_ip[ip] = self.sockets_per_ip.get(ip, 0) + 1
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._frame(visit, frame.data)
                elif frame.type == WSMsgType.BINARY:
                    error = FrameError("bad_frame", "frames must be JSON text")
                    await self._reply(visit, error.frame)
                if visit.violations > VIOLATIONS_BEFORE_CLOSE:
                    await ws.close(code=1008, message=b"rate limit")
        finally:
            self.sockets_per_ip[ip] -= 1
            if not self.sockets_per_ip[ip]:
                del self.sockets_per_ip[ip]
            if visit.visitor is not None:
                self._forget(visit)
        return ws

    async def _close_all(self, app: web.Application) -> None:
        visits = [visit for visits in self.visits.values() for visit in visits]
        for visit in visits:
            with contextlib.suppress(Exception):
                await visit.ws.close(code=1001, message=b"server shutting down")

    # Frames ---------------------------------------------------------------------------

    async def _frame(self, visit: Visit, data: str) -> None:
        try:
            if self.ip_frames.take(visit.ip):
                visit.violations += 1
                raise FrameError("rate_limited", "too many frames")
            try:
                frame = json.loads(data)
            except ValueError:
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

    async def _hello(self, visit: Visit, frame: dict[str, Any]) -> None:
        token = frame.get("token")
        if token is None:
            visitor, token = self.tokens.issue()
        else:
            visitor = self.tokens.verify(token)
            if visitor is None:
                raise FrameError("bad_token", "the token is not valid; say hello without one")
        if visit.visitor is not None and visit.visitor != visitor:
            self._forget(visit)
        visit.visitor = visitor
        page = frame.get("page") if isinstance(frame.get("page"), dict) else {}
        visit.profile = {key: value for key, value in {
            "page": _text(page.get("url"), 500),
            "title": _text(page.get("title"), 200),
            "referrer": _text(page.get("referrer"), 500),
            "language": _text(frame.get("language"), 35),
            "user_agent": visit.user_agent,
        }.items() if value}
        self.visits.setdefault(visitor, set()).add(visit)
        await self._reply(visit, {"type": "welcome", "visitor": visitor, "token": token,
                                  "config": self.widget_config})
        await self._history(visit, {"after": frame.get("last_id", 0)})

    async def _history(self, visit: Visit, frame: dict[str, Any]) -> None:
        after = frame.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise FrameError("bad_frame", "\"after\" must be a message id (0 for all)")
        sink = await self._sink_ready()
        assert visit.visitor is not None
        messages = await sink.history(visit.visitor, after, HISTORY_LIMIT)
        await self._reply(visit, {"type": "history",
                                  "messages": [self._public(m, visit.visitor) for m in messages]})

    async def _message(self, visit: Visit, frame: dict[str, Any]) -> None:
        visitor = visit.visitor
        assert visitor is not None
        cid, text = frame.get("cid"), frame.get("text")
        if not isinstance(cid, str) or not 0 < len(cid) <= MAX_CID:
            raise FrameError("bad_frame", f"\"cid\" must be a string of 1–{MAX_CID} characters")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("bad_frame", "\"text\" must be a non-empty string", cid=cid)
        if len(text) > MAX_TEXT:
            raise FrameError("too_long", f"a message may have at most {MAX_TEXT} characters",
                             cid=cid)
        wait = max(self.visitor_messages.take(visitor), self.ip_messages.take(visit.ip))
        if wait:
            visit.violations += 1
            raise FrameError("rate_limited", "too many messages; wait a little", cid=cid,
                             retry_after=round(wait, 1))
        sink = await self._sink_ready()
        ingested = await sink.ingest(InboundMessage(
            channel=self.name, chat_id=visitor, external_id=f"{visitor}:c:{cid}",
            sender_id=visitor, sender_name=f"Visitor {visitor[:4]}", body=text,
            sent_at=time.time(), profile=visit.profile))
        # Stored: now it may be acknowledged, and shown in the visitor's other tabs.
        await self._reply(visit, {"type": "ack", "cid": cid, "id": ingested.message_id,
                                  "duplicate": ingested.duplicate})
        if not ingested.duplicate:
            await self._push(visitor, {"type": "message", "message": {
                "id": ingested.message_id, "from": "visitor", "cid": cid, "text": text,
                "at": time.time()}}, skip=visit)

    async def _receipt(self, visit: Visit, frame: dict[str, Any]) -> None:
        ids = frame.get("ids")
        if (not isinstance(ids, list) or len(ids) > MAX_IDS
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
            raise FrameError("bad_frame", f"\"ids\" must be a list of at most {MAX_IDS} ids")
        state = MessageState.READ if frame["type"] == "seen" else MessageState.DELIVERED
        sink = await self._sink_ready()
        assert visit.visitor is not None
        for message_id in ids:
            # The external id names the visitor: nobody can mark another's messages.
            await sink.report(self._out_id(visit.visitor, message_id), state)

    async def _typing(self, visit: Visit, frame: dict[str, Any]) -> None:
        """Accepted; shown to the operator in a later step (sneak peek)."""

    async def _ping(self, visit: Visit, frame: dict[str, Any]) -> None:
        await self._reply(visit, {"type": "pong"})

    _handlers: ClassVar[dict[str, Any]] = {
        "hello": _hello, "history": _history, "message": _message, "received": _receipt,
        "seen": _receipt, "typing": _typing, "ping": _ping,
    }

    # Helpers --------------------------------------------------------------------------

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
        return public

    async def _reply(self, visit: Visit, frame: dict[str, Any]) -> None:
        if not visit.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await visit.ws.send_str(json.dumps(frame, ensure_ascii=False))

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


def snippet(channel: ChannelSettings) -> str:
    """The <script> tag a business pastes into its pages."""
    base = str(channel.options.get("public_url") or "").rstrip("/")
    if not base:
        host, port = parse_listen(str(channel.options.get("listen") or DEFAULT_LISTEN))
        base = f"http://{host}:{port}"
        path = str(channel.options.get("path", "")).strip("/")
        if path:
            base += "/" + path
    return f'<script src="{base}/widget.js" async></script>'


def widget_files() -> Iterable[Path]:
    return [STATIC / "widget.js", STATIC / "widget.css"]
