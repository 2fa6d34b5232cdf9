"""A stand-in Telegram Bot API server on 127.0.0.1, for tests.

It speaks the wire format aiogram speaks to the real one: a POST to
``/bot{token}/{method}`` with form-encoded (or, with files, multipart)
parameters, nested objects as JSON strings; answers ``{"ok": true, "result": …}``
or ``{"ok": false, "error_code": …, "description": …, "parameters": {…}}``
with the same HTTP status; files under ``/file/bot{token}/{path}``.

getUpdates behaves as Telegram documents it: updates below ``offset`` are
confirmed and gone for good, the rest come back until confirmed, and a long
poll returns as soon as an update is queued. Every call is recorded, and
``fail(method, …)`` makes the next calls of a method answer an error, garbage,
or nothing at all.

The second half builds updates shaped like the Bot API documentation's
examples, one function per kind of message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAHtest-stand_in_token"
BOT = {"id": 123456789, "is_bot": True, "first_name": "Shop", "username": "shop_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False}


@dataclass
class Error:
    """Answer with this Bot API error."""

    code: int
    description: str
    retry_after: int | None = None


MALFORMED = "malformed"  # answer 200 with a body that is not JSON
HANG = "hang"  # never answer (the client times out)
SENT_THEN_HANG = "sent-then-hang"  # a send that Telegram takes, but whose answer never comes

BLOCKED = Error(403, "Forbidden: bot was blocked by the user")
CHAT_NOT_FOUND = Error(400, "Bad Request: chat not found")
CONFLICT = Error(409, "Conflict: terminated by other getUpdates request; make sure that only "
                      "one bot instance is running")
UNAUTHORIZED = Error(401, "Unauthorized")


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    def json(self, key: str) -> Any:
        return json.loads(self.params[key]) if key in self.params else None


class BotAPI:
    """The stand-in server. ``await start()``, then point ``api_base`` at ``base``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.queue: list[dict[str, Any]] = []  # updates not yet confirmed
        self.update_ids = itertools.count(700_000_001)
        self.message_ids = itertools.count(9001)
        self.calls: list[Call] = []
        self.failures: dict[str, list[Any]] = {}
        self.webhook: dict[str, str] | None = None
        self.webhook_error: tuple[int, str] | None = None  # (date, message) for getWebhookInfo
        self.blocked: set[str] = set()
        self.missing_chats: set[str] = set()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.unserved: set[str] = set()  # file paths the file server answers 404 for
        self.max_batch = 100  # at most this many updates per getUpdates
        self.offsets: list[int] = []  # the offset of every getUpdates, in order
        self.on_get_updates: Callable[[int], None] | None = None
        self.on_batch: Callable[[list[dict[str, Any]]], None] | None = None
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int | None = None) -> BotAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        # handler_cancellation: a client that gives up (or is killed) ends its long poll.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port if port is not None else self.port,
                           reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        """Stop listening (the port refuses connections until ``start()`` again)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Knobs -------------------------------------------------------------------------------

    def push(self, *updates: dict[str, Any]) -> list[int]:
        """Queue updates (numbering those without an update_id); wakes a long poll."""
        ids = []
        for update in updates:
            if "update_id" not in update:
                update = {"update_id": next(self.update_ids), **update}
            self.queue.append(update)
            ids.append(update["update_id"])
        self._wake()
        return ids

    def fail(self, method: str, *answers: Any) -> None:
        """The next calls of ``method`` get these answers (Error, MALFORMED, HANG...)."""
        self.failures.setdefault(method, []).extend(answers)

    def add_file(self, file_id: str, file_path: str, content: bytes) -> None:
        self.files[file_id] = (file_path, content)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def _wake(self) -> None:
        self._arrived.set()

    # HTTP --------------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(UNAUTHORIZED)
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        answers = self.failures.get(method)
        answer = answers.pop(0) if answers else None
        if isinstance(answer, Error):
            return _error(answer)
        if answer == MALFORMED:
            return web.Response(text='{"ok": true, "result": [', content_type="application/json")
        if answer == HANG:
            await asyncio.sleep(3600)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(Error(404, "Not Found"))
        try:
            result = await handler(call)
        except ApiError as exc:
            return _error(exc.error)
        if answer == SENT_THEN_HANG:
            await asyncio.sleep(3600)
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_path, content in self.files.values():
            if file_path == path and path not in self.unserved:
                return web.Response(body=content)
        return web.Response(status=404, text="Not Found")

    # Methods -----------------------------------------------------------------------------

    async def _getMe(self, call: Call) -> Any:
        return BOT

    async def _getUpdates(self, call: Call) -> Any:
        if self.webhook is not None:
            raise ApiError(Error(409, "Conflict: can't use getUpdates method while webhook is "
                                      "active; use deleteWebhook to delete the webhook first"))
        offset = int(call.params.get("offset", 0))
        limit = min(int(call.params.get("limit", 100)), self.max_batch)
        timeout = float(call.params.get("timeout", 0))
        self.offsets.append(offset)
        if self.on_get_updates is not None:
            self.on_get_updates(offset)
        # Asking with an offset confirms every update below it, for good.
        self.queue = [u for u in self.queue if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.queue and time.monotonic() < deadline:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
        batch = self.queue[:limit]
        if batch and self.on_batch is not None:
            self.on_batch(batch)
        return batch

    async def _setWebhook(self, call: Call) -> Any:
        self.webhook = {"url": call.params["url"],
                        "secret_token": call.params.get("secret_token", "")}
        return True

    async def _deleteWebhook(self, call: Call) -> Any:
        self.webhook = None
        if call.params.get("drop_pending_updates") == "true":
            self.queue.clear()
        return True

    async def _getWebhookInfo(self, call: Call) -> Any:
        info: dict[str, Any] = {"url": self.webhook["url"] if self.webhook else "",
                                "has_custom_certificate": False,
                                "pending_update_count": len(self.queue)}
        if self.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_error
        return info

    def _chat(self, call: Call) -> str:
        chat_id = call.params.get("chat_id", "")
        if chat_id in self.blocked:
            raise ApiError(BLOCKED)
        if chat_id in self.missing_chats or not chat_id.lstrip("-").isdigit():
            raise ApiError(CHAT_NOT_FOUND)
        return chat_id

    def _message(self, chat_id: str, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self.message_ids), "from": BOT,
                "chat": {"id": int(chat_id), "type": "private"}, "date": int(time.time()),
                **content}

    async def _sendMessage(self, call: Call) -> Any:
        chat_id = self._chat(call)
        text = call.params.get("text", "")
        if not text.strip():
            raise ApiError(Error(400, "Bad Request: message text is empty"))
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise ApiError(Error(400, "Bad Request: message is too long"))
        return self._message(chat_id, text=text)

    def _upload(self, call: Call, field_name: str) -> tuple[str, int]:
        value = call.params.get(field_name, "")
        if value.startswith("attach://"):
            value = value.removeprefix("attach://")
        if value in call.files:
            filename, content = call.files[value]
            file_id = f"uploaded-{len(self.files) + 1}"
            self.files[file_id] = (f"documents/{filename}", content)
            return file_id, len(content)
        if value in self.files:
            return value, len(self.files[value][1])
        raise ApiError(Error(400, "Bad Request: wrong file identifier/HTTP URL specified"))

    async def _sendDocument(self, call: Call) -> Any:
        chat_id = self._chat(call)
        file_id, size = self._upload(call, "document")
        extra = {"caption": call.params["caption"]} if "caption" in call.params else {}
        return self._message(chat_id, document={"file_id": file_id, "file_unique_id": file_id,
                                                "file_size": size}, **extra)

    async def _sendPhoto(self, call: Call) -> Any:
        chat_id = self._chat(call)
        file_id, size = self._upload(call, "photo")
        extra = {"caption": call.params["caption"]} if "caption" in call.params else {}
        return self._message(chat_id, photo=[{"file_id": file_id, "file_unique_id": file_id,
                                              "width": 90, "height": 90, "file_size": size}],
                             **extra)

    async def _sendChatAction(self, call: Call) -> Any:
        self._chat(call)
        return True

    async def _answerCallbackQuery(self, call: Call) -> Any:
        return True

    async def _getFile(self, call: Call) -> Any:
        file_id = call.params.get("file_id", "")
        if file_id not in self.files:
            raise ApiError(Error(400, "Bad Request: invalid file_id"))
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content),
                "file_path": path}


class ApiError(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(error.description)
        self.error = error


def _error(error: Error) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code,
                            "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)


async def _read_params(request: web.Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Form-encoded or multipart parameters, as aiogram sends them (or a query string)."""
    params: dict[str, str] = dict(request.query)
    files: dict[str, tuple[str, bytes]] = {}
    if request.method == "POST":
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read())
            else:
                params[key] = str(value)
    return params, files


