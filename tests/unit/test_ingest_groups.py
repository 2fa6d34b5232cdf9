"""A group of inbound messages written in multi-row statements (store/inbound.py's
`_Group`) writes what one message at a time writes: the same rows, ids and events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opchat.inbox import Inbox
from opchat.model import Attachment, InboundMessage, Status
from opchat.store.sql import Conn
from tests.backends import on_postgres

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def msg(n: str, chat: str, name: str = "Ivan", **kw: Any) -> InboundMessage:
    return InboundMessage(channel="demo", chat_id=chat, external_id=n,
                          sender_id=f"u-{chat}", sender_name=name,
                          body=kw.pop("body", f"text {n}"), **kw)


async def _open(path: Path, clock: Clock, url: str | None) -> Inbox:
    path.mkdir()
    box = await Inbox.open(path, "anna", clock=clock, database_url=url)
    await box.store.channels.ensure("demo", "demo")
    return box


@pytest.fixture
async def two(tmp_path: Path, request: pytest.FixtureRequest
              ) -> AsyncIterator[tuple[Inbox, Inbox, Clock]]:
    """Two stores of the test's backend with the same clock: one written in groups, the
    other one message at a time."""
    clock = Clock()
    other = request.getfixturevalue("postgres").database() if on_postgres() else None
    a = await _open(tmp_path / "a", clock, None)
    b = await _open(tmp_path / "b", clock, other)
    yield a, b, clock
    await a.close()
    await b.close()


async def _sql(box: Inbox, sql: str, params: tuple[Any, ...] = ()) -> None:
    def run(conn: Conn) -> None:
        conn.execute(sql, params)

    await box.store.db.write(run)


TABLES = {  # each table's rows in a stable order
    "contacts": "id", "identities": "id", "conversations": "id", "messages": "id",
    "attachments": "id", "events": "id", "labels": "id",
    "conversation_labels": "conversation_id, label_id", "ratings": "id",
    "stats_facts": "at, event_id, kind", "stats_days": "day, channel_id, operator, kind",
    "stats_hours": "hour, kind",
}


async def _rows(box: Inbox) -> dict[str, list[tuple[Any, ...]]]:
    # The figures' days and hours follow the commits (store/rollup.py), riding a later
    # write or alone a moment later: caught up here, so both stores are compared whole.
    await box.store.stats.catch_up_or_log()

    def run(conn: Conn) -> dict[str, list[tuple[Any, ...]]]:
        return {table: [tuple(r) for r in conn.execute(
                    f"SELECT * FROM {table} ORDER BY {order}").fetchall()]
                for table, order in TABLES.items()}

    return await box.store.db.read(run)


async def _unread(box: Inbox) -> int:
    def run(conn: Conn) -> int:
        return conn.execute("SELECT sum(unread) FROM conversations").fetchone()[0]

    return await box.store.db.read(run)


async def _prepare(box: Inbox, clock: Clock) -> dict[str, int]:
    """Dialogs in every state a customer's message can find them in."""
    clock.now = T0
    ids = {}
    for chat in ("open", "resolved", "snoozed", "hidden", "answered", "rated", "late"):
        got = await box.store.inbound.ingest(msg(f"s-{chat}", chat))
        ids[chat] = got.conversation_id
    await box.set_status(ids["resolved"], Status.RESOLVED)
    await box.snooze(ids["snoozed"], T0 + 5000)
    await box.hide_conversation(ids["hidden"])
    clock.now = T0 + 30
    await box.send(ids["answered"], "We are on it")
    await box.set_status(ids["rated"], Status.RESOLVED)
    await _sql(box, "UPDATE conversations SET rating_asked_at = ? WHERE id = ?",
               (T0 + 40, ids["rated"]))
    clock.now = T0 + 100
    await box.store.inbound.ingest(msg("s-late-2", "late"))  # its last message at T0+100
    clock.now = T0 + 200
    return ids


