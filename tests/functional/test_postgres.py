"""What only a PostgreSQL store does: several processes writing at once, the hub lock in
the database, `db migrate-to` and `db status`, the config's `[store] url`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

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


async def test_a_channel_lock_is_held_in_the_database_and_freed_with_its_process(
        url: str, tmp_path: Path) -> None:
    one = await Inbox.open(tmp_path / "one", "anna")
    two = await Inbox.open(tmp_path / "two", "boris")  # another machine: another data dir
    try:
        first, second = one.store.db, two.store.db
        assert await first.try_lock("channel:shop")
        assert not await second.try_lock("channel:shop")
        assert await first.holds("channel:shop")
        from opchat.store.readonly import lock_holders

        assert "server pid" in lock_holders(url, ["channel:shop"])["channel:shop"]
        assert await second.try_lock("channel:other")
        assert await first.members() == 2
        # The server frees them with the session (a killed process, a broken link).
        raw(tmp_path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "application_name = 'opchat-locks' AND pid IN (SELECT pid FROM pg_locks "
                      "WHERE locktype = 'advisory' AND granted AND objid = hashtext(?)::oid)",
                      ("channel:shop",))
        assert not await first.holds("channel:shop")
        for _ in range(100):
            if await second.try_lock("channel:shop"):
                break
            await asyncio.sleep(0.05)
        assert await second.holds("channel:shop")
        assert await second.members() == 1
    finally:
        await one.close()
        await two.close()


async def test_a_channel_no_running_hub_names_is_shown_stopped_and_why(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hubs sharing the store: the one with the duties shows stopped a channel whose
    lock nobody holds and its own config does not name (its hub was killed, and no
    running hub names it); a channel another hub runs is left to that hub, and so are
    the webhooks' rows."""
    from opchat import hub as hub_module
    from opchat.model import Health
    from tests.channels import until

    monkeypatch.setattr(hub_module, "UNRUN_EVERY", 2)
    one = await Inbox.open(tmp_path / "one", "anna")
    two = await Inbox.open(tmp_path / "two", "boris")  # another machine's hub
    runner = None
    try:
        for name, kind in (("gone", "telegram"), ("elsewhere", "telegram"),
                           ("webhook:crm", "webhook")):
            await one.store.channels.ensure(name, kind)
            await one.store.channels.set_health(name, Health.OK, "polling")
        assert await two.store.db.try_lock("channel:elsewhere")

        async def health() -> dict[str, tuple[Health, str]]:
            return {c.name: (c.health, c.health_detail) for c in await one.channels()}

        runner = asyncio.create_task(hub_module.run_hub_when_free(
            one, [], tmp_path / "one", poll=0.1))
        why = "not run: no running hub has taken it"
        await until(lambda: _health_is(health, "gone", (Health.STOPPED, why)),
                    "the channel nobody runs shown stopped", timeout=20)
        now = await health()
        assert now["elsewhere"] == (Health.OK, "polling")
        assert now["webhook:crm"] == (Health.OK, "polling")
        # Its hub goes away: within a few polls nobody runs it, and it is said so.
        await two.store.db.unlock("channel:elsewhere")
        await until(lambda: _health_is(health, "elsewhere", (Health.STOPPED, why)),
                    "the channel of the hub gone shown stopped", timeout=20)
        assert (await health())["webhook:crm"] == (Health.OK, "polling")
    finally:
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await one.close()
        await two.close()


async def _health_is(health: Any, name: str, expected: tuple[Any, str]) -> bool:
    return bool((await health()).get(name) == expected)


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
    russian = opchat("--lang", "ru", "db", "migrate-to", target, data=data)
    assert russian.returncode != 0 and "в базе уже есть хранилище" in russian.stderr

    status = opchat("--database-url", target, "db", "status", data=data)
    assert "store: postgresql" in status.stdout and "schema version" in status.stdout
    found = opchat("--database-url", target, "search", "Ответ", data=data)
    assert found.returncode == 0 and "Ответ" in found.stdout
    # The copy exports as the same records as the file, line for line.
    exported = [opchat(*url, "export", data=data, env={"OPCHAT_DATABASE_URL": ""})
                for url in ((), ("--database-url", target))]
    assert all(e.returncode == 0 for e in exported), [e.stderr for e in exported]
    from_file, from_copy = (e.stdout.splitlines()[1:] for e in exported)
    assert len(from_file) > 60 and from_copy == from_file

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


# Two hubs on one database -----------------------------------------------------------------


def channel_holders(tmp_path: Path, names: list[str]) -> dict[str, int]:
    """channel -> the server pid of the session holding its lock."""
    from opchat.store.pg import LOCK_SPACE

    rows = raw(tmp_path, "SELECT l.objid, l.pid FROM pg_locks l WHERE l.locktype = 'advisory' "
                         "AND l.granted AND l.classid = ? AND l.objsubid = 2", (LOCK_SPACE,))
    by_key = {key: pid for key, pid in rows}
    keys = raw(tmp_path, "SELECT " + ", ".join(["hashtext(?)::oid"] * len(names)),
               tuple(f"channel:{n}" for n in names))[0]
    return {name: by_key[key] for name, key in zip(names, keys, strict=True) if key in by_key}


