"""The HTTP API (opchat/api/) on a real hub over 127.0.0.1: tokens and their refusals,
reads with filters and cursors, writes recorded as api:NAME, limits, CORS, the API
channel's round trip to a local receiver, and `opchat api token ...`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from opchat.api.tokens import new_token, token_hash
from opchat.config import (
    ApiSettings,
    ChannelSettings,
    ConfigError,
    WebhookSettings,
    load_settings,
)
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, Health, InboundMessage, MessageState, Status
from tests.backends import on_postgres, raw
from tests.channels import free_port, holds, opchat, until

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

SECRET = "channel-secret-for-tests"


@dataclass
class Running:
    inbox: Inbox
    base: str  # http://127.0.0.1:PORT/api/v1
    token: str  # read-write, named "crm"
    reader: str  # read-only, named "viewer"
    session: aiohttp.ClientSession

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def get(self, path: str, token: str | None = None, **params: str
                  ) -> tuple[int, Any]:
        async with self.session.get(self.base + path, params=params,
                                    headers=self.headers(token)) as r:
            return r.status, await r.json()

    async def send(self, method: str, path: str, body: Any, token: str | None = None
                   ) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body,
                                        headers=self.headers(token)) as r:
            return r.status, await r.json()


class Receiver:
    """The outside system behind an API channel: takes the operators' replies."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/replies"
        self.seen: list[dict[str, Any]] = []
        self.plan: list[int] = []  # statuses to answer first, in turn
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append({"headers": dict(request.headers), "body": body})
        status = self.plan.pop(0) if self.plan else 200
        return web.json_response({"ok": status == 200}, status=status)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/replies", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def documented(event: str) -> dict[str, Any]:
    """The example of ``event`` in docs/API.md (fenced as jsonc: the webhooks' test
    reads the json ones)."""
    text = (Path(__file__).parents[2] / "docs" / "API.md").read_text()
    found = [json.loads(block) for block in re.findall(r"```jsonc\n(.*?)```", text, flags=re.S)]
    return next(example for example in found if example.get("event") == event)


def signed_by(request: dict[str, Any], secret: str = SECRET) -> bool:
    headers = request["headers"]
    signed = headers["X-Opchat-Timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Opchat-Signature"])


@contextlib.asynccontextmanager
async def api_hub(tmp_path: Path, settings: ApiSettings | None = None,
                  receiver_url: str = "http://127.0.0.1:9/none") -> AsyncIterator[Running]:
    port = free_port()
    settings = settings or ApiSettings(f"127.0.0.1:{port}")
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.channels.ensure("shop", "demo")
    token, reader = new_token(), new_token()
    await inbox.store.api_tokens.add("crm", token_hash(token), False)
    await inbox.store.api_tokens.add("viewer", token_hash(reader), True)
    channel = ChannelSettings("site", "api", {"webhook_url": receiver_url, "secret": SECRET})
    hub = Hub(inbox, [channel], tmp_path, api=settings)
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    base = f"http://{settings.listen}/api/v1"
    async with aiohttp.ClientSession() as session:

        async def up() -> bool:
            try:
                async with session.get(base + "/openapi.json") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        async def settled() -> bool:
            """The hub has said how its channels are, in its own transactions: a test
            that counts events starts after them."""
            health = {c.name: c.health for c in await inbox.channels()}
            return (not hub._health_writes and health.get("site") == Health.OK
                    and health.get("api:http") == Health.OK)

        try:
            await until(up, "the API to listen")
            await until(settled, "the hub's word on its channels")
            yield Running(inbox, base, token, reader, session)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await inbox.close()


async def customer(inbox: Inbox, chat: str, text: str = "hello", n: int = 1) -> int:
    stored = await inbox.store.inbound.ingest(InboundMessage(
        channel="shop", chat_id=chat, external_id=f"{chat}-{n}", sender_id=chat,
        sender_name=f"Customer {chat}", body=text, sent_at=time.time()))
    return stored.conversation_id


