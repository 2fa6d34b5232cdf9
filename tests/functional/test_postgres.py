"""What only a PostgreSQL store does: several processes writing at once, the hub lock in
the database, `db migrate-to` and `db status`, the config's `[store] url`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage
from tests.backends import raw

WRITERS = 4
EACH = 150


def message(n: int, chat: str) -> InboundMessage:
    return InboundMessage(channel="demo", chat_id=chat, external_id=f"{chat}-{n}",
                          sender_id=chat, sender_name=chat, body=f"message {n}")


_WRITER = """
import asyncio, sys
from pathlib import Path
from opchat.store import Store
from opchat.model import InboundMessage

async def main(name, count):
    store = await Store.open(Path("/nonexistent"), url=sys.argv[3])
    await store.channels.ensure("demo", "demo")
    for n in range(count):
        await store.inbound.ingest(InboundMessage(
            channel="demo", chat_id=name, external_id=f"{name}-{n}", sender_id=name,
            sender_name=name, body=f"message {n}"))
    await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.fixture
def url(postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    database = postgres.database()
    monkeypatch.setenv("OPCHAT_DATABASE_URL", database)
    return database


async def test_a_follower_misses_no_event_while_processes_write_at_once(
        url: str, tmp_path: Path) -> None:
    """Events committed by several processes at once reach a follower in another process
    each exactly once: ids are never committed out of order (the write lock)."""
    inbox = await Inbox.open(tmp_path, "anna")
    seen: list[int] = []
    try:
        async def follow() -> None:
            async for batch in inbox.changes():
                seen.extend(e.id for e in batch if e.kind == "message.new")

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0)
        writers = [await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, f"w{i}", str(EACH), url,
            cwd=Path(__file__).parents[2]) for i in range(WRITERS)]
        for writer in writers:
            assert await writer.wait() == 0
        deadline = asyncio.get_running_loop().time() + 30
        while len(seen) < WRITERS * EACH and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        follower.cancel()
        stored = [r[0] for r in raw(tmp_path, "SELECT id FROM events WHERE kind = "
                                              "'message.new' ORDER BY id")]
        assert len(stored) == WRITERS * EACH
        assert sorted(seen) == stored  # every one, once
        assert seen == sorted(seen)  # and in order
    finally:
        await inbox.close()


async def test_the_hub_lock_is_held_in_the_database_and_freed_with_its_process(
        url: str, tmp_path: Path) -> None:
    from opchat.hub import DatabaseHubLock

    one = await Inbox.open(tmp_path / "one", "anna")
    two = await Inbox.open(tmp_path / "two", "boris")  # another machine: another data dir
    try:
        first, second = DatabaseHubLock(one.store.db), DatabaseHubLock(two.store.db)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.held()
        assert "server pid" in (await second.holder() or "")
        # The server frees it with the session (a killed process, a broken link).
        raw(tmp_path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'opchat-locks' AND pid IN (SELECT pid "
                      "FROM pg_locks WHERE locktype = 'advisory' AND granted)")
        assert not await first.held()
        for _ in range(100):
            if await second.try_acquire():
                break
            await asyncio.sleep(0.05)
        assert await second.held()
    finally:
        await one.close()
        await two.close()


def opchat(*args: str, env: dict[str, str] | None = None,
           data: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {}), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "opchat", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=full, timeout=120)


async def test_migrate_to_copies_everything_and_the_copy_works(
        postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPCHAT_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    inbox = await Inbox.open(data, "anna")
    for n in range(30):
        got = await inbox.store.inbound.ingest(message(n, f"c{n % 4}"))
    await inbox.send(got.conversation_id, "Ответ оператора")
    await inbox.label(got.conversation_id, "VIP")
    await inbox.close()
    before = (data / "opchat.db").read_bytes()

    target = postgres.server.create_database()  # empty: not even migrated
    done = opchat("db", "migrate-to", target, data=data, env={"OPCHAT_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert "copied and checked" in done.stdout and "messages: 31 of 31 rows" in done.stderr
    assert (data / "opchat.db").read_bytes() == before  # the file is left as it was

    again = opchat("db", "migrate-to", target, data=data)
    assert again.returncode != 0 and "already holds a store" in again.stderr

    status = opchat("--database-url", target, "db", "status", data=data)
    assert "store: postgresql" in status.stdout and "schema version" in status.stdout
    found = opchat("--database-url", target, "search", "Ответ", data=data)
    assert found.returncode == 0 and "Ответ" in found.stdout

    monkeypatch.setenv("OPCHAT_DATABASE_URL", target)
    copy = await Inbox.open(data, "anna")
    try:
        conversations = await copy.conversations()
        assert len(conversations) == 4
        labelled = [c for c in conversations if c.labels == ("VIP",)]
        assert len(labelled) == 1
        # New rows continue after the copied ids.
        more = await copy.store.inbound.ingest(message(99, "c9"))
        assert more.message_id == 32
    finally:
        await copy.close()


def test_a_store_url_that_is_not_postgresql_names_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('language = "en"\n\n[store]\nurl = "mysql://root:secret@db/opchat"\n')
    done = opchat("--config", str(config), "db", "status", data=tmp_path / "data")
    assert done.returncode != 0
    assert f"{config}:4:" in done.stderr and "store.url" in done.stderr
    assert "secret" not in done.stderr  # the password is never shown
