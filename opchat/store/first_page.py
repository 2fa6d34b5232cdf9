"""The conversation list's first page, read before the app's first frame.

`opchat` reads it on a thread of its own while Textual loads (see
`opchat.cli.run.FirstPageReader`), so that the first frame can show the rows
instead of "Loading…". It is a read of the SQLite file as it is now: one
snapshot on a read-only connection of its own, closed at once; nothing is kept
from one run to the next. The store proper opens after the first frame, as
before, and the list is read again through it.

Anything out of the ordinary gives no page rather than an error: no database
yet, a schema this opchat would first migrate (or cannot read), a file another
process holds locked, a damaged one. The app then starts as it would without
this read, and opening the store says what is wrong.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opchat.model import Conversation, ConversationFilter
from opchat.store.listing import count_rows, page_rows
from opchat.store.schema import DB_FILENAME, SCHEMA_VERSION

# A reader of a WAL database waits for a busy file only in rare cases (another
# connection recovering the WAL); the first frame does not wait long for it.
BUSY_TIMEOUT = 0.2  # seconds


def read_first_page(data_dir: Path, limit: int) -> tuple[int, list[Conversation]] | None:
    """The count and the first ``limit`` rows of the list as the app first shows it (the
    "All" view, no label filter), in one snapshot of the data dir's database; None when
    that cannot be read as it is."""
    path = Path(data_dir) / DB_FILENAME
    if not path.is_file():
        return None
    # mode=ro: never creates the file, never writes; it reads the WAL (not `immutable`,
    # which would miss the commits still there: the rows shown must be the store's).
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return None  # the store's open migrates it first, or refuses it
        conn.execute("BEGIN")
        try:
            flt = ConversationFilter()
            return count_rows(conn, flt), page_rows(conn, flt, 0, limit)
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()