async def test_tokens_no_wrong_revoked_and_read_only_writing_change_nothing(
        tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        conv = await customer(api.inbox, "c1")
        before = await api.inbox.store.events.last_event_id()
        url = f"{api.base}/conversations/{conv}/messages"
        async with api.session.post(url, json={"text": "hi"}) as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        for header in ({"Authorization": "Bearer opc_wrong"}, {"Authorization": api.token},
                       {"Authorization": f"Basic {api.token}"}):
            async with api.session.post(url, json={"text": "hi"}, headers=header) as r:
                assert r.status == 401
        status, body = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "hi"}, api.reader)
        assert status == 403 and body["error"]["code"] == "read_only"
        status, _ = await api.send("PATCH", f"/conversations/{conv}",
                                   {"status": "resolved"}, api.reader)
        assert status == 403
        assert (await api.get(f"/conversations/{conv}", api.reader))[0] == 200
        assert await api.inbox.store.api_tokens.revoke("crm")
        status, _ = await api.send("POST", f"/conversations/{conv}/messages", {"text": "hi"})
        assert status == 401
        assert (await api.get("/conversations"))[0] == 401
        # Nothing changed: no message, no status, not a single event.
        assert [m.body for m in await api.inbox.messages(conv)] == ["hello"]
        assert (await api.inbox.conversation(conv)).status is Status.OPEN  # type: ignore[union-attr]
        assert await api.inbox.store.events.last_event_id() == before


async def test_a_reply_goes_through_the_outbox_and_the_log_names_the_token(
        tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        conv = await customer(api.inbox, "c1")
        status, body = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "Your parcel left today"})
        assert status == 201, body
        assert body["direction"] == "out" and body["author"] == "api:crm"
        assert body["state"] in ("queued", "sent")
        # The demo channel "shop" has no transport in this hub: the reply waits queued in
        # the outbox, exactly as an operator's would.
        assert (await api.inbox.store.outbox.outbox_error(body["id"])) is None
        status, note = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "VIP customer", "private": True})
        assert status == 201 and note["direction"] == "note" and note["state"] == "sent"
        status, changed = await api.send("PATCH", f"/conversations/{conv}", {
            "status": "pending", "assignee": "anna", "add_labels": ["refund", "vip"]})
        assert status == 200, changed
        assert changed["status"] == "pending" and changed["assignee"] == "anna"
        assert sorted(changed["labels"]) == ["refund", "vip"]
        status, changed = await api.send("PATCH", f"/conversations/{conv}",
                                         {"remove_labels": ["vip"], "assignee": None})
        assert changed["labels"] == ["refund"] and changed["assignee"] is None
        events = await api.inbox.store.events.events_after(0, 1000)
        mine = [e for e in events if e.operator == "api:crm"]
        kinds = [e.kind for e in mine]
        assert kinds.count("message.new") == 2
        for kind in ("conversation.status", "conversation.assign", "conversation.label"):
            assert kind in kinds, kinds
        # The token is in the log, not among the people a dialog can be given to.
        assert [o.login for o in await api.inbox.operators()] == ["anna"]
        status, _ = await api.send("PATCH", f"/conversations/{conv}", {"assignee": "api:crm"})
        assert status == 422
        messages = await api.inbox.messages(conv)
        assert [(m.direction, m.body) for m in messages][1:] == [
            (Direction.OUT, "Your parcel left today"), (Direction.NOTE, "VIP customer")]


