"""The channel contract: what a transport class must have, and its optional abilities
in the documented shape, checked when the transport loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from opchat.config import ChannelSettings
from opchat.model import Attachment, OutboundMessage
from opchat.transports import (
    Capabilities,
    Checks,
    Delivery,
    Downloads,
    MarksSeen,
    ServesHTTP,
    ShowsTyping,
    Sink,
    TrustsProxies,
    available_kinds,
    check_transport,
    load_transport,
)


class Minimal:
    kind: ClassVar[str] = "minimal"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        self.name = channel.name

    async def run(self, sink: Sink) -> None: ...

    async def send(self, out: OutboundMessage) -> Delivery:
        return Delivery(external_id="1")


class Able(Minimal):
    listen = "127.0.0.1:0"

    async def typing(self, chat_id: str, active: bool) -> None: ...

    async def seen(self, chat_id: str) -> None: ...

    async def download(self, attachment: Attachment, dest_dir: Path) -> Path:
        return dest_dir

    async def check(self) -> str:
        return "fine"

    def mount(self, app: Any) -> None: ...

    def trusts_proxy(self, peer: str) -> bool:
        return False


def test_abilities_are_found_by_type() -> None:
    plain = Minimal(ChannelSettings("a", "minimal", {}), Path("."))
    able = Able(ChannelSettings("b", "minimal", {}), Path("."))
    abilities = (ShowsTyping, MarksSeen, Downloads, ServesHTTP, Checks, TrustsProxies)
    assert not [a for a in abilities if isinstance(plain, a)]
    assert all(isinstance(able, a) for a in abilities)
    check_transport(Minimal)
    check_transport(Able)


@pytest.mark.parametrize("kind", available_kinds())
def test_every_installed_transport_has_the_contracts_shape(kind: str) -> None:
    check_transport(load_transport(kind))  # load_transport checks too; said twice here


def bad(**members: Any) -> type:
    return type("Bad", (Minimal,), members)


async def _typing_without_active(self: Any, chat_id: str) -> None: ...


def _sync_seen(self: Any, chat_id: str) -> None: ...


async def _async_mount(self: Any, app: Any) -> None: ...


@pytest.mark.parametrize(("transport", "said"), [
    (bad(typing=_typing_without_active), "Bad.typing must be `async def typing(self, chat_id, "
                                         "active)`"),
    (bad(seen=_sync_seen), "Bad.seen must be `async def seen(self, chat_id)`"),
    (bad(mount=_async_mount), "Bad.mount must be `def mount(self, app)`"),
    (bad(check="yes"), "Bad.check must be `async def check(self)`"),
    (bad(capabilities={"media": True}), "Bad.capabilities must be a Capabilities(...)"),
    (type("NoSend", (), {"kind": "x", "capabilities": Capabilities(), "run": Minimal.run}),
     "NoSend is not a transport: it has no 'send'"),
])
def test_a_wrong_shape_is_refused_at_load_saying_which(transport: type, said: str) -> None:
    with pytest.raises(TypeError) as refused:
        check_transport(transport)
    assert str(refused.value) == said


def test_mount_may_be_given_to_the_instance_alone() -> None:
    # A Telegram bot serves HTTP only in webhook mode: it sets mount on the instance.
    transport = Minimal(ChannelSettings("a", "minimal", {}), Path("."))
    assert not isinstance(transport, ServesHTTP)
    transport.listen = "127.0.0.1:0"  # type: ignore[attr-defined]
    transport.mount = lambda app: None  # type: ignore[attr-defined]
    assert isinstance(transport, ServesHTTP)
