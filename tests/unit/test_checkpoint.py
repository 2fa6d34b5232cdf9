"""The WAL is copied back into the database file by a thread of its own, not by the
writer inside a commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from opchat.store import Database
from opchat.store.db import WRITER_CHECKPOINT_PAGES, Checkpointer
from tests.channels import holds, until


def rows_in_the_file_alone(path: Path) -> int:
    """What the database file itself holds, the WAL left unread (-1: not even the table,
    whose creation is still in the WAL). Only while nothing writes the file."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM labels").fetchone()[0]
    except sqlite3.OperationalError:
        return -1
    finally:
        conn.close()


def add_label(conn: sqlite3.Connection, k: int) -> None:
    conn.execute("INSERT INTO labels (name, created_at) VALUES (?, 0)", (f"label {k}",))


async def copied_by_the_checkpointer(db: Database, commits: int) -> int:
    """Wait for the checkpointer's copy after ``commits`` commits, stop it (so that
    nothing writes the file while it is read), and count what the file alone holds."""
    checkpointer = db.checkpointer
    assert checkpointer is not None
    before = checkpointer.checkpoints
    for k in range(commits):
        await db.write(add_label, k)
    await until(lambda: holds(checkpointer.checkpoints > before), "a checkpoint", timeout=15)
    await asyncio.get_running_loop().run_in_executor(None, checkpointer.close)
    assert db.path is not None
    return rows_in_the_file_alone(db.path)


async def test_a_batch_of_commits_reaches_the_file_without_the_writer(tmp_path: Path) -> None:
    db = Database(tmp_path / "opchat.db")
    await db.open()
    try:
        assert await copied_by_the_checkpointer(db, Checkpointer.BATCH) == Checkpointer.BATCH
        # The writer's own threshold is far away: only the checkpointer can have copied
        # those pages into the file.
        writer_pages = await db.write(
            lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        assert writer_pages == WRITER_CHECKPOINT_PAGES
    finally:
        await db.close()
    assert db.checkpointer is None
    assert rows_in_the_file_alone(tmp_path / "opchat.db") == Checkpointer.BATCH  # and no more


async def test_a_single_commit_is_copied_within_its_patience(tmp_path: Path) -> None:
    db = Database(tmp_path / "opchat.db")
    await db.open()
    try:
        assert await copied_by_the_checkpointer(db, 1) == 1
    finally:
        await db.close()