# Updates shaped like the Bot API documentation's ---------------------------------------------

CUSTOMER = {"id": 111222333, "is_bot": False, "first_name": "Иван", "last_name": "Петров",
            "username": "ivan_p", "language_code": "ru"}
OTHER = {"id": 444555666, "is_bot": False, "first_name": "Maria", "language_code": "en"}
DATE = 1_741_953_600


def chat_of(user: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    return chat


def message(message_id: int, user: dict[str, Any] = CUSTOMER, date: int = DATE,
            **content: Any) -> dict[str, Any]:
    return {"message_id": message_id, "from": user, "chat": chat_of(user), "date": date,
            **content}


def text_update(message_id: int, text: str, user: dict[str, Any] = CUSTOMER,
                **content: Any) -> dict[str, Any]:
    return {"message": message(message_id, user, text=text, **content)}


def photo_sizes(file_id: str) -> list[dict[str, Any]]:
    return [{"file_id": f"{file_id}-s", "file_unique_id": "AQADs", "file_size": 1_200,
             "width": 90, "height": 67},
            {"file_id": f"{file_id}-m", "file_unique_id": "AQADm", "file_size": 15_000,
             "width": 320, "height": 240},
            {"file_id": file_id, "file_unique_id": "AQADx", "file_size": 80_000,
             "width": 1280, "height": 960}]


def document(file_id: str, name: str = "invoice.pdf", mime: str = "application/pdf",
             size: int = 2_048) -> dict[str, Any]:
    return {"file_name": name, "mime_type": mime, "file_id": file_id,
            "file_unique_id": f"u{file_id}", "file_size": size}


def voice(file_id: str) -> dict[str, Any]:
    return {"duration": 3, "mime_type": "audio/ogg", "file_id": file_id,
            "file_unique_id": f"u{file_id}", "file_size": 9_000}


def video(file_id: str) -> dict[str, Any]:
    return {"duration": 5, "width": 640, "height": 360, "file_name": "unboxing.mp4",
            "mime_type": "video/mp4", "file_id": file_id, "file_unique_id": f"u{file_id}",
            "file_size": 500_000}


def video_note(file_id: str) -> dict[str, Any]:
    return {"duration": 7, "length": 240, "file_id": file_id,
            "file_unique_id": f"u{file_id}", "file_size": 300_000}


def audio(file_id: str) -> dict[str, Any]:
    return {"duration": 180, "performer": "Kino", "title": "Gruppa krovi",
            "mime_type": "audio/mpeg", "file_id": file_id, "file_unique_id": f"u{file_id}",
            "file_size": 4_000_000}


def sticker(file_id: str, emoji: str = "👍") -> dict[str, Any]:
    return {"width": 512, "height": 512, "emoji": emoji, "set_name": "HotCherry",
            "is_animated": False, "is_video": False, "type": "regular", "file_id": file_id,
            "file_unique_id": f"u{file_id}", "file_size": 20_000}


def callback_update(query_id: str, data: str, on_message: dict[str, Any],
                    user: dict[str, Any] = CUSTOMER) -> dict[str, Any]:
    return {"callback_query": {"id": query_id, "from": user, "message": on_message,
                               "chat_instance": "-7301234567890", "data": data}}


def bot_message_with_buttons(message_id: int, chat: dict[str, Any], text: str,
                             buttons: list[tuple[str, str]]) -> dict[str, Any]:
    """A message the bot sent, with an inline keyboard (as a callback_query carries it)."""
    return {"message_id": message_id, "from": BOT, "chat": chat, "date": DATE, "text": text,
            "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": data}
                                                  for label, data in buttons]]}}
