"""The WAL is copied back into the database file by a thread of its own, not by the
writer inside a commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opchat.store import Database
from opchat.store.db import WRITER_CHECKPOINT_PAGES, Checkpointer
from tests.channels import holds, until


def rows_in_the_file_alone(path: Path) -> int:
    """What the database file itself holds, the WAL left unread (-1: not even the table,
    whose creation is still in the WAL)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM labels").fetchone()[0]
    except sqlite3.OperationalError:
        return -1
    finally:
        conn.close()


def add_label(conn: sqlite3.Connection, k: int) -> None:
    conn.execute("INSERT INTO labels (name, created_at) VALUES (?, 0)", (f"label {k}",))


async def test_a_batch_of_commits_reaches_the_file_without_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "opchat.db"
    db = Database(path)
    await db.open()
    try:
        writer_pages = await db.write(
            lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        assert writer_pages == WRITER_CHECKPOINT_PAGES
        assert db.checkpointer is not None
        before = db.checkpointer.checkpoints
        for k in range(Checkpointer.BATCH):
            await db.write(add_label, k)
        # The writer's own threshold is far away: only the checkpointer can have copied
        # these pages into the file.
        await until(lambda: holds(rows_in_the_file_alone(path) == Checkpointer.BATCH),
                    "the labels in the database file", timeout=15)
        assert db.checkpointer.checkpoints > before
    finally:
        await db.close()
    assert db.checkpointer is None
    assert rows_in_the_file_alone(path) == Checkpointer.BATCH


async def test_a_single_commit_is_copied_within_its_patience(tmp_path: Path) -> None:
    path = tmp_path / "opchat.db"
    db = Database(path)
    await db.open()
    try:
        await db.write(add_label, 1)
        await until(lambda: holds(rows_in_the_file_alone(path) == 1),
                    "the label in the database file", timeout=15)
    finally:
        await db.close()
