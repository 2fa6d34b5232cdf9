"""Presence: ephemeral who-is-here state shared between processes through the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage, PresenceKind

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.fixture
async def anna(tmp_path: Path) -> AsyncIterator[Inbox]:
    box = await Inbox.open(tmp_path, "anna")
    yield box
    await box.close()


@pytest.fixture
async def boris(tmp_path: Path, anna: Inbox) -> AsyncIterator[Inbox]:
    # A second connection to the same file: another operator's process, as far as
    # SQLite is concerned.
    box = await Inbox.open(tmp_path, "boris")
    yield box
    await box.close()


async def dialog(inbox: Inbox, chat: str = "c1") -> int:
    got = await inbox.store.inbound.ingest(InboundMessage(
        channel="web", chat_id=chat, external_id=f"{chat}-1", sender_id=chat,
        sender_name="Vera", body="hi"))
    return got.conversation_id


async def test_viewing_one_dialog_at_a_time(anna: Inbox) -> None:
    first, second = await dialog(anna, "c1"), await dialog(anna, "c2")
    await anna.heartbeat(first)
    await anna.set_viewing(second)
    now = await anna.presence()
    assert {(p.kind, p.who, p.conversation_id) for p in now} == {
        (PresenceKind.ONLINE, "anna", 0), (PresenceKind.VIEWING, "anna", second)}


async def test_leave_ends_everything(anna: Inbox) -> None:
    conv = await dialog(anna)
    await anna.heartbeat(conv)
    await anna.set_typing(conv)
    await anna.leave()
    assert await anna.presence() == []


async def test_states_expire_by_themselves(tmp_path: Path) -> None:
    clock = [1000.0]
    box = await Inbox.open(tmp_path, "anna", clock=lambda: clock[0])
    try:
        conv = await dialog(box)
        await box.set_typing(conv)
        assert [p.kind for p in await box.presence()] == [PresenceKind.TYPING]
        clock[0] += 60
        assert await box.presence() == []
    finally:
        await box.close()


async def test_another_process_sees_changes(anna: Inbox, boris: Inbox) -> None:
    conv = await dialog(anna)
    seen: list[tuple[str, str, int, bool]] = []
    changed = asyncio.Event()

    async def follow() -> None:
        async for rows in boris.presence_changes():
            now = boris.clock()
            seen.extend((p.kind.value, p.who, p.conversation_id, p.active(now)) for p in rows)
            changed.set()

    follower = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.1)  # the follower has taken its starting position
        await anna.set_typing(conv)
        await asyncio.wait_for(changed.wait(), 5)
        assert seen == [("typing", "anna", conv, True)]
        changed.clear()
        await anna.set_typing(None)
        await asyncio.wait_for(changed.wait(), 5)
        # State, not history: a follower sees the latest state of each row.
        assert seen[-1] == ("typing", "anna", conv, False)
    finally:
        follower.cancel()


async def test_customer_typing_needs_a_dialog(anna: Inbox) -> None:
    assert await anna.store.presence.customer_typing("web", "nobody", "hel") is None
    conv = await dialog(anna)
    assert await anna.store.presence.customer_typing("web", "c1", "where is my ord") == conv
    [row] = await anna.presence()
    assert (row.kind, row.who, row.conversation_id, row.text) == (
        PresenceKind.CUSTOMER_TYPING, "", conv, "where is my ord")
    await anna.store.presence.customer_typing("web", "c1", ttl=0)
    assert await anna.presence() == []


async def test_expired_rows_are_swept(anna: Inbox) -> None:
    conv = await dialog(anna)
    for _ in range(300):  # more changes than the sweep interval
        await anna.store.presence.set(PresenceKind.TYPING, "anna", conv, ttl=-7200)

    def count(conn):  # type: ignore[no-untyped-def]
        return conn.execute("SELECT count(*) FROM presence").fetchone()[0]

    assert await anna.store.db.read(count) <= 1


async def test_a_reply_ends_its_authors_typing_in_its_own_transaction(anna: Inbox,
                                                                      boris: Inbox) -> None:
    """Colleagues see the reply instead of "typing…", with no write of its own."""
    conv = await dialog(anna)
    await anna.set_typing(conv)
    await boris.set_typing(conv)
    seen: list[tuple[str, bool]] = []
    ended = asyncio.Event()

    async def follow() -> None:
        async for rows in anna.presence_changes():
            now = anna.clock()
            seen.extend((p.who, p.active(now)) for p in rows)
            if ("anna", False) in seen:
                ended.set()

    follower = asyncio.create_task(follow())
    try:
        while anna._presence.followers < 1:
            await asyncio.sleep(0.01)
        writes: list[str] = []
        anna.store.db.trace(lambda connection, sql: writes.append(sql)
                            if connection == "writer" and sql.startswith("BEGIN") else None)
        await anna.send(conv, "On its way")
        anna.store.db.trace(None)
        await asyncio.wait_for(ended.wait(), 5)  # this process's follower was told
    finally:
        follower.cancel()
    assert len(writes) == 1
    typing = {p.who for p in await anna.presence()
              if p.kind is PresenceKind.TYPING and p.active(anna.clock())}
    assert typing == {"boris"}  # only the author's ended
