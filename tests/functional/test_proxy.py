"""Hubs on two machines behind one reverse proxy, configured as docs/POSTGRESQL.md says:
the platform calls one address, and nginx passes each call on to the hub that runs
that channel (the other answers 404 without storing anything, or is down)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from opchat.inbox import Inbox
from opchat.model import Direction
from tests.backends import raw
from tests.channels import Serve, free_port, holds, until
from tests.functional.test_postgres import channel_holders
from tests.tools import NGINX, require_nginx
from tests.viber_api import ViberAPI, callback, event, text

require_nginx()

DOCS = Path(__file__).parents[2] / "docs"


@pytest.fixture
def url(postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    database = postgres.database()
    monkeypatch.setenv("OPCHAT_DATABASE_URL", database)
    return database


def documented_proxy(doc: Path, hubs: list[int], port: int) -> str:
    """The nginx block of ``doc``, with the test's addresses and no TLS."""
    [block] = re.findall(r"```nginx\n(.*?)```", doc.read_text(), flags=re.S)
    upstreams = iter(hubs)
    block = re.sub(r"server 10\.0\.0\.\d+:8765\b",
                   lambda _: f"server 127.0.0.1:{next(upstreams)}", block)
    assert next(upstreams, None) is None, "the documented upstream is not two hubs"
    block, n = re.subn(r"listen 443 ssl;", f"listen 127.0.0.1:{port};", block)
    assert n == 1, "the documented server does not listen on 443"
    return block


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[list[int], int]]:
    """nginx running the documented configuration: (the hubs' ports, its own port)."""
    hubs, port = [free_port(), free_port()], free_port()
    root = tmp_path / "nginx"
    root.mkdir()
    http = documented_proxy(DOCS / "POSTGRESQL.md", hubs, port)
    assert http == documented_proxy(DOCS / "ru" / "POSTGRESQL.md", hubs, port).replace(
        "# веб-сокет веб-чата", "# the web chat's websocket"), "the two languages differ"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        f"{user}worker_processes 1;\nerror_log {root}/error.log;\npid {root}/nginx.pid;\n"
        "events { worker_connections 256; }\n"
        f"http {{\naccess_log {root}/access.log;\n"
        + "".join(f"{what}_temp_path {root}/{what};\n"
                  for what in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + http + "}\n")
    process = subprocess.Popen([NGINX, "-p", str(root), "-c", str(root / "nginx.conf"),
                                "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        yield hubs, port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def hub_config(apis: dict[str, ViberAPI], listen: int, proxy: int) -> str:
    return "".join(
        f'[channels.{name}]\nkind = "viber"\ntoken = "{api.token}"\n'
        f'api_base = "{api.base}"\npublic_url = "http://127.0.0.1:{proxy}"\n'
        f'listen = "127.0.0.1:{listen}"\nsender_name = "Shop"\n\n'
        for name, api in apis.items())


async def test_the_documented_proxy_finds_the_hub_that_runs_each_channel(
        url: str, tmp_path: Path, nginx: tuple[list[int], int]) -> None:
    (one_port, two_port), proxy = nginx
    names = ["north", "south"]
    apis = {name: await ViberAPI(token=f"{n}453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
                                 ).start() for n, name in enumerate(names)}
    hubs = []
    for machine, listen in (("one", one_port), ("two", two_port)):
        (tmp_path / machine).mkdir()
        hubs.append(Serve(tmp_path / machine, hub_config(apis, listen, proxy)))
    first, second = hubs
    sent = iter(range(1, 1000))

    async def deliver(name: str) -> str:
        """A message to ``name`` as the platform delivers it: called again until it is
        answered 200 (as every platform does after a failure), the same message each
        time."""
        token = next(sent)
        words = f"{name} {token}"

        async def once() -> bool:
            status, _body = await callback(f"http://127.0.0.1:{proxy}/viber/{name}",
                                           text(token, words), token=apis[name].token)
            return status == 200

        await until(once, f"{words} answered 200 through the proxy", timeout=30)
        return words

    def stored() -> list[str]:
        return sorted(body for (body,) in raw(tmp_path, "SELECT body FROM messages"))

    try:
        await first.start()
        await until(lambda: holds(len(channel_holders(tmp_path, names)) == 2),
                    "the first hub holding both channels", timeout=30)
        await second.start()
        await until(lambda: holds(len(set(channel_holders(tmp_path, names).values())) == 2),
                    "a channel for each hub", timeout=30)
        # Each hub told Viber the proxy's address; Viber's check of it reached the hub
        # running that channel, whichever nginx asked first.
        await until(lambda: holds(all(api.webhook == f"http://127.0.0.1:{proxy}/viber/{n}"
                                      for n, api in apis.items())),
                    "both webhooks set through the proxy", timeout=30)
        expected = []
        for _ in range(3):  # nginx takes turns: one of the two hubs is asked first
            for name in names:
                expected.append(await deliver(name))
        await until(lambda: holds(stored() == sorted(expected)), "every message stored once",
                    timeout=20)

        # The hub running "north" dies: the other takes it, and nginx finds it there.
        status, _body = await callback(f"http://127.0.0.1:{one_port}/viber/north",
                                       event("webhook", 1), token=apis["north"].token)
        assert status in (200, 404), status  # Viber's check of an address stores nothing
        dying = first if status == 200 else second
        dying.kill()
        await dying.killed()
        await until(lambda: holds(len(set(channel_holders(tmp_path, names).values())) == 1
                                  and len(channel_holders(tmp_path, names)) == 2),
                    "the other hub holding both", timeout=30)

        expected.append(await deliver("north"))
        expected.append(await deliver("south"))
        await until(lambda: holds(stored() == sorted(expected)), "every message stored once",
                    timeout=20)
    finally:
        for serve in hubs:
            await serve.stop()
        for api in apis.values():
            await api.close()


async def test_the_web_chat_socket_goes_through_the_proxy_to_its_hub(
        url: str, tmp_path: Path, nginx: tuple[list[int], int]) -> None:
    """A visitor's WebSocket, through the documented proxy, reaches the hub that runs the
    web chat whichever hub nginx asks first; both ways work over it."""
    (one_port, two_port), proxy = nginx
    api = await ViberAPI().start()
    shop = "https://shop.example"

    def config(listen: int) -> str:
        return (f'[channels.site]\nkind = "webchat"\nlisten = "127.0.0.1:{listen}"\n'
                f'origin = ["{shop}"]\ntrust_proxy = true\n\n'
                + hub_config({"north": api}, listen, proxy))

    hubs = []
    for machine, listen in (("one", one_port), ("two", two_port)):
        (tmp_path / machine).mkdir()
        hubs.append(Serve(tmp_path / machine, config(listen)))
    (tmp_path / "operator").mkdir()
    inbox = await Inbox.open(tmp_path / "operator", "anna")
    try:
        for serve in hubs:
            await serve.start()
        await until(lambda: holds(len(set(channel_holders(tmp_path, ["site", "north"])
                                          .values())) == 2),
                    "a channel for each hub", timeout=30)
        async with aiohttp.ClientSession() as session:

            async def connected() -> aiohttp.ClientWebSocketResponse | None:
                try:  # while the hubs settle, the upgrade may find neither (404, 502)
                    return await session.ws_connect(f"http://127.0.0.1:{proxy}/ws",
                                                    headers={"Origin": shop})
                except aiohttp.WSServerHandshakeError:
                    return None

            ws = await until(connected, "the socket through the proxy", timeout=30)

            async def frame(kind: str) -> dict:
                while True:
                    got = json.loads((await ws.receive(timeout=10)).data)
                    if got["type"] == kind:
                        return got

            await ws.send_json({"type": "hello", "token": None, "last_id": 0,
                                "page": {"url": f"{shop}/cakes", "referrer": ""},
                                "language": "ru-RU"})
            await frame("welcome")
            await ws.send_json({"type": "message", "cid": "c1", "text": "Есть торты?"})
            await frame("ack")
            conversation = await until(
                lambda: _dialog_with(inbox, "Есть торты?"), "the visitor's dialog", timeout=20)
            await inbox.send(conversation, "Есть, на любой вкус")
            answer = await frame("message")
            while answer["message"]["from"] != "operator":  # an automatic answer first
                answer = await frame("message")
            assert answer["message"]["text"] == "Есть, на любой вкус", answer
            await ws.close()
    finally:
        await inbox.close()
        for serve in hubs:
            await serve.stop()
        await api.close()


async def _dialog_with(inbox: Inbox, body: str) -> int | None:
    for conversation in await inbox.conversations():
        if any(m.body == body and m.direction is Direction.IN
               for m in await inbox.messages(conversation.id)):
            return conversation.id
    return None
