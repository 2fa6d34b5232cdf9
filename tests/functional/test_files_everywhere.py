"""Files every machine can open (issue 16): on PostgreSQL the store keeps the bytes of each
file a hub fetched or saved and of each file an operator attached, so that a hub or an
app with another data dir ("another machine") opens or sends it; on SQLite nothing is
copied. Two data dirs on one database stand for two machines; "the other machine cannot
read this path" is a file moved away. Real Telegram stand-in, real hub, real server."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, EventKind, MessageState
from opchat.store import files as store_files
from opchat.transports.telegram.channel import TelegramTransport
from tests.backends import on_postgres, raw
from tests.channels import hub_running, until
from tests.telegram_api import CUSTOMER, TOKEN, BotAPI, document, message

BACKENDS = True
CHAT = str(CUSTOMER["id"])
INVOICE = b"%PDF-1.4 the invoice " + bytes(range(256)) * 5000  # over one part (1 MiB)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TelegramTransport, "backoff", (0.05, 0.1, 0.2))
    monkeypatch.setattr(TelegramTransport, "send_timeout", 1.0)
    monkeypatch.setattr(TelegramTransport, "check_timeout", 1.0)
    monkeypatch.setattr(store_files, "PART", 1 << 16)  # several parts without big files


@pytest.fixture
async def api() -> AsyncIterator[BotAPI]:
    server = await BotAPI().start()
    yield server
    await server.close()


def hub_in(data_dir: Path, api: BotAPI) -> contextlib.AbstractAsyncContextManager[
        tuple[Inbox, Hub]]:
    """`opchat serve` with the Telegram channel "shop", its data in ``data_dir``."""
    return hub_running(data_dir, ChannelSettings("shop", "telegram", {
        "token": TOKEN, "api_base": api.base, "poll_timeout": 1}), operator="hub")


def contents_rows(data_dir: Path) -> int:
    return raw(data_dir, "SELECT count(*) FROM file_contents")[0][0]


async def ready(inbox: Inbox, attachment_id: int, after: int) -> bool:
    return any(e.kind == EventKind.ATTACHMENT_READY and e.data.get("attachment") == attachment_id
               for e in await inbox.store.events.events_after(after, limit=1000))


async def test_a_file_fetched_on_one_machine_opens_and_one_attached_on_another_is_sent(
        tmp_path: Path, api: BotAPI) -> None:
    # On SQLite one machine has one data dir, which the hub and the app share.
    a = tmp_path / "a"
    b = tmp_path / "b" if on_postgres() else a
    for folder in (a, b):
        folder.mkdir(exist_ok=True)
    api.add_file("DOC", "documents/file_7.pdf", INVOICE)
    api.push({"message": message(1, document=document("DOC"))})
    async with hub_in(a, api) as (hub_inbox, _hub):
        operator = await Inbox.open(b, "boris")  # the app on the other machine
        try:
            async def arrived() -> Attachment | None:
                found = await operator.conversations()
                if not found:
                    return None
                [m] = await operator.messages(found[0].id)
                return m.attachments[0] if m.attachments else None

            attachment = await until(arrived, "the customer's file")
            assert attachment.id is not None
            assert await operator.open_attachment(attachment.id) is None  # not fetched yet
            last = await operator.store.events.last_event_id()
            await operator.request_attachment(attachment.id)
            await until(lambda: ready(operator, attachment.id, last), "the hub's answer")
            fetched = await operator.attachment(attachment.id)
            assert fetched is not None and fetched.local_path is not None
            hub_copy = Path(fetched.local_path)
            assert hub_copy.is_relative_to(a) and hub_copy.read_bytes() == INVOICE

            if not on_postgres():  # one machine: the path is the file; nothing copied
                assert fetched.sha256 is None
                assert await operator.open_attachment(attachment.id) == hub_copy
                assert contents_rows(a) == 0
            else:
                assert fetched.sha256 == hashlib.sha256(INVOICE).hexdigest()
                assert contents_rows(a) == -(-len(INVOICE) // store_files.PART)
                # Machine B cannot read machine A's disk.
                shutil.move(a / "attachments", tmp_path / "elsewhere")
                opened = await operator.open_attachment(attachment.id)
                assert opened is not None and opened.is_relative_to(b / "attachments" / "shop")
                assert opened.read_bytes() == INVOICE
                assert oct(opened.stat().st_mode & 0o777) == oct(0o600)
                assert await operator.open_attachment(attachment.id) == opened  # once

                # Asked again where the hub's own copy is gone: from the store, not
                # from Telegram.
                last = await operator.store.events.last_event_id()
                await operator.request_attachment(attachment.id)
                await until(lambda: ready(operator, attachment.id, last), "the answer")
                again = await hub_inbox.attachment(attachment.id)
                assert again is not None and again.local_path is not None
                assert Path(again.local_path).is_relative_to(a)
                assert Path(again.local_path).read_bytes() == INVOICE
                assert len(api.calls_to("getFile")) == 1

            # The operator on B attaches a file of B's; the hub on A sends it.
            price = b / "price list.pdf"
            price.write_bytes(b"%PDF-1.4 prices " * 10_000)
            original = price.read_bytes()
            conversation = (await operator.conversations())[0]
            reply = await operator.send(conversation.id, "Here you are", attachments=[
                Attachment("document", price.name, "application/pdf", len(original),
                           local_path=str(price))])
            if on_postgres():
                price.unlink()  # machine A could not read it anyway

            async def sent() -> bool:
                m = await operator.message(reply.id)
                return m is not None and m.state in (MessageState.SENT, MessageState.FAILED)

            await until(sent, "the reply to go", timeout=10)
            assert (await operator.message(reply.id)).state is MessageState.SENT
            [call] = api.calls_to("sendDocument")
            assert list(call.files.values()) == [("price list.pdf", original)]
            if not on_postgres():
                assert contents_rows(a) == 0
        finally:
            await operator.close()


async def test_a_file_is_checked_against_its_hash_and_a_large_one_stays_local(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    inbox = await Inbox.open(tmp_path / "a", "anna")
    try:
        small, large = tmp_path / "small.txt", tmp_path / "large.bin"
        small.write_bytes(b"hello " * 30_000)
        large.write_bytes(b"x" * 2048)
        monkeypatch.setattr(store_files, "SHARED_MAX", 1024)
        assert await inbox.store.attachments.keep(large) is None  # too large: local only
        monkeypatch.setattr(store_files, "SHARED_MAX", 1 << 20)
        sha = await inbox.store.attachments.keep(small)
        if not on_postgres():
            assert sha is None and contents_rows(tmp_path / "a") == 0
            return
        assert sha == hashlib.sha256(small.read_bytes()).hexdigest()
        assert await inbox.store.attachments.keep(small) == sha  # written once
        parts = contents_rows(tmp_path / "a")
        assert parts == -(-small.stat().st_size // store_files.PART) > 1

        target = tmp_path / "b" / "attachments" / "shop" / "small.txt"
        assert await inbox.store.attachments.restore(sha, target)
        assert target.read_bytes() == small.read_bytes()
        # A damaged copy in the store is refused: no file appears.
        raw(tmp_path, "UPDATE file_contents SET content = ? WHERE sha256 = ? AND part = 1",
            (b"damaged", sha))
        other = target.with_name("again.txt")
        with pytest.raises(store_files.HashMismatch):
            await inbox.store.attachments.restore(sha, other)
        assert not other.exists() and [p.name for p in other.parent.iterdir()] == [
            "small.txt"]
        assert not await inbox.store.attachments.restore("0" * 64, other)  # not there
    finally:
        await inbox.close()


@pytest.mark.sqlite_only  # from a SQLite store to a PostgreSQL one
async def test_migrate_to_carries_the_files_on_this_disk_for_the_other_machines(
        tmp_path: Path, postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat.model import InboundMessage
    from tests.channels import opchat

    data = tmp_path / "a"
    data.mkdir()
    kept, gone = data / "attachments" / "shop" / "kept.pdf", data / "gone.pdf"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(INVOICE)
    inbox = await Inbox.open(data, "anna")
    try:
        await inbox.store.channels.ensure("shop", "telegram")
        for n, path in enumerate((kept, gone, kept)):
            got = await inbox.store.inbound.ingest(InboundMessage(
                channel="shop", chat_id="c1", external_id=f"m{n}", sender_id="c1",
                sender_name="Ivan", body="", attachments=(Attachment(
                    "document", path.name, "application/pdf", ref=f"F{n}"),)))
            [attachment] = (await inbox.message(got.message_id)).attachments
            await inbox.store.attachments.fetched(attachment.id, str(path))
    finally:
        await inbox.close()
    assert contents_rows(data) == 0  # SQLite keeps no copy

    target = postgres.server.create_database()
    code, out, err = await opchat(tmp_path, "--data-dir", str(data), "--lang", "en", "db",
                                  "migrate-to", target, env={"OPCHAT_DATABASE_URL": ""})
    assert code == 0, err
    assert "files: 3 of 3 (100%)" in err
    assert "files in the database for every machine: 2" in out
    assert "files not found on this machine (they stay where they are): 1" in out

    from opchat.doctor import check_shared_files

    [finding] = check_shared_files(target)
    assert finding.level == "warn" and finding.text.startswith(
        "2 kept in the database; 1 saved on one machine only (0 of them larger than 50 MB)")

    shutil.move(data / "attachments", tmp_path / "elsewhere")  # another machine's disk
    monkeypatch.setenv("OPCHAT_DATABASE_URL", target)
    other = await Inbox.open(tmp_path / "b", "boris")
    try:
        opened = [await other.open_attachment(n) for n in (1, 2, 3)]
        assert opened[1] is None  # never was on the disk
        assert opened[0] == opened[2] and opened[0] is not None
        assert opened[0].is_relative_to(tmp_path / "b") and opened[0].read_bytes() == INVOICE
    finally:
        await other.close()


async def test_f_in_the_app_opens_a_file_another_machine_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None, english: None) -> None:
    """The operator presses F on a customer's file that a hub on another machine fetched:
    the app writes it from the store into its own data dir and gives that path, without
    asking any hub (on SQLite: the hub's own path, one machine)."""
    from opchat.config import Settings
    from opchat.model import InboundMessage
    from tests.functional.conftest import Clock, make_app
    from tests.functional.test_app import open_row, started

    monkeypatch.setenv("SSH_TTY", "/dev/pts/1")  # no desktop: the path goes to the clipboard
    clock = Clock()
    here = tmp_path / "b"
    there = tmp_path / "a" if on_postgres() else here
    for folder in (here, there):
        folder.mkdir(exist_ok=True)
    hub = await Inbox.open(there, "hub", clock=clock)
    try:
        await hub.store.channels.ensure("shop", "telegram")
        got = await hub.store.inbound.ingest(InboundMessage(
            channel="shop", chat_id="ivan", external_id="ivan-1", sender_id="u-ivan",
            sender_name="Ivan Petrov", body="here it is", sent_at=clock(),
            attachments=(Attachment("photo", "receipt.jpg", "image/jpeg", 4, "file-9"),)))
        [attachment] = (await hub.message(got.message_id)).attachments
        saved = there / "attachments" / "shop" / "receipt.jpg"
        saved.parent.mkdir(parents=True)
        saved.write_bytes(b"jpeg")
        await hub.store.attachments.fetched(attachment.id, str(saved))
    finally:
        await hub.close()
    if on_postgres():
        shutil.move(there / "attachments", tmp_path / "elsewhere")

    app = make_app(Settings(config_path=here / "config.toml", data_dir=here), clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        await pilot.press("alt+2", "f")
        for _ in range(250):
            if app.clipboard:
                break
            await pilot.pause(0.02)
        opened = Path(app.clipboard)
        assert opened.read_bytes() == b"jpeg"
        assert opened == saved if not on_postgres() else opened.is_relative_to(here)
        assert app.inbox is not None
        assert not [e for e in await app.inbox.store.events.events_after(0)
                    if e.kind == "attachment.requested"]


async def test_a_file_a_transport_saved_on_arrival_is_kept_for_every_machine(
        tmp_path: Path) -> None:
    """E-mail attachments arrive as files the transport saved (ingested with a path): the
    hub's sink puts their bytes into the store on PostgreSQL, nothing on SQLite."""
    from opchat.hub import ChannelSink
    from opchat.model import InboundMessage

    data = tmp_path / "a"
    data.mkdir()
    inbox = await Inbox.open(data, "hub")
    try:
        await inbox.store.channels.ensure("mail", "email")
        hub = Hub(inbox, [], data)
        saved = data / "attachments" / "mail" / "offer.pdf"
        saved.parent.mkdir(parents=True)
        saved.write_bytes(b"%PDF-1.4 offer")
        got = await ChannelSink(hub, "mail").ingest(InboundMessage(
            channel="mail", chat_id="ivan@example.com", external_id="<1@example.com>",
            sender_id="ivan@example.com", sender_name="Ivan", body="see attached",
            attachments=(Attachment("document", "offer.pdf", "application/pdf", 14,
                                    ref="<1@example.com>#0", local_path=str(saved)),)))
        [attachment] = (await inbox.message(got.message_id)).attachments
        if not on_postgres():
            assert attachment.sha256 is None and contents_rows(data) == 0
            return
        assert attachment.sha256 == hashlib.sha256(b"%PDF-1.4 offer").hexdigest()
        saved.unlink()  # elsewhere, another machine opens it
        opened = await inbox.local_file(attachment, "mail", tmp_path / "b")
        assert opened is not None and opened.read_bytes() == b"%PDF-1.4 offer"
    finally:
        await inbox.close()
