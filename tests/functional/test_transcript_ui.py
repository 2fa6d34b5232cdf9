"""Alt+M in the app: e-mail the customer a transcript of the open dialog."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from opchat.config import Settings, TranscriptSettings
from opchat.inbox import Inbox
from opchat.model import EventKind, InboundMessage
from opchat.screens.confirm import ConfirmScreen
from tests.functional.conftest import Clock, make_app, seed_inbox, wait_until
from tests.functional.test_app import open_row, started

pytestmark = pytest.mark.usefixtures("utc", "english")


async def requests(inbox: Inbox) -> list[tuple[int | None, str, str | None]]:
    return [(e.conversation_id, e.data["to"], e.operator)
            for e in await inbox.store.events.events_after(0)
            if e.kind == EventKind.TRANSCRIPT_REQUESTED]


async def test_alt_m_asks_then_requests_the_transcript(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    writer = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        got = await writer.store.inbound.ingest(InboundMessage(
            "site", "v9", "v9-1", "v9", "Zoe", "Please send me this chat", sent_at=clock() + 1,
            email="zoe@customer.example"))
    finally:
        await writer.close()
    settings.transcripts = TranscriptSettings("mail")
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)  # Zoe's, the newest
        await pilot.press("alt+m")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the question")
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "E-mail the transcript?" in shown and "zoe@customer.example" in shown
        await pilot.press("y")
        inbox = app.inbox
        assert inbox is not None
        for _ in range(100):
            if await requests(inbox):
                break
            await pilot.pause(0.05)
        assert await requests(inbox) == [(got.conversation_id, "zoe@customer.example", "anna")]


async def test_without_an_address_or_set_up_it_says_so(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)  # nobody there left an e-mail address
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        await pilot.press("alt+m")
        await wait_until(pilot, lambda: any("Transcripts are not set up" in str(n.message)
                                            for n in app._notifications), what="the warning")
        settings.transcripts = TranscriptSettings("mail")
        await pilot.press("alt+m")
        await wait_until(pilot, lambda: any("has no e-mail address" in str(n.message)
                                            for n in app._notifications), what="no address")
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.inbox is not None and await requests(app.inbox) == []
