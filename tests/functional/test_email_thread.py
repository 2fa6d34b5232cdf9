"""An e-mail in the thread: its quoted history and signature folded away, and a key
(z, `opchat.thread.unfold`) that shows them and folds them again.

The mail is Gmail's own (tests/data/email), read by the email channel's parser and
stored in a real SQLite file; the app runs through Pilot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import InboundMessage
from opchat.transports.email.parse import parse_message
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, make_app, rendered_text, wait_until
from tests.functional.test_thread_display import open_thread

pytestmark = pytest.mark.usefixtures("utc", "english")

DATA = Path(__file__).parent.parent / "data" / "email"


async def test_z_shows_an_emails_folded_history_and_folds_it_again(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    parsed = parse_message((DATA / "gmail_reply.eml").read_bytes())
    assert parsed.full_text  # something is folded away
    quoted = next(line for line in parsed.full_text.splitlines()
                  if line.strip() and line not in parsed.text)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("mail", "email")
        await inbox.store.inbound.ingest(InboundMessage(
            channel="mail", chat_id=f"{parsed.from_address} x", external_id=parsed.message_id,
            sender_id=parsed.from_address, sender_name=parsed.from_name, body=parsed.text,
            sent_at=clock() - 60, meta={"email": parsed.meta()}))
    finally:
        await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 40)) as pilot:
        thread: ThreadView = await open_thread(pilot)
        thread.focus()
        await pilot.pause()
        assert "z shows them" in rendered_text(thread)
        assert quoted.strip()[:30] not in rendered_text(thread)
        await pilot.press("z")
        await wait_until(pilot, lambda: quoted.strip()[:30] in rendered_text(thread),
                         what="the quoted history")
        assert "z folds the quoted history" in rendered_text(thread)
        await pilot.press("z")
        await wait_until(pilot, lambda: quoted.strip()[:30] not in rendered_text(thread),
                         what="folded again")
