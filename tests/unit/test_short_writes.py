"""`Database.write_short`: a short transaction runs on the event loop's own thread when
the writer is free, and waits on the writer's thread (never on the loop) when it is not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from opchat.store import Database
from opchat.store.db import BUSY_TIMEOUT_MS
from tests.channels import holds, until


def add_label(conn: sqlite3.Connection, name: str) -> str:
    conn.execute("INSERT INTO labels (name, created_at) VALUES (?, 0)", (name,))
    return threading.current_thread().name


def busy_timeout(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA busy_timeout").fetchone()[0]


def labels(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM labels ORDER BY id")]


class SlowWrite:
    """A write that holds the writer's thread until ``release`` is set."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> str:
        self.started.set()
        self.release.wait(30)
        return add_label(conn, "slow")

    async def under_way(self, db: Database) -> asyncio.Task[str]:
        task = asyncio.create_task(db.write(self))
        await until(lambda: holds(self.started.is_set()), "the slow write under way")
        return task


async def opened(tmp_path: Path) -> Database:
    db = Database(tmp_path / "opchat.db")
    await db.open()
    return db


async def test_a_short_write_with_the_writer_free_runs_on_the_loops_thread(
        tmp_path: Path) -> None:
    db = await opened(tmp_path)
    commits: list[str] = []
    db.on_commit(lambda: commits.append("committed"))
    try:
        ran_on = await db.write_short(add_label, "short")
        assert ran_on == threading.current_thread().name
        assert commits == ["committed"]  # the followers hear of it as of any commit
        assert await db.read(labels) == ["short"]  # committed, seen by the reader
        assert (await db.write(add_label, "long")).startswith("opchat-db-write")
    finally:
        await db.close()


async def test_a_short_write_queues_behind_work_on_the_writers_thread(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    slow = SlowWrite()

    try:
        first = await slow.under_way(db)
        second = asyncio.create_task(db.write_short(add_label, "short"))
        await asyncio.sleep(0)  # it has started, and must not have touched the connection
        slow.release.set()
        assert (await first).startswith("opchat-db-write")
        assert (await second).startswith("opchat-db-write")
        assert await db.read(labels) == ["slow", "short"]
        # The writer's thread is free again: the next short write runs here.
        assert await db.write_short(add_label, "after") == threading.current_thread().name
    finally:
        slow.release.set()
        await db.close()


async def test_another_process_writing_makes_it_wait_off_the_loop(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    other = sqlite3.connect(tmp_path / "opchat.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write lock
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        waiting = asyncio.create_task(db.write_short(add_label, "waited"))
        # The loop keeps running while the short write waits for the lock.
        await until(lambda: holds(ticks >= 20), "the event loop running meanwhile")
        assert not waiting.done()
        other.execute("COMMIT")
        assert (await waiting).startswith("opchat-db-write")
        ticker.cancel()
        assert await db.read(labels) == ["waited"]
        # Free again: on the loop's thread, where it fails at once if locked; the
        # writer's thread still waits for a lock rather than failing.
        assert await db.write_short(add_label, "here") == threading.current_thread().name
        assert await db.write(busy_timeout) == BUSY_TIMEOUT_MS
        assert await db.write_short(busy_timeout) == 0
        assert await db.read(labels) == ["waited", "here"]
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        await db.close()


async def test_a_failing_short_write_rolls_back_whole(tmp_path: Path) -> None:
    db = await opened(tmp_path)

    def half(conn: sqlite3.Connection) -> None:
        add_label(conn, "half")
        raise ValueError("refused")

    try:
        with pytest.raises(ValueError, match="refused"):
            await db.write_short(half)
        assert await db.write_short(add_label, "whole") == threading.current_thread().name
        assert await db.read(labels) == ["whole"]
    finally:
        await db.close()


async def test_a_loop_of_short_writes_lets_other_tasks_run(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    ran = asyncio.Event()

    async def other() -> None:
        ran.set()

    try:
        asyncio.create_task(other())  # noqa: RUF006 - it is done before the test ends
        await db.write_short(add_label, "one")
        assert ran.is_set()
    finally:
        await db.close()


async def test_a_cancelled_write_still_counts_until_its_thread_is_done(tmp_path: Path) -> None:
    # The caller stopped waiting, but the transaction goes on on the writer's thread: a
    # short write must not start on the same connection meanwhile.
    db = await opened(tmp_path)
    slow = SlowWrite()

    try:
        waiting = await slow.under_way(db)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        short = asyncio.create_task(db.write_short(add_label, "short"))
        await asyncio.sleep(0)
        slow.release.set()
        assert (await short).startswith("opchat-db-write")
        assert await db.read(labels) == ["slow", "short"]
    finally:
        slow.release.set()
        await db.close()


async def test_a_write_cancelled_before_its_turn_still_runs_and_ends(tmp_path: Path) -> None:
    # Its caller stopped waiting while it was still queued behind another: it runs all
    # the same (a caller's cancellation never half-does a write), and once it has, the
    # writer is free again: short writes run on the loop's thread as before.
    db = await opened(tmp_path)
    slow = SlowWrite()
    try:
        first = await slow.under_way(db)
        queued = asyncio.create_task(db.write(add_label, "queued"))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        slow.release.set()
        await first
        await until(lambda: _has(db, "queued"), "the queued write to run")
        await until(lambda: holds(db.short_write_here()), "the writer to be free again")
        assert await db.read(labels) == ["slow", "queued"]
        assert await db.write_short(add_label, "short") == threading.current_thread().name
    finally:
        slow.release.set()
        await db.close()


async def _has(db: Database, name: str) -> bool:
    return name in await db.read(labels)
