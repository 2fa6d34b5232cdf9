"""`opchat db migrate-to`: a SQLite store copied into an empty PostgreSQL database.

The SQLite file is read through a read-only connection in one snapshot and never
written. The PostgreSQL database is brought to the same schema version first, and
must hold nothing yet (a second copy into the same database would mix two stores).
Each table goes over in one ``COPY`` with its ids as they are, in an order where
what a row refers to is there before it (a table's references to its own rows are
checked at the end of its COPY); the one reference that goes backwards
(``conversations.failed_message_id`` to messages) is filled in after the messages.
The identity sequences then continue after the largest id, every table's count and
the last event id are compared on both sides before saying it is done, and the
tables are vacuumed and analysed for the planner.

The files the attachments point at and that are on this machine's disk go into the
database too (`file_contents`, as every PostgreSQL store keeps them: store/files.py),
so that operators and hubs on other machines can open and send old files as well; the
progress says ``files``, and `Copied` how many went, how many were not found and how
many stayed behind for their size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opchat.store.db import StoreError, connect_read_only
from opchat.store.schema import SCHEMA_VERSION

# Every table of the store, in an order that keeps references satisfied (SQLite's FTS
# tables are SQLite's own index: PostgreSQL indexes the copied rows itself).
TABLES = (
    "channels", "channel_state", "contacts", "identities", "operators", "conversations",
    "messages", "attachments", "outbox", "quick_replies", "events", "labels",
    "conversation_labels", "drafts", "presence", "reply_usage", "early_receipts",
    "templates", "stats_facts", "stats_meta", "ratings", "webhook_deliveries",
    "webhook_state", "api_tokens", "stats_days", "stats_hours", "file_contents",
)
LATER = {"conversations": ("failed_message_id",)}  # filled in once messages are there

Progress = Callable[[str, int, int], None]  # table, rows copied, rows in the table


FILES = "files"  # the progress's name for the files carried after the tables


@dataclass(frozen=True, slots=True)
class Copied:
    counts: dict[str, int]  # table -> rows, the same on both sides
    last_event: int
    files: int = 0  # attachments whose file went into the database
    files_missing: int = 0  # attachments with a path but no file there on this machine
    files_large: int = 0  # larger than files.SHARED_MAX: left on this machine


class NotEmpty(StoreError):
    """The target database holds a store already (``table`` has rows)."""

    def __init__(self, table: str) -> None:
        super().__init__(f"the database already holds a store ({table} has rows); "
                         "copy into an empty database")
        self.table = table


class Mismatch(StoreError):
    """What arrived differs from what was sent."""


def tables_of(conn: sqlite3.Connection) -> list[str]:
    """The store's tables a SQLite file has, in copying order; a table this opchat does
    not know (a newer schema's) is refused before anything is copied."""
    names = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")}
    names -= {n for n in names if n.startswith(("messages_fts", "contacts_fts"))}
    unknown = names - set(TABLES)
    if unknown:
        raise StoreError(f"tables this opchat cannot copy: {', '.join(sorted(unknown))}")
    return [t for t in TABLES if t in names]


def copy_to_postgres(path: Path, url: str, progress: Progress) -> Copied:
    """Copy the store in the SQLite file ``path`` into the empty database at ``url``."""
    import psycopg

    from opchat.store.schema_pg import migrate_pg

    if not path.exists():
        raise StoreError(f"{path}: no such file")
    source, _ = connect_read_only(path)
    try:
        source.execute("BEGIN")  # one snapshot, whoever writes meanwhile
        version = source.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreError(f"{path} has schema version {version}, this opchat {SCHEMA_VERSION}: "
                             "open it with this opchat once (it upgrades it), then copy")
        tables = tables_of(source)
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as target:
            migrate_pg(target, SCHEMA_VERSION)
            with target.transaction():
                for table in tables:
                    if target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                        if table == "stats_meta":  # the new schema's own marker
                            target.execute("DELETE FROM stats_meta")
                            continue
                        raise NotEmpty(table)
                counts: dict[str, int] = {}
                for table in tables:
                    counts[table] = _copy_table(source, target, table, progress)
                for table, columns in LATER.items():
                    for column in columns:
                        for row_id, value in source.execute(
                                f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"):
                            target.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s",
                                           (value, row_id))
                for table in tables:
                    if "id" not in _columns(source, table):
                        continue
                    has_id = target.execute(
                        "SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
                    if has_id:
                        target.execute(f"SELECT setval(%s, coalesce((SELECT max(id) FROM {table}), "
                                       "0) + 1, false)", (has_id,))
                copied = _verify(source, target, tables)
                if "attachments" in tables:
                    copied = _carry_files(source, target, copied, progress)
            # The planner's statistics and the visibility map, which a bulk copy leaves
            # empty until autovacuum comes round: without them a search may pick a plan a
            # thousand times slower, and a deep page of the list reads the table.
            target.execute("VACUUM ANALYZE")
            return copied
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        raise StoreError(first[0] if first else type(exc).__name__) from exc
    finally:
        source.close()


def _copy_table(source: sqlite3.Connection, target: object, table: str,
                progress: Progress) -> int:
    total = source.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    columns = _columns(source, table)
    later = LATER.get(table, ())
    selected = ", ".join("NULL" if c in later else c for c in columns)
    done = 0
    progress(table, 0, total)
    with target.cursor().copy(  # type: ignore[attr-defined]
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in source.execute(f"SELECT {selected} FROM {table}"):
            copy.write_row(row)
            done += 1
            if done % 10_000 == 0:
                progress(table, done, total)
    progress(table, done, total)
    return done


def _carry_files(source: sqlite3.Connection, target: object, copied: Copied,
                 progress: Progress) -> Copied:
    """The files the attachments point at, from this machine's disk into the database,
    one at a time (a part of it in memory at once); their hashes on the attachments."""
    from opchat.store.files import SHARED_MAX, put_file
    from opchat.store.pg import PgConn

    conn = PgConn(target)  # type: ignore[arg-type]
    rows = source.execute("SELECT id, local_path FROM attachments "
                          "WHERE local_path IS NOT NULL AND local_path != '' ORDER BY id"
                          ).fetchall()
    carried = missing = large = 0
    progress(FILES, 0, len(rows))
    for done, (attachment_id, local_path) in enumerate(rows, 1):
        path = Path(local_path)
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            missing += 1
        elif size > SHARED_MAX:
            large += 1
        else:
            try:
                sha256 = put_file(conn, path)
            except OSError:  # unreadable, or changed while read: it stays where it is
                missing += 1
            else:
                conn.execute("UPDATE attachments SET sha256 = ? WHERE id = ?",
                             (sha256, attachment_id))
                carried += 1
        if done % 100 == 0:
            progress(FILES, done, len(rows))
    progress(FILES, len(rows), len(rows))
    return Copied(copied.counts, copied.last_event, carried, missing, large)


def _columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in source.execute(f"PRAGMA table_info({table})")]


def _verify(source: sqlite3.Connection, target: object, tables: list[str]) -> Copied:
    counts: dict[str, int] = {}
    for table in tables:
        there = source.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        here = target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[attr-defined]
        if there != here:
            raise Mismatch(f"{table}: {there} rows in the file, {here} copied")
        counts[table] = here
    last = source.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    copied = target.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]  # type: ignore[attr-defined]
    if last != copied:
        raise Mismatch(f"the last event is {last} in the file, {copied} copied")
    return Copied(counts, last)
