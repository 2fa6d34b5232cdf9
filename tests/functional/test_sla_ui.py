"""Service-level targets in the app: the list marks who is about to breach and who has,
an alert comes before the breach, and the stats screen counts breaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat.config import Settings
from opchat.screens.stats import StatsScreen
from opchat.sla import Sla, Targets
from opchat.widgets.conversation_list import ConversationList
from tests.functional.conftest import Clock, make_app, rendered_text, seed_inbox, wait_until
from tests.functional.test_app import started
from tests.functional.test_workflow_ui import screen_of

pytestmark = pytest.mark.usefixtures("utc", "english")


def rows_by_name(pilot) -> dict[str, str]:
    """Each dialog's two lines, by the customer's name on the first."""
    lines = rendered_text(pilot.app.query_one(ConversationList)).splitlines()
    found = {}
    for first, second in zip(lines[::2], lines[1::2], strict=False):
        for name in ("Ivan Petrov", "Maria Lopez", "Visitor 7", "Oleg Sidorov"):
            if name in first:
                found[name] = first + "\n" + second
    return found


async def test_the_list_marks_targets_about_to_be_missed_and_missed(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    """A one-minute first response, "about to breach" 20 s before: Ivan (45 s) is about
    to, Maria (95 s) and the visitor (10 min) have missed it; Oleg was answered and has
    no other target."""
    await seed_inbox(tmp_path, clock)
    settings.sla = Sla(Targets(first_response=60), warn_before=20)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        rows = rows_by_name(pilot)
        assert "SLA 15s" in rows["Ivan Petrov"]
        assert "SLA ✗" in rows["Maria Lopez"] and "SLA ✗" in rows["Visitor 7"]
        assert "SLA" not in rows["Oleg Sidorov"]
        # The wait is drawn in the alert style once missed, red while about to be.
        listing = pilot.app.query_one(ConversationList)
        row = {c.contact_name: c for c in (listing.row(i) for i in range(4)) if c}
        assert listing._right_label(row["Maria Lopez"], clock(), "breached")[1] == "wait-alert"
        assert listing._right_label(row["Ivan Petrov"], clock(), "soon")[1] == "wait-red"
        clock.advance(20)  # Ivan passes the minute
        listing.refresh()
        await wait_until(pilot, lambda: "SLA ✗" in rows_by_name(pilot)["Ivan Petrov"],
                         what="Ivan's target missed")


async def test_an_alert_before_the_breach_and_one_at_it(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    settings.sla = Sla(Targets(first_response=120), warn_before=30)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        alerter = screen_of(pilot).alerter
        assert alerter is not None
        screen_of(pilot)._check_red_waits()  # the first look: Visitor 7 missed it already
        await pilot.pause(0.2)
        assert not any(a.loud for a in alerter.recent)
        clock.advance(50)  # Ivan at 95 s: 25 s left of 120 (warned from 90 s)
        screen_of(pilot)._check_red_waits()
        await wait_until(pilot, lambda: any(
            a.loud and "Ivan Petrov" in a.title and a.body == "first response due in 25s"
            for a in alerter.recent), what="the warning")
        clock.advance(30)
        screen_of(pilot)._check_red_waits()
        await wait_until(pilot, lambda: any(
            a.loud and "Ivan Petrov" in a.title and a.body == "first response target missed"
            for a in alerter.recent), what="the breach")
        screen_of(pilot)._check_red_waits()
        await pilot.pause(0.2)
        ivan = [a for a in alerter.recent if a.loud and "Ivan Petrov" in a.title]
        assert len(ivan) == 2  # once each, not at every look


async def test_the_stats_screen_counts_breaches(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)  # Oleg answered 2 h after he wrote
    settings.sla = Sla(Targets(first_response=3600))
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await pilot.press("alt+s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, StatsScreen)
                         and pilot.app.screen.report is not None, what="the stats")
        summary = str(pilot.app.screen.query_one("#stats-summary").render())
        assert "missed: first response 1 · answer 0 · resolution 0" in summary