# Every kind of message a group meets, in one group: new and known senders and dialogs,
# the same dialog again, duplicates within the group and of earlier ones, dialogs
# resolved, snoozed and hidden, a message older than its dialog's last, attachments, and
# the messages written alone between the group's parts (a new username, an edit, a reply,
# labels, a rating, a phone or e-mail or profile for a known sender, a rating in meta).
GROUP = [
    msg("g0", "answered", sent_at=T0 + 10),  # older than the reply: nobody waits
    msg("g1", "new1", "Olga"),
    msg("g2", "open"),
    msg("g3", "new1", "Olga"),
    msg("g1", "new1", "Olga"),
    msg("s-open", "open"),
    msg("g4", "resolved"),
    msg("g5", "snoozed"),
    msg("g6", "hidden"),
    msg("g7", "late", sent_at=T0 + 20),
    msg("g8", "answered", body="", attachments=(Attachment("photo", ref="f1"),
                                                Attachment("document", "a.pdf", ref="f2"))),
    msg("g9", "open", username="ivan_new"),
    msg("g10", "open"),
    msg("g11", "new1", "Olga", body="text g3, corrected", edit_of_external_id="g3"),
    msg("g12", "new1", "Olga", labels=("vip",)),
    msg("g13", "rated", body="5"),
    msg("g14", "new3", "Pavel", phone="+7 900 000-00-00"),
    msg("g15", "new3", "Pavel", email="pavel@example.com"),
    msg("g16", "new3", "Pavel", meta={"rating": 3}),
    msg("g17", "answered", reply_to_external_id="g8"),
    msg("g18", "open", sent_at=T0 + 300),
    msg("g19", "new4", "Boris", profile={"page": "/a"}),
    msg("g20", "new4", "Boris", profile={"page": "/b"}),
    msg("g21", "new1", "Olga"),
    msg("g6", "hidden"),
    msg("g22", "hidden"),
    msg("g23", "new5", "Lena", sent_at=int(T0) + 150),  # a platform's whole seconds
    msg("g24", "late", sent_at=int(T0) + 160),
    replace(msg("g25", "new6", "Lena"), sender_id="u-new5"),  # her second dialog
    replace(msg("g26", "open", "Ivan"), sender_id="u-new7"),  # a new sender, a known dialog
]


async def test_a_group_writes_what_one_message_at_a_time_writes(
        two: tuple[Inbox, Inbox, Clock]) -> None:
    grouped, alone, clock = two
    assert await _prepare(grouped, clock) == await _prepare(alone, clock)
    assert await _rows(grouped) == await _rows(alone)

    got = await grouped.store.inbound.ingest_batch(GROUP)
    # The other store: each message by `_ingest_one`, in a savepoint of its own.
    want = await alone.store.db.write(alone.store.inbound._ingest_rows, GROUP, None, {}, True)
    assert got == want
    assert [r.duplicate for r in got].count(True) == 3
    mine, theirs = await _rows(grouped), await _rows(alone)
    for table in TABLES:
        assert mine[table] == theirs[table], table
    # And what that is: ids ascending in the messages' order; each message's events
    # in its order, and the events of the group in the messages' order.
    new_ids = [r.message_id for r in got if not r.duplicate]
    assert new_ids == sorted(new_ids) and len(set(new_ids)) == len(new_ids)
    events = [(kind, m) for _id, _at, kind, _c, m, *_ in mine["events"] if m in new_ids
              and kind == "message.new"]
    assert [m for _kind, m in events] == new_ids
    kinds = [row[2] for row in mine["events"]]
    olga = got[1].message_id  # the first message of a new dialog
    first_new = next(i for i, row in enumerate(mine["events"]) if row[4] == olga)
    assert kinds[first_new - 1:first_new + 1] == ["conversation.new", "message.new"]
    assert "conversation.unhidden" in kinds and "contact.changed" in kinds
    assert kinds.count("conversation.status") >= 4  # two set here, two reopened by the group


async def test_a_group_of_fifty_takes_a_dozen_statements(two: tuple[Inbox, Inbox, Clock]
                                                         ) -> None:
    box, _other, clock = two
    await _prepare(box, clock)
    unread = await _unread(box)
    statements: list[str] = []
    group = [msg(f"n{k}", ("open", "resolved", "hidden", f"fresh{k % 7}")[k % 4])
             for k in range(50)]
    box.store.db.trace(lambda name, sql: statements.append(sql) if name == "writer" else None)
    try:
        # On SQLite the first caller, with nothing under way, is written at once and
        # alone; the fifty arrive while it is, and are written together after it. On
        # PostgreSQL all are written together on the loop's next turn.
        [_first, *results] = await asyncio.gather(
            *(box.store.inbound.ingest(m) for m in [msg("n-first", "open"), *group]))
    finally:
        box.store.db.trace(None)
    begins = [i for i, sql in enumerate(statements) if sql.startswith("BEGIN")]
    assert len(begins) == (1 if on_postgres() else 2), begins
    statements = statements[begins[-1]:]
    # SQLite's trace also names what triggers and FTS5 run inside each statement (and
    # the statement again for each row its trigger runs for); on SQLite the dialogs
    # are updated one statement each (store/inbound.py says why): counted once here.
    ours = [s for s in statements if not s.startswith(("--", "PRAGMA"))
            and "_fts" not in s.split("(")[0]]
    written = [s for i, s in enumerate(ours) if i == 0 or s != ours[i - 1]]
    # BEGIN (and the write lock), the look-up, contacts, identities, dialogs, messages,
    # events, facts, days, hours, the dialogs' UPDATE, COMMIT: whatever the group's size.
    assert len(written) <= 14, written
    ids = [r.message_id for r in results]
    assert ids == sorted(ids)
    convs = {c.id: c for c in await box.conversations()}
    assert len(convs) == 7 + 7  # the hidden one shown again
    assert await _unread(box) == unread + 51


