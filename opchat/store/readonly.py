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
from typing import TypeVar

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


def _read(path: Path, work: Callable[[sqlite3.Connection], T]) -> T:
    with _reading(path) as conn:
        return work(conn)


def inspect(path: Path) -> Inspection:
    """Schema version, integrity, journal mode and sizes; Unreadable if it cannot tell."""

    def work(conn: sqlite3.Connection) -> Inspection:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
            "(SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending'))"
        ).fetchone() if version else (0, 0, 0)
        return Inspection(version, str(check), str(mode), *counts)

    return _read(path, work)


def damage(path: Path) -> str:
    """"" when quick_check finds the file sound, else what it found first (Unreadable
    when it cannot be read at all)."""

    def work(conn: sqlite3.Connection) -> str:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return "" if rows == [("ok",)] else str(rows[0][0])

    return _read(path, work)


def shared_shortcuts(path: Path) -> set[str]:
    """The shortcuts of the quick replies every operator shares."""
    return _read(path, lambda conn: {row[0] for row in conn.execute(
        "SELECT shortcut FROM quick_replies WHERE owner_id IS NULL")})


def channel_reports(path: Path, looked_at: int) -> tuple[list[tuple[str, str, str]],
                                                          list[dict[str, object]]]:
    """Each channel's health now (name, health, detail), and the `channel.health`
    events among the last ``looked_at`` events, newest first (their data)."""

    def work(conn: sqlite3.Connection) -> tuple[list[tuple[str, str, str]],
                                                list[dict[str, object]]]:
        now = [(str(name), str(health), str(detail)) for name, health, detail in
               conn.execute("SELECT name, health, health_detail FROM channels")]
        reports = []
        for (data,) in conn.execute(
                "SELECT data FROM (SELECT id, kind, data FROM events ORDER BY id DESC "
                "LIMIT ?) WHERE kind = 'channel.health' ORDER BY id DESC", (looked_at,)):
            try:
                report = json.loads(data)
            except ValueError:
                continue
            if isinstance(report, dict):
                reports.append(report)
        return now, reports

    return _read(path, work)
