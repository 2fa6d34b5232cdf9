"""SQLite connections, each owned by one thread, awaited from asyncio.

Why not one aiosqlite connection: a dialog's change (message + outbox row +
conversation counters + event) has to run as one transaction, and at
5,000 ingests a second a thread hop per statement costs more than the SQL.
Here a whole transaction is one Python function run on the connection's
own thread: ``await db.write(fn, ...)`` runs ``fn(conn, ...)`` between
``BEGIN IMMEDIATE`` and ``COMMIT``; nothing else can interleave with it. A
transaction known to be short (``db.write_short``) skips even that hop when the
writer is free: it runs on the event loop's thread, still whole.

Reads go to a second connection on a second thread, so a long search never
waits behind a write (WAL lets readers and the writer run side by side).
``PRAGMA data_version`` is asked of the writer: it changes when another
process commits, not for this process's own commits (whose hook wakes the
followers already), so one commit here is not read for twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from opchat.store.schema import SCHEMA_VERSION, migrate
from opchat.store.sql import SQLITE, Conn, Row

log = logging.getLogger("opchat.store")

P = ParamSpec("P")
T = TypeVar("T")


# How long a connection waits for another process's write to end before it fails
# with "database is locked".
BUSY_TIMEOUT_MS = 10_000


class StoreError(Exception):
    """The database cannot be used (locked, corrupt, newer schema, unwritable)."""


class SchemaMismatch(StoreError):
    """Opened read-only, the database is at another schema version than this opchat's:
    it cannot be migrated without writing."""

    def __init__(self, version: int) -> None:
        newer = version > SCHEMA_VERSION
        super().__init__(f"the database has schema version {version}, this opchat "
                         f"{'knows up to' if newer else 'reads'} {SCHEMA_VERSION}"
                         + (": upgrade opchat" if newer else ""))
        self.version = version
        self.newer = newer


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process; only a
        # power cut may lose the last transactions, and never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def connect_read_only(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection that never writes, for a backup copy in a read-only dir.

    ``mode=ro`` reads the WAL too, as long as its ``-shm`` file exists or can
    be made; a read-only dir without one can only be opened ``immutable``,
    which sees the main file alone. The flag says whether that happened.
    """
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=10.0)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        immutable = False
    except sqlite3.OperationalError:
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)
        immutable = True
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = ON")
    return conn, immutable


# The writer copies the WAL back into the database file itself only past this many
# pages (~80 MB). The checkpointer below copies nearly all of it before, but the WAL
# starts again from its beginning only once a checkpoint has copied all of it, which
# the checkpointer can do only while the writer pauses: in a stream of messages with no
# pause, the writer's own checkpoint finishes the copy and syncs the database file, a
# wait of 20-30 ms every ~1,350 messages (docs/PERFORMANCE.md: at 10,000 pages it came
# twice as often, and sustained ingest was 6% slower).
WRITER_CHECKPOINT_PAGES = 20_000


class Checkpointer:
    """Copies the WAL back into the database file on a thread of its own.

    SQLite's own automatic checkpoint runs inside the commit that passes 1,000 pages
    of WAL, on the writer's thread: one message in forty then waits milliseconds for
    the copy and its two fsyncs. Here the writer commits and goes on; every
    ``BATCH`` commits (or a second after the first one not yet copied) this thread
    runs a PASSIVE checkpoint, which never blocks the writer nor any reader. The
    writer still checkpoints by itself past `WRITER_CHECKPOINT_PAGES`, so the WAL
    stays bounded even if this thread falls behind; whatever is left is copied when
    the last connection closes.
    """

    BATCH = 64
    PATIENCE = 1.0  # seconds a copied commit may wait for the next ones

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._cond = threading.Condition()
        self._commits = 0
        self._closing = False
        self.checkpoints = 0  # how many it has run, for tests and the benchmark
        self._thread = threading.Thread(target=self._run, name="opchat-db-checkpoint",
                                        daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Called after each commit of the writer (from any thread)."""
        with self._cond:
            self._commits += 1
            if self._commits == 1 or self._commits >= self.BATCH:
                self._cond.notify()

    def close(self) -> None:
        """Stop the thread (after the checkpoint under way, if any); again: nothing."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        self._conn.close()  # a closed connection's close() does nothing

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._commits > 0 or self._closing)
                self._cond.wait_for(lambda: self._commits >= self.BATCH or self._closing,
                                    timeout=self.PATIENCE)
                if self._closing:
                    return
                self._commits = 0
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the writer's own checkpoint is the backstop
                log.warning("checkpoint of %s failed: %s", self._path, exc)
            self.checkpoints += 1


