"""One reader per process of a table that only grows (the events, presence's seq).

The UI, the hub's outbox and the automatic answers all follow the events table.
Each following it alone would read every new row once per follower; a `Feed` reads
what is new once per wake and hands the same batch to each of them. A follower that
starts further back (the hub replays the last minutes) reads its backlog itself,
then joins the shared batches where the reader stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Feed(Generic[T]):
    """Batches of new rows for any number of followers, read once.

    ``last_position()``: where the table ends now; ``read_after(p)``: the next rows
    after position ``p`` (a page, in order; with ``page``, at most that many, so a
    shorter page is the end and is not read past again); ``position(row)``: a row's
    position.
    Call :meth:`wake` when something may have been committed (this process's commit
    hook, or a watcher of other processes' commits).
    """

    def __init__(self, last_position: Callable[[], Awaitable[int]],
                 read_after: Callable[[int], Awaitable[Sequence[T]]],
                 position: Callable[[T], int], name: str,
                 on_follow: Callable[[], None] = lambda: None, page: int | None = None) -> None:
        self._last_position = last_position
        self._page = page
        self._read_after = read_after
        self._position = position
        self._name = name
        self._on_follow = on_follow  # a follower has joined (start watching for commits)
        self._queues: set[asyncio.Queue[list[T] | BaseException]] = set()
        self._wakeup = asyncio.Event()
        self._starting = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._last = 0  # what the reader has handed out, up to (and including)

    @property
    def followers(self) -> int:
        return len(self._queues)

    def wake(self) -> None:
        self._wakeup.set()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def follow(self, after: int | None = None) -> AsyncIterator[list[T]]:
        """Batches of rows after position ``after`` (None: from now on), as long as you
        iterate. A failure to read is raised here, in every follower; follow again."""
        queue: asyncio.Queue[list[T] | BaseException] = asyncio.Queue()
        async with self._starting:
            if self._reader is None or self._reader.done():
                # Before the reader exists nothing is handed out: its start is the mark.
                self._last = await self._last_position()
                self._reader = asyncio.create_task(self._read(), name=f"opchat-{self._name}")
                self.wake()  # a first look: a commit may have come before the hook knew us
            self._queues.add(queue)
            mark = self._last  # the queue gets every row after this, and no other
        self._on_follow()
        try:
            start = mark if after is None else after
            while start < mark:  # the backlog, read by this follower alone
                rows = [row for row in await self._read_after(start)
                        if self._position(row) <= mark]
                if not rows:
                    break
                start = self._position(rows[-1])
                yield rows
            while True:
                batch = await queue.get()
                if isinstance(batch, BaseException):
                    raise batch
                rows = [row for row in batch if self._position(row) > start]
                if rows:
                    start = self._position(rows[-1])
                    yield rows
        finally:
            self._queues.discard(queue)
            if not self._queues and self._reader is not None:
                self._reader.cancel()  # nobody follows: the next follower starts another
                self._reader = None

    async def _read(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while True:
                    rows = list(await self._read_after(self._last))
                    if not rows:
                        break
                    self._last = self._position(rows[-1])
                    for queue in self._queues:
                        queue.put_nowait(rows)
                    if self._page is not None and len(rows) < self._page:
                        break  # the end: no second read to learn it
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the followers say it and follow again
            for queue in self._queues:
                queue.put_nowait(exc)
