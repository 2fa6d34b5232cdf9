"""Work that follows this process's commits in groups instead of inside each one.

Some tables are derived from others and need not change in the transaction that
changes their source: the messages' search index (store/search.py, SQLite) and the
figures' roll-up per day (store/rollup.py). Written in every message's own
transaction on SQLite they cost a large share of an ingest (an index insert, a
day's and an hour's row, each a page of the WAL per commit); written for many
messages at once, a small fraction. A `CatchUp` runs such work:

- after a commit of this process that inserted rows into its source table (seen
  by a temporary trigger on SQLite's writer connection; on PostgreSQL, after any
  commit of this process but the work's own), at the end of the first
  write transaction that starts DELAY later, inside a savepoint (so a stream of
  messages catches up in groups, with no transaction of its own); or in a
  transaction of its own ALONE after that commit if no write comes;
- whenever its owner asks (`now`): when the store opens (a process that ended
  before catching up) and closes, and before a read that needs it whole.

Each work function reads how far it has got from the database itself, so
running it when nothing is due costs two reads and writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from opchat.store.db import Database
from opchat.store.sql import Conn

log = logging.getLogger("opchat.store")

# From a commit that inserted source rows to the work riding along in the next write,
# or running alone if none comes (seconds).
DELAY = 0.25
ALONE = 2.0


class CatchUp:
    """``work(conn)`` kept up with the rows this process inserts into ``table`` (see
    the module); ``what`` names it in the log. On a read-only database it never runs."""

    def __init__(self, db: Database, table: str, work: Callable[[Conn], int],
                 what: str) -> None:
        self.db = db
        self._work = work
        self._what = what
        self._inserted = False  # a row was inserted here since the work last ran
        self._ride_soon: asyncio.TimerHandle | None = None
        self._alone_later: asyncio.TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None
        self._own = False  # this work's own transaction is committing (`now`)
        self._active = not db.read_only
        if self._active:
            if db.dialect.remote:
                # No server calls back into this process from a trigger: any commit of
                # its own may have inserted rows (the work finds what is due itself).
                db.on_commit(self._any_commit)
            else:
                db.on_insert(table, self._row_inserted)
            db.on_commit(self._committed)

    async def now(self) -> int:
        """Run the work in a transaction of its own; what it returns (0 on a read-only
        database, where nothing runs)."""
        if not self._active:
            return 0
        self._stop_waiting()
        self._own = True
        try:
            return await self.db.write_short(self._run)
        finally:
            self._own = False

    async def now_or_log(self) -> None:
        """`now`; a failure is logged, not raised (a later commit, read or open tries
        again)."""
        try:
            await self.now()
        except Exception as exc:
            log.warning("%s could not catch up: %s", self._what, exc)

    async def close(self) -> None:
        """Run whatever is due (the next open would, but a closed store is whole)."""
        self._stop_waiting()
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        await self.now_or_log()

    def _row_inserted(self) -> None:  # in the inserting transaction, on its thread
        self._inserted = True

    def _any_commit(self) -> None:
        if not self._own:
            self._inserted = True

    def _committed(self) -> None:
        """After each of this process's commits: when it inserted source rows, the work
        rides on the first write transaction that starts DELAY later, or runs alone
        ALONE later if no write comes."""
        if not self._inserted or self._ride_soon is not None or self._alone_later is not None:
            return
        loop = asyncio.get_running_loop()
        self._ride_soon = loop.call_later(DELAY, self._ride)
        self._alone_later = loop.call_later(ALONE, self._alone)

    def _ride(self) -> None:
        self._ride_soon = None
        self.db.ride_next_write(self._riding)

    def _alone(self) -> None:
        self._alone_later = None
        self.db.cancel_ride(self._riding)
        self._running = asyncio.get_running_loop().create_task(
            self.now_or_log(), name=f"catch-up {self._what}")

    def _stop_waiting(self) -> None:
        for timer in (self._ride_soon, self._alone_later):
            if timer is not None:
                timer.cancel()
        self._ride_soon = self._alone_later = None
        self.db.cancel_ride(self._riding)

    def _run(self, conn: Conn) -> int:
        self._inserted = False  # before reading what is due: a later insert sets it again
        return self._work(conn)

    def _riding(self, conn: Conn) -> None:
        self._run(conn)
        loop = self.db.loop
        if loop is not None:  # nothing is left for the timer that would run it alone
            loop.call_soon_threadsafe(self._rode)

    def _rode(self) -> None:
        if self._alone_later is not None:
            self._alone_later.cancel()
            self._alone_later = None