async def test_two_hubs_share_the_channels_and_a_killed_ones_move_to_the_other(
        url: str, tmp_path: Path) -> None:
    from tests.channels import Serve, holds, until
    from tests.telegram_api import CUSTOMER, TOKEN, BotAPI, text_update

    names = ["north", "south", "east"]
    apis = {name: await BotAPI().start() for name in names}
    config = "".join(f'[channels.{name}]\nkind = "telegram"\ntoken = "{TOKEN}"\n'
                     f'api_base = "{api.base}"\npoll_timeout = 1\n\n'
                     for name, api in apis.items())
    for machine in ("one", "two"):
        (tmp_path / machine).mkdir()
    first, second = Serve(tmp_path / "one", config), Serve(tmp_path / "two", config)
    expected: set[str] = set()

    def push(round_: int) -> None:
        for i, (name, api) in enumerate(apis.items()):
            for n in range(20):
                user = dict(CUSTOMER, id=7000 + i * 10 + n % 3)
                number = round_ * 100 + n + 1
                api.push(text_update(number, f"{name} {number}", user=user))
                expected.add(f"{name}:{user['id']}:{number}")

    def stored() -> set[str]:
        return {f"{c}:{e}" for c, e in raw(tmp_path, "SELECT ch.name, m.external_id FROM "
                                                     "messages m JOIN channels ch ON "
                                                     "ch.id = m.channel_id")}

    try:
        await first.start()
        await until(lambda: holds(len(channel_holders(tmp_path, names)) == 3),
                    "the first hub holding every channel", timeout=30)
        await second.start()
        # Three channels, two hubs: two and one.
        await until(lambda: holds(sorted(Counter(
            channel_holders(tmp_path, names).values()).values()) == [1, 2]),
            "the channels shared between the hubs", timeout=30)
        push(0)
        await until(lambda: holds(stored() == expected), "the first round stored",
                    timeout=30)
        # The first hub dies mid-stream: its channels go to the second.
        push(1)
        first.kill()
        await first.killed()
        push(2)
        await until(lambda: holds(len(set(channel_holders(tmp_path, names).values())) == 1
                                  and len(channel_holders(tmp_path, names)) == 3),
                    "the second hub holding every channel", timeout=30)
        await until(lambda: holds(stored() >= expected), "every message stored", timeout=30)
        assert stored() == expected
        count = raw(tmp_path, "SELECT count(*) FROM events WHERE kind = 'message.new'")[0][0]
        assert count == len(expected)  # each stored once, announced once

        # A reply to a dialog of any channel goes out once, from the hub that has it now.
        inbox = await Inbox.open(tmp_path / "operator", "anna")
        try:
            conversation = next(c for c in await inbox.conversations()
                                if c.channel_name == "north")
            reply = await inbox.send(conversation.id, "Отправлено сегодня")
            await until(lambda: holds(apis["north"].calls_to("sendMessage")), "the reply",
                        timeout=20)
            await until(lambda: _sent(inbox, reply.id), "the reply recorded sent",
                        timeout=20)
        finally:
            await inbox.close()
        assert [c.params["text"] for c in apis["north"].calls_to("sendMessage")] == [
            "Отправлено сегодня"]
    finally:
        for serve in (first, second):
            await serve.stop()
        for api in apis.values():
            await api.close()


async def _sent(inbox: Inbox, message_id: int) -> bool:
    from opchat.model import MessageState

    message = await inbox.message(message_id)
    return message is not None and message.state is MessageState.SENT


def test_every_migration_is_written_for_both_databases() -> None:
    from opchat.store.schema import SCHEMA_VERSION
    from opchat.store.schema_pg import BASELINE_VERSION, PG_MIGRATIONS

    assert sorted(PG_MIGRATIONS) == list(range(BASELINE_VERSION + 1, SCHEMA_VERSION + 1))


def test_migrate_to_knows_every_table(tmp_path: Path) -> None:
    """A table a migration adds is copied by `db migrate-to` (or the copy refuses)."""
    import sqlite3

    from opchat.store.copy import tables_of

    asyncio.run(_open_and_close(tmp_path))
    conn = sqlite3.connect(tmp_path / "opchat.db")
    try:
        tables_of(conn)  # raises for a table it does not know
    finally:
        conn.close()


async def _open_and_close(data: Path) -> None:
    from opchat.store import Store

    store = await Store.open(data, url="")
    await store.close()


