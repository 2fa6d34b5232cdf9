"""Outgoing webhooks (opchat/webhooks.py, store/webhooks.py) against a local receiver
that fails, times out, answers 5xx and 4xx, and recovers; across a kill -9 of
`opchat serve`; their config; `opchat webhooks list|retry|test`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import opchat.webhooks as webhooks
from opchat.config import WEBHOOK_EVENTS, ConfigError, WebhookSettings, load_settings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, Health, InboundMessage, Status
from tests.backends import database_url, on_postgres, raw
from tests.channels import Serve, free_port, holds, opchat, until

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

SECRET = "s3cret-for-tests"


class Receiver:
    """A CRM's webhook endpoint on 127.0.0.1: answers what ``plan`` says, in turn
    ("ok", "500", "429", "400", "slow": answers 200 after the sender gave up), then 200."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.fail_delivery: dict[int, int] = {}  # delivery id -> status, every time
        self.seen: list[dict[str, Any]] = []  # every request: headers, body
        self.accepted: list[dict[str, Any]] = []  # those answered 2xx (payloads)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append({"headers": dict(request.headers), "body": body})
        delivery = int(request.headers.get("X-Opchat-Delivery", "0"))
        if delivery in self.fail_delivery:
            return web.Response(status=self.fail_delivery[delivery],
                                text="unknown customer field\nsecond line")
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "leak":  # a receiver that prints what it was configured with
            return web.Response(status=503, text=f"bad secret {SECRET}")
        if step == "slow":
            await asyncio.sleep(webhooks.TIMEOUT + 0.5)
        elif step != "ok":
            return web.Response(status=int(step), text=f"trouble {step}")
        self.accepted.append({"delivery": delivery, **json.loads(body)})
        return web.Response(text="thanks")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def verified(request: dict[str, Any], secret: str = SECRET) -> bool:
    """What a receiver does: HMAC of "<timestamp>.<raw body>", compared in constant time."""
    headers = request["headers"]
    signed = headers["X-Opchat-Timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(expected, headers["X-Opchat-Signature"])
            and abs(time.time() - int(headers["X-Opchat-Timestamp"])) < 300)


def documented_verify() -> Any:
    """The `verify` of docs/API.md, as a reader would copy it."""
    text = (Path(__file__).parents[2] / "docs" / "API.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    scope: dict[str, Any] = {}
    exec(code, scope)  # our own documentation
    return scope["verify"]


def documented_payloads() -> dict[str, dict[str, Any]]:
    """The example of each event in docs/API.md, by event."""
    text = (Path(__file__).parents[2] / "docs" / "API.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text,
                                                           flags=re.S)]
    return {example["event"]: example for example in examples}


