"""What `opchat bench` needs of SQLite beyond the store's methods.

Its synthetic store of a million messages is written here in bulk, with
``executemany`` straight into the schema's tables: through ``Store.inbound.ingest``
(a transaction per message) it would take the better part of an hour. The
rows are not checked: the benchmark (``opchat.bench.fixture``) makes them agree
with each other as the store would have. The schema itself, its migrations and
its triggers stay the real ones: ``Store.open`` creates them first.

Also here: the two reads the benchmark takes that no command needs, and the
raw-SQLite baseline its ingest rate is measured beside.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from opchat.store.db import WRITER_CHECKPOINT_PAGES, Checkpointer, Database
from opchat.store.search import catch_up_index, fts_query, ts_query
from opchat.store.sql import Conn
from opchat.store.store import DB_FILENAME

SQLITE_VERSION = sqlite3.sqlite_version


class ChannelRow(NamedTuple):
    id: int
    name: str
    kind: str
    created_at: float


class OperatorRow(NamedTuple):
    id: int
    login: str
    name: str
    created_at: float
    last_seen: float


class MessageRow(NamedTuple):
    id: int
    conversation_id: int
    channel_id: int
    external_id: str | None
    direction: str
    author: str
    operator_id: int | None
    body: str
    created_at: float
    state: str


class ContactRow(NamedTuple):
    id: int
    name: str
    phone: str | None
    email: str | None
    created_at: float


class IdentityRow(NamedTuple):
    id: int
    contact_id: int
    channel_id: int
    external_id: str
    display_name: str
    username: str | None


class ConversationRow(NamedTuple):
    id: int
    channel_id: int
    chat_id: str
    contact_id: int
    identity_id: int
    status: str
    assignee_id: int | None
    unread: int
    waiting_since: float | None
    first_response_s: float | None
    snoozed_until: float | None
    last_message_at: float
    last_preview: str
    last_direction: str
    created_at: float


class EventRow(NamedTuple):
    at: float
    kind: str
    conversation_id: int


class StatsFactRow(NamedTuple):
    at: float
    event_id: int
    kind: str
    conversation_id: int
    channel_id: int
    operator: str
    start: float | None


class StatsMetaRow(NamedTuple):
    key: str
    value: str


FixtureRow = (ChannelRow | OperatorRow | MessageRow | ContactRow | IdentityRow
              | ConversationRow | EventRow | StatsFactRow | StatsMetaRow)

_TABLES: dict[type, str] = {
    ChannelRow: "channels", OperatorRow: "operators", MessageRow: "messages",
    ContactRow: "contacts", IdentityRow: "identities", ConversationRow: "conversations",
    EventRow: "events", StatsFactRow: "stats_facts", StatsMetaRow: "stats_meta",
}


class FixtureWriter:
    """Bulk inserts into the store in ``data_dir``, fast and unchecked.

    No fsync (``synchronous = OFF``) and a big page cache: a crash while
    building leaves a store to throw away, which the benchmark does anyway.
    Leaving the ``with`` block without an error rolls the figures up per day (as
    the store does with each fact), indexes the messages' text for search (as the
    store does after its commits) and checkpoints the WAL into the file, so
    measuring starts from a store as compact as a long-running one.
    """

    def __init__(self, data_dir: Path) -> None:
        self._conn = sqlite3.connect(data_dir / DB_FILENAME, isolation_level=None)
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("PRAGMA cache_size = -262144")

    def __enter__(self) -> FixtureWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                # The per-day roll-up the store writes with each fact, from the facts
                # written here raw (store/rollup.py).
                from opchat.store.stats import roll_up

                self._conn.execute("BEGIN")
                roll_up(self._conn)
                catch_up_index(self._conn)  # as the store does after its commits
                self._conn.execute("COMMIT")
                # Copied into the file and synced to the disk, as a store opchat wrote
                # is: otherwise the kernel writes hundreds of megabytes back during the
                # first timings (written with synchronous OFF, nothing was synced yet).
                self._conn.execute("PRAGMA synchronous = FULL")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()

    def insert(self, *batches: Sequence[FixtureRow]) -> None:
        """Each batch's rows into its table (all of one kind per batch), in one transaction."""
        self._conn.execute("BEGIN")
        for rows in batches:
            if not rows:
                continue
            fields = type(rows[0])._fields
            self._conn.executemany(
                f"INSERT INTO {_TABLES[type(rows[0])]} ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' * len(fields))})", rows)
        self._conn.execute("COMMIT")


def dialogs_by_recency(data_dir: Path) -> list[tuple[str, str, str]]:
    """(chat id, channel name, the customer's name there) of every dialog, as a transport
    addresses it, the most recent first; read on a connection of its own that never writes."""
    conn = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT c.chat_id, ch.name, i.display_name FROM conversations c "
            "JOIN channels ch ON ch.id = c.channel_id JOIN identities i ON i.id = c.identity_id "
            "ORDER BY c.last_message_at DESC, c.id DESC").fetchall()
    finally:
        conn.close()


async def count_matches(db: Database, query: str) -> int:
    """How many messages a search for ``query`` matches in all (the search shows 50)."""

    def run(conn: Any) -> int:
        if getattr(conn, "dialect", None) is not None:  # PostgreSQL: its index's own query
            return conn.execute("SELECT count(*) FROM messages WHERE body_tsv @@ "
                                "to_tsquery('simple', opchat_fold(?))",
                                (ts_query(query),)).fetchone()[0]
        return conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                            (fts_query(query),)).fetchone()[0]

    return await db.read(run)


def raw_insert_rate(rows: Sequence[tuple[str, str, str, str, str, float]]) -> float:
    """Rows per second into a plain table of a new WAL database, one ``executemany`` in
    one transaction: the ingest's baseline, what SQLite alone costs on this machine.

    A row is (channel, chat id, external id, author, body, created at)."""
    with tempfile.TemporaryDirectory(prefix="opchat-bench-raw-") as tmp:
        plain = sqlite3.connect(Path(tmp) / "plain.db", isolation_level=None)
        try:
            plain.execute("PRAGMA journal_mode = WAL")
            plain.execute("PRAGMA synchronous = NORMAL")
            plain.execute("CREATE TABLE messages (channel TEXT, chat_id TEXT, external_id TEXT, "
                          "author TEXT, body TEXT, created_at REAL)")
            t0 = time.perf_counter()
            plain.execute("BEGIN")
            plain.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", rows)
            plain.execute("COMMIT")
            return len(rows) / (time.perf_counter() - t0)
        finally:
            plain.close()


def transaction_rate(path: Path, count: int, transaction: Callable[[Conn, int], object]) -> float:
    """Transactions per second when ``transaction(conn, k)`` (k = 0…count-1) runs on a
    writer connection of its own, in this thread, one ``BEGIN IMMEDIATE``…``COMMIT``
    each: what one ingest costs in SQL alone, without the hop to the writer's thread
    and back to the event loop. The WAL is copied back as the store's writer has it
    done (db.Checkpointer), not inside the commits."""
    conn = sqlite3.connect(path, isolation_level=None)
    checkpointer = Checkpointer(path)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        t0 = time.perf_counter()
        for k in range(count):
            conn.execute("BEGIN IMMEDIATE")
            transaction(conn, k)
            conn.execute("COMMIT")
            checkpointer.committed()
        return count / (time.perf_counter() - t0)
    finally:
        checkpointer.close()
        conn.close()