async def test_bad_input_names_the_field_and_changes_nothing(tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        conv = await customer(api.inbox, "c1")
        before = await api.inbox.store.events.last_event_id()
        cases = [
            ("PATCH", f"/conversations/{conv}", {"status": "closed"}, "status"),
            ("PATCH", f"/conversations/{conv}", {"status": "resolved", "assignee": "nobody"},
             "assignee"),
            ("PATCH", f"/conversations/{conv}", {"status": "snoozed"}, "snooze_until"),
            ("PATCH", f"/conversations/{conv}", {"add_labels": "vip"}, "add_labels"),
            ("PATCH", f"/conversations/{conv}", {"colour": "red"}, "colour"),
            ("POST", f"/conversations/{conv}/messages", {"text": ""}, "text"),
            ("POST", f"/conversations/{conv}/messages", {"text": 5}, "text"),
            ("POST", f"/conversations/{conv}/messages", {}, "text"),
            ("POST", f"/conversations/{conv}/messages", [1], "body"),
            ("POST", "/quick-replies", {"shortcut": "two words", "text": "x"}, "shortcut"),
        ]
        for method, path, body, field in cases:
            status, answer = await api.send(method, path, body)
            assert status == (422 if field == "assignee" else 400), (path, body, answer)
            assert answer["error"]["field"] == field, (body, answer)
        status, answer = await api.get("/conversations", status="closed")
        assert status == 400 and answer["error"]["field"] == "status"
        status, answer = await api.get("/conversations", cursor="not-ours")
        assert status == 400 and answer["error"]["field"] == "cursor"
        status, answer = await api.get("/conversations", limit="0")
        assert status == 400 and answer["error"]["field"] == "limit"
        status, answer = await api.get("/conversations", statuss="open")  # misspelt
        assert status == 400 and answer["error"]["field"] == "statuss"
        assert (await api.get("/conversations/999"))[0] == 404
        assert (await api.send("POST", "/conversations/999/messages", {"text": "x"}))[0] == 404
        assert (await api.get("/nowhere"))[0] == 404
        async with api.session.post(f"{api.base}/conversations/{conv}/messages",
                                    data="text=hi", headers=api.headers()) as r:
            assert r.status == 415
        async with api.session.post(f"{api.base}/conversations/{conv}/messages",
                                    data=b"{not json", headers={**api.headers(),
                                    "Content-Type": "application/json"}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "body"
        async with api.session.post(f"{api.base}/conversations/{conv}/messages",
                                    data=b"[" * 30000 + b"]" * 30000, headers={
                                        **api.headers(), "Content-Type": "application/json"}
                                    ) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "body"
        big = {"text": "x" * 70000}
        status, answer = await api.send("POST", f"/conversations/{conv}/messages", big)
        assert status == 413 and answer["error"]["code"] == "too_large"
        assert await api.inbox.store.events.last_event_id() == before


async def test_pages_follow_the_cursor_and_filters_hold(tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        convs = [await customer(api.inbox, f"c{n}") for n in range(5)]
        await api.inbox.label(convs[0], "refund")
        await api.inbox.set_status(convs[1], Status.RESOLVED)
        seen: list[int] = []
        cursor = None
        for _page in range(4):
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            status, body = await api.get("/conversations", **params)
            assert status == 200
            seen += [c["id"] for c in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(convs) and len(seen) == 5
        _, body = await api.get("/conversations", label="refund")
        assert [c["id"] for c in body["items"]] == [convs[0]]
        _, body = await api.get("/conversations", status="resolved")
        assert [c["id"] for c in body["items"]] == [convs[1]]
        _, body = await api.get("/conversations", channel="shop", waiting="true")
        assert sorted(c["id"] for c in body["items"]) == sorted(convs[0:1] + convs[2:])
        _, body = await api.get("/conversations", channel="elsewhere")
        assert body["items"] == []
        # A dialog leaving the list between two pages makes the next one skip nobody.
        _, everyone = await api.get("/conversations", status="open")
        _, first = await api.get("/conversations", status="open", limit="2")
        await api.inbox.set_status(first["items"][0]["id"], Status.RESOLVED)
        _, rest = await api.get("/conversations", status="open", cursor=first["next_cursor"])
        assert [c["id"] for c in first["items"] + rest["items"]] == [
            c["id"] for c in everyone["items"]]
        await api.inbox.set_status(first["items"][0]["id"], Status.OPEN)
        # The waiting order too, longest wait first, a page at a time.
        _, waiting = await api.get("/conversations", waiting="true")
        paged, cursor = [], None
        while True:
            _, page = await api.get("/conversations", waiting="true", limit="1",
                                    **({"cursor": cursor} if cursor else {}))
            paged += [c["id"] for c in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert paged == [c["id"] for c in waiting["items"]] and len(paged) == 3
        status, _ = await api.get("/conversations", cursor=first["next_cursor"],
                                  waiting="true")  # a cursor of another order
        assert status == 400
        for n in range(2, 6):
            await api.inbox.store.inbound.ingest(InboundMessage(
                channel="shop", chat_id="c0", external_id=f"c0-{n}", sender_id="c0",
                sender_name="Customer c0", body=f"message {n}", sent_at=time.time()))
        _, page = await api.get(f"/conversations/{convs[0]}/messages", limit="3")
        assert [m["text"] for m in page["items"]] == ["message 3", "message 4", "message 5"]
        _, older = await api.get(f"/conversations/{convs[0]}/messages", limit="3",
                                 before=page["next_before"])
        assert [m["text"] for m in older["items"]] == ["hello", "message 2"]
        assert older["next_before"] is None


async def test_contacts_search_and_quick_replies(tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        await customer(api.inbox, "c1", "where is my parcel")
        await customer(api.inbox, "c2", "thanks")
        _, contacts = await api.get("/contacts", limit="1")
        assert len(contacts["items"]) == 1 and contacts["next_cursor"]
        _, rest = await api.get("/contacts", cursor=contacts["next_cursor"])
        assert [c["name"] for c in contacts["items"] + rest["items"]] == [
            "Customer c1", "Customer c2"]
        status, card = await api.get(f"/contacts/{contacts['items'][0]['id']}")
        assert status == 200 and card["conversations"][0]["channel"] == "shop"
        assert (await api.get("/contacts/999"))[0] == 404
        _, found = await api.get("/search", q="parcel")
        assert [m["snippet"] for m in found["messages"]] == ["where is my parcel"]
        assert (await api.get("/search"))[0] == 400
        status, reply = await api.send("POST", "/quick-replies",
                                       {"shortcut": "hours", "text": "We open at 9"})
        assert status == 201 and reply["title"] == "hours" and not reply["private"]
        events = await api.inbox.store.events.events_after(0, 1000)
        assert [e.operator for e in events if e.kind == "quick_replies.saved"] == ["api:crm"]
        status, taken = await api.send("POST", "/quick-replies",
                                       {"shortcut": "hours", "text": "again"})
        assert status == 409 and taken["error"]["field"] == "shortcut"
        _, replies = await api.get("/quick-replies", api.reader)
        assert "hours" in [r["shortcut"] for r in replies["items"]]


async def test_rate_limit_per_token_and_cors(tmp_path: Path) -> None:
    port = free_port()
    settings = ApiSettings(f"127.0.0.1:{port}", cors=("https://crm.example.com",), rate=5)
    async with api_hub(tmp_path, settings) as api:
        for _n in range(5):
            assert (await api.get("/conversations"))[0] == 200
        async with api.session.get(f"{api.base}/conversations", headers=api.headers()) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        # Another token has its own allowance.
        assert (await api.get("/conversations", api.reader))[0] == 200
        origin = {"Origin": "https://crm.example.com"}
        async with api.session.get(f"{api.base}/conversations",
                                   headers={**api.headers(api.reader), **origin}) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "https://crm.example.com"
        async with api.session.options(f"{api.base}/conversations", headers={
                **origin, "Access-Control-Request-Method": "GET"}) as r:
            assert r.status == 204
            assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        async with api.session.get(f"{api.base}/conversations", headers={
                **api.headers(api.reader), "Origin": "https://evil.example"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_cors_is_off_unless_configured(tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        async with api.session.get(f"{api.base}/conversations", headers={
                **api.headers(), "Origin": "https://crm.example.com"}) as r:
            assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
        async with api.session.options(f"{api.base}/conversations", headers={
                "Origin": "https://crm.example.com",
                "Access-Control-Request-Method": "GET"}) as r:
            assert r.status == 403


async def test_the_api_channel_round_trip(tmp_path: Path) -> None:
    async with Receiver() as receiver, api_hub(tmp_path, receiver_url=receiver.url) as api:
        message = {"chat_id": "order-1042", "id": "form-1", "name": "Maria Lopez",
                   "text": "Where is order 1042?", "email": "maria@example.com"}
        status, stored = await api.send("POST", "/channels/site/messages", message)
        assert status == 201, stored
        # Persisted before the answer: it is there now, in the store.
        conv = await api.inbox.conversation(stored["conversation_id"])
        assert conv is not None and conv.channel_name == "site"
        assert conv.contact_name == "Maria Lopez"
        status, again = await api.send("POST", "/channels/site/messages", message)
        assert status == 200 and again["duplicate"] and again["message_id"] == \
            stored["message_id"]
        assert len(await api.inbox.messages(conv.id)) == 1
        status, answer = await api.send("POST", "/channels/shop/messages", message)
        assert status == 404 and answer["error"]["field"] == "name"
        status, answer = await api.send("POST", "/channels/site/messages",
                                        {**message, "chat_id": None})
        assert status == 400 and answer["error"]["field"] == "chat_id"
        status, answer = await api.send("POST", "/channels/site/messages", message,
                                        api.reader)
        assert status == 403
        # An operator answers in the app; the outside system gets it, signed.
        receiver.plan = [503]  # trouble first: the outbox tries again
        reply = await api.inbox.send(conv.id, "It left today, Maria")
        await until(lambda: holds(len(receiver.seen) >= 2), "the reply to arrive", 10)
        got = receiver.seen[-1]
        assert signed_by(got)
        body = json.loads(got["body"])
        assert body["chat_id"] == "order-1042" and body["text"] == "It left today, Maria"
        assert body["message_id"] == reply.id and body["channel"] == "site"
        assert set(body) == set(documented("message.out"))

        async def sent() -> bool:
            found = await api.inbox.message(reply.id)
            return found is not None and found.state is MessageState.SENT

        await until(sent, "the reply to be marked sent")
        # A receiver that refuses for good: the reply fails, with its words.
        receiver.plan = [400]
        refused = await api.inbox.send(conv.id, "second")

        async def failed() -> str | None:
            found = await api.inbox.message(refused.id)
            return found.error if found and found.state is MessageState.FAILED else None

        assert "HTTP 400" in await until(failed, "the refused reply to fail")


async def test_api_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    for text, key in (('[api]\nlisten = "8790"\n', "api.listen"),
                      ('[api]\nlisten = "127.0.0.1:8790"\ncors = ["crm"]\n', "api.cors"),
                      ('[api]\nlisten = "127.0.0.1:8790"\nrate = 0\n', "api.rate"),
                      ('[api]\nlisten = "127.0.0.1:8790"\nlimit = 5\n', "api.limit")):
        config.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_settings(config, tmp_path)
        assert key in str(caught.value) and str(config) in str(caught.value)
        assert caught.value.line == text.count("\n")
    config.write_text("[api]\n")
    assert load_settings(config, tmp_path).api is None  # off without listen


async def test_token_commands(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    code, out, err = await opchat(tmp_path, *args, "api", "token", "add", "crm")
    assert code == 0, err
    token = out.splitlines()[0]
    assert token.startswith("opc_") and "[api] listen" in out
    code, out, err = await opchat(tmp_path, *args, "api", "token", "add", "crm")
    assert code != 0 and "crm" in err
    code, out, err = await opchat(tmp_path, *args, "api", "token", "add", "bad name")
    assert code != 0
    code, out, _err = await opchat(tmp_path, *args, "api", "token", "add", "ro", "--read-only")
    code, out, _err = await opchat(tmp_path, *args, "api", "token", "list")
    assert "crm  read-write  in force" in out and "ro  read-only  in force" in out
    assert token not in out
    code, out, _err = await opchat(tmp_path, *args, "api", "token", "revoke", "crm")
    assert code == 0
    code, out, _err = await opchat(tmp_path, *args, "api", "token", "list")
    assert "crm  read-write  revoked" in out
    code, out, err = await opchat(tmp_path, *args, "api", "token", "revoke", "crm")
    assert code != 0
    kept = (str(raw(tmp_path / "data", "SELECT * FROM api_tokens")).encode() if on_postgres()
            else (tmp_path / "data" / "opchat.db").read_bytes())
    assert token.encode() not in kept  # only its hash is kept


EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "answer_bot.py"


def test_the_docs_show_the_example_as_kept() -> None:
    code = EXAMPLE.read_text()
    for doc in ("API.md", "ru/API.md"):
        text = (EXAMPLE.parents[1] / doc).read_text()
        assert f"```py\n{code}```" in text, doc


async def test_the_documented_answer_bot_answers_a_new_dialog(tmp_path: Path) -> None:
    """docs/examples/answer_bot.py, run as a reader would, against a running hub."""
    bot_port, api_port = free_port(), free_port()
    token = new_token()
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.channels.ensure("shop", "demo")
    await inbox.store.api_tokens.add("answer-bot", token_hash(token), False)
    hook = WebhookSettings("bot", f"http://127.0.0.1:{bot_port}/hook", "bot-secret",
                           events=("conversation.created",))
    hub = asyncio.create_task(Hub(inbox, [], tmp_path, webhooks=[hook],
                                  api=ApiSettings(f"127.0.0.1:{api_port}")).run())
    bot = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env={
            **os.environ, "PORT": str(bot_port), "OPCHAT_TOKEN": token,
            "OPCHAT_WEBHOOK_SECRET": "bot-secret",
            "OPCHAT_API": f"http://127.0.0.1:{api_port}/api/v1"})
    try:
        await until(lambda: inbox.store.webhooks.cursor(), "the webhooks to start")

        async def listening() -> bool:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", bot_port)
            except OSError:
                return False
            writer.close()
            return True

        await until(listening, "the bot to listen", 15)
        conv = await customer(inbox, "c1", "Do you ship to Lisbon?")

        async def answered() -> list[str]:
            return [m.body for m in await inbox.messages(conv)
                    if m.direction is Direction.OUT and m.author == "api:answer-bot"]

        assert await until(answered, "the bot's answer", 15) == [
            "Hello Customer c1! We have your message and answer soon."]
    finally:
        bot.terminate()
        await bot.wait()
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        await inbox.close()


async def api_health(inbox: Inbox) -> tuple[Health, str] | None:
    found = [c for c in await inbox.channels() if c.name == "api:http"]
    return (found[0].health, found[0].health_detail) if found else None


async def test_a_busy_address_shows_the_api_down_until_it_is_free(tmp_path: Path) -> None:
    port = free_port()
    squatter = socket.create_server(("127.0.0.1", port))
    inbox = await Inbox.open(tmp_path, "anna")
    hub = asyncio.create_task(Hub(inbox, [], tmp_path,
                                  api=ApiSettings(f"127.0.0.1:{port}")).run())
    try:
        async def down() -> str | None:
            seen = await api_health(inbox)
            return seen[1] if seen and seen[0] is Health.DOWN else None

        assert "in use" in await until(down, "the API shown down")
        squatter.close()

        async def up() -> bool:
            seen = await api_health(inbox)
            return seen is not None and seen[0] is Health.OK

        await until(up, "the API up once the address is free", 10)
    finally:
        squatter.close()
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        await inbox.close()


async def test_a_reply_past_the_reply_window_is_refused_and_a_note_is_not(
        tmp_path: Path) -> None:
    async with api_hub(tmp_path) as api:
        await api.inbox.store.channels.set_capabilities("shop", {"reply_window": 86400})
        stored = await api.inbox.store.inbound.ingest(InboundMessage(
            channel="shop", chat_id="late", external_id="late-1", sender_id="late",
            sender_name="Late customer", body="hello?", sent_at=time.time() - 25 * 3600))
        conv = stored.conversation_id
        status, body = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "Sorry for the wait"})
        assert status == 409, body
        assert body["error"]["code"] == "reply_window_closed"
        assert body["error"]["field"] == "text"
        status, note = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "called them instead", "private": True})
        assert status == 201 and note["direction"] == "note"
        # Within the window (they wrote again) the same reply goes.
        await customer(api.inbox, "late", "still there?", n=2)
        status, body = await api.send("POST", f"/conversations/{conv}/messages",
                                      {"text": "Sorry for the wait"})
        assert status == 201 and body["direction"] == "out", body
        assert [m.body for m in await api.inbox.messages(conv)] == [
            "hello?", "called them instead", "still there?", "Sorry for the wait"]