def matched_apart(index: str, rows: Sequence[Sequence[Any]], query: str,
                  columns: str) -> list[Row]:
    """Which of ``rows`` an FTS5 table made ``USING index`` matches for ``query``: each row
    its rowid, then a text for each of the table's columns; the result's rows hold the
    rowid and ``columns`` (SQL over the table, named ``t``: its ``highlight()``, say),
    the highest rowid first. Built and searched in a database in memory of its own, for
    a connection that may not write (a read-only store's, store/search.py)."""
    if not rows:
        return []
    conn = sqlite3.connect(":memory:")
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"CREATE VIRTUAL TABLE t USING {index}")
        names = [info[1] for info in conn.execute("PRAGMA table_info(t)")]
        conn.executemany(f"INSERT INTO t (rowid, {', '.join(names)}) "
                         f"VALUES ({', '.join('?' * (len(names) + 1))})", rows)
        return conn.execute(f"SELECT rowid, {columns} FROM t WHERE t MATCH ? "
                            "ORDER BY rowid DESC", (query,)).fetchall()
    finally:
        conn.close()


def ride(riders: list[Callable[[Any], object]], conn: Any, in_transaction: Callable[[], bool],
         driver_error: type[Exception]) -> None:
    """Run and empty ``riders`` (`Database.ride_next_write`'s) in the write transaction
    on ``conn``, each in a savepoint: a failure is logged (with its traceback unless the
    driver raised it) and its work undone, and the transaction goes on."""
    while riders:
        try:
            fn = riders.pop(0)
        except IndexError:  # taken back meanwhile (`cancel_ride`, on the loop's thread)
            break
        conn.execute("SAVEPOINT opchat_rider")
        try:
            fn(conn)
        except Exception as exc:  # the write it rode is not to fail for it
            log.warning("work done after a write failed: %s", exc,
                        exc_info=not isinstance(exc, driver_error))
            if in_transaction():
                conn.execute("ROLLBACK TO SAVEPOINT opchat_rider")
        if in_transaction():
            conn.execute("RELEASE SAVEPOINT opchat_rider")


