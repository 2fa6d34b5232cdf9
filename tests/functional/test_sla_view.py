"""The SLA view: the dialogs about to miss a target or having missed it, the nearest
deadline first, with its count in the views; it moves as time passes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import ConversationFilter
from opchat.sla import Sla, Targets
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.view_tabs import ViewTabs
from tests.functional.conftest import Clock, make_app, rendered_text, seed_inbox, wait_until
from tests.functional.test_app import started

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

pytestmark = pytest.mark.usefixtures("utc", "english")

# Waiting since: Oleg 2 h (his reply failed), Visitor 7 10 min, Maria 95 s, Ivan 45 s.
TARGETS = Sla(Targets(first_response=120), warn_before=30)  # Maria warned from 90 s


def names(pilot: Pilot) -> list[str]:
    listing = pilot.app.query_one(ConversationList)
    return [row.contact_name for i in range(listing.row_count)
            if (row := listing.row(i)) is not None]


async def test_the_inbox_picks_those_at_risk_most_urgent_first(
        tmp_path: Path, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        at_risk = ConversationFilter(at_risk=True, order="due")
        assert await inbox.count(at_risk) == 0  # no targets: nobody
        inbox.use_targets(TARGETS)
        found = [c.contact_name for c in await inbox.conversations(at_risk)]
        assert found == ["Visitor 7", "Maria Lopez"]  # missed 8 min ago; due in 25 s
        # Oleg was answered: his next answer has no target. Ivan is warned at 90 s:
        assert inbox.at_risk_changes_at == pytest.approx(clock() + 45)
        (count,), position = await inbox.counts([at_risk], found and (
            await inbox.conversations(at_risk))[1].id, at_risk)
        assert (count, position) == (2, 1)
        clock.advance(45)
        assert [c.contact_name for c in await inbox.conversations(at_risk)] == [
            "Visitor 7", "Maria Lopez", "Ivan Petrov"]
        assert not inbox.at_risk_capped
        # A big backlog: only the AT_RISK_LIMIT under way longest are looked at.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("opchat.inbox.AT_RISK_LIMIT", 2)
            assert [c.contact_name for c in await inbox.conversations(at_risk)] == [
                "Visitor 7", "Maria Lopez"]  # Ivan, at risk too, is third in line
            assert inbox.at_risk_capped
        # A resolution target brings in every open round; the answered one too.
        inbox.use_targets(Sla(Targets(resolution=3600), warn_before=600))
        assert [c.contact_name for c in await inbox.conversations(at_risk)] == [
            "Oleg Sidorov"]
    finally:
        await inbox.close()


async def test_the_sla_view_in_the_app(tmp_path: Path, settings: Settings,
                                       clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    settings.sla = TARGETS
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        tabs = pilot.app.query_one(ViewTabs)
        await wait_until(pilot, lambda: tabs.counts.get("sla") == 2, what="the SLA count")
        assert "SLA 2" in rendered_text(tabs)
        for _ in range(4):  # All -> Waiting -> SLA
            await pilot.press("alt+v")
            if tabs.view == "sla":
                break
        await wait_until(pilot, lambda: names(pilot) == ["Visitor 7", "Maria Lopez"],
                         what="the dialogs at risk")
        clock.advance(50)  # Ivan reaches his warning (90 s): he comes in, nothing else did
        await wait_until(pilot, lambda: names(pilot) == ["Visitor 7", "Maria Lopez",
                                                         "Ivan Petrov"],
                         what="Ivan in the view")
        await wait_until(pilot, lambda: tabs.counts.get("sla") == 3, what="the count")


async def test_no_sla_view_without_targets(tmp_path: Path, settings: Settings,
                                           clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        tabs = pilot.app.query_one(ViewTabs)
        await wait_until(pilot, lambda: bool(tabs.counts), what="the counts")
        assert "sla" not in tabs.counts and "SLA" not in rendered_text(tabs)


@pytest.mark.sqlite_only
def test_snapshot_80x24(snap_compare, tmp_path: Path, settings: Settings) -> None:
    clock = Clock()
    asyncio.run(seed_inbox(tmp_path, clock))
    settings.sla = TARGETS

    async def sla_view(pilot: Pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.screen.query(ConversationList),
                         what="compose")
        await started(pilot)
        tabs = pilot.app.query_one(ViewTabs)
        while tabs.view != "sla":
            await pilot.press("alt+v")
        await wait_until(pilot, lambda: names(pilot) == ["Visitor 7", "Maria Lopez"]
                         and tabs.counts.get("sla") == 2, what="the SLA view")
        await pilot.pause(0.1)

    assert snap_compare(make_app(settings, clock), terminal_size=(80, 24),
                        run_before=sla_view)