async def test_duplicates_within_a_group_and_across_groups(
        two: tuple[Inbox, Inbox, Clock]) -> None:
    box, _other, _clock = two
    first = await box.store.inbound.ingest_batch([msg("a", "c1"), msg("b", "c2")])
    again = await asyncio.gather(
        box.store.inbound.ingest(msg("b", "c2")), box.store.inbound.ingest(msg("c", "c1")),
        box.store.inbound.ingest(msg("c", "c1")), box.store.inbound.ingest(msg("a", "c1")))
    assert [r.duplicate for r in again] == [True, False, True, True]
    assert again[0].message_id == first[1].message_id
    assert again[2].message_id == again[1].message_id
    assert again[3].message_id == first[0].message_id
    assert {r.conversation_id for r in again} == {r.conversation_id for r in first}
    convs = {c.id: c for c in await box.conversations()}
    assert convs[first[0].conversation_id].unread == 2
    assert convs[first[1].conversation_id].unread == 1
    events = await box.store.events.events_after(0)
    assert [e.message_id for e in events if e.kind == "message.new"] == [
        first[0].message_id, first[1].message_id, again[1].message_id]


async def test_one_bad_message_in_a_group_loses_none_of_the_others(
        two: tuple[Inbox, Inbox, Clock]) -> None:
    box, _other, _clock = two
    await box.store.inbound.ingest(msg("k0", "known"))
    group = [msg("k1", "known"), msg("n1", "new"), msg("bad", "new", meta={"x": {1}}),
             msg("n2", "new"), msg("k2", "known")]
    results = await box.store.inbound.ingest_batch(group, cursor=("demo", "7"))
    assert [r.skipped is None for r in results] == [True, True, False, True, True]
    assert await box.store.channels.cursor("demo") == "7"
    convs = {c.id: c for c in await box.conversations()}
    assert convs[results[0].conversation_id].unread == 3
    assert convs[results[1].conversation_id].unread == 2
    events = [(e.kind, e.message_id) for e in await box.store.events.events_after(0)]
    assert events[2:] == [("message.new", results[0].message_id),
                          ("conversation.new", None), ("message.new", results[1].message_id),
                          ("message.new", results[3].message_id),
                          ("message.new", results[4].message_id)]
    # The figures count what was stored, as rebuilding them from the events does.
    report = await box.store.stats.report(0, 2e9)
    assert report.whole is not None and report.whole.counts["in"] == 5
    assert await box.store.stats.rebuild() > 0
    assert await box.store.stats.report(0, 2e9) == report


async def test_a_group_follows_a_dialog_that_changes_state_within_it(
        two: tuple[Inbox, Inbox, Clock]) -> None:
    box, _other, clock = two
    first = await box.store.inbound.ingest(msg("x0", "c"))
    await box.set_status(first.conversation_id, Status.RESOLVED)
    clock.now = T0 + 10
    # Older than the dialog's last message, then newer: the preview is the newer one's,
    # the dialog reopened once, its round begun again once.
    results = await box.store.inbound.ingest_batch([
        replace(msg("x1", "c", body="late"), sent_at=T0 - 50),
        msg("x2", "c", body="latest"), msg("x3", "c", body="last")])
    conv = await box.conversation(first.conversation_id)
    assert conv is not None
    assert conv.status == Status.OPEN and conv.unread == 4 and conv.preview == "last"
    assert conv.waiting_since == T0 - 50  # the first message after the resolution
    events = await box.store.events.events_after(0)
    reopened = [e for e in events if e.kind == "conversation.status"
                and e.data.get("to") == "open"]
    assert len(reopened) == 1 and reopened[0].id > next(
        e.id for e in events if e.message_id == results[0].message_id)
    report = await box.store.stats.report(0, 2e9)
    assert report.whole is not None
    assert report.whole.counts.get("reopened") == 1 and report.whole.counts["in"] == 4
