"""Database(read_only=True): reads a store, writes nothing, says why it cannot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opchat.store import Database, SchemaTooNew, StoreError
from opchat.store.db import SchemaMismatch
from opchat.store.schema import SCHEMA_VERSION


async def made(path: Path) -> None:
    db = Database(path)
    await db.open()
    await db.write(lambda conn: conn.execute(
        "INSERT INTO labels (name, created_at) VALUES ('vip', 0)"))
    await db.close()  # the last connection: SQLite checkpoints and removes the WAL


async def test_reads_and_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "opchat.db"
    await made(path)
    db = Database(path, read_only=True)
    await db.open()
    try:
        names = await db.read(lambda conn: [r[0] for r in conn.execute("SELECT name FROM labels")])
        assert names == ["vip"]
        with pytest.raises(StoreError, match="read-only"):
            await db.write(lambda conn: None)
    finally:
        await db.close()


async def test_an_older_or_newer_schema_is_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "opchat.db"
    await made(path)
    for version, newer in ((SCHEMA_VERSION - 1, False), (SCHEMA_VERSION + 1, True)):
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()
        db = Database(path, read_only=True)
        with pytest.raises(SchemaMismatch) as caught:
            await db.open()
        assert caught.value.newer is newer and isinstance(caught.value, StoreError)
    assert not issubclass(SchemaMismatch, SchemaTooNew)


async def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    db = Database(tmp_path / "opchat.db", read_only=True)
    with pytest.raises(StoreError):
        await db.open()
    assert list(tmp_path.iterdir()) == []
