"""A hub that restarts (hubs on a shared store do whenever channels move between them)
keeps its listening socket: what arrives between two runs waits, and is answered."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from opchat.config import ApiSettings
from opchat.hub import Hub, KeptSockets
from opchat.inbox import Inbox
from tests.channels import free_port, until


async def test_a_restarting_hub_keeps_its_address_and_answers_what_came_meanwhile(
        tmp_path: Path) -> None:
    port = free_port()
    inbox = await Inbox.open(tmp_path, "anna")
    sockets = KeptSockets()

    def run(api: bool) -> asyncio.Task[None]:
        settings = ApiSettings(f"127.0.0.1:{port}") if api else None
        return asyncio.create_task(Hub(inbox, [], tmp_path, api=settings,
                                       sockets=sockets).run())

    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def answers() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(
                    f"http://127.0.0.1:{port}/api/v1/openapi.json") as got:
                return got.status == 200
        except aiohttp.ClientError:
            return False

    async def refused() -> bool:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return True
        writer.close()
        return False

    task = run(api=True)
    try:
        await until(answers, "the first run to answer", timeout=15)
        await stop(task)
        # Between two runs a client connects and asks: nothing refuses it...
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()
        # ...and the next run answers it.
        task = run(api=True)
        response = await asyncio.wait_for(reader.read(), 15)
        writer.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert b'"openapi"' in response
        # A run that listens nowhere closes the kept socket: refused, not left waiting.
        await stop(task)
        task = run(api=False)
        await until(refused, "the address closed", timeout=15)
    finally:
        await stop(task)
        sockets.close()
        await inbox.close()
