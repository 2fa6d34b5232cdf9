"""For tests that run on both backends (tests/conftest.py): SQL run outside the store,
on whichever database this test's store is in, and the errors each driver raises."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from opchat.store import DB_FILENAME


def on_postgres() -> bool:
    return bool(os.environ.get("OPCHAT_DATABASE_URL"))


def database_url() -> str:
    """This test's PostgreSQL database, "" on SQLite."""
    return os.environ.get("OPCHAT_DATABASE_URL", "")


def raw(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (``?`` placeholders) on the test's database, as another program
    would, and commit; its rows, if it has any."""
    url = os.environ.get("OPCHAT_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def raw_rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """`raw`'s rows as dicts by column name."""
    url = os.environ.get("OPCHAT_DATABASE_URL")
    if url:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def refuse_event(data_dir: Path, kind: str, message: str) -> None:
    """Make the database refuse to record an event of ``kind`` (a failing last statement)."""
    if on_postgres():
        raw(data_dir, "CREATE FUNCTION refuse_kind() RETURNS trigger LANGUAGE plpgsql AS $$ "
                      f"BEGIN IF new.kind = '{kind}' THEN RAISE EXCEPTION '{message}' "
                      "USING ERRCODE = 'integrity_constraint_violation'; END IF; "
                      "RETURN new; END $$")
        raw(data_dir, "CREATE TRIGGER refuse_kind BEFORE INSERT ON events "
                      "FOR EACH ROW EXECUTE FUNCTION refuse_kind()")
    else:
        raw(data_dir, "CREATE TRIGGER refuse_kind BEFORE INSERT ON events "
                      f"WHEN new.kind = '{kind}' BEGIN SELECT RAISE(ABORT, '{message}'); END")


def integrity_error() -> type[Exception]:
    """What the test's database raises for a broken constraint or a refusing trigger."""
    if on_postgres():
        import psycopg

        return psycopg.IntegrityError
    return sqlite3.IntegrityError