class Database:
    # What the driver raises for a value it cannot take (a type SQLite has no column for,
    # text too big): one message's fault, not the database's. The store's ingest skips
    # such a message (store/inbound.py) instead of failing its neighbours; a second
    # backend names its own driver's here, so that no part imports a driver.
    data_errors: tuple[type[Exception], ...] = (
        sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.DataError)
    dialect = SQLITE

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: open no writer and write nothing, not even a -wal or -shm file
        where SQLite can avoid it (a backup copy, a read-only dir); ``write`` then fails."""
        self.path = path
        self.read_only = read_only
        self.wal_unread = False  # read-only and immutable: changes still in the WAL are not seen
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="opchat-db-write")
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="opchat-db-read")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._on_commit: list[Callable[[], None]] = []
        # Jobs given to the writer's thread and not finished: `write_short` runs on the
        # event loop's thread only when there are none (one thread at a time on a
        # connection). And whether the writer waits for another process's lock.
        self._queued = 0
        self._patient = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self.checkpointer: Checkpointer | None = None
        # Work asked to ride along at the end of this process's next write transaction.
        self._riders: list[Callable[[sqlite3.Connection], object]] = []

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()

        def open_writer() -> sqlite3.Connection:
            if not self.path.exists():
                # SQLite would create it 0644 whatever the umask; create it ourselves so the
                # umask decides (0600, or 0660 in a group-shared dir). WAL and SHM files copy
                # the database file's permissions.
                with contextlib.suppress(FileExistsError):  # another process was first
                    os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666))
            conn = _connect(self.path, readonly=False)
            migrate(conn)
            conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
            return conn

        if self.read_only:
            await self._open_read_only()
            return
        try:
            self._writer = await self._loop.run_in_executor(self._writer_pool, open_writer)
            self._reader = await self._loop.run_in_executor(
                self._reader_pool, lambda: _connect(self.path, readonly=True)
            )
            self.checkpointer = Checkpointer(self.path)
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreError(f"{self.path}: {exc}") from exc

    async def _open_read_only(self) -> None:
        assert self._loop is not None

        def open_reader() -> sqlite3.Connection:
            if not self.path.exists():
                raise sqlite3.OperationalError("no such file")
            conn, immutable = connect_read_only(self.path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                conn.close()
                raise SchemaMismatch(version)
            wal = self.path.with_name(self.path.name + "-wal")
            self.wal_unread = immutable and wal.exists() and wal.stat().st_size > 0
            return conn

        try:
            self._reader = await self._loop.run_in_executor(self._reader_pool, open_reader)
        except SchemaMismatch:
            await self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreError(f"{self.path}: {exc}") from exc

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self.checkpointer is not None:
            await loop.run_in_executor(None, self.checkpointer.close)
            self.checkpointer = None
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None  # nothing new starts on them
        for pool, conn in ((self._writer_pool, writer), (self._reader_pool, reader)):
            if conn is not None:
                await loop.run_in_executor(pool, conn.close)
        self._writer_pool.shutdown(wait=False)
        self._reader_pool.shutdown(wait=False)

    def trace(self, callback: Callable[[str, str], None] | None) -> None:
        """Call ``callback(connection, statement)`` ("writer" or "reader") for every SQL
        statement this process runs from now on; None stops. For measuring, as the
        benchmark does; it runs on whichever thread runs the statement."""
        for name, conn in (("writer", self._writer), ("reader", self._reader)):
            if conn is not None:
                conn.set_trace_callback(
                    None if callback is None
                    else lambda sql, name=name: callback(name, sql))  # type: ignore[misc]

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` in the event loop after each of this process's commits."""
        self._on_commit.append(callback)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the database was opened in (None before `open`)."""
        return self._loop

    def on_insert(self, table: str, callback: Callable[[], None]) -> None:
        """Call ``callback()`` for each row this process inserts into ``table``, inside
        the inserting transaction, on whichever thread runs it (a temporary trigger and
        a function of the writer's connection): for work that must follow such rows
        (store/search.py). Call it right after `open`, before any write."""
        conn = self._writable()
        name = f"opchat_inserted_{table}"
        conn.create_function(name, 0, lambda: callback())
        conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS {name} AFTER INSERT ON main.{table} "
                     f"BEGIN SELECT {name}(); END")

    def ride_next_write(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``fn(conn)`` at the end of this process's next write transaction, before its
        COMMIT, inside a savepoint: if ``fn`` fails, its work is undone and logged and the
        transaction it rode commits as it would have. A way to do deferred work without a
        transaction of its own while writes go on."""
        if fn not in self._riders:
            self._riders.append(fn)

    def cancel_ride(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        with contextlib.suppress(ValueError):
            self._riders.remove(fn)

    def _ride(self, conn: sqlite3.Connection) -> None:
        # SQLite may have rolled back the whole transaction by itself (disk full).
        ride(self._riders, conn, lambda: conn.in_transaction, sqlite3.Error)

    def _writable(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreError("the database is open read-only" if self.read_only
                             else "the database is closed")
        return self._writer

    def _begin(self, conn: sqlite3.Connection, *, patient: bool) -> None:
        """BEGIN IMMEDIATE; ``patient``: wait up to `BUSY_TIMEOUT_MS` for another
        process's write to end, else fail at once with SQLITE_BUSY."""
        if self._patient is not patient:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS if patient else 0}")
            self._patient = patient
        conn.execute("BEGIN IMMEDIATE")

    def _commit(self, conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...],
                kwargs: dict[str, Any], checkpointer: Checkpointer | None) -> T:
        """``fn`` in the transaction `_begin` opened, then COMMIT (or ROLLBACK, raising)."""
        try:
            result = fn(conn, *args, **kwargs)
            if self._riders:
                self._ride(conn)
        except BaseException:
            # SQLite may have rolled back by itself (disk full, I/O error); a second
            # ROLLBACK would then hide the real error behind "no transaction is active".
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if checkpointer is not None:
            checkpointer.committed()
        return result

    async def write(
        self,
        fn: Callable[Concatenate[Conn, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, ...)`` as one write transaction on the writer's thread; returns
        after COMMIT."""
        conn = self._writable()
        checkpointer = self.checkpointer

        def transaction() -> T:
            self._begin(conn, patient=True)
            return self._commit(conn, fn, args, kwargs, checkpointer)

        result = await self._on_writer_thread(transaction)
        for callback in self._on_commit:
            callback()
        return result

    async def _on_writer_thread(self, job: Callable[[], T]) -> T:
        """``job()`` on the writer's thread, counted in `_queued` until it has ended there
        (not merely until its caller stops waiting: a cancelled caller's job still runs)."""
        loop = self._loop
        assert loop is not None

        def run() -> T:
            try:
                return job()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._ended)

        self._queued += 1
        try:
            future = loop.run_in_executor(self._writer_pool, run)
        except BaseException:  # never started (the pool shut down)
            self._queued -= 1
            raise
        # A caller that stops waiting does not take the job off the queue: once handed
        # over, a write runs whole (and `_ended` is sure to come); what it raises then
        # is nobody's to hear.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(future)

    def _ended(self) -> None:
        self._queued -= 1

    def short_write_here(self) -> bool:
        """Whether a `write_short` started now would run on the event loop's thread (as
        it does unless the writer's thread has work or another process the lock)."""
        return not self._queued

    async def write_short(
        self,
        fn: Callable[Concatenate[Conn, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`write` for a transaction the caller knows to be short (one message stored,
        a dialog marked read: well under a millisecond of SQL).

        When nothing waits for the writer's thread and no other process holds the write
        lock, it runs right here on the event loop's thread: the two thread wake-ups of
        `write` (to the writer's thread and back) cost more than such a transaction's SQL
        on a small machine. Otherwise it queues as `write` does. A commit here writes
        the WAL without syncing it (synchronous = NORMAL) and leaves the checkpoint to
        `Checkpointer`, so it does not wait for the disk; it then yields to the event
        loop once, so a loop of short writes does not starve the screen.
        """
        conn = self._writable()
        if self._queued or asyncio.get_running_loop() is not self._loop:
            return await self.write(fn, *args, **kwargs)
        try:
            self._begin(conn, patient=False)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # its extended codes too
                raise
            # Another process is writing: wait for it on the writer's thread, as `write`.
            return await self.write(fn, *args, **kwargs)
        result = self._commit(conn, fn, args, kwargs, self.checkpointer)
        for callback in self._on_commit:
            callback()
        await asyncio.sleep(0)
        return result

    async def read(
        self,
        fn: Callable[Concatenate[Conn, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, ...)`` on the reader connection, in one consistent snapshot."""
        conn = self._reader
        if conn is None:
            raise StoreError("the database is closed")

        def snapshot() -> T:
            conn.execute("BEGIN")
            try:
                return fn(conn, *args, **kwargs)
            finally:
                conn.execute("COMMIT")

        assert self._loop is not None
        return await self._loop.run_in_executor(self._reader_pool, snapshot)

    async def about(self) -> dict[str, Any]:
        """What `opchat db status` says: the backend, where, its schema version, its size."""

        def look(conn: Conn) -> dict[str, Any]:
            size = sum(p.stat().st_size for p in (
                self.path, self.path.with_name(self.path.name + "-wal")) if p.exists())
            return {"backend": "sqlite", "where": str(self.path),
                    "schema": conn.execute("PRAGMA user_version").fetchone()[0],
                    "size": size, "server": f"SQLite {sqlite3.sqlite_version}"}

        return await self.read(look)

    async def data_version(self) -> int:
        """Changes whenever another process has committed (read-only: whenever anyone
        has); this process's own commits call the `on_commit` callbacks instead."""

        def version(conn: sqlite3.Connection) -> int:
            return conn.execute("PRAGMA data_version").fetchone()[0]

        # The writer sees its own commits as no change; the reader, which never
        # writes, sees every commit.
        conn, pool = ((self._writer, self._writer_pool) if self._writer is not None
                      else (self._reader, self._reader_pool))
        if conn is None:
            raise StoreError("the database is closed")
        assert self._loop is not None
        if pool is self._writer_pool:  # the writer's connection is busy meanwhile
            return await self._on_writer_thread(functools.partial(version, conn))
        return await self._loop.run_in_executor(pool, version, conn)


def row_value(row: Row | None, default: Any = None) -> Any:
    return default if row is None else row[0]
