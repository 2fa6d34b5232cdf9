"""A stand-in of the VK API on 127.0.0.1, speaking VK's wire format.

- ``POST /method/NAME`` with the form fields ``access_token`` and ``v``: answers
  ``{"response": …}`` or ``{"error": {"error_code", "error_msg",
  "request_params"}}`` (HTTP 200, as VK does).
- Bots Long Poll at ``GET /longpoll?act=a_check&key=…&ts=…&wait=…``: the events
  pushed with :meth:`VKAPI.push`, a few at a time, ``ts`` being the number of
  the next; ``{"failed": 1, "ts": …}`` for a ts whose events are gone,
  ``{"failed": 2}`` for a key that expired, ``{"failed": 3}`` once the history
  is lost.
- ``messages.send`` keeps ONE message per ``random_id`` (as VK does: the same
  ``random_id`` again answers the first message's id and sends nothing).
- The upload servers of photos and documents, and the files customers sent.

Events and messages are shaped as dev.vk.com documents them (API 5.199): an
event is ``{"group_id", "type", "event_id", "v", "object"}``, ``message_new``'s
object is ``{"message", "client_info"}``, ``message_reply``/``message_edit``'s
is the message itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "vk1.a.Qm9vbVNob3BUb2tlbl9mb3JfdGVzdHNfb25seV9ub3RfcmVhbA"
GROUP_ID = 218374615
GROUP_NAME = "Цветочная лавка"
SCREEN_NAME = "flowershop_msk"
SECRET = "b7f3c2a9e1d54f08"
CONFIRMATION = "a1b2c3d4"
VERSION = "5.199"
CUSTOMER = 743784474
CUSTOMER_NAME = ("Анна", "Смирнова")
OTHER = 562830115
ADMIN = 1034512

HANG = "hang"  # never answer (the client times out)
SENT_THEN_HANG = "sent-then-hang"  # the message is sent (recorded), its answer never comes
MALFORMED = "malformed"  # not JSON


@dataclass
class Error:
    code: int
    message: str


TOO_MANY = Error(6, "Too many requests per second")
FLOOD = Error(9, "Flood control")
INTERNAL = Error(10, "Internal server error: could not send message")
NO_PERMISSION = Error(901, "Can't send messages for users without permission")
PRIVACY = Error(902, "Can't send messages to this user due to their privacy settings")
TOO_LONG = Error(914, "Message is too long")
AUTH_FAILED = Error(5, "User authorization failed: invalid access_token (4).")


class VKAPI:
    def __init__(self, token: str = TOKEN, group_id: int = GROUP_ID) -> None:
        self.token = token
        self.group_id = group_id
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.failures: dict[str, list[Any]] = {}
        self.sent: dict[int, dict[str, str]] = {}  # message id -> the fields that sent it
        self.by_random_id: dict[int, int] = {}
        self.max_len = 4096
        self.unreachable: set[str] = set()  # peer ids that forbade messages (901)
        self.users: dict[int, dict[str, Any]] = {
            CUSTOMER: {"id": CUSTOMER, "first_name": CUSTOMER_NAME[0],
                       "last_name": CUSTOMER_NAME[1], "screen_name": "anna_smirnova",
                       "can_access_closed": True, "is_closed": False},
            OTHER: {"id": OTHER, "first_name": "Pavel", "last_name": "Durov",
                    "screen_name": "id562830115", "can_access_closed": True,
                    "is_closed": False}}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.confirmation = CONFIRMATION
        self.long_poll_settings: dict[str, Any] = {
            "is_enabled": True, "api_version": VERSION, "events": {
                name: 1 for name in ("message_new", "message_reply", "message_edit",
                                     "message_allow", "message_deny", "message_read",
                                     "message_event", "message_typing_state")}}
        self.uploads: dict[str, tuple[str, bytes]] = {}  # "photo-1_2" -> (name, bytes)
        self.answered_events: list[dict[str, str]] = []
        # Long poll
        self.events: list[dict[str, Any]] = []
        self.key = "2b7e6d0c1f"
        self.key_number = 0
        self.oldest = 0  # events before this ts are gone (failed 1)
        self.history_lost = False  # failed 3 until a new key
        self.per_answer = 100
        self.long_poll_wait = 1.0  # at most this long an a_check waits for events
        self.a_checks: list[dict[str, str]] = []
        self._pushed = asyncio.Event()
        self._ids = itertools.count(1001)
        self._uploads = itertools.count(457239017)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int | None = None) -> VKAPI:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/method/{name}", self._method)
        app.router.add_get("/longpoll", self._a_check)
        app.router.add_post("/upload/{kind}", self._upload)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/_customer", self._customer)  # by hand: see the end
        app.router.add_get("/_sent", self._sent)
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

    def fail(self, method: str, *answers: Any) -> None:
        """The next calls of ``method`` get these answers, in order (an Error, HANG,
        SENT_THEN_HANG, MALFORMED)."""
        self.failures.setdefault(method, []).extend(answers)

    def push(self, *events: dict[str, Any]) -> None:
        """Events for the long poll to give."""
        self.events.extend(events)
        self._pushed.set()

    def expire_key(self) -> None:
        """The key runs out: the next a_check answers failed 2."""
        self.key_number += 1
        self.key = f"{self.key_number}f0e9d8c7b6"

    def lose_events_before(self, ts: int) -> None:
        self.oldest = ts

    def lose_history(self) -> None:
        self.history_lost = True

    def add_file(self, name: str, content: bytes, mime: str = "image/jpeg") -> str:
        self.files[name] = (content, mime)
        return f"{self.base}/files/{name}"

    def sent_to(self, peer: int | str) -> list[dict[str, str]]:
        return [fields for fields in self.sent.values() if fields.get("peer_id") == str(peer)]

    def called(self, method: str) -> list[dict[str, str]]:
        return [fields for name, fields in self.calls if name == method]

    # The API -------------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        fields = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append((name, fields))
        if fields.get("access_token") != self.token:
            return _error(AUTH_FAILED, name, fields)
        if fields.get("v") != VERSION:
            return _error(Error(8, "Invalid request: v is required"), name, fields)
        planned = self.failures.get(name)
        answer = planned.pop(0) if planned else None
        if isinstance(answer, Error):
            return _error(answer, name, fields)
        if answer == HANG:
            await asyncio.sleep(3600)
        if answer == MALFORMED:
            return web.Response(text="<html>502 Bad Gateway</html>")
        handler = getattr(self, "_" + name.replace(".", "_"), None)
        if handler is None:
            return _error(Error(3, "Unknown method passed"), name, fields)
        result = handler(fields)
        if isinstance(result, Error):
            return _error(result, name, fields)
        if answer == SENT_THEN_HANG:
            await asyncio.sleep(3600)
        return web.json_response({"response": result})

    def _groups_getById(self, fields: dict[str, str]) -> Any:
        if fields.get("group_id") != str(self.group_id):
            return Error(100, "One of the parameters specified was missing or invalid: "
                              "group_ids is undefined")
        return {"groups": [{"id": self.group_id, "name": GROUP_NAME, "screen_name": SCREEN_NAME,
                            "is_closed": 0, "type": "page",
                            "photo_50": "https://sun1.userapi.com/s/v1/ig2/1.jpg"}],
                "profiles": []}

    def _groups_getLongPollServer(self, fields: dict[str, str]) -> Any:
        if fields.get("group_id") != str(self.group_id):
            return Error(15, "Access denied: no access to call this method")
        self.history_lost = False
        return {"key": self.key, "server": f"{self.base}/longpoll", "ts": str(len(self.events))}

    def _groups_getLongPollSettings(self, fields: dict[str, str]) -> Any:
        return self.long_poll_settings

    def _groups_getCallbackConfirmationCode(self, fields: dict[str, str]) -> Any:
        return {"code": self.confirmation}

    def _users_get(self, fields: dict[str, str]) -> Any:
        ids = [int(i) for i in fields.get("user_ids", "").split(",") if i.strip().isdigit()]
        return [self.users[i] for i in ids if i in self.users]

    def _messages_send(self, fields: dict[str, str]) -> Any:
        random_id = int(fields.get("random_id", "0"))
        if not fields.get("peer_id"):
            return Error(100, "One of the parameters specified was missing or invalid: "
                              "you should specify peer_id, user_id, domain, chat_id or "
                              "user_ids param")
        if fields["peer_id"] in self.unreachable:
            return NO_PERMISSION
        if len(fields.get("message", "")) > self.max_len:
            return TOO_LONG
        if not fields.get("message") and not fields.get("attachment"):
            return Error(100, "One of the parameters specified was missing or invalid: "
                              "message is empty or invalid")
        if random_id and random_id in self.by_random_id:
            return self.by_random_id[random_id]  # VK sends nothing again
        message_id = next(self._ids)
        self.sent[message_id] = fields
        if random_id:
            self.by_random_id[random_id] = message_id
        return message_id

    def _messages_sendMessageEventAnswer(self, fields: dict[str, str]) -> Any:
        self.answered_events.append(fields)
        return 1

    def _messages_markAsRead(self, fields: dict[str, str]) -> Any:
        return 1

    def _messages_setActivity(self, fields: dict[str, str]) -> Any:
        return 1

    def _photos_getMessagesUploadServer(self, fields: dict[str, str]) -> Any:
        return {"album_id": -64, "upload_url": f"{self.base}/upload/photo",
                "user_id": 0, "group_id": self.group_id}

    def _photos_saveMessagesPhoto(self, fields: dict[str, str]) -> Any:
        photo = json.loads(fields.get("photo") or "[]")
        if not photo or fields.get("hash") != "f7a9c1":
            return Error(100, "One of the parameters specified was missing or invalid: "
                              "photo is undefined")
        number = next(self._uploads)
        self.uploads[f"photo-{self.group_id}_{number}"] = self.uploads.pop(photo[0]["token"])
        return [{"album_id": -64, "date": 1733300000, "id": number, "owner_id": -self.group_id,
                 "access_key": "c7e1d9b2f0", "sizes": [], "text": "", "has_tags": False}]

    def _docs_getMessagesUploadServer(self, fields: dict[str, str]) -> Any:
        return {"upload_url": f"{self.base}/upload/doc"}

    def _docs_save(self, fields: dict[str, str]) -> Any:
        token = fields.get("file", "")
        if token not in self.uploads:
            return Error(1150, "Invalid document id")
        number = next(self._uploads)
        name, content = self.uploads.pop(token)
        self.uploads[f"doc-{self.group_id}_{number}"] = (fields.get("title") or name, content)
        return {"type": "doc", "doc": {"id": number, "owner_id": -self.group_id,
                                       "title": fields.get("title") or name,
                                       "size": len(content), "ext": name.rsplit(".", 1)[-1],
                                       "url": f"https://vk.com/doc-{self.group_id}_{number}"}}

    async def _upload(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        form = await request.post()
        field = form.get("photo" if kind == "photo" else "file")
        if not isinstance(field, web.FileField):
            return web.json_response({"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file not "
                                               "uploaded"})
        token = f"upload{next(self._uploads)}"
        self.uploads[token] = (field.filename, field.file.read())
        if kind == "photo":
            return web.json_response({"server": 851328, "hash": "f7a9c1", "photo": json.dumps(
                [{"token": token, "photo": "b2f5d8e4a1:z", "sizes": [], "kid": "9c8e"}])})
        return web.json_response({"file": token})

    async def _customer(self, request: web.Request) -> web.Response:
        import time

        self.push(message_new(message(request.query.get("text", "Здравствуйте!"),
                                      date=int(time.time()))))
        return web.Response(text="pushed\n")

    async def _sent(self, request: web.Request) -> web.Response:
        return web.Response(text="".join(
            f"{k} peer={v.get('peer_id')} random_id={v.get('random_id')} "
            f"{v.get('message')!r}\n" for k, v in self.sent.items()))

    async def _file(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    async def _a_check(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.a_checks.append(query)
        if query.get("act") != "a_check":
            return web.json_response({"failed": 4})
        if query.get("key") != self.key:
            return web.json_response({"failed": 2})
        if self.history_lost:
            return web.json_response({"failed": 3})
        ts = int(query.get("ts") or 0)
        if ts < self.oldest or ts > len(self.events):  # the oldest ts VK still has
            return web.json_response({"failed": 1, "ts": str(min(self.oldest,
                                                                 len(self.events)))})
        wait = min(float(query.get("wait") or 25), self.long_poll_wait)
        if ts == len(self.events):
            self._pushed.clear()
            try:
                await asyncio.wait_for(self._pushed.wait(), wait)
            except TimeoutError:
                return web.json_response({"ts": str(ts), "updates": []})
        if self.history_lost or query.get("key") != self.key:  # while it waited
            return web.json_response({"failed": 3 if self.history_lost else 2})
        if ts < self.oldest:  # lost while it waited
            return web.json_response({"failed": 1, "ts": str(self.oldest)})
        end = min(len(self.events), ts + self.per_answer)
        return web.json_response({"ts": str(end), "updates": self.events[ts:end]})


def _error(error: Error, method: str, fields: dict[str, str]) -> web.Response:
    params = [{"key": "method", "value": method}, {"key": "v", "value": fields.get("v", "")}]
    params += [{"key": k, "value": v} for k, v in fields.items()
               if k not in ("access_token", "v")]
    return web.json_response({"error": {"error_code": error.code, "error_msg": error.message,
                                        "request_params": params}})


# Payloads, as VK documents them -------------------------------------------------------------

_event_ids = itertools.count(1)
_message_ids = itertools.count(301)


def message(text: str = "", *, id: int | None = None, from_id: int = CUSTOMER,
            peer_id: int | None = None, date: int = 1733300000, **more: Any) -> dict[str, Any]:
    number = next(_message_ids) if id is None else id
    return {"date": date, "from_id": from_id, "id": number, "out": 0, "attachments": [],
            "conversation_message_id": number - 200, "fwd_messages": [], "important": False,
            "is_hidden": False, "peer_id": peer_id or from_id, "random_id": 0, "text": text,
            **more}


def event(kind: str, obj: dict[str, Any], group_id: int = GROUP_ID,
          event_id: str | None = None) -> dict[str, Any]:
    return {"group_id": group_id, "type": kind,
            "event_id": event_id or f"{next(_event_ids):040x}", "v": VERSION, "object": obj}


def message_new(msg: dict[str, Any], **how: Any) -> dict[str, Any]:
    return event("message_new", {"message": msg, "client_info": {
        "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback",
                           "intent_subscribe", "intent_unsubscribe"],
        "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}}, **how)


def photo(url: str, number: int = 457239100) -> dict[str, Any]:
    return {"type": "photo", "photo": {
        "album_id": -3, "date": 1733300000, "id": number, "owner_id": CUSTOMER,
        "access_key": "a7b8c9", "text": "", "sizes": [
            {"height": 75, "width": 56, "type": "s", "url": url + "?size=s"},
            {"height": 1280, "width": 960, "type": "z", "url": url},
            {"height": 604, "width": 453, "type": "x", "url": url + "?size=x"}]}}


def doc(url: str, title: str = "invoice", ext: str = "pdf", size: int = 5) -> dict[str, Any]:
    return {"type": "doc", "doc": {"id": 661234567, "owner_id": CUSTOMER, "title": title,
                                   "size": size, "ext": ext, "date": 1733300000, "type": 1,
                                   "url": url, "access_key": "d41d8cd9"}}


def audio_message(url: str) -> dict[str, Any]:
    return {"type": "audio_message", "audio_message": {
        "id": 662345678, "owner_id": CUSTOMER, "duration": 4, "waveform": [0, 3, 9, 31],
        "link_ogg": url, "link_mp3": url + ".mp3", "access_key": "0f1e2d"}}


def sticker(url: str) -> dict[str, Any]:
    return {"type": "sticker", "sticker": {"product_id": 279, "sticker_id": 9046, "images": [
        {"url": url + "?64", "width": 64, "height": 64},
        {"url": url, "width": 512, "height": 512}], "is_allowed": True}}


def video() -> dict[str, Any]:
    return {"type": "video", "video": {"id": 456239017, "owner_id": -1, "title": "Unboxing",
                                       "duration": 63, "access_key": "ab12"}}


def wall() -> dict[str, Any]:
    return {"type": "wall", "wall": {"id": 4242, "from_id": -GROUP_ID, "owner_id": -GROUP_ID,
                                     "date": 1733200000, "post_type": "post",
                                     "text": "Новые поступления: монстера"}}


def link() -> dict[str, Any]:
    return {"type": "link", "link": {"url": "https://flowers.example/monstera",
                                     "title": "Monstera deliciosa", "caption": "flowers.example",
                                     "description": ""}}


def geo(latitude: float = 55.751244, longitude: float = 37.618423,
        title: str = "Москва, Россия") -> dict[str, Any]:
    return {"type": "point", "coordinates": {"latitude": latitude, "longitude": longitude},
            "place": {"country": "Россия", "city": "Москва", "title": title}}


async def deliver(url: str, body: dict[str, Any] | None = None, *, secret: str | None = SECRET,
                  raw: bytes | None = None, timeout: float = 5.0) -> tuple[int, str]:
    """POST a Callback API request as VK does: the secret in the JSON body."""
    if raw is None:
        payload = dict(body or {})
        if secret is not None:
            payload["secret"] = secret
        raw = json.dumps(payload, ensure_ascii=False).encode()
    async with aiohttp.ClientSession() as session, session.post(
            url, data=raw, headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
        return answer.status, await answer.text()


# By hand: `python -m tests.vk_api [PORT]` runs the stand-in until Ctrl+C, with two more
# routes to play the customer: POST /_customer?text=… (a message_new from CUSTOMER) and
# GET /_sent (what messages.send recorded, one line each).


async def _serve_by_hand(port: int) -> None:
    api = await VKAPI().start(port)
    print(f"VK stand-in on {api.base}; token {TOKEN}; group {GROUP_ID}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import sys

    asyncio.run(_serve_by_hand(int(sys.argv[1]) if len(sys.argv) > 1 else 8899))