def shape(value: Any) -> Any:
    """The keys of a payload, all the way down (values left out; lists by their first)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()
                if key not in ("operator", "delivery")}  # who did it: not always there
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict) else []
    return None


def message(chat: str, n: int, body: str = "") -> InboundMessage:
    return InboundMessage(channel="shop", chat_id=chat, external_id=f"{chat}-{n}",
                          sender_id=f"u-{chat}", sender_name=f"Customer {chat}",
                          body=body or f"{chat} says {n}", sent_at=time.time())


@contextlib.asynccontextmanager
async def hub_with(tmp_path: Path, endpoint: WebhookSettings) -> AsyncIterator[Inbox]:
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.channels.ensure("shop", "demo")
    task = asyncio.create_task(Hub(inbox, [], tmp_path, webhooks=[endpoint]).run())
    try:
        await until(lambda: inbox.store.webhooks.cursor(), "the webhooks to start")
        yield inbox
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "BACKOFF_BASE", 0.05)
    monkeypatch.setattr(webhooks, "TIMEOUT", 0.5)
    monkeypatch.setattr(webhooks, "IDLE", 0.2)


async def health(inbox: Inbox, name: str) -> tuple[Health, str]:
    [channel] = [c for c in await inbox.channels() if c.name == f"webhook:{name}"]
    return channel.health, channel.health_detail


async def test_every_event_once_in_order_through_failures(tmp_path: Path) -> None:
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET)) as inbox:
        receiver.plan = ["500", "slow", "429", "408", "503"]
        await inbox.store.inbound.ingest_batch([message("a", 1), message("b", 1)])
        photo = Attachment("photo", "parcel.jpg", "image/jpeg", 183204, ref="file-1")
        await inbox.store.inbound.ingest_batch([
            message("a", 2), replace(message("b", 2), attachments=(photo,))])
        dialogs = {c.contact_name: c.id for c in await inbox.conversations()}
        a = dialogs["Customer a"]
        sent = await inbox.send(a, "Hello from the shop")
        await inbox.assign(a, "anna")
        await inbox.label(a, "vip")
        await inbox.set_status(a, Status.RESOLVED)
        await inbox.store.ratings.ask(a, "Rate us 1-5", [], time.time() - 1)
        await inbox.store.inbound.ingest_batch([message("a", 3, "5 great")])
        contact_a, contact_b = sorted({c.contact_id for c in await inbox.conversations()})
        await inbox.set_contact_notes(contact_a, "Prefers e-mail")
        await inbox.merge_contacts(await inbox.merge_plan(contact_a, contact_b))

        async def all_delivered() -> int:
            counts = await inbox.store.webhooks.counts()
            rated = any(p["event"] == "contact.merged" for p in receiver.accepted)
            return rated and ("crm", "queued") not in counts and counts[("crm", "delivered")]

        total = await until(all_delivered, "every delivery", timeout=20)
        # The receiver dedupes on the delivery id: one acknowledged delivery per event.
        by_id: dict[int, dict[str, Any]] = {}
        for payload in receiver.accepted:
            by_id.setdefault(payload["delivery"], payload)
        assert len(by_id) == total
        assert all(verified(r) for r in receiver.seen)
        # The receiver in docs/API.md agrees; a body changed by a byte does not pass.
        verify = documented_verify()
        assert all(verify(SECRET, r["headers"], r["body"]) for r in receiver.seen)
        forged = receiver.seen[0]["body"].replace(b"Customer", b"Kustomer")
        assert not verify(SECRET, receiver.seen[0]["headers"], forged)
        assert not verify("another secret", receiver.seen[0]["headers"],
                          receiver.seen[0]["body"])
        assert all(payload["id"] == payload["delivery"] for payload in receiver.accepted)
        # In order per dialog.
        for dialog in dialogs.values():
            ids = [p["delivery"] for p in receiver.accepted
                   if p.get("conversation", {}).get("id") == dialog]
            assert ids == sorted(ids), ids
        kinds = [p["event"] for p in by_id.values()
                 if p.get("conversation", {}).get("id") == a]
        assert kinds[:3] == ["contact.created", "conversation.created", "message.created"]
        assert "conversation.assigned" in kinds and "conversation.status" in kinds
        out = next(p for p in by_id.values() if p["event"] == "message.created"
                   and p["message"]["direction"] == "out")
        assert out["message"]["id"] == sent.id and out["message"]["text"] == "Hello from the shop"
        assert out["conversation"]["contact"]["name"] == "Customer a"
        assert out["conversation"]["channel"] == "shop"
        status = next(p for p in by_id.values() if p["event"] == "conversation.status")
        assert status["change"]["to"] == "resolved"
        assert status["conversation"]["assignee"] == "anna"
        assert status["conversation"]["labels"] == ["vip"]
        labelled = next(p for p in by_id.values() if p["event"] == "conversation.labelled")
        assert labelled["change"] == {"added": "vip"}
        rating = next(p for p in by_id.values() if p["event"] == "rating.given")
        assert rating["rating"] == {"rating": 5, "comment": "great"}
        await until(lambda: _is(inbox, "crm", Health.OK), "the endpoint healthy again")
        # docs/API.md shows each event with the keys it really has.
        documented = documented_payloads()
        assert set(documented) == set(WEBHOOK_EVENTS)
        real = {p["event"]: p for p in by_id.values()
                if p["event"] != "message.created" or p["message"]["attachments"]}
        assert set(real) == set(WEBHOOK_EVENTS)
        for kind, example in documented.items():
            assert shape(example) == shape(real[kind]), kind
        with_photo = next(p for p in by_id.values() if p["event"] == "message.created"
                          and p["message"]["attachments"])
        assert with_photo["message"]["attachments"] == [
            {"kind": "photo", "filename": "parcel.jpg", "mime": "image/jpeg", "size": 183204}]
        merged = real["contact.merged"]
        assert merged["contact"]["id"] == contact_a
        assert merged["merged"] == {"id": contact_b, "name": "Customer b"}
        assert real["contact.updated"]["contact"]["id"] == contact_a


async def _is(inbox: Inbox, name: str, state: Health) -> bool:
    return (await health(inbox, name))[0] is state


async def test_a_4xx_stops_that_delivery_and_says_why(tmp_path: Path) -> None:
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET,
                                      events=("message.created",))) as inbox:
        await inbox.store.inbound.ingest_batch([message("a", 1)])
        await until(lambda: holds(receiver.accepted), "the first delivery")
        first = receiver.accepted[0]["delivery"]
        receiver.fail_delivery[first + 1] = 400
        await inbox.store.inbound.ingest_batch([message("a", 2)])
        await inbox.store.inbound.ingest_batch([message("a", 3)])
        # The dialog's next delivery goes on after the refused one.
        await until(lambda: holds(len(receiver.accepted) >= 2), "the third delivery")
        assert [p["message"]["text"] for p in receiver.accepted] == ["a says 1", "a says 3"]
        [failed] = await inbox.store.webhooks.recent("crm", state="failed")
        assert failed.id == first + 1
        assert failed.last_error == "HTTP 400: unknown customer field"
        assert failed.attempts == 1
        _, detail = await until(lambda: _degraded(inbox), "the status bar to say so")
        assert "HTTP 400: unknown customer field" in detail
        # Retried by hand, once the receiver is fixed: delivered.
        del receiver.fail_delivery[first + 1]
        assert await inbox.store.webhooks.retry([failed.id]) == 1
        await until(lambda: holds(len(receiver.accepted) >= 3), "the retried delivery")
        assert receiver.accepted[-1]["message"]["text"] == "a says 2"


async def _degraded(inbox: Inbox) -> tuple[Health, str] | None:
    state, detail = await health(inbox, "crm")
    return (state, detail) if state is Health.DEGRADED else None


async def test_queueing_twice_never_doubles_and_keeps_dialog_order(tmp_path: Path) -> None:
    inbox = await Inbox.open(tmp_path, "anna")
    try:
        await inbox.store.channels.ensure("shop", "demo")
        await inbox.store.webhooks.start_at(0)
        await inbox.store.inbound.ingest_batch([message("a", 1), message("b", 1),
                                                message("a", 2)])
        events = await inbox.store.events.events_after(0)
        wants = {"crm": frozenset(WEBHOOK_EVENTS), "log": frozenset({"message.created"})}
        queued = await inbox.store.webhooks.enqueue(events, wants)
        assert queued == 2 * 2 + 3 + 3  # crm: 2 contacts, 2 dialogs, 3 messages; log: 3
        assert await inbox.store.webhooks.enqueue(events, wants) == 0  # a replay
        assert await inbox.store.webhooks.cursor() == events[-1].id
        first, _ = await inbox.store.webhooks.next_due("log")
        assert first is not None and first.payload["message"]["text"] == "a says 1"
        await inbox.store.webhooks.retry_later(first.id, 3600, "HTTP 503")
        # a's second message waits for its first; b's goes on.
        following, _ = await inbox.store.webhooks.next_due("log")
        assert following is not None and following.payload["message"]["text"] == "b says 1"
        await inbox.store.webhooks.delivered(following.id)
        nothing, due = await inbox.store.webhooks.next_due("log")
        assert nothing is None and due is not None and due > time.time() + 3000
        # Done deliveries are forgotten after a while; those still queued never are.
        assert await inbox.store.webhooks.prune(time.time() - 60) == 0
        assert await inbox.store.webhooks.prune(time.time() + 60) == 1
        assert await inbox.store.webhooks.get(following.id) is None
        assert await inbox.store.webhooks.get(first.id) is not None
    finally:
        await inbox.close()


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[webhooks.crm]\nsecret = "x"\n', 1, '[webhooks.crm] needs url = "https://..."'),
    ('[webhooks.crm]\nurl = "ftp://crm"\nsecret = "x"\n', 2,
     'webhooks.crm.url must be an http:// or https:// address, not "ftp://crm"'),
    ('[webhooks.crm]\nurl = "https://crm.example"\n', 1, "[webhooks.crm] needs secret"),
    ('[webhooks.crm]\nurl = "https://crm.example"\nsecret = "x"\nevents = ["message.new"]\n',
     4, 'webhooks.crm.events: unknown event "message.new"'),
    ('[webhooks.crm]\nurl = "https://crm.example"\nsecret = "x"\nevents = "all"\n', 4,
     "webhooks.crm.events must be"),
    ('[webhooks.crm]\nurl = "https://crm.example"\nsecret = "x"\nevents = []\n', 4,
     "webhooks.crm.events is empty"),
    ('[webhooks.crm]\nurl = "https://crm.example"\nsecret_env = "1 bad"\n', 3,
     "webhooks.crm.secret_env must name an environment variable"),
    ('[webhooks.crm]\nurl = "https://crm.example"\nsecret = "x"\nsecrett = "y"\n', 4,
     "webhooks.crm.secrett"),
])
def test_config_mistakes_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                                words: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "config.toml", tmp_path)
    assert caught.value.line == line
    assert words in caught.value.problem
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}:{line}: ")


def test_the_config_read_whole(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[webhooks.crm]\nurl = "https://crm.example/hook"\nsecret_env = "CRM_SECRET"\n'
        'events = ["message.created", "rating.given"]\n\n'
        '[webhooks.log]\nurl = "http://127.0.0.1:9000/"\nsecret = "abc"\n')
    settings = load_settings(tmp_path / "config.toml", tmp_path)
    crm, log = settings.webhooks
    assert crm == WebhookSettings("crm", "https://crm.example/hook", "", "CRM_SECRET",
                                  ("message.created", "rating.given"))
    assert crm.key({"CRM_SECRET": "from-env"}) == "from-env" and crm.key({}) is None
    assert log.events == WEBHOOK_EVENTS and log.key() == "abc"


def config_with(receiver: Receiver, port: int) -> str:
    return (f'[channels.site]\nkind = "webchat"\nlisten = "127.0.0.1:{port}"\n\n'
            f'[webhooks.crm]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
            'events = ["message.created"]\n')


def _cursor(db: Path) -> bool:
    if not on_postgres() and not db.exists():
        return False
    try:
        return bool(raw(db.parent, "SELECT 1 FROM webhook_state WHERE key = 'cursor'"))
    except sqlite3.OperationalError:  # not created yet
        return False


async def test_nothing_lost_or_doubled_across_kill_9(tmp_path: Path) -> None:
    async with Receiver() as receiver:
        serve = Serve(tmp_path, config_with(receiver, free_port()))
        db = serve.data / "opchat.db"
        await serve.start()
        try:
            await until(lambda: holds(_cursor(db)), "serve to start", timeout=30)
            inbox = await Inbox.open(serve.data, "anna")
            try:
                await inbox.store.channels.ensure("shop", "demo")
                count = 0
                for kill_after in (5, 15, 25):
                    while count < kill_after + 5:  # written while serve runs and dies
                        await inbox.store.inbound.ingest_batch([message(f"c{count % 3}",
                                                                        count)])
                        count += 1
                    await until(lambda k=kill_after: holds(len(receiver.accepted) >= k),
                                f"{kill_after} deliveries", timeout=30)
                    serve.kill()
                    await serve.killed()
                    await serve.start()
                messages = {m.id for c in await inbox.conversations(limit=100)
                            for m in await inbox.messages(c.id, limit=100)}
            finally:
                await inbox.close()
            await until(lambda: holds({p["message"]["id"] for p in receiver.accepted}
                                      >= messages), "every message", timeout=30)
            delivered: dict[int, set[int]] = {}
            for payload in receiver.accepted:
                delivered.setdefault(payload["message"]["id"], set()).add(payload["delivery"])
            assert set(delivered) == messages and len(messages) == count
            # Never queued twice: each message has one delivery id (a delivery whose
            # answer the kill cut off may come again, with the same id to dedupe on).
            assert all(len(ids) == 1 for ids in delivered.values()), delivered
            for chat in ("c0", "c1", "c2"):
                texts = [int(p["message"]["text"].split()[-1]) for p in receiver.accepted
                         if p["message"]["text"].startswith(chat)]
                assert texts == sorted(texts)
        finally:
            await serve.stop()


async def test_the_cli_lists_retries_and_tests(tmp_path: Path) -> None:
    async with Receiver() as receiver:
        (tmp_path / "config.toml").write_text(config_with(receiver, free_port()))
        (tmp_path / "data").mkdir()
        inbox = await Inbox.open(tmp_path / "data", "anna")
        try:
            await inbox.store.channels.ensure("shop", "demo")
            await inbox.store.webhooks.start_at(0)
            await inbox.store.inbound.ingest_batch([message("a", 1), message("a", 2)])
            events = await inbox.store.events.events_after(0)
            await inbox.store.webhooks.enqueue(events, {"crm": frozenset(WEBHOOK_EVENTS)})
            [*_, last] = await inbox.store.webhooks.recent("crm", limit=1)
            await inbox.store.webhooks.failed(last.id, "HTTP 400: unknown customer field")
        finally:
            await inbox.close()

        code, out, err = await opchat(tmp_path, "webhooks", "list")
        assert code == 0, err
        assert "crm" in out and receiver.url in out
        assert "HTTP 400: unknown customer field" in out and f"#{last.id}" in out

        code, out, err = await opchat(tmp_path, "webhooks", "test", "crm")
        assert code == 0, err
        assert "200" in out and "thanks" in out
        [request] = receiver.seen
        assert verified(request)
        assert json.loads(request["body"])["event"] == "webhook.test"

        receiver.fail_delivery[0] = 400
        code, out, err = await opchat(tmp_path, "webhooks", "test", "crm")
        assert code != 0 and "HTTP 400: unknown customer field" in out + err

        code, out, err = await opchat(tmp_path, "webhooks", "retry", "--failed")
        assert code == 0, err
        assert out.strip() == "queued again: 1; the hub sends them"
        code, out, err = await opchat(tmp_path, "webhooks", "list")
        assert "queued 4, delivered 0, failed 0" in out
        code, out, err = await opchat(tmp_path, "webhooks", "retry", "99999")
        assert code != 0 and "99999" in out + err
        code, out, err = await opchat(tmp_path, "webhooks", "test", "nope")
        assert code != 0 and "crm" in out + err


async def test_a_receiver_down_for_too_long_fails_the_delivery(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "GIVE_UP", 0.5)  # 24 hours, in the tests' time
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET,
                                      events=("message.created",))) as inbox:
        receiver.plan = ["503"] * 1000
        await inbox.store.inbound.ingest_batch([message("a", 1)])

        async def given_up() -> list[Any]:
            return await inbox.store.webhooks.recent("crm", state="failed")

        [failed] = await until(given_up, "the delivery to be given up")
        assert failed.attempts >= 2
        assert failed.last_error == (f"gave up after {failed.attempts} attempts: "
                                     "HTTP 503: trouble 503")
        # The health is written after the delivery's failure, in a transaction of its own.
        await until(lambda: _is(inbox, "crm", Health.DOWN), "the webhook shown down")
        assert (await health(inbox, "crm")) == (Health.DOWN, failed.last_error)
        assert receiver.accepted == []
        # `opchat doctor` says so too.
        from opchat.doctor import check_channel_reports

        [finding] = check_channel_reports(database_url() or tmp_path)
        assert finding.topic == "channel webhook:crm" and failed.last_error in finding.text


def test_backoff_doubles_up_to_an_hour() -> None:
    sender = webhooks.WebhookSender.__new__(webhooks.WebhookSender)
    sender.backoff_base, sender.max_backoff = 10.0, 3600.0
    assert [sender.backoff(n) for n in (0, 1, 2, 8, 9, 30)] == [10, 20, 40, 2560, 3600, 3600]


async def test_events_older_than_a_day_are_not_sent_when_webhooks_come_back(
        tmp_path: Path) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=lambda: time.time() - 2 * 86400)
    try:  # two days ago: a hub with webhooks ran, then none did
        await inbox.store.channels.ensure("shop", "demo")
        await inbox.store.webhooks.start_at(0)
        await inbox.store.inbound.ingest_batch([message("old", 1)])
    finally:
        await inbox.close()
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET,
                                      events=("message.created",))) as inbox:
        await inbox.store.inbound.ingest_batch([message("new", 1)])
        await until(lambda: holds(receiver.accepted), "the new message")
        assert [p["message"]["text"] for p in receiver.accepted] == ["new says 1"]
        assert await inbox.store.webhooks.counts() == {("crm", "delivered"): 1}


async def test_a_receiver_echoing_the_secret_does_not_put_it_on_show(tmp_path: Path) -> None:
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET)) as inbox:
        receiver.plan = ["leak"] * 1000
        await inbox.store.inbound.ingest_batch([message("a", 1)])
        _, detail = await until(lambda: _degraded(inbox), "the trouble shown")
        assert SECRET not in detail and "bad secret" in detail
        *_, queued = await inbox.store.webhooks.recent("crm", state="queued")  # the oldest
        assert SECRET not in queued.last_error and "bad secret" in queued.last_error


async def test_a_phone_left_in_a_form_is_a_contact_update_once(tmp_path: Path) -> None:
    """A channel that tells a contact's phone (a web chat form) changes the contact: the
    webhooks hear contact.updated, with what changed, and only when it did."""
    async with Receiver() as receiver, hub_with(
            tmp_path, WebhookSettings("crm", receiver.url, SECRET)) as inbox:
        await inbox.store.inbound.ingest(message("c", 1))
        await inbox.store.inbound.ingest(replace(message("c", 2), phone="+7 912 345-67-89"))
        await inbox.store.inbound.ingest(replace(message("c", 3), phone="+7 912 345-67-89"))
        await inbox.store.inbound.ingest(message("c", 4, "the last one"))

        def delivered(kind: str) -> list[dict[str, Any]]:
            return list({p["delivery"]: p for p in receiver.accepted
                         if p["event"] == kind}.values())

        await until(lambda: holds(any(p["message"]["text"] == "the last one"
                                      for p in delivered("message.created"))
                                  and delivered("contact.updated")),
                    "the last message and the update delivered", timeout=20)
        # The same phone again changed nothing: one change in the log, one delivery.
        assert raw(tmp_path, "SELECT count(*) FROM events WHERE kind = 'contact.changed'"
                   ) == [(1,)]
        [update] = delivered("contact.updated")
        assert update["change"] == {"fields": ["phone"]}
        assert update["contact"]["phone"] == "+7 912 345-67-89"
        assert "operator" not in update
