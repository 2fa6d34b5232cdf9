"""The hub's web server under floods of idle and slow connections, over real sockets.

Everything stays on 127.0.0.1 (and other 127.x addresses, which Linux routes to
the loopback too, so that one test can play several hosts). The hubs that must
run out of file descriptors run as ``opchat serve`` in a subprocess under a
lowered RLIMIT_NOFILE, so the test process keeps its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from opchat import hub as hub_module
from tests.functional.test_webchat import SHOP, free_port, receive, running_site


def _flood(source: str, port: int, count: int) -> list[socket.socket]:
    """``count`` idle connections from ``source`` that never send a byte, opened a few
    dozen at a time (more at once would overflow the listen queue, and the kernel
    would retry the rest over many seconds)."""
    sockets: list[socket.socket] = []
    for start in range(0, count, 40):
        batch = []
        for _ in range(min(40, count - start)):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            batch.append(sock)
        poll = select.poll()
        for sock in batch:
            poll.register(sock, select.POLLOUT)
        connected: set[int] = set()
        deadline = time.monotonic() + 5
        while len(connected) < len(batch) and time.monotonic() < deadline:
            connected.update(fd for fd, _ in poll.poll(100))
        sockets += batch
    return sockets


def _closed_by_peer(sock: socket.socket) -> bool:
    poll = select.poll()  # not select(): the flood's descriptors may pass 1024
    poll.register(sock, select.POLLIN)
    if not poll.poll(0):
        return False
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset: closed all the same
        return True


def _wait_for(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ``opchat serve`` believing it may hold any number of connections: to run it out of
# file descriptors for real.
UNCAPPED = ("import opchat.hub, sys; opchat.hub.connections_allowed = lambda files: 10**6; "
            "from opchat.cli import main; sys.exit(main(['serve']))")


@contextlib.contextmanager
def serving(tmp_path: Path, files: int, hard: int | None = None, uncapped: bool = False
            ) -> Iterator[tuple[int, Path]]:
    """``opchat serve`` with a web chat channel, its open files capped at ``files``."""
    port = free_port()
    data = tmp_path / "data"
    (tmp_path / "config.toml").write_text(
        f'[channels.web]\nkind = "webchat"\nlisten = "127.0.0.1:{port}"\n'
        f'origin = ["{SHOP}"]\n')
    environ = {**os.environ, "OPCHAT_DATA_DIR": str(data),
               "OPCHAT_CONFIG": str(tmp_path / "config.toml")}

    def lower_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard or files))

    command = ["-c", UNCAPPED] if uncapped else ["-m", "opchat", "serve"]
    server = subprocess.Popen([sys.executable, *command], env=environ,
                              stderr=subprocess.PIPE, text=True, preexec_fn=lower_limit)
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "web server listening" in line:
                break
        else:
            raise AssertionError("opchat serve stopped before it listened")
        yield port, data
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def _chat(port: int) -> dict:
    """A real visitor: connect, say hello, write, and get the acknowledgement."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws", headers={"Origin": SHOP})
        await ws.send_json({"type": "hello", "token": None})
        assert (await receive(ws))["type"] == "welcome"
        assert (await receive(ws))["type"] == "history"
        await ws.send_json({"type": "message", "cid": "c1", "text": "still there?"})
        ack = await receive(ws)
        await ws.close()
        return ack


def test_a_visitor_chats_while_one_host_holds_hundreds_of_idle_connections(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, files=256) as (port, data):
        flood = _flood("127.0.0.2", port, 400)
        try:
            # More than the hub has file descriptors for: it keeps only its share for
            # that host and hangs up on the rest at once.
            _wait_for(lambda: sum(map(_closed_by_peer, flood)) >= 200,
                      "the hub to hang up on the flood beyond its per-host share")
            ack = asyncio.run(_chat(port))
            assert ack["type"] == "ack" and ack["cid"] == "c1", ack
        finally:
            for sock in flood:
                sock.close()
    log = (data / "opchat.log").read_text()
    # Said once, with the address; not once per connection.
    assert log.count("127.0.0.2") == 1, log
    assert "Too many open files" not in log


def test_many_hosts_cannot_exhaust_the_files_and_it_is_said_once(tmp_path: Path) -> None:
    with serving(tmp_path, files=256) as (port, data):
        flood = [sock for n in range(2, 10) for sock in _flood(f"127.0.0.{n}", port, 45)]
        try:
            _wait_for(lambda: "too many connections" in _log(data), "the hub to be full")
            # Full of connections that say nothing: the oldest of them makes room.
            ack = asyncio.run(_chat(port))
            assert ack["type"] == "ack", ack
        finally:
            for sock in flood:
                sock.close()
    log = (data / "opchat.log").read_text()
    assert log.count("too many connections") == 1, log
    assert "Too many open files" not in log


