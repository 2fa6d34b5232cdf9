"""A stand-in of the MAX Bot API on 127.0.0.1, speaking MAX's wire format.

- The token in the ``Authorization`` header (dev.max.ru: the query parameter is no
  longer taken); anything else answers 401 ``{"code": "verify.token", "message"}``.
- ``GET /me``; ``GET /updates?marker=&timeout=&limit=&types=``: the updates pushed
  with :meth:`MaxAPI.push`, a few at a time, ``marker`` being the number of the
  next; a marker passed marks everything before it read, none gives the unread.
- ``POST /subscriptions`` / ``GET /subscriptions``: the webhook; ``POST /answers``
  (callback answers); ``POST /uploads?type=`` and the upload address it gives;
  ``POST /messages?chat_id=|user_id=``; ``POST /chats/{id}/actions``; the files
  customers sent at ``/files/NAME``.
- Errors as MAX gives them: an HTTP status and ``{"code", "message"}``.

Updates are shaped as dev.max.ru documents them: ``{"update_type", "timestamp",
…}`` with ``message`` = ``{"sender", "recipient", "timestamp", "body": {"mid",
"seq", "text", "attachments", "markup"}, "link"}``; timestamps in milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "f9LHodD0cOL5VrX0hp_Vq8kNmBzZsT7wQeR1yUiOaP3sDfGhJkLzXcVbNm"
BOT_ID = 10002
BOT_NAME = "Цветочная лавка"
BOT_USERNAME = "flowershop_bot"
CUSTOMER = 54321
CUSTOMER_NAME = ("Анна", "Смирнова")
OTHER = 67890
DIALOG = 90001  # the chat_id of the bot's dialog with CUSTOMER
OTHER_DIALOG = 90002
GROUP = -70000123  # a group chat the bot is in
T0 = 1770679787821

HANG = "hang"  # never answer (the client times out)
MALFORMED = "malformed"  # not JSON
REFUSE = "refuse"  # POST /subscriptions: {"success": false, "message"}


@dataclass
class Error:
    status: int
    code: str
    message: str
    retry_after: int | None = None


TOO_MANY = Error(429, "too.many.requests", "Too many requests", retry_after=1)
INTERNAL = Error(503, "internal.error", "Service unavailable")
BLOCKED = Error(403, "chat.denied", "chat.denied: dialog with user is blocked")
NOT_FOUND = Error(404, "chat.not.found", "Chat 404 not found")
BAD_TOKEN = Error(401, "verify.token", "Invalid access_token")


def user(user_id: int = CUSTOMER, first: str = CUSTOMER_NAME[0],
         last: str = CUSTOMER_NAME[1], username: str | None = "anna_s") -> dict[str, Any]:
    return {"user_id": user_id, "first_name": first, "last_name": last,
            "name": f"{first} {last}".strip(), "username": username, "is_bot": False,
            "last_activity_time": T0}


def message(text: str, mid: str, *, sender: dict[str, Any] | None = None,
            chat_id: int = DIALOG, chat_type: str = "dialog", attachments: Any = None,
            markup: Any = None, link: Any = None, at: int = T0) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, "seq": int(at), "text": text}
    if attachments is not None:
        body["attachments"] = attachments
    if markup is not None:
        body["markup"] = markup
    found: dict[str, Any] = {
        "sender": sender or user(), "recipient": {"chat_id": chat_id, "chat_type": chat_type,
                                                  "user_id": BOT_ID},
        "timestamp": at, "body": body}
    if link is not None:
        found["link"] = link
    return found


def created(msg: dict[str, Any]) -> dict[str, Any]:
    return {"update_type": "message_created", "timestamp": msg["timestamp"], "message": msg,
            "user_locale": "ru"}


def update(kind: str, at: int = T0, **fields: Any) -> dict[str, Any]:
    return {"update_type": kind, "timestamp": at, **fields}


def image(url: str) -> dict[str, Any]:
    return {"type": "image", "payload": {"photo_id": 4242, "token": "ph0t0", "url": url}}


def file(url: str, name: str, size: int) -> dict[str, Any]:
    return {"type": "file", "payload": {"url": url, "token": "f1le"}, "filename": name,
            "size": size}


def media(kind: str, url: str) -> dict[str, Any]:
    return {"type": kind, "payload": {"url": url, "token": f"{kind}-token"}}


def sticker(url: str) -> dict[str, Any]:
    return {"type": "sticker", "payload": {"url": url, "code": "7a1b"}, "width": 512,
            "height": 512}


def contact() -> dict[str, Any]:
    return {"type": "contact", "payload": {
        "vcf_info": "BEGIN:VCARD\nVERSION:3.0\nFN:Пётр Иванов\nTEL;TYPE=cell:+79161234567\n"
                    "END:VCARD", "max_info": None}}


def location() -> dict[str, Any]:
    return {"type": "location", "latitude": 55.751244, "longitude": 37.618423}


class MaxAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []  # method, path, query, body
        self.failures: dict[str, list[Any]] = {}
        self.sent: list[dict[str, Any]] = []  # query + body of each message sent
        self.files: dict[str, tuple[bytes, str]] = {}
        self.uploaded: dict[str, tuple[str, bytes]] = {}
        self.answers: list[dict[str, Any]] = []
        self.actions: list[tuple[str, str]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.read = 0  # the updates before this are read
        self.per_answer = 100
        self.answer_delay = 0.0  # seconds before each /updates answer (a slow network)
        self.polls: list[dict[str, str]] = []
        self._pushed = asyncio.Event()
        self._mids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int | None = None) -> MaxAPI:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port if port is not None else self.port,
                           reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Knobs ---------------------------------------------------------------------------------

    def fail(self, key: str, *answers: Any) -> None:
        """The next calls of ``key`` ("POST /messages") get these answers, in order (an
        Error, HANG, MALFORMED)."""
        self.failures.setdefault(key, []).extend(answers)

    def push(self, *updates: dict[str, Any]) -> None:
        self.updates.extend(updates)
        self._pushed.set()

    def add_file(self, name: str, content: bytes, mime: str = "image/jpeg") -> str:
        self.files[name] = (content, mime)
        return f"{self.base}/files/{name}"

    def called(self, key: str) -> list[tuple[dict[str, str], Any]]:
        return [(query, body) for method, path, query, body in self.calls
                if f"{method} {path}" == key]

    # The API -------------------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"))
        query = dict(request.query)
        body: Any = None
        if request.content_type == "application/json":
            body = await request.json()
        key = f"{request.method} {path}"
        if path.startswith("/upload/"):
            return await self._upload(request, path.removeprefix("/upload/"))
        self.calls.append((request.method, path, query, body))
        if request.headers.get("Authorization") != self.token:
            return _error(BAD_TOKEN)
        planned = self.failures.get(key)
        answer = planned.pop(0) if planned else None
        if isinstance(answer, Error):
            return _error(answer)
        if answer == HANG:
            await asyncio.sleep(3600)
        if answer == MALFORMED:
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        if key == "GET /me":
            return web.json_response({"user_id": BOT_ID, "first_name": BOT_NAME,
                                      "name": BOT_NAME, "username": BOT_USERNAME,
                                      "is_bot": True, "last_activity_time": T0})
        if key == "GET /updates":
            return await self._updates(query)
        if key == "POST /subscriptions" and answer == "refuse":
            return web.json_response({"success": False,
                                      "message": "Webhook URL is unreachable"})
        if key == "POST /subscriptions":
            self.subscriptions = [s for s in self.subscriptions if s["url"] != body["url"]]
            self.subscriptions.append({"url": body["url"], "time": T0,
                                       "update_types": body.get("update_types"),
                                       "secret": body.get("secret")})
            return web.json_response({"success": True})
        if key == "GET /subscriptions":
            return web.json_response({"subscriptions": [
                {k: v for k, v in s.items() if k != "secret"} for s in self.subscriptions]})
        if key == "POST /answers":
            if not query.get("callback_id"):
                return _error(Error(400, "proto.payload", "callback_id is required"))
            self.answers.append({"callback_id": query["callback_id"], **(body or {})})
            return web.json_response({"success": True})
        if key == "POST /uploads":
            kind = query.get("type", "")
            if kind not in ("image", "video", "audio", "file"):
                return _error(Error(400, "proto.payload", f"Invalid upload type {kind}"))
            number = next(self._mids)
            found: dict[str, Any] = {"url": f"{self.base}/upload/{kind}-{number}"}
            if kind in ("video", "audio"):
                found["token"] = f"{kind}-{number}"
            return web.json_response(found)
        if key == "POST /messages":
            return self._message(query, body or {})
        if request.method == "POST" and path.startswith("/chats/") and path.endswith("/actions"):
            self.actions.append((path.split("/")[2], (body or {}).get("action", "")))
            return web.json_response({"success": True})
        return _error(Error(404, "not.found", f"Path {path} not found"))

    async def _updates(self, query: dict[str, str]) -> web.Response:
        self.polls.append(query)
        marker = query.get("marker")
        start = int(marker) if marker and marker.isdigit() else self.read
        self.read = max(self.read, start)
        wanted = set(query.get("types", "").split(",")) - {""}
        timeout = min(float(query.get("timeout") or 30), 1.0)
        if start >= len(self.updates):
            self._pushed.clear()
            try:
                await asyncio.wait_for(self._pushed.wait(), timeout)
            except TimeoutError:
                pass
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        given = self.updates[start:start + self.per_answer]
        end = start + len(given)
        return web.json_response({
            "updates": [u for u in given if not wanted or u.get("update_type") in wanted],
            "marker": end})

    def _message(self, query: dict[str, str], body: dict[str, Any]) -> web.Response:
        if not (query.get("chat_id") or query.get("user_id")):
            return _error(Error(400, "proto.payload", "chat_id or user_id is required"))
        text = body.get("text") or ""
        if len(text) > 4000:
            return _error(Error(400, "proto.payload", "text: size must be between 0 and "
                                                      "4000"))
        mid = f"mid.bot{next(self._mids):06d}"
        self.sent.append({**query, **body, "mid": mid})
        chat = int(query.get("chat_id") or 0)
        return web.json_response({"message": {
            "sender": {"user_id": BOT_ID, "name": BOT_NAME, "is_bot": True},
            "recipient": {"chat_id": chat, "chat_type": "dialog"}, "timestamp": T0,
            "body": {"mid": mid, "seq": 1, "text": text,
                     "attachments": body.get("attachments") or []}}})

    async def _upload(self, request: web.Request, slot: str) -> web.Response:
        form = await request.post()
        field = form.get("data")
        if not isinstance(field, web.FileField):
            return _error(Error(400, "proto.payload", "no file"))
        self.uploaded[slot] = (field.filename, field.file.read())
        if slot.startswith("image"):
            return web.json_response({"photos": {"4242": {"token": f"img-{slot}"}}})
        return web.json_response({"token": f"tok-{slot}"})

    def _file(self, name: str) -> web.Response:
        if name not in self.files:
            return web.Response(status=404)
        content, mime = self.files[name]
        return web.Response(body=content, content_type=mime)


def _error(error: Error) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return web.json_response({"code": error.code, "message": error.message},
                             status=error.status, headers=headers)


async def deliver(url: str, body: dict[str, Any] | None = None, *, secret: str | None,
                  raw: bytes | None = None, timeout: float = 5.0) -> tuple[int, str]:
    """POST a webhook delivery as MAX does: the secret in X-Max-Bot-Api-Secret."""
    if raw is None:
        raw = json.dumps(body or {}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Max-Bot-Api-Secret"] = secret
    async with aiohttp.ClientSession() as session, session.post(
            url, data=raw, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
        return answer.status, await answer.text()


# By hand: `python -m tests.max_api [PORT]` runs the stand-in until Ctrl+C, with two more
# routes to play the customer: POST /_customer?text=… (a message_created from CUSTOMER) and
# GET /_sent (what POST /messages recorded, one line each).


async def _serve_by_hand(port: int) -> None:
    api = MaxAPI()
    original = api._route

    async def route(request: web.Request) -> web.StreamResponse:
        if request.path == "/_customer":
            n = len(api.updates)
            api.push(created(message(request.query.get("text", "Здравствуйте!"),
                                     f"mid.hand{n:06d}", at=int(time.time() * 1000))))
            return web.Response(text="ok\n")
        if request.path == "/_sent":
            return web.Response(text="".join(f"{s.get('chat_id')}: {s.get('text')}\n"
                                             for s in api.sent))
        return await original(request)

    api._route = route  # type: ignore[method-assign]
    await api.start(port)
    print(f"MAX stand-in on {api.base}; token {TOKEN}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import sys

    asyncio.run(_serve_by_hand(int(sys.argv[1]) if len(sys.argv) > 1 else 8082))
