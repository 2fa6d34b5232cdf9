"""A stand-in for Viber's REST bot API (chatapi.viber.com/pa) on 127.0.0.1.

Speaks Viber's wire format: every method is a POST of JSON with the token in
``X-Viber-Auth-Token``, answered HTTP 200 with ``{"status": N,
"status_message": "..."}`` (0: ok; the numbers of Viber's documented table).
``set_webhook`` checks the address as Viber does, with a signed ``webhook``
callback that must be answered 200. :func:`callback` delivers a signed
callback (``X-Viber-Content-Signature``: HMAC-SHA256 of the body under the
token) to the hub, shaped as Viber's documentation and its official SDKs show.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
BOT_NAME = "Flower Shop"
BOT_URI = "flowershop"
CUSTOMER = "01234567890A="
CUSTOMER_NAME = "Ivan Petrov"
OTHER = "19876543210B="
T0 = 1_764_800_000_000  # Viber's timestamps are milliseconds

# Viber's status numbers (developers.viber.com/docs/api/rest-bot-api/#error-codes).
STATUS = {0: "ok", 1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData",
          5: "receiverNotRegistered", 6: "receiverNotSubscribed", 7: "publicAccountBlocked",
          8: "publicAccountNotFound", 9: "publicAccountSuspended", 10: "webhookNotSet",
          11: "receiverNoSuitableDevice", 12: "tooManyRequests"}


def sign(body: bytes, token: str = TOKEN) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class ViberAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = 0
        self.webhook = ""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        self.failures: dict[str, list[int]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self._tokens = itertools.count(5_741_311_803_571_721_087)
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/pa"

    async def start(self) -> ViberAPI:
        app = web.Application()
        app.router.add_post("/pa/{method}", self._method)
        app.router.add_get("/media/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail(self, method: str, *statuses: int) -> None:
        """The next calls of ``method`` answer these statuses, in order."""
        self.failures.setdefault(method, []).extend(statuses)

    def add_file(self, name: str, content: bytes, mime: str = "image/jpeg") -> str:
        self.files[name] = (content, mime)
        return f"http://127.0.0.1:{self.port}/media/{name}"

    def called(self, method: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == method]

    async def _file(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            body = await request.json()
        except ValueError:
            return _status(3)
        self.calls.append((method, body))
        if request.headers.get("X-Viber-Auth-Token") != self.token:
            return _status(2)
        planned = self.failures.get(method)
        if planned:
            return _status(planned.pop(0))
        if method == "set_webhook":
            return await self._set_webhook(body)
        if method == "get_account_info":
            return _status(0, id="pa:75346594275468546724", name=BOT_NAME, uri=BOT_URI,
                           icon="http://example.com/icon.jpg", category="Shopping",
                           country="RU", webhook=self.webhook,
                           event_types=["delivered", "seen"], subscribers_count=35)
        if method == "get_user_details":
            if body.get("id") != CUSTOMER:
                return _status(5)
            return _status(0, message_token=next(self._tokens), user={
                "id": CUSTOMER, "name": CUSTOMER_NAME, "language": "ru", "country": "RU",
                "api_version": 10})
        if method == "send_message":
            if not body.get("receiver") or not body.get("type"):
                return _status(4)
            if len(str(body.get("text") or "")) > 7000:
                return _status(3)
            token = next(self._tokens)
            self.sent.append({**body, "message_token": token})
            return _status(0, message_token=token, chat_hostname="SN-CHAT-05_",
                           billing_status=1)
        return web.json_response({"status": 3, "status_message": f"unknown {method}"})

    async def _set_webhook(self, body: dict[str, Any]) -> web.Response:
        url = str(body.get("url") or "")
        if not url:
            self.webhook = ""
            return _status(0)
        check = json.dumps({"event": "webhook", "timestamp": T0,
                            "chat_hostname": "SN-CHAT-05_",
                            "message_token": 1_481_059_480_858}).encode()
        try:
            async with aiohttp.ClientSession() as session, session.post(
                    url, data=check, headers={"X-Viber-Content-Signature": sign(
                        check, self.token)}, timeout=aiohttp.ClientTimeout(total=3)) as got:
                ok = got.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if not ok:
            return _status(1, status_message="Invalid url. Failed to set webhook")
        self.webhook = url
        return _status(0, event_types=body.get("event_types") or [
            "delivered", "seen", "failed", "subscribed", "unsubscribed",
            "conversation_started"])


def _status(status: int, status_message: str | None = None, **more: Any) -> web.Response:
    return web.json_response({"status": status,
                              "status_message": status_message or STATUS.get(status, "?"),
                              **more})


# Callbacks as Viber sends them -------------------------------------------------------------


def sender(user: str = CUSTOMER, name: str = CUSTOMER_NAME) -> dict[str, Any]:
    return {"id": user, "name": name, "avatar": "http://avatar.example.com", "country": "RU",
            "language": "ru", "api_version": 10}


def message(token: int, content: dict[str, Any], user: str = CUSTOMER) -> dict[str, Any]:
    return {"event": "message", "timestamp": T0 + token % 1000, "chat_hostname":
            "SN-CHAT-05_", "message_token": token, "sender": sender(user),
            "message": content, "silent": False}


def text(token: int, words: str, tracking: str | None = None,
         user: str = CUSTOMER) -> dict[str, Any]:
    content: dict[str, Any] = {"type": "text", "text": words}
    if tracking is not None:
        content["tracking_data"] = tracking
    return message(token, content, user)


def event(kind: str, token: int, **more: Any) -> dict[str, Any]:
    return {"event": kind, "timestamp": T0, "chat_hostname": "SN-CHAT-05_",
            "message_token": token, **more}


async def callback(url: str, body: dict[str, Any] | None = None, *,
                   signature: str | None = "sign", raw: bytes | None = None,
                   token: str = TOKEN) -> tuple[int, str]:
    """POST a callback as Viber does; ``signature`` "sign" signs it with ``token``, None
    leaves the header out, anything else is sent as it is."""
    if raw is None:
        raw = json.dumps(body or {}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Viber-Content-Signature"] = sign(raw, token)
    elif signature is not None:
        headers["X-Viber-Content-Signature"] = signature
    async with aiohttp.ClientSession() as session, session.post(
            url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as got:
        return got.status, await got.text()


# By hand: `python -m tests.viber_api PORT HUB_URL` runs the stand-in until Ctrl+C (the
# API at http://127.0.0.1:PORT/pa), with two more routes to play the customer: POST
# /_customer?text=… (a signed "message" callback from CUSTOMER to HUB_URL, e.g.
# http://127.0.0.1:8765/viber/viber) and GET /_sent (what send_message recorded).


async def _serve_by_hand(port: int, hub_url: str) -> None:
    import asyncio
    import time

    api = ViberAPI()
    app = web.Application()
    app.router.add_post("/pa/{method}", api._method)
    app.router.add_get("/media/{name}", api._file)

    async def customer(request: web.Request) -> web.Response:
        token = int(time.time() * 1000)
        body = text(token, request.query.get("text", "Здравствуйте!"))
        body["timestamp"] = token
        status, _ = await callback(hub_url, body)
        return web.Response(text=f"{status}\n")

    async def sent(request: web.Request) -> web.Response:
        return web.Response(text="".join(f"{s.get('receiver')}: {s.get('text')}\n"
                                         for s in api.sent))

    app.router.add_post("/_customer", customer)
    app.router.add_get("/_sent", sent)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api.port = port
    print(f"Viber stand-in on {api.base}; token {TOKEN}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(_serve_by_hand(int(sys.argv[1]) if len(sys.argv) > 1 else 8083,
                               sys.argv[2] if len(sys.argv) > 2 else
                               "http://127.0.0.1:8765/viber/viber"))
