"""The figures' roll-up follows the commits in groups (migration 16), and the figures read
what it does not hold yet, so they never lag nor count a fact twice."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import opchat.store.later as later_module
from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from opchat.store import DB_FILENAME, Store, rollup, stats
from opchat.store.db import Database
from tests.channels import holds, until

BACKENDS = True  # on SQLite and on PostgreSQL (tests/conftest.py), unless marked

T0 = 1_698_000_000.0
DAYS = 12


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def message(n: int, chat: str, sent_at: float | None = None) -> InboundMessage:
    return InboundMessage(channel="tg", chat_id=chat, external_id=f"m{n}", sender_id=chat,
                          sender_name=chat, body="hi", sent_at=sent_at)


async def meta(db: Any) -> tuple[int, int, list[tuple], list[tuple]]:
    """(rolled_upto, the last event, the days' rows, the hours' rows)."""

    def run(conn: Any) -> tuple[int, int, list[tuple], list[tuple]]:
        upto = conn.execute("SELECT value FROM stats_meta WHERE key = 'rolled_upto'").fetchone()
        last = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        days = sorted((*r[:5], bytes(r[6]) if r[6] is not None else None, r[5])
                      for r in conn.execute("SELECT day, channel_id, operator, kind, n, total, "
                                            "buckets FROM stats_days"))
        hours = sorted(tuple(r) for r in conn.execute("SELECT hour, kind, n FROM stats_hours"))
        return int(upto[0]), last, days, hours

    return await db.read(run)


def same_rows(a: list[tuple], b: list[tuple]) -> bool:
    """The days' rows alike, their sums of seconds to the float's precision."""
    return len(a) == len(b) and all(
        x[:6] == y[:6] and x[6] == pytest.approx(y[6], rel=1e-9) for x, y in zip(a, b, strict=True))


def read_only(tmp_path: Path) -> Any:
    url = os.environ.get("OPCHAT_DATABASE_URL")
    if url:
        from opchat.store.pg import PgDatabase

        return PgDatabase(url, read_only=True)
    return Database(tmp_path / DB_FILENAME, read_only=True)


async def busy_days(inbox: Inbox, clock: Clock, until_day: float = DAYS) -> None:
    """Messages in (written a minute before they arrive, some of them days before),
    answers and resolutions until ``until_day``: every kind of fact, in past days too."""
    n = int(clock.now - T0)
    while clock.now < T0 + until_day * 86400:
        for chat in ("a", "b", "c"):
            clock.now += 3000
            n += 1
            late = 3 * 86400 if n % 11 == 0 else 60
            got = await inbox.store.inbound.ingest(message(n, chat, clock.now - late))
            clock.now += 40 * (n % 7)
            await inbox.send(got.conversation_id, "hello")
            if n % 5 == 0:
                await inbox.set_status(got.conversation_id, Status.RESOLVED)
        clock.now += 20_000


async def same_as_exact(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollup, "EXACT_UP_TO", 0)  # read the roll-up however few
    start, end = T0 + 0.4 * 86400, T0 + (DAYS - 0.3) * 86400
    for by in (None, "channel", "operator"):
        rolled = await db.read(stats.figures, start, end, by)
        exact = await db.read(stats.figures, start, end, by, None, None, False)
        assert [(f.key, f.counts) for f in rolled] == [(f.key, f.counts) for f in exact]
        for r, e in zip(rolled, exact, strict=True):
            for kind, spread in e.durations.items():
                assert r.durations[kind].count == spread.count
                assert r.durations[kind].mean == pytest.approx(spread.mean)
    r = await db.read(stats.report, start, end)
    e = await db.read(stats.report, start, end, None, None, False)
    assert (r.by_hour, r.by_day) == (e.by_hour, e.by_day)
    assert r.whole is not None and e.whole is not None and r.whole.counts == e.whole.counts


async def test_the_figures_count_what_is_not_rolled_up_yet_once(
        tmp_path: Path, no_catch_up_by_itself: None, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    db = inbox.store.db
    try:
        await inbox.store.channels.ensure("tg", "telegram")
        await busy_days(inbox, clock, DAYS / 2)
        upto, last, days, hours = await meta(db)
        assert upto == 0 and last > 50 and days == [] and hours == []  # none in the commits
        await inbox.store.stats.catch_up_or_log()
        half = await meta(db)
        assert half[0] == half[1] and half[2] and half[3]

        await busy_days(inbox, clock)  # the other half: facts the rows lack, in whole days
        upto, last, days, hours = await meta(db)
        assert upto == half[0] < last and (days, hours) == half[2:]
        await same_as_exact(db, monkeypatch)  # the rows and what they lack

        await inbox.store.stats.catch_up_or_log()
        upto, last, days, hours = await meta(db)
        assert upto == last and days != half[2]
        await same_as_exact(db, monkeypatch)  # now from the rows, not twice

        # What the rows hold is what filling them from every fact gives.
        await db.write(stats.roll_up)
        filled = await meta(db)
        assert same_rows(filled[2], days) and filled[3] == hours
    finally:
        await inbox.close()


async def test_a_message_s_figures_ride_a_later_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(later_module, "DELAY", 0.01)
    monkeypatch.setattr(later_module, "ALONE", 3600.0)
    store = await Store.open(tmp_path)
    try:
        await store.channels.ensure("tg", "telegram")
        # Nothing waiting to ride (on PostgreSQL any commit, this one too, may bring
        # facts): the first message's commit is the one that asks for it.
        await store.stats.catch_up_or_log()
        await store.inbound.ingest(message(1, "a"))
        first = (await meta(store.db))[1]
        await until(lambda: holds(store.stats.later._ride_soon is None),
                    "the roll-up was never asked for", 10.0)
        assert (await meta(store.db))[0] < first
        begins: list[str] = []
        store.db.trace(lambda _conn, sql: begins.append(sql) if sql.startswith("BEGIN") else None)
        await store.inbound.ingest(message(2, "b"))
        store.db.trace(None)
        assert len(begins) == 1  # no transaction of its own
        assert (await meta(store.db))[0] >= first
    finally:
        await store.close()


async def test_a_process_gone_before_rolling_up_loses_no_figure(
        tmp_path: Path, no_catch_up_by_itself: None, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("tg", "telegram")
    await busy_days(inbox, clock)
    await inbox.store.inbound.drain()
    upto, last, _days, _hours = await meta(inbox.store.db)
    assert upto < last
    await inbox.store.db.close()  # gone without closing the store, which would roll up

    # A read-only store (a backup copy) cannot roll up, and reads the figures whole.
    db = read_only(tmp_path)
    await db.open()
    try:
        await same_as_exact(db, monkeypatch)
    finally:
        await db.close()

    store = await Store.open(tmp_path)  # the next process rolls up as it opens
    try:
        upto, last, _days, _hours = await meta(store.db)
        assert upto == last
        await same_as_exact(store.db, monkeypatch)
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_a_store_from_before_keeps_its_figures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("tg", "telegram")
    await busy_days(inbox, clock)
    await inbox.close()  # rolled up
    # The store as schema 15 left it: a roll-up written with each fact, no mark.
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.executescript("DELETE FROM stats_meta WHERE key = 'rolled_upto'; "
                       "PRAGMA user_version = 15;")
    conn.close()
    store = await Store.open(tmp_path)
    try:
        upto, last, _days, _hours = await meta(store.db)
        assert upto == last  # all of it, as it was
        await same_as_exact(store.db, monkeypatch)
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_a_copy_to_postgresql_carries_what_the_file_had_not_rolled_up(
        tmp_path: Path, postgres, no_catch_up_by_itself: None,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat.store.copy import copy_to_postgres

    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("tg", "telegram")
    await busy_days(inbox, clock, DAYS / 2)
    await inbox.store.stats.catch_up_or_log()
    await busy_days(inbox, clock)
    await inbox.store.inbound.drain()
    upto, last, _days, _hours = await meta(inbox.store.db)
    assert 0 < upto < last
    await inbox.store.db.close()  # the second half's facts not rolled up

    target = postgres.server.create_database()
    await asyncio.to_thread(copy_to_postgres, tmp_path / DB_FILENAME, target,
                            lambda _table, _done, _all: None)
    monkeypatch.setenv("OPCHAT_DATABASE_URL", target)
    copy = read_only(tmp_path)
    await copy.open()
    try:  # as the file left it, and the figures whole
        assert (await meta(copy))[:2] == (upto, last)
        await same_as_exact(copy, monkeypatch)
    finally:
        await copy.close()
    store = await Store.open(tmp_path)
    try:  # and the first process to open it rolls up
        assert (await meta(store.db))[0] == last
        await same_as_exact(store.db, monkeypatch)
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_the_facts_not_rolled_up_are_found_each_by_its_key(tmp_path: Path) -> None:
    """A group of messages shares its time: a fact looked up by its time and a range of
    event ids would scan the whole group for each event (seen: 378 ms for 2,600 events)."""
    store = await Store.open(tmp_path)
    try:
        traced: list[str] = []

        def plan(conn: Any) -> None:
            real = conn.execute

            def explain(sql: str, params: Any = ()) -> Any:
                if "stats_facts f" in sql:
                    traced.extend(r[3] for r in real(f"EXPLAIN QUERY PLAN {sql}", params))
                return real(sql, params)

            class Explaining:
                execute = staticmethod(explain)

            rollup._facts_after(Explaining(), 0, 10)  # type: ignore[arg-type]

        await store.db.read(plan)
        searches = [line for line in traced if "SEARCH f" in line]
        assert len(searches) == 2
        assert all("(at=? AND event_id=?)" in line for line in searches), traced
    finally:
        await store.close()


async def test_work_riding_a_write_that_fails_is_undone_and_the_write_commits(
        tmp_path: Path, no_catch_up_by_itself: None, caplog: pytest.LogCaptureFixture) -> None:
    store = await Store.open(tmp_path)
    try:
        await store.channels.ensure("tg", "telegram")
        before = (await meta(store.db))[0]

        def rider(conn: Any) -> None:
            conn.execute("UPDATE stats_meta SET value = '-1' WHERE key = 'rolled_upto'")
            raise ValueError("a rider's bug")

        store.db.ride_next_write(rider)
        got = await store.inbound.ingest(message(1, "a"))
        assert got.message_id > 0  # the write it rode went through
        upto, last, _days, _hours = await meta(store.db)
        assert upto == before < last  # the rider's change was undone
        assert "a rider's bug" in caplog.text
    finally:
        await store.close()
