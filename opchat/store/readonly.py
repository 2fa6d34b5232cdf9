"""A look at a database file without opening it as a store: read-only, no migration,
no lock, never creating the file. For `opchat doctor` and `opchat serve`'s first check,
which must say what is wrong with a file the store itself would refuse to open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from opchat.store.db import StoreError

T = TypeVar("T")


class Unreadable(StoreError):
    """The file cannot be read as a database. ``detail``: SQLite's words, or "" when
    its report was itself garbage (bytes of the damaged pages)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail or "unreadable")
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Inspection:
    schema: int  # PRAGMA user_version: 0 for a file no opchat has set up
    check: str  # "ok", or quick_check's first finding
    journal_mode: str
    conversations: int
    messages: int
    queued: int  # outbox rows still to be sent


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise Unreadable(str(exc)) from None
    # What SQLite says of damaged pages may quote their bytes: read them as text anyway.
    conn.text_factory = lambda data: data.decode("utf-8", "replace")
    try:
        yield conn
    except sqlite3.Error as exc:
        raise Unreadable(str(exc)) from None
    except UnicodeError:  # SQLite's own report quoted bytes of the damaged pages
        raise Unreadable("") from None
    finally:
        conn.close()


def _read(location: Path | str, work: Callable[[Any], T]) -> T:
    """``work(conn)`` on the SQLite file at ``location``, or on the PostgreSQL database
    its URL names (a read-only snapshot)."""
    if isinstance(location, str):
        from opchat.store.pg import read_once

        return read_once(location, work)
    with _reading(location) as conn:
        return work(conn)


def inspect(location: Path | str) -> Inspection:
    """Schema version, integrity, journal mode and sizes; Unreadable if it cannot tell.
    On PostgreSQL "journal mode" is the server and its version."""

    def work(conn: Any) -> Inspection:
        if isinstance(location, str):
            from opchat.store.schema_pg import pg_version

            version, check = pg_version(conn), "ok"
            mode = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
        else:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
            "(SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending'))"
        ).fetchone() if version else (0, 0, 0)
        return Inspection(version, str(check), str(mode), *counts)

    return _read(location, work)


def shared_files(url: str, large: int) -> tuple[int, int, int]:
    """A PostgreSQL store's files: (attachments whose bytes it keeps for every machine,
    attachments saved on one machine only, of which larger than ``large`` bytes)."""

    def work(conn: Any) -> tuple[int, int, int]:
        from opchat.store.schema_pg import pg_version

        if pg_version(conn) < 13:  # before the store kept files
            return 0, 0, 0
        row = conn.execute(
            "SELECT count(CASE WHEN sha256 IS NOT NULL THEN 1 END), "
            "count(CASE WHEN sha256 IS NULL AND local_path IS NOT NULL THEN 1 END), "
            "count(CASE WHEN sha256 IS NULL AND local_path IS NOT NULL AND size > ? "
            "THEN 1 END) FROM attachments", (large,)).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    return _read(url, work)


def damage(path: Path) -> str:
    """"" when quick_check finds the file sound, else what it found first (Unreadable
    when it cannot be read at all)."""

    def work(conn: sqlite3.Connection) -> str:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return "" if rows == [("ok",)] else str(rows[0][0])

    return _read(path, work)


def lock_holders(url: str, names: list[str]) -> dict[str, str]:
    """Which process holds each of the locks ``names`` of a PostgreSQL store (the
    hubs' "channel:NAME" and "duties"): name -> "host (server pid N)"."""
    from opchat.store.pg import LOCK_SPACE

    def work(conn: Any) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in names:
            row = conn.execute(
                "SELECT coalesce(host(a.client_addr), 'local'), a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = ? AND l.objsubid = 2 "
                "AND l.objid = hashtext(?)::oid", (LOCK_SPACE, name)).fetchone()
            if row is not None:
                found[name] = f"{row[0]} (server pid {row[1]})"
        return found

    return _read(url, work)


def shared_shortcuts(path: Path | str) -> set[str]:
    """The shortcuts of the quick replies every operator shares."""
    return _read(path, lambda conn: {row[0] for row in conn.execute(
        "SELECT shortcut FROM quick_replies WHERE owner_id IS NULL")})


def channel_reports(path: Path | str, looked_at: int) -> tuple[list[tuple[str, str, str]],
                                                          list[dict[str, object]]]:
    """Each channel's health now (name, health, detail), and the `channel.health`
    events among the last ``looked_at`` events, newest first (their data)."""

    def work(conn: Any) -> tuple[list[tuple[str, str, str]],
                                                list[dict[str, object]]]:
        now = [(str(name), str(health), str(detail)) for name, health, detail in
               conn.execute("SELECT name, health, health_detail FROM channels")]
        reports = []
        for (data,) in conn.execute(
                "SELECT data FROM (SELECT id, kind, data FROM events ORDER BY id DESC "
                "LIMIT ?) AS latest WHERE kind = 'channel.health' ORDER BY id DESC",
                (looked_at,)):
            try:
                report = json.loads(data)
            except ValueError:
                continue
            if isinstance(report, dict):
                reports.append(report)
        return now, reports

    return _read(path, work)
