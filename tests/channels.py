"""What the tests of every channel need: waiting for a positive signal, a free port,
what a database file holds, a hub running one channel, and ``opchat serve`` as a
process to kill while a platform delivers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 5.0) -> Any:
    """Await ``check()`` until it gives something true, and return that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def holds(value: Any) -> Any:
    """``until`` for a plain condition: ``until(lambda: holds(x > 1), ...)``."""
    return value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stored_external_ids(db_path: Path) -> set[str]:
    """The external ids of the customers' messages in the file, read beside the hub."""
    if not db_path.exists():
        return set()
    db = sqlite3.connect(db_path)
    try:
        return {row[0] for row in db.execute("SELECT external_id FROM messages "
                                             "WHERE direction = 'in'")}
    except sqlite3.OperationalError:  # a hub is creating the schema right now
        return set()
    finally:
        db.close()


def events_of_new_messages(db_path: Path) -> int:
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT count(*) FROM events WHERE kind = 'message.new'").fetchone()[0]
    finally:
        db.close()


async def opchat(tmp_path: Path, *args: str, env: dict[str, str] | None = None
                 ) -> tuple[int, str, str]:
    """Run ``opchat ARGS`` as a user would, with the config and data dir in ``tmp_path``;
    (exit code, stdout, stderr)."""
    environ = {**os.environ, "OPCHAT_CONFIG": str(tmp_path / "config.toml"),
               "OPCHAT_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opchat", *args, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class Serve:
    """``opchat serve`` as a systemd unit would run it, with the channels in ``config``."""

    def __init__(self, tmp_path: Path, config: str) -> None:
        self.data = tmp_path / "data"
        self.config = tmp_path / "config.toml"
        self.config.write_text(config)
        self.stderr = tmp_path / "serve.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.stderr.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "opchat", "serve", "--config", str(self.config),
                "--data-dir", str(self.data), stdout=asyncio.subprocess.DEVNULL, stderr=log)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a power cut or the OOM killer."""
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.kill()
                raise AssertionError(f"opchat serve did not stop: {self.stderr.read_text()}"
                                     ) from None

    async def killed(self) -> None:
        assert self.process is not None
        await asyncio.wait_for(self.process.wait(), 30)
        assert self.process.returncode == -signal.SIGKILL, self.stderr.read_text()


class RunningHub:
    """A hub running one channel over an inbox in tmp_path, as a channel's tests look at
    it: its health, the messages stored."""

    def __init__(self, inbox: Any, hub: Any, channel: str) -> None:
        self.inbox = inbox
        self.hub = hub
        self.channel = channel

    async def health(self) -> tuple[Any, str]:
        [channel] = [c for c in await self.inbox.channels() if c.name == self.channel]
        return channel.health, channel.health_detail

    async def wait_health(self, state: Any, contains: str = "", timeout: float = 5.0) -> str:
        async def check() -> str | None:
            health, detail = await self.health()
            return detail or "-" if health is state and contains in detail else None

        return await until(check, f"the channel to be {state.value} ({contains})", timeout)

    async def messages(self) -> dict[str, Any]:
        """Every stored message, by external id."""
        found: dict[str, Any] = {}
        for conversation in await self.inbox.conversations(limit=1000):
            for m in await self.inbox.messages(conversation.id, limit=1000):
                found[m.external_id or f"local-{m.id}"] = m
        return found

    async def message(self, message_id: int) -> Any:
        message = await self.inbox.message(message_id)
        assert message is not None
        return message


@contextlib.asynccontextmanager
async def hub_running(tmp_path: Path, channel: Any, operator: str = "anna"
                      ) -> AsyncIterator[tuple[Any, Any]]:
    """(inbox, hub) with ``channel`` (a ChannelSettings) started, until the block ends;
    the inbox open as ``operator``."""
    from opchat.hub import Hub
    from opchat.inbox import Inbox

    inbox = await Inbox.open(tmp_path, operator)
    hub = Hub(inbox, [channel], tmp_path)
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    try:
        await until(lambda: holds(channel.name in hub.transports), "the transport")
        yield inbox, hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


async def answer(deliver: Callable[[int], Awaitable[int]], n: int) -> int | None:
    """The HTTP status of delivery ``n``, or None if nothing listens yet."""
    try:
        return await deliver(n)
    except OSError:  # aiohttp's refused connection is one
        return None


async def deliver_through_kills(serve: Serve, deliver: Callable[[int], Awaitable[int]],
                                count: int, kills: tuple[int, ...] = (10, 25, 40)
                                ) -> list[int]:
    """A platform delivering webhooks 0..count-1 (``deliver(n)``: the HTTP status) until
    each is answered 200, a few at a time, while ``opchat serve`` is killed with SIGKILL
    after ``kills`` answers and started again; then, as platforms sometimes do, a few
    answered ones again. The deliveries that got no 200 (sent again)."""
    acknowledged: set[int] = set()
    unanswered: list[int] = []

    async def platform() -> None:
        async def one(n: int) -> None:
            while n not in acknowledged:
                with contextlib.suppress(Exception):
                    if await deliver(n) == 200:
                        acknowledged.add(n)
                        return
                unanswered.append(n)
                await asyncio.sleep(0.05)

        queue = list(range(count))
        while queue:
            batch, queue = queue[:4], queue[4:]
            await asyncio.gather(*(one(n) for n in batch))

    await serve.start()
    delivering = asyncio.create_task(platform())
    try:
        for target in kills:  # die, with deliveries in flight
            await until(lambda target=target: holds(len(acknowledged) >= target),
                        f"{target} deliveries answered", timeout=60)
            serve.kill()
            await serve.killed()
            await serve.start()
        await asyncio.wait_for(delivering, 120)
        for n in (0, count // 5, count - 1):
            # the last start may not be listening yet if every delivery was answered
            # before its kill: the platform retries a refused connection, as it would
            assert await until(lambda n=n: answer(deliver, n), "serve to listen",
                                timeout=30) == 200
    finally:
        delivering.cancel()
        await serve.stop()
    return unanswered
