"""The stats screen (Alt+S, or the palette) over a hand-built day, driven through Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from opchat.config import AutoAnswers, ChannelSettings, Settings
from opchat.hours import WorkingHours
from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from opchat.screens.stats import StatsScreen
from opchat.widgets.conversation_list import ConversationList
from tests.functional.conftest import FIXED_NOW, Clock, make_app, on_frames, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

DAY = 86400


async def seed_day(data_dir: Path, clock: Clock) -> None:
    """Today: Ivan answered by anna in 20 s, Olga by boris in 100 s, Petr resolved by
    anna with no answer. Two days ago: one dialog, answered in an hour and a half."""
    anna = await Inbox.open(data_dir, "anna", clock=clock)
    boris = await Inbox.open(data_dir, "boris", clock=clock)
    now = clock.now

    async def customer(chat: str, at: float, channel: str = "shop") -> int:
        clock.now = at
        got = await anna.store.inbound.ingest(InboundMessage(
            channel, chat, f"{chat}-{at}", chat, chat.title(), "hello"))
        return got.conversation_id

    try:
        old = await customer("vera", now - 2 * DAY, "site")
        clock.now = now - 2 * DAY + 5400
        await boris.send(old, "sorry for the wait")
        ivan = await customer("ivan", now - 3 * 3600)
        clock.now = now - 3 * 3600 + 20
        await anna.send(ivan, "hi")
        olga = await customer("olga", now - 2 * 3600, "site")
        clock.now = now - 2 * 3600 + 100
        await boris.send(olga, "hi")
        petr = await customer("petr", now - 3600)
        clock.now = now - 1800
        await anna.set_status(petr, Status.RESOLVED)
    finally:
        clock.now = now
        await boris.close()
        await anna.close()


async def listed(pilot: Pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query(ConversationList), what="compose")
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded, what="the list")


async def opened(pilot: Pilot) -> StatsScreen:
    await listed(pilot)
    await pilot.press("alt+s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StatsScreen)
                     and pilot.app.screen.report is not None, what="the stats screen")
    return pilot.app.screen  # type: ignore[return-value]


def text(screen: StatsScreen, part: str) -> str:
    return str(screen.query_one(f"#stats-{part}").render())


async def test_the_figures_of_the_period_and_switching_it(
        tmp_path: Path, settings: Settings) -> None:
    clock = Clock()
    await seed_day(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        assert "last 7 days" in text(screen, "title")
        summary = text(screen, "summary")
        assert "Dialogs 4 (0 reopened) · resolved 1 · missed 1" in summary
        assert "median 1m 40s · P90 1h 12m · mean 30m 40s · 3" in summary
        groups = text(screen, "groups")
        assert [line.split()[:2] for line in groups.splitlines() if line.startswith(
            ("anna", "boris"))] == [["anna", "1"], ["boris", "2"]]

        await pilot.press("t")  # today: Vera's day is out
        await wait_until(pilot, lambda: "today" in text(screen, "title")
                         and "Dialogs 3" in text(screen, "summary"), what="today's figures")
        assert "30s: 50% · 60s: 50% of first responses" in text(screen, "summary")
        pictures = text(screen, "pictures")
        assert "≤30s ████████████████████████ 1" in pictures
        assert "≤2m  ████████████████████████ 1" in pictures

        await pilot.press("y")  # yesterday: nothing
        await wait_until(pilot, lambda: "yesterday" in text(screen, "title"), what="yesterday")
        await wait_until(pilot, lambda: "Nothing happened" in text(screen, "summary"),
                         what="an empty day said so")

        # Dates typed: two days ago alone; the letters typed are not keys meanwhile.
        await pilot.press("r", *"2025-03-12", "space", *"2025-03-12", "enter")
        await wait_until(pilot, lambda: "chosen dates" in text(screen, "title")
                         and "Dialogs 1 " in text(screen, "summary"), what="the dates")
        assert "12.03 00:00 – 13.03 00:00" in text(screen, "title")
        await pilot.press("r", *"12/03", "enter")
        assert "chosen dates" in text(screen, "title")  # refused, said, nothing changed
        await pilot.press("escape")  # leaves the dates
        assert isinstance(pilot.app.screen, StatsScreen)
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, StatsScreen)


async def test_it_moves_as_the_day_goes(tmp_path: Path, settings: Settings) -> None:
    clock = Clock()
    await seed_day(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        clock.now = FIXED_NOW + 60
        writer = await Inbox.open(tmp_path, "boris", clock=clock)
        try:
            await writer.store.inbound.ingest(InboundMessage(
                "shop", "new", "new-1", "new", "New", "hello"))
        finally:
            await writer.close()
        await wait_until(pilot, lambda: "Dialogs 5 " in text(screen, "summary"),
                         what="the new dialog counted")


async def test_h_counts_working_hours(tmp_path: Path, settings: Settings) -> None:
    """The web chat keeps hours 12:00-13:00 on weekdays: Olga, answered at 10:01, waited
    no working time; Vera, from 12:00 to 13:30 two days ago, an hour of it."""
    settings.channels = [ChannelSettings("site", "webchat", auto=AutoAnswers(
        hours=WorkingHours.parse("Mon-Fri 12:00-13:00", "UTC")))]
    clock = Clock()
    await seed_day(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        assert "median 1m 40s · P90 1h 12m · mean 30m 40s · 3" in text(screen, "summary")
        await pilot.press("h")
        assert "working hours" in text(screen, "title")
        assert "median 20s · P90 48m 4s · mean 20m 7s · 3" in text(screen, "summary")
        assert "≤30s ████████████████████████ 2" in text(screen, "pictures")
        await pilot.press("h")  # and back
        assert "working hours" not in text(screen, "title")
        assert "median 1m 40s" in text(screen, "summary")


def test_snapshot_80x24(snap_compare, tmp_path: Path, settings: Settings) -> None:
    clock = Clock()
    asyncio.run(seed_day(tmp_path, clock))

    async def stats(pilot: Pilot) -> None:
        await opened(pilot)
        await pilot.pause(0.1)

    assert snap_compare(make_app(settings, clock), terminal_size=(80, 24), run_before=stats)


async def test_the_screen_comes_with_its_figures_in_one_frame(
        tmp_path: Path, settings: Settings) -> None:
    clock = Clock()
    await seed_day(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await listed(pilot)
        frames: list[bool] = []  # each frame of the stats screen: with its figures?
        on_frames(app, lambda screen: isinstance(screen, StatsScreen)
                  and frames.append(screen.report is not None))
        await pilot.press("alt+s")
        await wait_until(pilot, lambda: frames and frames[-1], what="the figures drawn")
        assert frames[0]  # no frame of "Reading…" before them


async def test_a_slow_store_shows_reading_once_the_hold_is_over(
        tmp_path: Path, settings: Settings) -> None:
    """The store answers only once a frame saying "Reading…" has been drawn: that frame
    can come only from the hold giving up by itself (no clock read: a slow machine
    cannot make it pass or fail)."""
    from opchat.widgets.frame_hold import frame_hold

    answer = asyncio.Event()

    class SlowInbox(Inbox):
        async def stats_report(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            await answer.wait()
            return await super().stats_report(*args, **kwargs)

    clock = Clock()
    await seed_day(tmp_path, clock)
    app = make_app(settings, clock, inbox_class=SlowInbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await listed(pilot)
        drawn: list[bool] = []
        on_frames(app, lambda screen: isinstance(screen, StatsScreen)
                  and screen.report is None and drawn.append(True))
        await pilot.press("alt+s")
        await wait_until(pilot, lambda: drawn, what="a frame while reading", timeout=5)
        assert not frame_hold(app).held
        assert "Reading…" in text(app.screen, "summary")  # type: ignore[arg-type]
        answer.set()
        await wait_until(pilot, lambda: app.screen.report is not None,  # type: ignore[attr-defined]
                         what="the figures", timeout=5)