def test_an_unreachable_server_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    from tests.channels import free_port

    url = f"postgresql://opchat:secret@127.0.0.1:{free_port()}/opchat"
    data = tmp_path / "data"
    for args in (("db", "status"), ("search", "hello"), ("export",), ("replies", "list")):
        done = opchat("--database-url", url, *args, data=data)
        assert done.returncode != 0, args
        assert "Traceback" not in done.stderr and "database:" in done.stderr, done.stderr
        assert "secret" not in done.stderr  # never the password
    doctor = opchat("--database-url", url, "doctor", data=data)
    assert doctor.returncode == 1
    [line] = [line for line in doctor.stdout.splitlines() if "database" in line]
    assert line.startswith("[FAIL]") and "127.0.0.1" in line and "secret" not in line


async def test_a_lost_connection_fails_one_call_and_the_next_reconnects(
        url: str, tmp_path: Path) -> None:
    """The server drops every session (a restart, a broken link) while the store is idle:
    the next calls connect again, and other processes' news still wakes it."""
    inbox = await Inbox.open(tmp_path, "anna")
    try:
        await inbox.store.channels.ensure("demo", "demo")
        await inbox.store.inbound.ingest(message(1, "c1"))
        raw(tmp_path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid != pg_backend_pid()")
        for n in range(2, 6):
            await inbox.store.inbound.ingest(message(n, "c1"))
        [conversation] = await inbox.conversations()
        assert len(await inbox.messages(conversation.id)) == 5
        # Another process's message still reaches this one's feed (LISTEN came back too).
        seen: list[int] = []

        async def follow() -> None:
            async for batch in inbox.changes():
                seen.extend(e.id for e in batch)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.2)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WRITER, "other", "1", url, cwd=Path(__file__).parents[2])
        assert await proc.wait() == 0
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        follower.cancel()
        assert seen
    finally:
        await inbox.close()


async def test_a_write_that_cannot_take_the_write_lock_fails_alone(
        url: str, tmp_path: Path) -> None:
    """BEGIN and the write lock go in one round trip: when the lock fails (here its wait
    times out, another session holding it), the transaction just begun is rolled back,
    and the next write, the lock free again, goes through."""
    import psycopg

    from opchat.store.schema_pg import WRITE_LOCK

    waits_200_ms = f"{url}?options=-c%20lock_timeout%3D200"
    inbox = await Inbox.open(tmp_path, "anna", database_url=waits_200_ms)
    try:
        await inbox.store.inbound.ingest(message(1, "c1"))
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await inbox.store.inbound.ingest_batch([message(2, "c1")])
        await inbox.store.inbound.ingest(message(3, "c1"))
        [conversation] = await inbox.conversations()
        assert [m.external_id for m in await inbox.messages(conversation.id)] == [
            "c1-1", "c1-3"]
    finally:
        await inbox.close()


async def test_a_group_waits_for_the_server_three_times_whatever_its_size(
        url: str, tmp_path: Path) -> None:
    """A group's new rows get their ids drawn beforehand, so that its writes need no
    answer and go to the server in one pipeline: its transaction waits for the server
    at the look-up, the ids and the writes' end (BEGIN and COMMIT apart), for three
    messages as for fifty, new dialogs and known ones alike."""
    from psycopg.pq import Trace

    inbox = await Inbox.open(tmp_path, "anna", database_url=url)
    try:
        await inbox.store.channels.ensure("demo", "demo")
        await inbox.store.inbound.ingest(message(0, "known"))
        raw_writer = inbox.store.db._writer.raw  # the protocol itself is what is counted
        for size in (5, 50):
            trace = tmp_path / f"libpq-{size}.trace"
            batch = [message(n, f"c{n % 7}-{size}") for n in range(size - 1)]
            batch.append(message(size, "known"))
            with trace.open("w") as out:
                raw_writer.pgconn.trace(out.fileno())
                raw_writer.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
                try:
                    results = await inbox.store.inbound.ingest_batch(batch)
                finally:
                    raw_writer.pgconn.untrace()
            sent = [line.split("\t") for line in trace.read_text().splitlines()
                    if line.startswith("F\t")]
            assert sent[0][2] == "Query" and sent[0][3].strip().startswith('"BEGIN')
            # Up to the COMMIT (which psycopg, having sent it five times, prepares).
            until_commit = next(n for n, fields in enumerate(sent) if '"COMMIT"' in fields[-1])
            syncs = [fields for fields in sent[:until_commit] if fields[2] == "Sync"]
            assert len(syncs) == 3, (size, len(syncs))
            ids = [r.message_id for r in results]
            assert ids == sorted(ids) and len(set(ids)) == size
        stored = {c.id: c for c in await inbox.conversations(limit=100)}
        assert len(stored) == 1 + 4 + 7  # "known", then 4 and 7 new dialogs
        assert sum(c.unread for c in stored.values()) == 1 + 5 + 50
    finally:
        await inbox.close()
