"""The store against real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opchat.inbox import Inbox
from opchat.model import (
    MATCH_END,
    MATCH_START,
    Attachment,
    Direction,
    Health,
    InboundMessage,
    MessageState,
    Status,
)
from opchat.store import DB_FILENAME, SCHEMA_VERSION, ConversationFilter, Store, StoreError
from opchat.store.schema import SchemaTooNew
from tests.backends import integrity_error, on_postgres, raw
from tests.channels import holds, until

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


def inbound(n: int | str, chat: str = "c1", body: str = "hello", **kw) -> InboundMessage:
    return InboundMessage(channel="demo", chat_id=chat, external_id=f"m{n}",
                          sender_id=f"u-{chat}", sender_name=kw.pop("name", "Ivan"), body=body,
                          **kw)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def inbox(tmp_path: Path):
    clock = Clock()
    box = await Inbox.open(tmp_path, "anna", clock=clock)
    await box.store.channels.ensure("demo", "demo")
    box.test_clock = clock  # type: ignore[attr-defined]
    yield box
    await box.close()


@pytest.mark.sqlite_only
async def test_schema_is_created_with_wal_and_version(tmp_path: Path, inbox: Inbox) -> None:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    if on_postgres():
        await (await Store.open(tmp_path)).close()  # created, then made "newer"
        raw(tmp_path, "UPDATE opchat_schema SET version = ?", (SCHEMA_VERSION + 1,))
    else:
        conn = sqlite3.connect(tmp_path / DB_FILENAME)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
    with pytest.raises(StoreError, match="upgrade opchat"):
        await Store.open(tmp_path)
    assert issubclass(SchemaTooNew, sqlite3.DatabaseError)


@pytest.mark.sqlite_only
async def test_garbage_file_is_a_store_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        await Store.open(tmp_path)
    assert path.read_bytes() == b"this is not a database" * 100


async def test_ingest_creates_contact_conversation_and_is_idempotent(inbox: Inbox) -> None:
    first = await inbox.store.inbound.ingest(inbound(1, body="Где мой заказ?"))
    again = await inbox.store.inbound.ingest(inbound(1, body="Где мой заказ?"))
    assert not first.duplicate and again.duplicate
    assert again.message_id == first.message_id
    convs = await inbox.conversations()
    assert len(convs) == 1
    conv = convs[0]
    assert conv.contact_name == "Ivan" and conv.unread == 1 and conv.channel_kind == "demo"
    assert conv.waiting_since == inbox.test_clock.now  # type: ignore[attr-defined]
    assert conv.preview == "Где мой заказ?"
    assert [m.body for m in await inbox.messages(conv.id)] == ["Где мой заказ?"]


async def test_a_contact_named_by_the_platform_follows_its_new_name(tmp_path: Path,
                                                                     inbox: Inbox) -> None:
    await inbox.store.inbound.ingest(inbound(1, name="Messenger …7654"))
    await inbox.store.inbound.ingest(inbound(2, name="Ирина Соколова"))
    [conv] = await inbox.conversations()
    assert conv.contact_name == "Ирина Соколова"
    # A name chosen otherwise (a merge kept another) is never overwritten.
    raw(tmp_path, "UPDATE contacts SET name = 'Irina (VIP)'")
    await inbox.store.inbound.ingest(inbound(3, name="Ira"))
    [conv] = await inbox.conversations()
    assert conv.contact_name == "Irina (VIP)"


async def test_concurrent_ingests_are_all_committed_once(inbox: Inbox) -> None:
    msgs = [inbound(i % 300, chat=f"c{i % 7}") for i in range(600)]  # each sent twice
    results = await asyncio.gather(*(inbox.store.inbound.ingest(m) for m in msgs))
    assert sum(not r.duplicate for r in results) == 300
    total = 0
    for conv in await inbox.conversations():
        total += len(await inbox.messages(conv.id, limit=1000))
    assert total == 300


async def test_a_bad_message_in_a_group_does_not_fail_its_neighbours(inbox: Inbox) -> None:
    good = inbound(1)
    bad = inbound(2, attachments=(Attachment(kind=None),))  # type: ignore[arg-type]
    results = await asyncio.gather(inbox.store.inbound.ingest(good),
                                   inbox.store.inbound.ingest(bad), return_exceptions=True)
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], integrity_error())
    conv = (await inbox.conversations())[0]
    assert [m.external_id for m in await inbox.messages(conv.id)] == ["m1"]


async def test_batch_and_cursor_commit_together(inbox: Inbox) -> None:
    await inbox.store.inbound.ingest_batch([inbound(1), inbound(2)], cursor=("demo", "42"))
    assert await inbox.store.channels.cursor("demo") == "42"
    bad = inbound(3, attachments=(Attachment(kind=None),))  # type: ignore[arg-type]
    with pytest.raises(integrity_error()):
        await inbox.store.inbound.ingest_batch([inbound(4), bad], cursor=("demo", "43"))
    # Nothing of the failed batch stuck, not even the cursor.
    assert await inbox.store.channels.cursor("demo") == "42"
    conv = (await inbox.conversations())[0]
    assert [m.external_id for m in await inbox.messages(conv.id)] == ["m1", "m2"]


async def test_a_poisoned_message_is_skipped_and_the_batch_and_cursor_commit(
        inbox: Inbox, caplog: pytest.LogCaptureFixture) -> None:
    # A value JSON cannot hold, and one the database cannot (a transport's bugs): an
    # integer beyond SQLite's 64 bits; text with a NUL, which PostgreSQL's text refuses.
    poisoned = inbound(2, chat="c2", name="Poison", meta={"tags": {"a", "b"}})
    too_big = (inbound(3, chat="c3", name="Big", body="a\x00b") if on_postgres()
               else inbound(3, chat="c3", name="Big", phone=10 ** 30))
    results = await inbox.store.inbound.ingest_batch(
        [inbound(1), poisoned, too_big, inbound(4)], cursor=("demo", "44"))
    assert [r.skipped is None for r in results] == [True, False, False, True]
    assert "TypeError" in (results[1].skipped or "")
    assert ("DataError" if on_postgres() else "OverflowError") in (results[2].skipped or "")
    assert await inbox.store.channels.cursor("demo") == "44"  # moved past them
    # Nothing of the skipped ones is left half-stored: no dialog, no contact.
    assert [c.contact_name for c in await inbox.conversations()] == ["Ivan"]
    conv = (await inbox.conversations())[0]
    assert [m.external_id for m in await inbox.messages(conv.id)] == ["m1", "m4"]
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("demo" in line and "m2" in line and "skipped" in line for line in logged)
    assert any("m3" in line for line in logged)


async def test_a_poisoned_message_fails_alone_in_a_shared_commit(inbox: Inbox) -> None:
    from opchat.model import UnstorableMessage

    results = await asyncio.gather(
        inbox.store.inbound.ingest(inbound(1)),
        inbox.store.inbound.ingest(inbound(2, meta={"s": {1}})),
        inbox.store.inbound.ingest(inbound(3)), return_exceptions=True)
    assert isinstance(results[1], UnstorableMessage), results
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
    conv = (await inbox.conversations())[0]
    assert [m.external_id for m in await inbox.messages(conv.id)] == ["m1", "m3"]


async def test_one_message_alone_is_written_in_its_callers_task(inbox: Inbox) -> None:
    """With nothing under way, `ingest` writes in the caller's own task (no task nor
    future between); a bad or poisoned message alone fails its caller alone and leaves
    the next one free to go the same way."""
    from opchat.model import UnstorableMessage

    writers: list[object] = []

    def note(_name: str, sql: str) -> None:
        if sql.startswith("INSERT INTO messages"):
            try:
                writers.append(asyncio.current_task())
            except RuntimeError:  # no loop here: the writer's thread
                writers.append("writer's thread")

    inbox.store.db.trace(note)
    try:
        await inbox.store.inbound.ingest(inbound(1))
        if not on_postgres():  # there every write is the writer's thread's (a round trip)
            # (SQLite's trace names a statement again for each trigger it runs)
            assert writers and set(writers) == {asyncio.current_task()}
        with pytest.raises(UnstorableMessage):
            await inbox.store.inbound.ingest(inbound(2, meta={"s": {1}}))
        with pytest.raises(integrity_error()):
            await inbox.store.inbound.ingest(
                inbound(3, attachments=(Attachment(kind=None),)))  # type: ignore[arg-type]
        await inbox.store.inbound.ingest(inbound(4))
    finally:
        inbox.store.db.trace(None)
    conv = (await inbox.conversations())[0]
    assert [m.external_id for m in await inbox.messages(conv.id)] == ["m1", "m4"]


async def test_a_write_whose_caller_stops_waiting_in_the_queue_still_runs(
        inbox: Inbox) -> None:
    """Once handed to the writer, a write runs whole, even if its caller is cancelled
    while it waits its turn (a draft saved by a worker the operator moved away from)."""
    db = inbox.store.db
    started, release = threading.Event(), threading.Event()

    def label(conn: Any, name: str) -> None:
        conn.execute("INSERT INTO labels (name, created_at) VALUES (?, 0)", (name,))

    def slow(conn: Any) -> None:
        started.set()
        release.wait(30)
        label(conn, "slow")

    async def labels() -> list[str]:
        return await db.read(lambda conn: [r[0] for r in conn.execute(
            "SELECT name FROM labels ORDER BY id").fetchall()])

    try:
        first = asyncio.create_task(db.write(slow))
        await until(lambda: holds(started.is_set()), "the slow write under way")
        queued = asyncio.create_task(db.write(label, "queued"))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await first
        await until(lambda: _holds_async(labels, ["slow", "queued"]), "the queued write")
    finally:
        release.set()


async def _holds_async(read: Any, want: object) -> bool:
    return await read() == want


async def test_a_value_refused_by_a_later_statement_skips_only_its_message(
        inbox: Inbox) -> None:
    # Refused by the database only when a later statement of the message reads it as
    # JSON (PostgreSQL: a NUL escape), after the message's first statements went through
    # (and, pipelined, before anyone waited for them); SQLite takes both.
    await inbox.store.inbound.ingest(inbound(1))
    nul_profile = inbound(2, profile={"page": "a\x00b"})  # merged into the known identity's
    nul_meta = inbound(3, chat="c2", name="Olga", meta={"note": "a\x00b"})
    results = await inbox.store.inbound.ingest_batch(
        [nul_profile, nul_meta, inbound(4)], cursor=("demo", "9"))
    refused = on_postgres()
    assert [r.skipped is None for r in results] == [not refused, not refused, True]
    assert await inbox.store.channels.cursor("demo") == "9"
    names = sorted(c.contact_name for c in await inbox.conversations())
    assert names == (["Ivan"] if refused else ["Ivan", "Olga"])
    conv = next(c for c in await inbox.conversations() if c.contact_name == "Ivan")
    assert [m.external_id for m in await inbox.messages(conv.id)] == (
        ["m1", "m4"] if refused else ["m1", "m2", "m4"])
    # The figures count what was stored, as rebuilding them from the events does.
    report = await inbox.store.stats.report(0, 2e9)
    assert await inbox.store.stats.rebuild() > 0
    assert await inbox.store.stats.report(0, 2e9) == report


async def test_a_batch_sees_what_its_earlier_messages_wrote(inbox: Inbox) -> None:
    # A group is looked up in one statement before any of it is written; a message whose
    # dialog, sender or id an earlier one of the group wrote looks again.
    ivan_elsewhere = replace(inbound(3, chat="n2", name="Ivan Petrov"), sender_id="u-n1")
    results = await inbox.store.inbound.ingest_batch([
        inbound(1, chat="n1"), inbound(2, chat="n1"), inbound(1, chat="n1"), ivan_elsewhere,
        inbound(4, chat="n1")])
    first, second, again, elsewhere, last = results
    assert second.conversation_id == first.conversation_id == last.conversation_id
    assert again.duplicate and again.message_id == first.message_id
    assert elsewhere.conversation_id != first.conversation_id
    convs = {c.id: c for c in await inbox.conversations()}
    assert convs[first.conversation_id].unread == 3
    # One contact: the second dialog's sender is the first's, renamed by the platform,
    # and named back by the last message (which saw the new name, so changed it again).
    assert convs[first.conversation_id].contact_id == convs[elsewhere.conversation_id].contact_id
    assert convs[first.conversation_id].contact_name == "Ivan"


async def test_a_big_group_is_looked_up_in_parts(inbox: Inbox,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat.store import inbound as module

    monkeypatch.setattr(module, "_LOOKUP_AT_ONCE", 2)
    first = await inbox.store.inbound.ingest(inbound(1, chat="old"))
    results = await inbox.store.inbound.ingest_batch(
        [inbound(2, chat="a"), inbound(3, chat="b"), inbound(1, chat="old"),
         inbound(4, chat="old"), inbound(5, chat="c")])
    assert [r.duplicate for r in results] == [False, False, True, False, False]
    assert results[2].message_id == first.message_id
    assert results[3].conversation_id == first.conversation_id
    assert len({r.conversation_id for r in results}) == 4


async def test_a_channel_made_by_a_failed_batch_is_made_again(inbox: Inbox) -> None:
    # The ingest remembers channels' ids, but only those of committed transactions: the
    # row a failed batch made is gone with it.
    bad = inbound(2, attachments=(Attachment(kind=None),))  # type: ignore[arg-type]
    fresh = [replace(inbound(1), channel="fresh"), replace(bad, channel="fresh")]
    with pytest.raises(integrity_error()):
        await inbox.store.inbound.ingest_batch(fresh)
    got = await inbox.store.inbound.ingest(replace(inbound(3), channel="fresh"))
    assert not got.duplicate
    again = await inbox.store.inbound.ingest(replace(inbound(4), channel="fresh"))
    assert again.conversation_id == got.conversation_id
    assert [c.name for c in await inbox.store.channels.all()].count("fresh") == 1


async def test_a_channel_made_by_a_skipped_message_is_made_again_by_the_next(
        inbox: Inbox) -> None:
    # The poisoned message is the first of a new channel: its savepoint takes the
    # channel's row with it, and the next message of the batch makes it again.
    poisoned = replace(inbound(1, meta={"tags": {"a"}}), channel="newer")
    results = await inbox.store.inbound.ingest_batch(
        [poisoned, replace(inbound(2), channel="newer")], cursor=("newer", "7"))
    assert [r.skipped is None for r in results] == [False, True]
    assert await inbox.store.channels.cursor("newer") == "7"
    got = await inbox.store.inbound.ingest(replace(inbound(3), channel="newer"))
    assert got.conversation_id == results[1].conversation_id


async def test_send_queues_message_and_outbox_and_clears_waiting(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    inbox.test_clock.now += 42  # type: ignore[attr-defined]
    msg = await inbox.send(got.conversation_id, "Здравствуйте!")
    assert msg.state == MessageState.QUEUED and msg.direction == Direction.OUT
    assert msg.author == "anna"
    conv = await inbox.conversation(got.conversation_id)
    assert conv is not None
    assert conv.waiting_since is None and conv.unread == 0 and conv.first_response_s == 42
    assert (conv.preview, conv.preview_direction, conv.preview_author) == (
        "Здравствуйте!", Direction.OUT, "anna")
    items = await inbox.store.outbox.claim_due(["demo"])
    assert [i.message.body for i in items] == ["Здравствуйте!"]
    assert items[0].message.chat_id == "c1"


async def test_notes_are_never_queued_and_do_not_clear_waiting(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    await inbox.note(got.conversation_id, "VIP customer")
    assert await inbox.store.outbox.claim_due(["demo"]) == []
    conv = await inbox.conversation(got.conversation_id)
    assert conv is not None and conv.waiting_since is not None


async def test_outbox_lifecycle_and_receipts_only_move_forward(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    msg = await inbox.send(got.conversation_id, "hi")
    [item] = await inbox.store.outbox.claim_due(["demo"])
    assert await inbox.store.outbox.claim_due(["demo"]) == []  # claimed once
    await inbox.store.outbox.mark_sent(item.message.message_id, "out-1")
    await inbox.store.outbox.report("demo", "out-1", MessageState.READ)
    await inbox.store.outbox.report("demo", "out-1", MessageState.DELIVERED)
    stored = await inbox.message(msg.id)
    assert stored is not None and stored.state == MessageState.READ


async def test_a_receipt_that_beats_the_sends_answer_is_kept_until_it_is_recorded(
        inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    first = await inbox.send(got.conversation_id, "hi")
    second = await inbox.send(got.conversation_id, "are you there?")
    # The webhook says "read" and "failed" before the hub has recorded either send.
    await inbox.store.outbox.report("demo", "out-1", MessageState.READ)
    await inbox.store.outbox.report("demo", "out-1", MessageState.DELIVERED)  # late, less
    await inbox.store.outbox.report("demo", "out-2", MessageState.FAILED, "undeliverable")
    await inbox.store.outbox.report("demo", "out-2", MessageState.DELIVERED)  # failed stays
    await inbox.store.outbox.mark_sent(first.id, "out-1")
    await inbox.store.outbox.mark_sent(second.id, "out-2")
    one, two = await inbox.message(first.id), await inbox.message(second.id)
    assert one is not None and one.state is MessageState.READ
    assert two is not None and two.state is MessageState.FAILED and two.error == "undeliverable"
    conversation = await inbox.conversation(got.conversation_id)
    # The failure keeps the customer waiting, as any failed reply does.
    assert conversation is not None and conversation.failed_message_id == second.id
    assert conversation.waiting_since is not None
    kept = await inbox.store.db.read(
        lambda conn: conn.execute("SELECT count(*) FROM early_receipts").fetchone()[0])
    assert kept == 0


async def test_a_failure_after_sent_fails_the_reply_but_never_one_already_read(
        inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    sent = await inbox.send(got.conversation_id, "a")
    read = await inbox.send(got.conversation_id, "b")
    for message, external in ((sent, "out-1"), (read, "out-2")):
        await inbox.store.outbox.claim_due(["demo"])
        await inbox.store.outbox.mark_sent(message.id, external)
    await inbox.store.outbox.report("demo", "out-2", MessageState.READ)
    await inbox.store.outbox.report("demo", "out-1", MessageState.FAILED, "131026")
    await inbox.store.outbox.report("demo", "out-2", MessageState.FAILED, "131026")
    states = [(m.body, m.state, m.error) for m in await inbox.messages(got.conversation_id)]
    assert states[1:] == [("a", MessageState.FAILED, "131026"), ("b", MessageState.READ, None)]


async def test_a_dialog_knows_when_the_customer_last_wrote(inbox: Inbox) -> None:
    clock = inbox.test_clock  # type: ignore[attr-defined]
    got = await inbox.store.inbound.ingest(inbound(1, sent_at=clock.now - 100))
    await inbox.send(got.conversation_id, "hi")
    await inbox.store.inbound.ingest(inbound(2, sent_at=clock.now - 10))
    await inbox.store.inbound.ingest(inbound(3, sent_at=clock.now - 50))  # arrived late
    conversation = await inbox.conversation(got.conversation_id)
    assert conversation is not None and conversation.last_inbound_at == clock.now - 10


async def test_retry_puts_a_failed_message_back(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    msg = await inbox.send(got.conversation_id, "hi")
    await inbox.store.outbox.claim_due(["demo"])
    await inbox.store.outbox.mark_failed(msg.id, "blocked")
    failed = await inbox.message(msg.id)
    assert failed is not None and failed.state == MessageState.FAILED and failed.error == "blocked"
    assert await inbox.retry(msg.id)
    assert not await inbox.retry(msg.id)  # only failed messages can be retried
    assert [i.message.message_id for i in await inbox.store.outbox.claim_due(["demo"])] == [msg.id]


async def test_interrupted_sends_are_failed_not_resent(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    msg = await inbox.send(got.conversation_id, "hi")
    await inbox.store.outbox.claim_due(["demo"])  # the hub "crashes" here
    assert await inbox.store.outbox.recover_interrupted_sends() == 1
    stored = await inbox.message(msg.id)
    assert stored is not None and stored.state == MessageState.FAILED
    assert "may or may not" in (stored.error or "")
    assert await inbox.store.outbox.claim_due(["demo"]) == []


async def test_customer_message_reopens_resolved_dialog(inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1))
    await inbox.set_status(got.conversation_id, Status.RESOLVED)
    await inbox.store.inbound.ingest(inbound(2))
    conv = await inbox.conversation(got.conversation_id)
    assert conv is not None and conv.status == Status.OPEN
    kinds = [e.kind for e in await inbox.store.events.events_after(0)]
    assert kinds.count("conversation.status") == 2


async def test_list_order_filter_and_position(inbox: Inbox) -> None:
    clock = inbox.test_clock  # type: ignore[attr-defined]
    for n in range(5):
        clock.now += 10
        await inbox.store.inbound.ingest(inbound(n, chat=f"c{n}"))
    convs = await inbox.conversations()
    assert [c.id for c in convs] == [5, 4, 3, 2, 1]  # newest first
    clock.now += 10
    await inbox.send(3, "answered")
    waiting = ConversationFilter(waiting_only=True, order="waiting")
    assert [c.id for c in await inbox.conversations(waiting)] == [1, 2, 4, 5]
    assert await inbox.count(waiting) == 4
    assert await inbox.position(4, waiting) == 2
    assert await inbox.position(3) == 0  # the reply made it the most recent
    page = await inbox.conversations(offset=2, limit=2)
    assert [c.id for c in page] == [4, 2]


async def test_several_counts_and_a_position_in_one_statement(inbox: Inbox) -> None:
    clock = inbox.test_clock  # type: ignore[attr-defined]
    for n in range(6):
        clock.now += 10 if n % 2 else 0  # ties on the time: the id decides
        await inbox.store.inbound.ingest(inbound(n, chat=f"c{n}"))
    await inbox.send(3, "answered")
    await inbox.set_status(2, Status.RESOLVED)
    await inbox.assign(5, "anna")
    failed = await inbox.send(6, "will fail")
    await inbox.store.outbox.mark_failed(failed.id, "blocked")
    filters = [ConversationFilter(), ConversationFilter(waiting_only=True, order="waiting"),
               ConversationFilter(failed_only=True), ConversationFilter(assignee="anna"),
               ConversationFilter(statuses=frozenset({Status.OPEN}), unassigned=True)]
    statements: list[str] = []
    inbox.store.db.trace(lambda connection, sql: statements.append(sql))
    for listed in filters:
        for conversation_id in range(1, 8):  # 7: no such dialog
            counts, position = await inbox.counts(filters, conversation_id, listed)
            assert counts == [await inbox.count(flt) for flt in filters]
            assert position == await inbox.position(conversation_id, listed)
    inbox.store.db.trace(None)
    assert counts == [6, 4, 1, 1, 4]
    assert await inbox.counts(filters) == (counts, None)
    assert len([sql for sql in statements if "x.id" in sql]) == 5 * 7  # one each


async def test_search_is_prefix_case_insensitive_and_literal(inbox: Inbox) -> None:
    await inbox.store.inbound.ingest(inbound(1, body="Привет, где мой ЗАКАЗ номер 5?"))
    await inbox.store.inbound.ingest(inbound(2, body="delivery NEAR Moscow"))
    await inbox.store.inbound.ingest(inbound(3, body='quote " and * and NEAR( are text'))
    [hit] = await inbox.search("заказ")
    assert f"{MATCH_START}ЗАКАЗ{MATCH_END}" in hit.snippet
    assert [h.message_id for h in await inbox.search("зак номе")] == [hit.message_id]
    assert len(await inbox.search('NEAR( "')) == 2
    assert await inbox.search("   ") == []


async def test_messages_page_backwards(inbox: Inbox) -> None:
    for n in range(250):
        await inbox.store.inbound.ingest(inbound(n, body=f"line {n}"))
    conv = (await inbox.conversations())[0]
    newest = await inbox.messages(conv.id)
    assert [m.body for m in newest][-1] == "line 249" and len(newest) == 100
    older = await inbox.messages(conv.id, before_id=newest[0].id)
    assert older[-1].id == newest[0].id - 1
    after = await inbox.messages_after(conv.id, newest[-2].id)
    assert [m.body for m in after] == ["line 249"]


async def test_events_are_append_only_and_messages_never_deleted(tmp_path: Path,
                                                                inbox: Inbox) -> None:
    await inbox.store.inbound.ingest(inbound(1))
    with pytest.raises(integrity_error(), match="append-only"):
        raw(tmp_path, "DELETE FROM events")
    with pytest.raises(integrity_error(), match="append-only"):
        raw(tmp_path, "UPDATE events SET kind = 'x'")
    with pytest.raises(integrity_error(), match="never deleted"):
        raw(tmp_path, "DELETE FROM messages")
    assert raw(tmp_path, "SELECT count(*) FROM events") != [(0,)]


async def test_health_changes_are_events_once(inbox: Inbox) -> None:
    await inbox.store.channels.set_health("demo", Health.DOWN, "network unreachable")
    await inbox.store.channels.set_health("demo", Health.DOWN, "network unreachable")
    [channel] = await inbox.channels()
    assert channel.health == Health.DOWN and channel.health_detail == "network unreachable"
    kinds = [e.kind for e in await inbox.store.events.events_after(0)]
    assert kinds.count("channel.health") == 1


async def test_changes_follow_own_commits_at_once(inbox: Inbox) -> None:
    feed = inbox.changes()
    first = asyncio.ensure_future(feed.__anext__())
    await asyncio.sleep(0.01)
    await inbox.store.inbound.ingest(inbound(1))
    events = await asyncio.wait_for(first, 1.0)
    assert [e.kind for e in events] == ["conversation.new", "message.new"]
    await feed.aclose()


async def test_waiting_ends_on_resolve_and_restarts_on_the_next_message(inbox: Inbox) -> None:
    clock = inbox.test_clock  # type: ignore[attr-defined]
    got = await inbox.store.inbound.ingest(inbound(1))
    await inbox.set_status(got.conversation_id, Status.RESOLVED)
    assert await inbox.waiting_count() == 0
    clock.now += 72 * 3600
    await inbox.store.inbound.ingest(inbound(2))
    conv = await inbox.conversation(got.conversation_id)
    assert conv is not None and conv.waiting_since == clock.now  # not 72 hours ago


async def test_a_late_older_message_does_not_replace_the_newer_state(inbox: Inbox) -> None:
    clock = inbox.test_clock  # type: ignore[attr-defined]
    got = await inbox.store.inbound.ingest(inbound(1, body="first"))
    clock.now += 60
    await inbox.send(got.conversation_id, "answered")
    await inbox.store.inbound.ingest(inbound(2, body="sent long ago", sent_at=clock.now - 3600))
    conv = await inbox.conversation(got.conversation_id)
    assert conv is not None
    assert (conv.preview, conv.waiting_since) == ("answered", None)
    assert conv.unread == 1  # still counted, still stored


async def test_meta_edits_and_labels_from_a_transport(inbox: Inbox) -> None:
    first = await inbox.store.inbound.ingest(inbound(1, body="see you at 5"))
    edit = await inbox.store.inbound.ingest(inbound(
        "1:e1", body="see you at 6", edit_of_external_id="m1",
        meta={"forwarded_from": "Oleg", "entities": [[0, 3, "bold"]]},
        labels=("callback", "  call\x1fback\x07 ", "Callback")))
    original = await inbox.message(first.message_id)
    edited = await inbox.message(edit.message_id)
    assert original is not None and original.body == "see you at 5"  # kept as it was
    assert edited is not None and edited.edit_of_id == first.message_id
    assert edited.meta == {"forwarded_from": "Oleg", "entities": [[0, 3, "bold"]]}
    assert len({edited, original}) == 2  # the UI keeps messages in sets and caches
    conversation = await inbox.conversation(edit.conversation_id)
    # Names are cleaned of controls; the same name in another case is the same label.
    assert conversation is not None and conversation.labels == ("call back", "callback")
    events = await inbox.store.events.events_after(0)
    assert [e.data["added"] for e in events if e.kind == "conversation.label"] == [
        "callback", "call back"]


@pytest.mark.sqlite_only
async def test_a_database_of_schema_1_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from opchat.store.schema import MIGRATIONS, _statements

    conn = sqlite3.connect(tmp_path / "opchat.db")
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO channels (name, kind, created_at) VALUES ('web', 'webchat', 0)")
    conn.commit()
    conn.close()
    box = await Inbox.open(tmp_path, "anna")
    try:
        got = await box.store.inbound.ingest(inbound(1, labels=("vip",)))
        conversation = await box.conversation(got.conversation_id)
        assert conversation is not None and conversation.labels == ("vip",)
        assert [c.name for c in await box.channels()] == ["demo", "web"]
    finally:
        await box.close()


async def test_later_details_fill_the_contact_and_refresh_the_profile(inbox: Inbox) -> None:
    first = await inbox.store.inbound.ingest(inbound(1, profile={"page": "/", "language": "ru"}))
    await inbox.store.inbound.ingest(inbound(2, email="vera@example.com", phone="+7 900 000-00-01",
                                             profile={"page": "/pricing"}))
    await inbox.store.inbound.ingest(inbound(3, email="other@example.com"))  # never overwrites

    def read(conn):  # type: ignore[no-untyped-def]
        contact = conn.execute("SELECT phone, email FROM contacts").fetchone()
        profile = conn.execute("SELECT profile FROM identities").fetchone()[0]
        return tuple(contact), profile

    contact, profile = await inbox.store.db.read(read)
    assert contact == ("+7 900 000-00-01", "vera@example.com")
    import json

    assert json.loads(profile) == {"page": "/pricing", "language": "ru"}
    assert first.conversation_id


@pytest.mark.sqlite_only
async def test_upgrading_makes_dialogs_whose_last_reply_failed_wait_again(
        tmp_path: Path) -> None:
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    conv = (await inbox.store.inbound.ingest(inbound(1))).conversation_id
    clock.now += 60
    reply = await inbox.send(conv, "hi")
    await inbox.store.outbox.mark_failed(reply.id, "blocked")
    await inbox.close()
    # The same store as schema 5 left it: the failed reply made the dialog look answered.
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.executescript("UPDATE conversations SET waiting_since = NULL; "
                       "DROP INDEX conversations_failed; "
                       "ALTER TABLE conversations DROP COLUMN failed_message_id; "
                       "ALTER TABLE channels DROP COLUMN capabilities; "
                       "ALTER TABLE conversations DROP COLUMN last_inbound_at; "
                       "DROP TABLE early_receipts; DROP TABLE templates; "
                       "DROP TABLE stats_facts; DROP TABLE stats_meta; DROP TABLE ratings; "
                       "DROP TABLE webhook_deliveries; DROP TABLE webhook_state; "
                       "DROP TABLE api_tokens; "
                       "DROP INDEX conversations_round; DROP TABLE stats_days; "
                       "DROP TABLE stats_hours; DROP TABLE file_contents; "
                       "ALTER TABLE attachments DROP COLUMN sha256; "
                       "ALTER TABLE conversations DROP COLUMN rating_asked_at; "
                       + "".join(f"ALTER TABLE conversations DROP COLUMN stats_{c}; "
                                 for c in ("round_start", "waiting_start", "responded", "rounds"))
                       + "PRAGMA user_version = 5;")
    conn.close()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        upgraded = await inbox.conversation(conv)
        assert upgraded is not None and upgraded.failed_message_id == reply.id
        assert upgraded.waiting_since == clock.now - 60
        assert upgraded.last_inbound_at == clock.now - 60  # filled from the messages
        assert await inbox.waiting_count() == 1
        # The figures of the time before: rebuilt from the events log when first read.
        [figures] = await inbox.store.stats.figures(0, clock.now + 1)
        assert (figures.count("started"), figures.spread("first_response").median) == (1, 60)
    finally:
        await inbox.close()


async def test_the_statements_of_both_connections_can_be_traced(inbox: Inbox) -> None:
    seen: list[tuple[str, str]] = []
    inbox.store.db.trace(lambda connection, sql: seen.append((connection, sql)))
    await inbox.store.inbound.ingest(inbound(1))
    await inbox.conversations()
    inbox.store.db.trace(None)
    await inbox.store.inbound.ingest(inbound(2))  # after None: not traced
    assert any(c == "writer" and s.startswith("BEGIN") for c, s in seen)
    assert any(c == "writer" and s.startswith("INSERT INTO messages") for c, s in seen)
    assert any(c == "reader" and s.startswith("SELECT") for c, s in seen)
    assert not any("'m2'" in s for _, s in seen)


async def test_a_customer_who_may_not_be_written_to_is_labelled_until_they_may(
        inbox: Inbox) -> None:
    got = await inbox.store.inbound.ingest(inbound(1, chat="c9"))
    elsewhere = inbox.store.elsewhere
    assert await elsewhere.reachable("demo", "c9", False, "blocked")
    conversation = await inbox.conversation(got.conversation_id)
    assert conversation is not None and conversation.labels == ("blocked",)
    assert await elsewhere.reachable("demo", "c9", True, "blocked")
    conversation = await inbox.conversation(got.conversation_id)
    assert conversation is not None and conversation.labels == ()
    assert not await elsewhere.reachable("demo", "nobody", False, "blocked")
    kinds = [e.kind for e in await inbox.store.events.events_after(0)
             if e.kind == "conversation.label"]
    assert kinds == ["conversation.label", "conversation.label"]
