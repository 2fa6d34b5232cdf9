"""The store on PostgreSQL: a second `Database` for the same parts.

The parts' queries are functions of a `Conn` run as one transaction; here the
connection is psycopg 3's, wrapped so that the queries written for SQLite run
unchanged: ``?`` and ``:name`` placeholders become psycopg's, rows read by position
and by name, and `Conn.dialect` lets the few queries that must differ (store/sql.py's
`Dialect`) say it in PostgreSQL's words.

Why psycopg 3 and not asyncpg: the store's design is a whole transaction as one
plain function on the connection's own thread (db.py), which needs a synchronous
driver; psycopg is one, maintained, with the libpq binary wheel. Parameters are bound
on the server, and a statement run a few times is prepared there (psycopg's
default): measured, a third faster per ingest than binding on the client. Text goes as
"unknown", so the server gives it the column's type, as SQLite's untyped ``?`` do;
True and False go as "unknown" '1' and '0' too (integers in SQLite's columns,
conditions where one is asked).

Like SQLite, one writer connection and one reader connection per process, each on
its own thread. Every write transaction first takes one advisory lock
(`schema_pg.WRITE_LOCK`), so writes are serialised across processes and machines as
SQLite's ``BEGIN IMMEDIATE`` serialises them: the parts' read-then-write transactions
stay correct, and an ``events`` id is never committed after a larger one (which
would make a follower reading "id > last seen" skip it). Reads take a snapshot
(``REPEATABLE READ READ ONLY``) and never wait for the writers.

The change feed's wake-up: a third connection LISTENs on ``opchat_changes`` (sent by
a trigger on ``events`` and ``presence``); `data_version` is a counter it moves when
another session's commit is announced. A notification lost while that connection
reconnects loses nothing: the counter moves on reconnecting, and the followers read
every row after the last they saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import ExecStatus, Format

from opchat.model import redacted_url
from opchat.store.db import SchemaMismatch, StoreError, ride
from opchat.store.schema import SCHEMA_VERSION, SchemaTooNew
from opchat.store.schema_pg import WRITE_LOCK, migrate_pg, pg_version
from opchat.store.sql import POSTGRESQL, Conn

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

CHANNEL = "opchat_changes"
LOCK_SPACE = 0x6F70  # the first key of opchat's two-key advisory locks: (space, name)
MEMBER_SPACE = 0x6F71  # (space, the lock session's pid): one per process taking locks


def is_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


# -- the connection the parts see ----------------------------------------------------------

_ROW_CLASSES: dict[tuple[str, ...], type] = {}


def _row_class(names: tuple[str, ...]) -> type:
    cls = _ROW_CLASSES.get(names)
    if cls is None:
        index = {name: i for i, name in enumerate(names)}

        class PgRow(tuple):
            __slots__ = ()

            def __getitem__(self, key: Any) -> Any:
                if isinstance(key, str):
                    return tuple.__getitem__(self, index[key])
                return tuple.__getitem__(self, key)

            def keys(self) -> list[str]:
                return list(names)

        cls = _ROW_CLASSES[names] = PgRow
    return cls


def _has_rows(result: Any) -> bool:
    """Whether a result holds rows (psycopg's `Cursor.description` is not None), read
    without making its `Column` objects: a statement pays for it in the ingest."""
    return bool(result) and bool(result.nfields or result.status in _ROW_STATUSES)


_ROW_STATUSES = frozenset((ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE))


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    result = cursor.pgresult
    if not _has_rows(result):
        return tuple
    return _row_class(tuple(_name(result.fname(i), i) for i in range(result.nfields)))


def _name(fname: bytes | None, index: int) -> str:
    return fname.decode() if fname else f"column_{index + 1}"  # as psycopg's Column names it


class _BoolAsInt(Dumper):
    """True/False into the integer columns SQLite's queries put them in."""

    oid = 0  # "unknown": '1' is 1 in an integer column and true where a condition is asked
    format = Format.TEXT

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?\d*|:[A-Za-z_]\w*")
_TRANSLATED: dict[str, tuple[str, tuple[str, ...]]] = {}
# What the translations kept may hold at most, in characters: a group's multi-row
# statements are long (tens of kB for hundreds of rows), one text per number of rows.
_TRANSLATED_CHARS = 8_000_000
_translated_chars = 0


def translate(sql: str) -> tuple[str, tuple[str, ...]]:
    """SQLite's placeholders as PostgreSQL's own, numbered as SQLite numbers them: ``?``
    the next number, ``?N`` the Nth parameter, ``:name`` one number per name (text in
    quotes left alone); and the names in the order of their numbers (empty for a
    statement of ``?`` placeholders).

    psycopg is handed the statement as it goes to the server (a raw cursor): it does
    not parse it again on every call, which for a group's multi-row statements (more
    than 50 parameters, which psycopg does not cache) cost more than all the rest of
    preparing them."""
    global _translated_chars
    done = _TRANSLATED.get(sql)
    if done is not None:
        return done
    names: dict[str, int] = {}
    last = 0

    def swap(m: re.Match[str]) -> str:
        nonlocal last
        token = m.group()
        if token == "?":
            last += 1
            return f"${last}"
        if token.startswith("?"):
            last = max(last, int(token[1:]))
            return f"${int(token[1:])}"
        if token.startswith(":") and token != "::":
            number = names.get(token[1:])
            if number is None:
                last += 1
                number = names[token[1:]] = last
            return f"${number}"
        return token  # a cast, a quoted string or name

    done = (_TOKENS.sub(swap, sql), tuple(sorted(names, key=names.__getitem__)))
    if len(_TRANSLATED) < 4096 and _translated_chars + 2 * len(sql) <= _TRANSLATED_CHARS:
        _TRANSLATED[sql] = done
        _translated_chars += len(sql) + len(done[0])
    return done


class PgConn:
    """A psycopg connection as the parts' `Conn`."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any],
                 trace: Callable[[str], None] | None = None) -> None:
        self.raw = conn
        self.trace = trace

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (),
                /) -> Any:
        cursor = psycopg.RawCursor(self.raw)
        if parameters:
            sql, names = translate(sql)
            if isinstance(parameters, Mapping):
                parameters = [parameters[name] for name in names]
            cursor.execute(sql, parameters)
        else:
            cursor.execute(sql)
        if self.trace is not None:
            self.trace(sql)
        return _Cursor(cursor)

    def pipeline(self) -> contextlib.AbstractContextManager[Any]:
        """psycopg's pipeline mode, for `sql.pipelined`."""
        return self.raw.pipeline()


class _Cursor:
    """psycopg's cursor as the parts read SQLite's: no error for a statement with no rows."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> None:
        raise StoreError("lastrowid on PostgreSQL: write INSERT … RETURNING id")

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if _has_rows(self._cursor.pgresult) else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if _has_rows(self._cursor.pgresult) else []

    def __iter__(self) -> Any:
        return iter(self.fetchall())


def local_zone() -> str:
    """This process's time zone by name (TZ, else /etc/localtime's link), else UTC."""
    zone = os.environ.get("TZ", "").lstrip(":")
    if zone and not zone.startswith("/"):
        return zone
    target = os.path.realpath(zone or "/etc/localtime")
    return target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else "UTC"


def _connect(url: str, *, readonly: bool) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True,
                           row_factory=_row_factory, connect_timeout=10,
                           application_name="opchat")
    conn.adapters.register_dumper(bool, _BoolAsInt)
    # Hours and days are this process's local ones, as SQLite's 'localtime' gives them.
    conn.execute("SELECT set_config('TimeZone', %s, false)", (local_zone(),))
    if readonly:
        conn.execute("SET default_transaction_read_only = on")
    return conn


# -- the database ---------------------------------------------------------------------------


class PgDatabase:
    """`db.Database`'s interface over a PostgreSQL database."""

    # A value the server refuses for its type (text with a NUL, a number too big, a
    # value of a type the column does not hold), as db.Database.data_errors.
    data_errors: tuple[type[Exception], ...] = (psycopg.DataError,
                                                psycopg.errors.DatatypeMismatch)
    dialect = POSTGRESQL
    shared_locks = True  # the hub's lock is in the database (try_lock), not a file

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.path = None  # no file: the benchmark's raw SQLite rate does not apply
        self.read_only = read_only
        self.wal_unread = False
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="opchat-pg-write")
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="opchat-pg-read")
        self._writer: PgConn | None = None
        self._reader: PgConn | None = None
        self._on_commit: list[Callable[[], None]] = []
        self._riders: list[Callable[[Any], object]] = []  # see `ride_next_write`
        self._loop: asyncio.AbstractEventLoop | None = None
        self._version = 0
        self._own_pids: set[int] = set()
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._lock_pool = ThreadPoolExecutor(1, thread_name_prefix="opchat-pg-locks")
        self._locks: psycopg.Connection[Any] | None = None
        self._held: set[str] = set()

    def __str__(self) -> str:
        return redacted_url(self.url)

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()

        def open_writer() -> PgConn:
            raw = _connect(self.url, readonly=False)
            try:
                migrate_pg(raw, SCHEMA_VERSION)
            except BaseException:
                raw.close()
                raise
            return PgConn(raw)

        def open_reader() -> PgConn:
            raw = _connect(self.url, readonly=True)
            if self.read_only:
                version = pg_version(PgConn(raw))
                if version != SCHEMA_VERSION:
                    raw.close()
                    raise SchemaMismatch(version)
            return PgConn(raw)

        try:
            if not self.read_only:
                self._writer = await self._loop.run_in_executor(self._writer_pool, open_writer)
                self._own_pids.add(self._writer.raw.info.backend_pid)
            self._reader = await self._loop.run_in_executor(self._reader_pool, open_reader)
        except SchemaMismatch:
            await self.close()
            raise
        except SchemaTooNew as exc:
            await self.close()
            raise StoreError(f"{self}: {exc}") from exc
        except psycopg.Error as exc:
            await self.close()
            raise StoreError(f"{self}: {_reason(exc)}") from exc
        self._listener = threading.Thread(target=self._listen, name="opchat-pg-listen",
                                          daemon=True)
        self._listener.start()
        await self._loop.run_in_executor(None, self._listening.wait, 10.0)

    def _listen(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                     application_name="opchat-listen") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._version += 1  # whatever was announced while we were away
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if note.pid not in self._own_pids:
                                self._version += 1
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                log.warning("listening for changes on %s: %s; again in %.1f s",
                            self, _reason(exc), delay)
                self._listening.set()  # open() goes on; followers poll by the counter
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        self._stop.set()
        loop = asyncio.get_running_loop()
        for pool, conn in ((self._writer_pool, self._writer), (self._reader_pool, self._reader)):
            if conn is not None:
                await loop.run_in_executor(pool, conn.raw.close)
        self._writer = self._reader = None
        self._writer_pool.shutdown(wait=False)
        self._reader_pool.shutdown(wait=False)
        await loop.run_in_executor(self._lock_pool, self.unlock_all)
        self._lock_pool.shutdown(wait=False)
        if self._listener is not None:
            await loop.run_in_executor(None, self._listener.join, 5.0)
            self._listener = None

    # Locks held by this process as long as it lives (the hub's): session-level advisory
    # locks on a connection of their own, freed by the server when the process dies or
    # its connection breaks.

    async def try_lock(self, name: str) -> bool:
        """Take the lock ``name`` if nobody holds it; True if this process holds it."""
        assert self._loop is not None

        def take() -> bool:
            if self._locks is None or self._locks.closed:
                self._locks = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                              application_name="opchat-locks")
                self._locks.execute("SELECT pg_advisory_lock(%s, pg_backend_pid())",
                                    (MEMBER_SPACE,))
                self._held.clear()
            if name in self._held:
                return True
            got = self._locks.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                      (LOCK_SPACE, name)).fetchone()[0]
            if got:
                self._held.add(name)
            return bool(got)

        try:
            return await self._loop.run_in_executor(self._lock_pool, take)
        except psycopg.Error as exc:
            raise StoreError(f"{self}: {_reason(exc)}") from exc

    async def unlock(self, name: str) -> None:
        """Give the lock ``name`` back (another process may take it at once)."""
        assert self._loop is not None

        def give() -> None:
            if name in self._held and self._locks is not None and not self._locks.closed:
                self._locks.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                                    (LOCK_SPACE, name))
            self._held.discard(name)

        await self._loop.run_in_executor(self._lock_pool, give)

    async def members(self) -> int:
        """How many processes take locks here (the hubs alive), this one included: each
        holds a member lock keyed by its lock session while that session lives."""
        def count(conn: Conn) -> int:
            return conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = ? AND objsubid = 2", (MEMBER_SPACE,)).fetchone()[0]

        return await self.read(count)

    async def holds(self, name: str) -> bool:
        """Whether this process still holds ``name`` (its lock connection is alive)."""
        assert self._loop is not None

        def check() -> bool:
            if self._locks is None or self._locks.closed or name not in self._held:
                return False
            try:
                self._locks.execute("SELECT 1")
            except psycopg.Error:
                self._held.clear()
                return False
            return True

        return await self._loop.run_in_executor(self._lock_pool, check)

    def unlock_all(self) -> None:
        if self._locks is not None and not self._locks.closed:
            self._locks.close()
        self._held.clear()

    def trace(self, callback: Callable[[str, str], None] | None) -> None:
        for name, conn in (("writer", self._writer), ("reader", self._reader)):
            if conn is not None:
                conn.trace = (None if callback is None
                              else lambda sql, name=name: callback(name, sql))

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._on_commit.append(callback)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def ride_next_write(self, fn: Callable[[Any], object]) -> None:
        """As SQLite's `Database.ride_next_write`: ``fn(conn)`` at the end of this
        process's next write transaction, in a savepoint, a failure logged and undone."""
        if fn not in self._riders:
            self._riders.append(fn)

    def cancel_ride(self, fn: Callable[[Any], object]) -> None:
        with contextlib.suppress(ValueError):
            self._riders.remove(fn)

    def _ride(self, conn: PgConn) -> None:
        ride(self._riders, conn, lambda: True, psycopg.Error)

    def _begin(self, conn: PgConn, begin: str, *, readonly: bool) -> psycopg.Connection[Any]:
        """Begin a transaction on ``conn``; a connection found broken at the start (the
        server restarted, the network dropped while it was idle) is made again and the
        transaction begun there, nothing having been done on the old one."""
        raw = self._alive(conn, readonly=readonly)
        try:
            conn.execute(begin)
        except psycopg.OperationalError:
            if not (raw.closed or raw.broken):
                raise
            raw = self._alive(conn, readonly=readonly)
            conn.execute(begin)
        return raw

    def _alive(self, conn: PgConn, *, readonly: bool) -> psycopg.Connection[Any]:
        """``conn``'s connection, made again if the last one broke (a break in the middle
        of a transaction failed that call, and nothing of it was confirmed)."""
        raw = conn.raw
        if raw.closed or raw.broken:
            log.warning("the connection to %s was lost; connecting again", self)
            try:
                raw = conn.raw = _connect(self.url, readonly=readonly)
            except psycopg.Error as exc:
                raise StoreError(f"{self}: {_reason(exc)}") from exc
            if not readonly:
                self._own_pids.add(raw.info.backend_pid)
        return raw

    async def write(self, fn: Callable[Concatenate[Conn, P], T], *args: P.args,
                    **kwargs: P.kwargs) -> T:
        conn = self._writer
        if conn is None:
            raise StoreError("the database is open read-only" if self.read_only
                             else "the database is closed")

        def transaction() -> T:
            try:
                # BEGIN and the write lock in one round trip (with no parameters psycopg
                # sends both as one text); a lock that fails leaves a transaction begun.
                raw = self._begin(conn, _BEGIN_WRITE, readonly=False)
                result = fn(conn, *args, **kwargs)  # type: ignore[arg-type]
                if self._riders:
                    self._ride(conn)
            except BaseException:
                raw = conn.raw
                if not raw.closed and raw.info.transaction_status != 0:  # not IDLE
                    raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
            return result

        assert self._loop is not None
        future = self._loop.run_in_executor(self._writer_pool, transaction)
        # Once handed over, a write runs whole, its caller waiting or not (as on SQLite:
        # `Database._on_writer_thread`); what it raises then is nobody's to hear.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        result = await asyncio.shield(future)
        for callback in self._on_commit:
            callback()
        return result

    # Always on the writer's thread: every statement is a round trip to the server, which
    # the event loop must not wait for.
    write_short = write

    def short_write_here(self) -> bool:
        """Never: every statement is a round trip (see `write_short`)."""
        return False

    async def read(self, fn: Callable[Concatenate[Conn, P], T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        conn = self._reader
        if conn is None:
            raise StoreError("the database is closed")

        def snapshot() -> T:
            raw = self._begin(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                              readonly=True)
            try:
                return fn(conn, *args, **kwargs)  # type: ignore[arg-type]
            finally:
                if not raw.closed:
                    raw.execute("ROLLBACK")

        assert self._loop is not None
        return await self._loop.run_in_executor(self._reader_pool, snapshot)

    async def apart(self, fn: Callable[Concatenate[Conn, P], T], *args: P.args,
                    **kwargs: P.kwargs) -> T:
        """Run ``fn`` as one transaction on a connection of its own, without the write
        lock: for long work with no place in the change feed's order (the bytes of
        files, store/files.py), which so holds up neither this process's queries nor
        another machine's writes."""
        if self.read_only:
            raise StoreError("the database is open read-only")

        def run() -> T:
            try:
                raw = _connect(self.url, readonly=False)
            except psycopg.Error as exc:
                raise StoreError(f"{self}: {_reason(exc)}") from exc
            try:
                with raw.transaction():
                    return fn(PgConn(raw), *args, **kwargs)  # type: ignore[arg-type]
            finally:
                raw.close()

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, run)

    async def about(self) -> dict[str, Any]:
        def look(conn: Conn) -> dict[str, Any]:
            return {"backend": "postgresql", "where": str(self),
                    "schema": pg_version(conn),
                    "size": conn.execute("SELECT pg_database_size(current_database())"
                                         ).fetchone()[0],
                    "server": "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]}

        return await self.read(look)

    async def data_version(self) -> int:
        """Moves when another session's commit changed events or presence."""
        if self._reader is None:
            raise StoreError("the database is closed")
        return self._version


_BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({int(WRITE_LOCK)})"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_once(url: str, work: Callable[[PgConn], T]) -> T:
    """``work(conn)`` in one read-only snapshot on a connection of its own, for a look
    that opens no store (`opchat doctor`); Unreadable when the server cannot be read."""
    from opchat.store.readonly import Unreadable

    try:
        with _connect(url, readonly=True) as raw:
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return work(PgConn(raw))
    except psycopg.Error as exc:
        raise Unreadable(f"{redacted_url(url)}: {_reason(exc)}") from None
