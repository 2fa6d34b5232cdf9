"""The hub: transports, the outbox worker, the lock; against real SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub, HubLock, run_hub_when_free, storable
from opchat.inbox import Inbox
from opchat.model import Attachment, Health, InboundMessage, MessageState, OutboundMessage
from opchat.transports import Capabilities, Delivery, Rejected, Retry, Sink, UnknownChannelKind
from tests.backends import database_url, refuse_event

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


class ScriptedTransport:
    """A transport whose sends follow a script: each entry answers one attempt."""

    kind: ClassVar[str] = "scripted"
    capabilities: ClassVar[Capabilities] = Capabilities()
    script: ClassVar[list[Any]] = []
    sent: ClassVar[list[OutboundMessage]] = []
    sink: ClassVar[Sink | None] = None
    runs: ClassVar[int] = 0
    crash_runs: ClassVar[int] = 0
    signals: ClassVar[list[tuple[Any, ...]]] = []

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        self.name = channel.name

    async def run(self, sink: Sink) -> None:
        type(self).sink = sink
        type(self).runs += 1
        if type(self).runs <= type(self).crash_runs:
            raise ConnectionError("upstream went away")
        sink.health(Health.OK)
        await asyncio.Event().wait()

    async def typing(self, chat_id: str, active: bool) -> None:
        type(self).signals.append(("typing", chat_id, active))

    async def seen(self, chat_id: str) -> None:
        type(self).signals.append(("seen", chat_id))

    async def download(self, attachment: Attachment, dest_dir: Path) -> Path:
        if attachment.ref == "gone":
            raise LookupError("the platform no longer has this file")
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / "photo.jpg"
        target.write_bytes(b"\xff\xd8 a photo")
        return target

    async def send(self, out: OutboundMessage) -> Delivery:
        answer = type(self).script.pop(0) if type(self).script else "ok"
        type(self).sent.append(out)
        if isinstance(answer, BaseException):
            raise answer
        if answer == "hang":
            await asyncio.sleep(3600)
        return Delivery(external_id=f"ext-{out.message_id}-{out.attempt}")


def loader(kind: str) -> type[ScriptedTransport]:
    if kind == "scripted":
        return ScriptedTransport
    raise UnknownChannelKind(kind, ["scripted"])


@pytest.fixture(autouse=True)
def fresh_script() -> None:
    ScriptedTransport.script = []
    ScriptedTransport.sent = []
    ScriptedTransport.sink = None
    ScriptedTransport.runs = 0
    ScriptedTransport.crash_runs = 0
    ScriptedTransport.signals = []


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    box = await Inbox.open(tmp_path, "anna")
    yield box
    await box.close()


@contextlib.asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[Hub]:
    task = asyncio.create_task(hub.run())
    try:
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def make_hub(inbox: Inbox, tmp_path: Path, *names: str) -> Hub:
    channels = [ChannelSettings(n, "scripted", {}) for n in names or ("shop",)]
    hub = Hub(inbox, channels, tmp_path, loader)
    hub.backoff_base = 0.02
    return hub


async def customer_writes(inbox: Inbox, channel: str = "shop") -> int:
    while ScriptedTransport.sink is None:
        await asyncio.sleep(0.01)
    got = await ScriptedTransport.sink.ingest(InboundMessage(
        channel=channel, chat_id="chat-1", external_id="in-1", sender_id="u1",
        sender_name="Ivan", body="hello"))
    return got.conversation_id


async def state_of(inbox: Inbox, message_id: int) -> MessageState:
    message = await inbox.message(message_id)
    assert message is not None
    return message.state


async def test_a_reply_wakes_only_its_own_channels_outbox(inbox: Inbox, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    names = ("shop", "b", "c", "d", "e")
    claims: list[str] = []
    claim_due = inbox.store.outbox.claim_due

    async def counted(channels, limit: int = 20):  # each call is one write transaction
        claims.extend(channels)
        return await claim_due(channels, limit)

    monkeypatch.setattr(inbox.store.outbox, "claim_due", counted)
    hub = make_hub(inbox, tmp_path, *names)
    hub.outbox_idle = 3600.0  # no look on its own during the test: only wake-ups count
    async with running(hub):
        conv = (await inbox.store.inbound.ingest(InboundMessage(
            channel="shop", chat_id="chat-1", external_id="in-1", sender_id="u1",
            sender_name="Ivan", body="hello"))).conversation_id
        await until(lambda: _holds(set(names) <= set(claims)))  # each looked once at start
        before = list(claims)
        ScriptedTransport.script = [Rejected("the customer blocked the bot"), "ok"]
        msg = await inbox.send(conv, "hi there")
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
        assert await inbox.store.messages.retry(msg.id, None)  # the operator's r
        await until(lambda: _holds(len(ScriptedTransport.sent) == 2))
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))
    woken = claims[len(before):]
    assert woken and set(woken) == {"shop"}, woken


async def test_send_goes_out_and_turns_sent(inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi there")
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))
    [out] = ScriptedTransport.sent
    assert out.body == "hi there" and out.chat_id == "chat-1" and out.channel == "shop"
    stored = await inbox.message(msg.id)
    assert stored is not None and stored.external_id == f"ext-{msg.id}-1"


async def _holds(value: bool) -> bool:
    return value


async def _is(inbox: Inbox, message_id: int, state: MessageState) -> bool:
    return await state_of(inbox, message_id) == state


async def test_retry_after_is_obeyed_then_sent(inbox: Inbox, tmp_path: Path) -> None:
    ScriptedTransport.script = [Retry("429 too many requests", after=0.3), "ok"]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi")
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))
    first, second = ScriptedTransport.sent
    assert (first.attempt, second.attempt) == (1, 2)
    kinds = [e.kind for e in await inbox.store.events.events_after(0)]
    assert "message.retrying" in kinds


async def test_rejected_fails_at_once_with_reason(inbox: Inbox, tmp_path: Path) -> None:
    ScriptedTransport.script = [Rejected("bot was blocked by the user")]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi")
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
        # The worker has gone round again once a later reply is out: by then a retry
        # of the failed one would have been sent first (it is older).
        later = await inbox.send(conv, "later")
        await until(lambda: _is(inbox, later.id, MessageState.SENT))
    assert [o.body for o in ScriptedTransport.sent] == ["hi", "later"]  # never retried
    stored = await inbox.message(msg.id)
    assert stored is not None and stored.error == "bot was blocked by the user"


async def test_a_transport_that_raises_anything_does_not_stop_the_outbox(
        inbox: Inbox, tmp_path: Path) -> None:
    ScriptedTransport.script = [ZeroDivisionError("bug in plugin"), KeyError("x"), "ok", "ok"]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        first = await inbox.send(conv, "one")
        second = await inbox.send(conv, "two")
        await until(lambda: _is(inbox, second.id, MessageState.SENT))
    assert await state_of(inbox, first.id) == MessageState.SENT
    # Order is kept: "one" goes out (after its retries) before "two".
    assert [o.body for o in ScriptedTransport.sent] == ["one", "one", "one", "two"]


async def test_gives_up_after_max_attempts(inbox: Inbox, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opchat.hub.MAX_ATTEMPTS", 3)
    ScriptedTransport.script = [Retry("down", after=0.01)] * 5
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi")
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
    stored = await inbox.message(msg.id)
    assert stored is not None and stored.error == "gave up after 3 attempts: down"
    # The operator retries; the next attempt goes out.
    ScriptedTransport.script = []
    async with running(make_hub(inbox, tmp_path)):
        assert await inbox.retry(msg.id)
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))


async def test_a_hanging_send_fails_rather_than_risk_a_duplicate(
        inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opchat.hub.SEND_TIMEOUT", 0.2)
    ScriptedTransport.script = ["hang", "ok"]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi")
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
        later = await inbox.send(conv, "later")
        await until(lambda: _is(inbox, later.id, MessageState.SENT))
        # not sent again behind the operator's back
        assert [o.body for o in ScriptedTransport.sent] == ["hi", "later"]
        stored = await inbox.message(msg.id)
        assert stored is not None and "may or may not have arrived" in (stored.error or "")
        assert await inbox.retry(msg.id)  # the operator decides
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))


async def test_crashing_transport_is_restarted_and_health_shown(
        inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opchat.hub.RESTART_BACKOFF", (0.05,))
    ScriptedTransport.crash_runs = 1
    async with running(make_hub(inbox, tmp_path)):
        await until(lambda: _health(inbox, Health.OK))
    assert ScriptedTransport.runs == 2
    events = await inbox.store.events.events_after(0)
    details = [e.data.get("detail") for e in events if e.kind == "channel.health"]
    assert "Upstream went away" in details  # a sentence, no class name (80d87cd)


async def _health(inbox: Inbox, health: Health) -> bool:
    return any(c.health == health for c in await inbox.channels())


async def test_a_channel_the_hubs_config_does_not_name_is_shown_stopped_and_why(
        inbox: Inbox, tmp_path: Path) -> None:
    """A hub killed while running "tg" left it OK; the next hub's config (another
    operator's) does not name it: nobody runs it, and the status bar must not say it
    polls. The API's and the webhooks' own rows are left to the hub that runs them."""
    for name, kind in (("tg", "telegram"), ("webhook:crm", "webhook")):
        await inbox.store.channels.ensure(name, kind)
        await inbox.store.channels.set_health(name, Health.OK, "polling")

    async def health() -> dict[str, tuple[Health, str]]:
        return {c.name: (c.health, c.health_detail) for c in await inbox.channels()}

    async def tg_stopped() -> bool:
        return (await health())["tg"][0] is Health.STOPPED

    async with running(make_hub(inbox, tmp_path, "shop")):
        await until(tg_stopped)
        now = await health()
    assert now["tg"][1] == (f"not run: the config of the hub (process {os.getpid()}) "
                            "does not name it")
    assert now["webhook:crm"] == (Health.OK, "polling")
    # `opchat doctor` run with a config that names it says why it does not run.
    from opchat.doctor import check_channel_reports

    [finding] = check_channel_reports(database_url() or tmp_path, ["tg", "shop"])
    assert finding.topic == "channel tg" and "give the team one config file" in finding.text
    assert check_channel_reports(database_url() or tmp_path, ["shop"]) == []


async def test_unknown_kind_marks_that_channel_down_only(inbox: Inbox, tmp_path: Path) -> None:
    channels = [ChannelSettings("shop", "scripted", {}), ChannelSettings("x", "nosuch", {})]
    async with running(Hub(inbox, channels, tmp_path, loader)):
        await until(lambda: _health(inbox, Health.OK))
        await until(lambda: _health(inbox, Health.DOWN))
    by_name = {c.name: c for c in await inbox.channels()}
    assert by_name["x"].health_detail == "unknown channel kind 'nosuch'"
    assert by_name["shop"].health == Health.STOPPED  # the hub stopped


async def test_lock_lets_one_hub_run_and_is_taken_over(tmp_path: Path) -> None:
    first = HubLock(tmp_path)
    second = HubLock(tmp_path)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


async def test_follower_takes_over_when_the_hub_exits(tmp_path: Path) -> None:
    a = await Inbox.open(tmp_path, "anna")
    b = await Inbox.open(tmp_path, "boris")
    roles: dict[str, list[str]] = {"a": [], "b": []}
    channels = [ChannelSettings("shop", "scripted", {})]
    hub_a = asyncio.create_task(run_hub_when_free(a, channels, tmp_path, roles["a"].append,
                                                  poll=0.05, loader=loader))
    await until(lambda: _true(roles["a"] == ["hub"]))
    hub_b = asyncio.create_task(run_hub_when_free(b, channels, tmp_path, roles["b"].append,
                                                  poll=0.05, loader=loader))
    await until(lambda: _true(roles["b"] == ["follower"]))
    hub_a.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hub_a
    await until(lambda: _true(roles["b"] == ["follower", "hub"]))
    hub_b.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hub_b
    await a.close()
    await b.close()


async def _true(value: bool) -> bool:
    return value


async def test_a_message_behind_a_retrying_one_does_not_make_the_worker_spin(
        inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ScriptedTransport.script = [Retry("429", after=0.6), "ok", "ok"]
    claims = 0
    claim_due = inbox.store.outbox.claim_due

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        return await claim_due(*args, **kwargs)

    monkeypatch.setattr(inbox.store.outbox, "claim_due", counting)
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        first = await inbox.send(conv, "one")
        second = await inbox.send(conv, "two")
        await until(lambda: _is(inbox, second.id, MessageState.SENT))
    assert await state_of(inbox, first.id) == MessageState.SENT
    assert [o.body for o in ScriptedTransport.sent] == ["one", "one", "two"]
    assert claims < 40  # a spinning worker claimed thousands of times in 0.6 s


async def test_a_reused_platform_id_does_not_kill_the_hub(inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)) as hub:
        conv = await customer_writes(inbox)  # stored with external id "in-1"
        transport = hub.transports["shop"]
        original = transport.send

        async def reuse(out: OutboundMessage) -> Delivery:
            await original(out)
            return Delivery(external_id="in-1")

        transport.send = reuse  # type: ignore[method-assign]
        msg = await inbox.send(conv, "hi")
        await until(lambda: _is(inbox, msg.id, MessageState.SENT))
        second = await inbox.send(conv, "still alive")
        await until(lambda: _is(inbox, second.id, MessageState.SENT))


async def test_operator_typing_and_reading_reach_the_transport(
        inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        await inbox.set_typing(conv)
        await inbox.set_typing(conv)  # keys keep coming: not repeated within a few seconds
        await until(lambda: _signalled(("typing", "chat-1", True)))
        await inbox.set_typing(None)
        await until(lambda: _signalled(("typing", "chat-1", False)))
        await inbox.mark_read(conv)
        await until(lambda: _signalled(("seen", "chat-1")))
    assert ScriptedTransport.signals == [
        ("typing", "chat-1", True), ("typing", "chat-1", False), ("seen", "chat-1")]


async def _signalled(signal: tuple[Any, ...]) -> bool:
    return signal in ScriptedTransport.signals


async def test_an_unreachable_customer_labels_the_dialog(inbox: Inbox, tmp_path: Path) -> None:
    ScriptedTransport.script = [Rejected("Forbidden: bot was blocked by the user",
                                         unreachable=True)]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hello?")
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.labels == ("blocked",)
    failed = await inbox.message(msg.id)
    assert failed is not None and failed.error == "Forbidden: bot was blocked by the user"


async def test_customer_typing_through_the_sink(inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        sink = ScriptedTransport.sink
        assert sink is not None
        await sink.customer_typing("chat-1", "is it in st")
        await sink.customer_typing("no-such-chat", "ignored")
        [row] = await inbox.presence()
        assert (row.conversation_id, row.text) == (conv, "is it in st")
        await sink.customer_typing("chat-1", active=False)
        assert await inbox.presence() == []
        await inbox.heartbeat(None)
        assert await sink.operators_online() == ["anna"]


async def test_new_dialogs_go_to_the_online_operator_with_fewest(
        inbox: Inbox, tmp_path: Path) -> None:
    hub = make_hub(inbox, tmp_path)
    hub.auto_assign_cap = 5
    await inbox.heartbeat(None)  # anna has opchat open
    async with running(hub):
        conv = await customer_writes(inbox)

        async def assigned() -> bool:
            found = await inbox.conversation(conv)
            return found is not None and found.assignee == "anna"

        await until(assigned)


async def test_the_hub_wakes_a_snoozed_dialog(inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        await inbox.snooze(conv, inbox.clock() + 0.3)

        async def awake() -> bool:
            found = await inbox.conversation(conv)
            return found is not None and found.status.value == "open"

        await until(awake)


async def test_a_file_is_fetched_when_an_operator_asks(inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        while ScriptedTransport.sink is None:
            await asyncio.sleep(0.01)
        got = await ScriptedTransport.sink.ingest(InboundMessage(
            channel="shop", chat_id="chat-1", external_id="in-1", sender_id="u1",
            sender_name="Ivan", body="", attachments=(
                Attachment("photo", "p.jpg", ref="file-1"), Attachment("photo", ref="gone"))))
        message = await inbox.message(got.message_id)
        assert message is not None
        good, gone = (a.id for a in message.attachments)
        assert good is not None and gone is not None
        await inbox.store.attachments.request(good, inbox.operator)
        await inbox.store.attachments.request(gone, inbox.operator)

        async def answered() -> bool:
            kinds = [e.kind for e in await inbox.store.events.events_after(0)]
            return "attachment.ready" in kinds and "attachment.failed" in kinds

        await until(answered)
    fetched = await inbox.store.attachments.get(good)
    assert fetched is not None and fetched.attachment.local_path is not None
    assert Path(fetched.attachment.local_path).read_bytes() == b"\xff\xd8 a photo"
    assert Path(fetched.attachment.local_path).parent == tmp_path / "attachments" / "shop"
    failed = [e for e in await inbox.store.events.events_after(0) if e.kind == "attachment.failed"]
    assert failed[0].data["error"] == "the platform no longer has this file"


async def test_a_file_to_a_channel_that_cannot_send_files_fails_with_why(
        inbox: Inbox, tmp_path: Path) -> None:
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "the list", attachments=[
            Attachment("document", "list.pdf", local_path=str(tmp_path / "list.pdf"))])
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
    failed = await inbox.message(msg.id)
    assert failed is not None and failed.error == (
        "channel shop cannot send files; send the text alone")
    assert ScriptedTransport.sent == []  # never handed to the transport


async def test_a_file_asked_for_while_no_hub_ran_is_fetched_when_one_starts(
        inbox: Inbox, tmp_path: Path) -> None:
    got = await inbox.store.inbound.ingest(InboundMessage(
        channel="shop", chat_id="chat-1", external_id="in-1", sender_id="u1",
        sender_name="Ivan", body="", attachments=(Attachment("photo", "p.jpg", ref="f-1"),)))
    message = await inbox.message(got.message_id)
    assert message is not None and message.attachments[0].id is not None
    await inbox.store.attachments.request(message.attachments[0].id, inbox.operator)
    await inbox.mark_read(got.conversation_id)  # not replayed: nothing to tell late
    async with running(make_hub(inbox, tmp_path)):
        async def fetched() -> bool:
            found = await inbox.store.attachments.get(message.attachments[0].id or 0)
            return found is not None and found.attachment.local_path is not None

        await until(fetched)
    assert ScriptedTransport.signals == []


async def test_the_hub_records_what_each_channel_can_carry(inbox: Inbox, tmp_path: Path) -> None:
    async def known() -> bool:
        channels = await inbox.channels()
        return bool(channels) and all(c.capabilities is not None for c in channels)

    async with running(make_hub(inbox, tmp_path)):
        await until(known)
    [shop] = await inbox.channels()
    assert shop.carries_files is False  # ScriptedTransport has no media
    assert shop.capabilities == {"media": False, "edits": False, "typing": False,
                                 "buttons": False, "max_len": 4096, "reply_window": 0,
                                 "templates": False}
    assert shop.reply_window == 0


async def test_a_rejected_reply_keeps_the_customer_waiting(inbox: Inbox, tmp_path: Path) -> None:
    ScriptedTransport.script = [Rejected("bot was blocked by the user")]
    async with running(make_hub(inbox, tmp_path)):
        conv = await customer_writes(inbox)
        msg = await inbox.send(conv, "hi")
        assert await inbox.waiting_count() == 0
        await until(lambda: _is(inbox, msg.id, MessageState.FAILED))
        assert (await inbox.waiting_count(), await inbox.failed_count()) == (1, 1)
        later = await inbox.send(conv, "later")
        await until(lambda: _is(inbox, later.id, MessageState.SENT))
    assert (await inbox.waiting_count(), await inbox.failed_count()) == (0, 0)


async def test_a_lone_surrogate_from_any_channel_is_stored_as_a_replacement_character(
        inbox: Inbox, tmp_path: Path) -> None:
    # SQLite refuses a lone UTF-16 surrogate; one such update must not stop a channel.
    async with running(make_hub(inbox, tmp_path)):
        while ScriptedTransport.sink is None:
            await asyncio.sleep(0.01)
        got = await ScriptedTransport.sink.ingest_batch([InboundMessage(
            channel="shop", chat_id="chat-\ud800", external_id="in-\udfff", sender_id="u1",
            sender_name="Iv\ud83dan", body="bad \ud800 text", username="\udc00",
            profile={"page": "p\ud800"}, meta={"quote": "q\ud800"})], "cursor-\ud800")
    [one] = got
    message = await inbox.message(one.message_id)
    assert message is not None and message.body == "bad \ufffd text"


async def test_secrets_never_reach_the_events_table_or_the_log(
        inbox: Inbox, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An error text may carry a whole URL with the bot token in it: events are for ever.
    token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
    hub = Hub(inbox, [ChannelSettings("shop", "scripted", {"token": token,
                                                           "secret": "hunter2-hunter2"})],
              tmp_path, loader)
    async with running(hub):
        while ScriptedTransport.sink is None:
            await asyncio.sleep(0.01)
        ScriptedTransport.sink.health(
            Health.DOWN, f"cannot reach ftp://x/bot{token}/getMe (hunter2-hunter2)")
        hub.set_health("shop", Health.DEGRADED, "bot987654321:ZZHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0")
        await until(lambda: _health(inbox, Health.DEGRADED))
    events = await inbox.store.events.events_after(0)
    details = " ".join(str(e.data) for e in events)
    logged = caplog.text
    for text in (details, logged):
        assert "cannot reach" in text or text is logged
        assert "AAHfiqks" not in text and "hunter2" not in text and "ZZHfiqks" not in text
    assert "cannot reach ftp://x/bot…/getMe (…)" in details


@pytest.mark.parametrize(("dir_mode", "file_mode"), [(0o700, 0o600), (0o2770, 0o660)])
def test_hub_lock_follows_the_data_dirs_mode_whatever_the_umask(
        tmp_path: Path, dir_mode: int, file_mode: int) -> None:
    import os
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(dir_mode)
    old = os.umask(0o022)
    try:
        lock = HubLock(data)
        assert lock.try_acquire()
        lock.release()
    finally:
        os.umask(old)
    assert (data / "hub.lock").stat().st_mode & 0o777 == file_mode


@pytest.mark.sqlite_only
def test_serve_on_a_corrupted_database_says_so_and_exits(tmp_path: Path) -> None:
    import os
    import sqlite3
    import subprocess
    import sys
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "opchat.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        conn.execute("CREATE INDEX tx ON t (x)")
    conn.close()
    raw = bytearray(db.read_bytes())
    raw[4096 * 3:4096 * 3 + 2048] = b"\x5a" * 2048  # scribble over a page in the middle
    db.write_bytes(bytes(raw))
    (tmp_path / "config.toml").write_text('[channels.demo]\nkind = "demo"\ninterval = 3600\n')
    env = {**os.environ, "OPCHAT_DATA_DIR": str(data),
           "OPCHAT_CONFIG": str(tmp_path / "config.toml")}
    done = subprocess.run([sys.executable, "-m", "opchat", "serve"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "opchat.db" in done.stderr and "damaged" in done.stderr


async def test_health_that_cannot_be_recorded_is_logged_not_raised(
        inbox: Inbox, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """On a full disk the store refuses even the channel's health: one log line,
    never an exception nobody retrieves (asyncio prints those with a traceback)."""
    hub = make_hub(inbox, tmp_path)
    await inbox.store.channels.ensure("shop", "scripted")
    refuse_event(tmp_path, "channel.health", "database or disk is full")
    hub.set_health("shop", Health.DEGRADED, "cannot store")
    [task] = list(hub._health_writes)
    await task  # raised before: OperationalError out of a task nobody awaited
    assert "cannot record its health" in caplog.text and "disk is full" in caplog.text


def test_storable_copies_only_what_holds_a_lone_surrogate() -> None:
    clean = InboundMessage(channel="shop", chat_id="c1", external_id="m1", sender_id="u1",
                           sender_name="Иван", body="привет 👋", profile={"page": "/a"},
                           meta={"n": 1, "list": ["x", 2.5, None]},
                           attachments=[Attachment("photo", "a.jpg", ref="f1")])
    assert storable(clean) is clean  # nothing copied when nothing is wrong
    dirty = replace(clean, meta={"n": 1, "list": ["x\udc00", 2.5, None]})
    fixed = storable(dirty)
    assert fixed.meta == {"n": 1, "list": ["x\ufffd", 2.5, None]}
    assert fixed.profile is clean.profile and fixed.attachments is clean.attachments
    assert dirty.meta["list"][0] == "x\udc00"  # the original is left as it was
