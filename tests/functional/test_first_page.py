"""The list's first page, read while the app loads and drawn in its first frame."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from opchat.app import OpchatApp
from opchat.cli.run import FIRST_PAGE_ROWS, FirstPageReader
from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.store import SCHEMA_VERSION
from opchat.store.first_page import read_first_page
from opchat.widgets.conversation_list import PAGE_ROWS, ConversationList
from opchat.widgets.status_bar import StatusBar
from tests.functional.conftest import Clock, inbound, rendered_text, seed_inbox, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

SEEDED = ("Oleg Sidorov", "Ivan Petrov", "Maria Lopez", "Visitor 7")


def test_the_read_ahead_is_the_lists_page() -> None:
    assert FIRST_PAGE_ROWS == PAGE_ROWS


async def test_the_page_is_the_stores_as_the_inbox_reads_it(tmp_path: Path,
                                                              clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        expected = (await inbox.count(), await inbox.conversations(limit=PAGE_ROWS))
    finally:
        await inbox.close()
    assert read_first_page(tmp_path, PAGE_ROWS) == expected
    count, rows = read_first_page(tmp_path, 2)  # type: ignore[misc]
    assert count == 4 and rows == expected[1][:2]


def test_no_database_no_page_and_nothing_created(tmp_path: Path) -> None:
    assert read_first_page(tmp_path, PAGE_ROWS) is None
    assert list(tmp_path.iterdir()) == []


async def test_a_schema_to_migrate_first_gives_no_page(tmp_path: Path, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    conn = sqlite3.connect(tmp_path / "opchat.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    assert read_first_page(tmp_path, PAGE_ROWS) is None


def test_a_damaged_file_or_postgresql_gives_no_page(tmp_path: Path) -> None:
    (tmp_path / "opchat.db").write_bytes(b"not a database at all" * 100)
    settings = Settings(config_path=tmp_path / "config.toml", data_dir=tmp_path)
    assert FirstPageReader(settings).result(wait=5) is None
    settings.database_url = "postgresql://nobody@127.0.0.1:1/none"
    assert FirstPageReader(settings).result(wait=5) is None


async def test_the_first_frame_shows_the_rows_and_the_store_then_has_the_last_word(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    reader = FirstPageReader(settings)
    opened, release = asyncio.Event(), asyncio.Event()

    async def slow_open() -> Inbox:
        opened.set()
        await release.wait()
        return await Inbox.open(tmp_path, "anna", clock=clock)

    app = OpchatApp(settings, slow_open, None, clock=clock, first_page=reader.result)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, opened.is_set, what="open_inbox to be called")
        conversations = app.query_one(ConversationList)
        assert app.inbox is None and conversations.row_count == 4
        text = rendered_text(conversations)
        assert all(name in text for name in SEEDED) and "Loading" not in text
        # A customer writes between the read and the store's open: the list says so.
        other = await Inbox.open(tmp_path, "boris", clock=clock)
        try:
            await other.store.inbound.ingest(
                inbound("shop", "lena", 1, "Lena Orlova", "Are you open today?", clock()))
        finally:
            await other.close()
        release.set()
        await wait_until(pilot, lambda: conversations.row_count == 5, what="the new dialog")
        await wait_until(pilot, lambda: "Lena Orlova" in rendered_text(conversations),
                         what="the new dialog drawn")


async def test_a_store_that_fails_to_open_is_reported_as_before(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    reader = FirstPageReader(settings)

    async def broken_open() -> Inbox:
        raise OSError("disk on fire")

    app = OpchatApp(settings, broken_open, None, clock=clock, first_page=reader.result)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.error is not None, what="the error")
        assert "disk on fire" in status.render().plain
        assert app.is_running


async def test_the_app_as_opchat_builds_it_collects_garbage_again_after_its_first_frame(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    import gc

    from opchat.cli.run import START_GC_THRESHOLD, build_app

    await seed_inbox(tmp_path, clock)
    threshold = gc.get_threshold()
    try:
        app = build_app(settings)
        # while Textual loads and the first screen is built
        assert gc.get_threshold()[0] == START_GC_THRESHOLD
        async with app.run_test(size=(80, 24)) as pilot:
            conversations = app.query_one(ConversationList)
            await wait_until(pilot, lambda: app.inbox is not None, what="the store")
            assert gc.get_threshold() == threshold
            assert conversations.row_count == 4
    finally:
        gc.set_threshold(*threshold)