def test_out_of_file_descriptors_is_said_once_and_the_hub_recovers(tmp_path: Path) -> None:
    with serving(tmp_path, files=128, uncapped=True) as (port, data):
        flood = [sock for n in range(2, 10) for sock in _flood(f"127.0.0.{n}", port, 40)]
        try:
            _wait_for(lambda: "out of file descriptors" in _log(data),
                      "the hub to run out of file descriptors")
        finally:
            for sock in flood:
                sock.close()
        ack = asyncio.run(_chat(port))
        assert ack["type"] == "ack", ack
    log = _log(data)
    assert log.count("out of file descriptors") == 1, log
    assert "socket.accept() out of system resource" not in log, log


def _log(data: Path) -> str:
    return (data / "opchat.log").read_text()


def test_the_hub_raises_its_own_open_files_limit_to_the_hard_limit(tmp_path: Path) -> None:
    with serving(tmp_path, files=256, hard=700) as (_, data):
        pid = int((data / "hub.lock").read_text())
        with open(f"/proc/{pid}/limits") as limits:
            line = next(line for line in limits if line.startswith("Max open files"))
        assert line.split()[3:5] == ["700", "700"], line


# In-process: slow and idle requests are timed out ------------------------------------


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "REQUEST_TIMEOUT", 0.5)


async def _closed(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        while await asyncio.wait_for(reader.read(1024), within):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_a_connection_that_says_nothing_is_closed(tmp_path: Path, short_timeouts
                                                        ) -> None:
    async with running_site(tmp_path) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        assert await _closed(reader, within=5.0)
        writer.close()


async def test_headers_trickled_byte_by_byte_are_cut_off(tmp_path: Path, short_timeouts
                                                         ) -> None:
    async with running_site(tmp_path) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        request = b"GET /widget.js HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: a\r\n" * 100
        started = asyncio.get_running_loop().time()
        with contextlib.suppress(ConnectionError):
            for byte in request:
                if reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.02)
        assert await _closed(reader, within=5.0)
        # Long before the headers could have ended (over 20 s at this pace).
        assert asyncio.get_running_loop().time() - started < 10
        writer.close()


async def test_an_idle_kept_alive_connection_is_closed(tmp_path: Path, short_timeouts
                                                       ) -> None:
    async with running_site(tmp_path) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        writer.write(b"GET /widget.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status = await reader.readline()
        assert b"200" in status
        assert await _closed(reader, within=5.0)
        writer.close()


async def test_a_websocket_that_chats_outlives_the_request_timeout(
    tmp_path: Path, short_timeouts
) -> None:
    async with running_site(tmp_path) as site:
        ws, _, _ = await site.visitor()
        for n in range(3):
            await asyncio.sleep(0.4)
            await ws.send_json({"type": "ping", "n": n})
            assert (await receive(ws))["type"] == "pong"
        await ws.close()


async def test_one_host_is_capped_before_any_request(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_CONNECTIONS_PER_IP", 5)
    async with running_site(tmp_path) as site:
        held = [await asyncio.open_connection("127.0.0.1", site.port,
                                              local_addr=("127.0.0.2", 0)) for _ in range(4)]
        # The fifth is admitted: it is served.
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port,
                                                       local_addr=("127.0.0.2", 0))
        writer.write(b"GET /widget.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200" in await reader.readline()
        held.append((reader, writer))
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port,
                                                       local_addr=("127.0.0.2", 0))
        assert await _closed(reader, within=5.0)  # the sixth, before a byte is read
        writer.close()
        # Another host is not concerned.
        ws, _, _ = await site.visitor()
        await ws.close()
        for _, held_writer in held:
            held_writer.close()


async def test_a_trusted_proxy_is_not_capped(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_CONNECTIONS_PER_IP", 2)
    async with running_site(tmp_path, trust_proxy=["127.0.0.2"]) as site:
        held = [await asyncio.open_connection("127.0.0.1", site.port,
                                              local_addr=("127.0.0.2", 0)) for _ in range(4)]
        for reader, writer in held:  # every one of them is served
            writer.write(b"GET /widget.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert b"200" in await reader.readline()
            writer.close()


def test_an_ipv6_host_counts_by_its_64_and_a_mapped_ipv4_as_itself() -> None:
    gate = hub_module.ConnectionGate(per_address=2, total=100)
    assert gate.admit("2001:db8:1:2::1") and gate.admit("2001:db8:1:2::ffff")
    assert not gate.admit("2001:db8:1:2:aaaa::7")  # the same /64
    assert gate.admit("2001:db8:1:3::1")  # another one
    assert gate.admit("::ffff:192.0.2.1") and gate.admit("192.0.2.1")
    assert not gate.admit("192.0.2.1")
    gate.release("2001:db8:1:2::1")
    assert gate.admit("2001:db8:1:2::42")
