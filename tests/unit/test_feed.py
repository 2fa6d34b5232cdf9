"""One reader per process: every follower gets every row once, and the table is read
once per wake however many follow."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.feed import Feed

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


class Table:
    """A table that only grows, read a page at a time, counting its reads."""

    def __init__(self, page: int = 3) -> None:
        self.rows: list[int] = []
        self.page = page
        self.reads = 0
        self.failing: Exception | None = None

    async def last(self) -> int:
        return self.rows[-1] if self.rows else 0

    async def after(self, position: int) -> list[int]:
        self.reads += 1
        await asyncio.sleep(0)  # a real read gives way to the loop
        if self.failing is not None:
            raise self.failing
        return [row for row in self.rows if row > position][:self.page]

    def add(self, *rows: int) -> None:
        self.rows.extend(rows)


def feed_of(table: Table) -> Feed[int]:
    return Feed(table.last, table.after, lambda row: row, "test")


async def collect(follow: AsyncIterator[list[int]], into: list[int], until: int) -> None:
    async for batch in follow:
        into.extend(batch)
        if into and into[-1] >= until:
            return


async def joined(feed: Feed[int], followers: int) -> None:
    while feed.followers < followers:
        await asyncio.sleep(0)


async def test_followers_share_one_read_of_each_new_row() -> None:
    table = Table()
    table.add(1, 2)
    feed = feed_of(table)
    seen: list[list[int]] = [[], [], []]
    tasks = [asyncio.create_task(collect(feed.follow(), rows, 9)) for rows in seen]
    await joined(feed, 3)
    await asyncio.sleep(0.01)  # the reader's first look has found nothing new
    reads = table.reads
    table.add(3, 4, 5, 6, 7, 8, 9)
    feed.wake()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert seen == [[3, 4, 5, 6, 7, 8, 9]] * 3  # from now on: not 1 and 2
    # Three pages and the empty read that ends them, for all three followers together.
    assert table.reads - reads == 4
    await feed.close()


async def test_a_follower_from_further_back_reads_its_backlog_then_joins() -> None:
    table = Table(page=2)
    table.add(1, 2, 3, 4, 5)
    feed = feed_of(table)
    live: list[int] = []
    first = asyncio.create_task(collect(feed.follow(), live, 8))
    await joined(feed, 1)
    replayed: list[int] = []
    second = asyncio.create_task(collect(feed.follow(after=1), replayed, 8))
    await joined(feed, 2)
    table.add(6, 7, 8)
    feed.wake()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert live == [6, 7, 8]
    assert replayed == [2, 3, 4, 5, 6, 7, 8]  # no gap, nothing twice
    await feed.close()


async def test_a_failed_read_reaches_every_follower_and_following_again_works() -> None:
    table = Table()
    feed = feed_of(table)

    async def first_batch() -> list[int]:
        async for batch in feed.follow():
            return batch
        return []

    tasks = [asyncio.create_task(first_batch()) for _ in range(2)]
    await joined(feed, 2)
    table.failing = OSError("disk I/O error")
    table.add(1)
    feed.wake()
    for task in tasks:
        with pytest.raises(OSError, match="disk I/O error"):
            await asyncio.wait_for(task, 5)
    table.failing = None
    again = asyncio.create_task(first_batch())
    await joined(feed, 1)
    table.add(2)
    feed.wake()
    assert await asyncio.wait_for(again, 5) == [2]
    await feed.close()


async def test_the_inbox_reads_new_events_once_for_all_its_followers(tmp_path: Path) -> None:
    """The app, the hub's outbox and the automatic answers all follow one process's
    inbox: a new message costs one read of the events table, not one per follower."""
    from opchat.inbox import Inbox
    from opchat.model import EventKind, InboundMessage

    inbox = await Inbox.open(tmp_path, "anna")
    reads: list[str] = []
    seen: list[list[str]] = [[], [], []]

    async def follow(into: list[str], kinds: set[str] | None) -> None:
        async for events in inbox.changes(kinds=kinds):
            into.extend(event.kind for event in events)
            if EventKind.MESSAGE_NEW in into:
                return

    try:
        tasks = [asyncio.create_task(follow(seen[0], None)),
                 asyncio.create_task(follow(seen[1], None)),
                 asyncio.create_task(follow(seen[2], {EventKind.MESSAGE_NEW}))]
        while inbox._events.followers < 3:
            await asyncio.sleep(0.01)
        # The feed's first look (a read started with its reader) is done: on a loaded
        # machine it could otherwise run after the commit below, and the commit's wake
        # then read again, finding nothing.
        await inbox.store.db.read(lambda conn: None)
        inbox.store.db.trace(lambda conn, sql: reads.append(sql)
                             if "FROM events WHERE id >" in sql else None)
        await inbox.store.inbound.ingest(InboundMessage(
            channel="web", chat_id="c1", external_id="c1-1", sender_id="c1",
            sender_name="Vera", body="hi"))
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    finally:
        inbox.store.db.trace(None)
        await inbox.close()
    assert seen[0] == seen[1] == ["conversation.new", "message.new"]
    assert seen[2] == ["message.new"]
    # The batch, shorter than a page, so no read to learn that it ends (and the watcher
    # of other processes' commits does not see this one); one per follower would be
    # three at least.
    assert 1 <= len(reads) <= 2


def feed_of_pages(table: Table) -> Feed[int]:
    return Feed(table.last, table.after, lambda row: row, "test", page=table.page)


async def test_a_short_page_ends_the_read() -> None:
    table = Table(page=3)
    feed = feed_of_pages(table)
    seen: list[int] = []
    task = asyncio.create_task(collect(feed.follow(), seen, 5))
    await joined(feed, 1)
    await asyncio.sleep(0.01)  # the reader's first look has found nothing new
    reads = table.reads
    table.add(1, 2, 3, 4, 5)
    feed.wake()
    await asyncio.wait_for(task, 5)
    assert seen == [1, 2, 3, 4, 5]
    assert table.reads - reads == 2  # a full page, then a short one: no empty read
    await feed.close()


async def test_own_commits_are_read_once_and_other_processes_are_still_seen(
    tmp_path: Path,
) -> None:
    """This process's commit wakes the feeds through its hook; the watcher of other
    processes' commits looks at the writer's data_version, which that commit leaves."""
    from opchat.inbox import Inbox
    from opchat.model import EventKind, InboundMessage, PresenceKind

    inbox = await Inbox.open(tmp_path, "anna")
    other = await Inbox.open(tmp_path, "boris")  # another process's connections
    db = inbox.store.db
    looks = 0
    real = db.data_version

    async def counted() -> int:
        nonlocal looks
        looks += 1
        return await real()

    db.data_version = counted  # type: ignore[method-assign]
    reads: list[str] = []
    presence_reads: list[str] = []
    seen: list[str] = []
    present: list[str] = []

    async def follow() -> None:
        async for events in inbox.changes():
            seen.extend(event.kind for event in events)

    async def follow_presence() -> None:
        async for rows in inbox.presence_changes():
            present.extend(row.who for row in rows)

    def traced(connection: str, sql: str) -> None:
        if "FROM events WHERE" in sql:
            reads.append(sql)
        elif "FROM presence WHERE seq" in sql:
            presence_reads.append(sql)

    task = asyncio.create_task(follow())
    presence = asyncio.create_task(follow_presence())
    try:
        while inbox._events.followers < 1 or inbox._presence.followers < 1 or looks < 2:
            await asyncio.sleep(0.01)
        db.trace(traced)
        await inbox.store.inbound.ingest(InboundMessage(
            channel="web", chat_id="c1", external_id="c1-1", sender_id="c1",
            sender_name="Vera", body="hi"))
        start = looks
        while EventKind.MESSAGE_NEW not in seen or looks < start + 3:
            await asyncio.sleep(0.01)
        assert len(reads) == 1  # three looks later, still the one read
        assert not presence_reads  # a message changes no presence: nothing to read
        await inbox.store.presence.set(PresenceKind.ONLINE, "anna")  # one presence commit
        while "anna" not in present:
            await asyncio.sleep(0.01)
        assert len(presence_reads) == 1
        await other.store.inbound.ingest(InboundMessage(
            channel="web", chat_id="c2", external_id="c2-1", sender_id="c2",
            sender_name="Lev", body="hello"))
        while seen.count(EventKind.MESSAGE_NEW) < 2:
            await asyncio.sleep(0.01)
    finally:
        db.trace(None)
        for follower in (task, presence):
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await other.close()
        await inbox.close()
