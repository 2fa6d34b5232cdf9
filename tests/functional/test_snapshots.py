"""SVG snapshots of the main screen at 80×24 (an SSH session) and 160×48.

Fixed data and a fixed clock, so the pictures are the same on every run.
Regenerate after a deliberate change of the look with
``pytest tests/functional/test_snapshots.py --snapshot-update`` and read the
new SVGs before committing them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from opchat.config import Settings
from opchat.i18n import set_language
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, make_app, seed_inbox, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

SIZES = [(80, 24), (160, 48)]


async def loaded(pilot: Pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query(ConversationList), what="compose")
    conversations = pilot.app.query_one(ConversationList)
    status = pilot.app.query_one(StatusBar)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None
                     and status.waiting is not None, what="the first load")
    pilot.app.query_one(Composer).cursor_blink = False


async def conversation_open(pilot: Pilot) -> None:
    await loaded(pilot)
    await pilot.press("enter")  # Oleg: a reply sent, a reply failed, a note
    thread = pilot.app.query_one(ThreadView)
    await wait_until(pilot, lambda: thread.messages, what="the thread")
    await pilot.press(*"Sorry,", "space", *"let", "space", *"me", "space", *"retry")
    await pilot.pause(0.1)


def app_for(tmp_path: Path, settings: Settings):
    clock = Clock()
    asyncio.run(seed_inbox(tmp_path, clock))
    return make_app(settings, clock, demo=True)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_main_screen(snap_compare, tmp_path: Path, settings: Settings, size) -> None:
    assert snap_compare(app_for(tmp_path, settings), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_conversation_open(snap_compare, tmp_path: Path, settings: Settings, size) -> None:
    assert snap_compare(app_for(tmp_path, settings), terminal_size=size,
                        run_before=conversation_open)


def test_russian_fits_80_columns(snap_compare, tmp_path: Path, settings: Settings) -> None:
    set_language("ru")
    assert snap_compare(app_for(tmp_path, settings), terminal_size=(80, 24),
                        run_before=conversation_open)


def test_nine_channels_some_down_at_80x24(snap_compare, tmp_path: Path,
                                          settings: Settings) -> None:
    """The waiting count, the failure and the channels that are down, whatever else
    has to give (healthy channels are counted, not named)."""
    from tests.functional.test_workflow_ui import nine_channels

    app = app_for(tmp_path, settings)
    asyncio.run(nine_channels(tmp_path, Clock()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)
