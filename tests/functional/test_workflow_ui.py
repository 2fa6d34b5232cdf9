"""The operator's workflow in the app: views, statuses, assignment, notes, labels,
drafts, presence and alerts; a real store in tmp_path, driven through Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Direction, PresenceKind, Status
from opchat.screens.inbox import InboxScreen
from opchat.screens.pick import PickScreen
from opchat.widgets.composer import Composer
from opchat.widgets.view_tabs import ViewTabs
from tests.functional.conftest import (
    Clock,
    inbound,
    make_app,
    rendered,
    rendered_text,
    seed_inbox,
    wait_until,
)
from tests.functional.test_app import open_row, started

pytestmark = pytest.mark.usefixtures("utc", "english")


def screen_of(pilot) -> InboxScreen:
    return pilot.app.inbox_screen


async def conversation_named(inbox: Inbox, name: str):
    return next(c for c in await inbox.conversations() if c.contact_name == name)


async def test_views_cycle_with_counts_and_assigning_moves_dialogs(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = await started(pilot, rows=4)
        tabs = app.query_one(ViewTabs)
        await wait_until(pilot, lambda: tabs.counts.get("all") == 4, what="the counts")
        # Oleg's last reply failed: he has had no answer, so all four are waiting.
        assert tabs.counts == {"mine": 0, "unassigned": 4, "all": 4, "waiting": 4}
        await open_row(pilot, 0)
        opened = screen_of(pilot).opened
        assert opened is not None
        await pilot.press("alt+a")
        await wait_until(pilot, lambda: tabs.counts.get("mine") == 1, what="Mine to count 1")
        await pilot.press("alt+v")  # All -> Waiting
        assert tabs.view == "waiting"
        await pilot.press("alt+v")  # and round again to Mine
        assert tabs.view == "mine"
        await wait_until(pilot, lambda: conversations.row_count == 1, what="Mine's one row")
        assert opened.contact_name in rendered_text(conversations)
        assert "Mine 1" in rendered_text(tabs)
        # Assign to nobody through the chooser: Mine is empty again.
        await pilot.press("alt+g")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
        await pilot.press("end", "enter")  # the last choice: Nobody
        await wait_until(pilot, lambda: conversations.row_count == 0, what="Mine to empty")
        assert tabs.counts["unassigned"] == 4


async def test_a_note_is_stored_as_a_note_and_never_queued(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 0)
        composer = app.query_one(Composer)
        await pilot.press("alt+n")
        assert composer.has_class("note") and screen_of(pilot).note_mode
        await pilot.press(*"call him after 6", "enter")
        await wait_until(pilot, lambda: any(m.body == "call him after 6"
                                            for m in thread.messages), what="the note")
        note = next(m for m in thread.messages if m.body == "call him after 6")
        assert note.direction == Direction.NOTE
        assert not composer.has_class("note")  # the next message is a reply again
        inbox = app.inbox
        assert inbox is not None
        assert await inbox.store.outbox.claim_due(["shop"]) == []  # nothing to send
        ivan = await conversation_named(inbox, "Ivan Petrov")
        assert ivan.waiting_since is not None  # a note is not an answer


async def test_resolve_goes_to_the_next_and_snooze_takes_a_typed_time(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        screen = screen_of(pilot)
        first = screen.opened
        assert first is not None
        await pilot.press("alt+e")
        await wait_until(pilot, lambda: screen.opened is not None
                         and screen.opened.id != first.id, what="the next dialog")
        inbox = app.inbox
        assert inbox is not None
        resolved = await inbox.conversation(first.id)
        assert resolved is not None and resolved.status == Status.RESOLVED
        second = screen.opened
        await pilot.press("alt+z")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
        await pilot.press(*"soon", "enter")  # not a time: the chooser says so and stays
        assert isinstance(app.screen, PickScreen)
        assert "not a time" in str(app.screen.query_one("#pick-error", Static).render())
        await pilot.press(*("backspace",) * 4, *"2h", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, PickScreen),
                         what="the chooser to close")

        async def snoozed() -> bool:
            found = await inbox.conversation(second.id)
            return found is not None and found.status == Status.SNOOZED

        for _ in range(100):
            if await snoozed():
                break
            await pilot.pause(0.02)
        row = await inbox.conversation(second.id)
        assert row is not None and row.status == Status.SNOOZED
        assert "snoozed" in str(app.query_one("#thread-title", Static).render())


async def test_labels_are_added_shown_filtered_and_removed(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = await started(pilot, rows=4)
        await open_row(pilot, 0)
        await pilot.press("alt+l")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
        await pilot.press(*"[b]vip", "enter")  # a new label, with markup, kept literally
        title = app.query_one("#thread-title", Static)
        await wait_until(pilot, lambda: "#[b]vip" in str(title.render()), what="the label")
        await pilot.press("alt+f")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the filter")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: conversations.row_count == 1, what="the filtered list")
        await pilot.press("alt+l")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
        await pilot.press("enter")  # the highlighted one, which is on: removed
        await wait_until(pilot, lambda: "vip" not in str(title.render()), what="removal")
        await wait_until(pilot, lambda: conversations.row_count == 0, what="the empty filter")


async def test_drafts_survive_switching_and_restarting(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        await pilot.press(*"half a thought")
        await pilot.press("ctrl+n")  # to the next dialog: the draft is kept
        composer = app.query_one(Composer)
        await wait_until(pilot, lambda: composer.text == "", what="an empty composer")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: composer.text == "half a thought", what="the draft")
    again = make_app(settings, clock)
    async with again.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        composer = again.query_one(Composer)
        await wait_until(pilot, lambda: composer.text == "half a thought",
                         what="the draft after a restart")


async def test_longest_waiting_and_next_unread(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        screen = screen_of(pilot)
        await pilot.press("alt+w")
        await wait_until(pilot, lambda: screen.opened is not None, what="a dialog")
        assert screen.opened is not None and screen.opened.contact_name == "Visitor 7"
        seen = [screen.opened.contact_name]
        for _ in range(2):
            before = screen.opened
            await pilot.press("alt+u")
            await wait_until(pilot, lambda b=before: screen.opened is not b, what="next unread")
            seen.append(screen.opened.contact_name)
        # Opening a dialog reads it; Oleg had his answer and nothing new since.
        assert sorted(seen) == ["Ivan Petrov", "Maria Lopez", "Visitor 7"]
        before = screen.opened
        await pilot.press("alt+u")
        await pilot.pause(0.3)
        assert screen.opened is before  # nothing unread left: it stays


async def test_colleagues_and_the_customer_show_as_they_work(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    boris = await Inbox.open(tmp_path, "boris", clock=clock)  # another operator's process
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            conversations = await started(pilot)
            await open_row(pilot, 0)
            screen = screen_of(pilot)
            assert screen.opened is not None
            ivan = screen.opened.id
            await boris.heartbeat(ivan)
            activity = app.query_one("#thread-activity", Static)
            await wait_until(pilot, lambda: "Also here: boris" in str(activity.render()),
                             what="boris viewing")
            await wait_until(pilot, lambda: "◉boris" in rendered_text(conversations),
                             what="boris in the list")
            await boris.set_typing(ivan)
            await wait_until(pilot, lambda: "boris is typing" in str(activity.render()),
                             what="boris typing")
            address = await boris.store.conversations.address(ivan)
            assert address is not None
            await boris.store.presence.customer_typing(*address, "it was due on mon")
            await wait_until(pilot, lambda: "is typing: it was due on mon"
                             in str(activity.render()), what="the sneak peek")
            await boris.leave()
            await boris.store.presence.customer_typing(*address, ttl=0)
            await wait_until(pilot, lambda: not activity.display, what="everyone gone")
            # And ours reaches the others: this operator is viewing and typing.
            await pilot.press(*"We are on it")
            rows = await boris.presence()
            kinds = {(p.kind, p.who, p.conversation_id) for p in rows}
            assert (PresenceKind.VIEWING, "anna", ivan) in kinds
            assert (PresenceKind.TYPING, "anna", ivan) in kinds
    finally:
        await boris.close()


async def test_alerts_for_new_dialogs_messages_and_red_waits(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    settings.alert_new_message = "both"
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        inbox = app.inbox
        assert inbox is not None
        alerter = screen_of(pilot).alerter
        assert alerter is not None
        await inbox.store.inbound.ingest(inbound("site", "v9", 1, "Visitor 9", "Anyone there?",
                                                 clock()))
        await wait_until(pilot, lambda: any(a.title == "New conversation"
                                            for a in alerter.recent), what="the alert")
        await inbox.store.inbound.ingest(inbound("site", "v9", 2, "Visitor 9", "Hello?", clock()))
        await wait_until(pilot, lambda: any(a.title == "Visitor 9" and a.body == "Hello?"
                                            for a in alerter.recent), what="the message alert")
        # Ivan waited 45 s at start; the first look only notes who is red already.
        screen_of(pilot)._check_red_waits()
        await pilot.pause(0.2)
        assert not any(a.loud for a in alerter.recent)
        clock.advance(20)  # Ivan crosses 60 s
        screen_of(pilot)._check_red_waits()
        await wait_until(pilot, lambda: any(a.loud and "Ivan Petrov" in a.title
                                            for a in alerter.recent), what="the loud alert")
        loud = [a for a in alerter.recent if a.loud]
        assert len(loud) == 1  # Oleg and Visitor 7 were red before; only Ivan crossed now


async def test_f_fetches_a_file_then_gives_its_path_over_ssh(
        tmp_path: Path, settings: Settings, clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat.model import Attachment, InboundMessage

    monkeypatch.setenv("SSH_TTY", "/dev/pts/1")  # no desktop to open it on
    await seed_inbox(tmp_path, clock)
    seeding = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await seeding.store.inbound.ingest(InboundMessage(
            channel="shop", chat_id="ivan", external_id="ivan-photo", sender_id="u-ivan",
            sender_name="Ivan Petrov", body="here it is", sent_at=clock() + 1,
            attachments=(Attachment("photo", "receipt.jpg", "image/jpeg", 1234, "file-9"),)))
    finally:
        await seeding.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 0)
        assert thread.messages[-1].body == "here it is"
        await pilot.press("alt+2")  # to the thread: the newest message is selected
        await pilot.press("f")
        inbox = app.inbox
        assert inbox is not None

        async def requested() -> list:
            return [e for e in await inbox.store.events.events_after(0)
                    if e.kind == "attachment.requested"]

        for _ in range(100):
            if await requested():
                break
            await pilot.pause(0.02)
        [request] = await requested()
        # What the hub does on that event (its own test fetches through a transport):
        saved = tmp_path / "attachments" / "shop" / "receipt.jpg"
        saved.parent.mkdir(parents=True)
        saved.write_bytes(b"jpeg")
        await inbox.store.attachments.fetched(request.data["attachment"], str(saved))
        await wait_until(pilot, lambda: app.clipboard == str(saved), what="the path")


async def test_opening_a_dialog_with_a_draft_does_not_say_typing(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    keeper = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        first = (await keeper.conversations())[0]
        await keeper.save_draft(first.id, "a thought from yesterday")
    finally:
        await keeper.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        composer = app.query_one(Composer)
        await wait_until(pilot, lambda: composer.text == "a thought from yesterday",
                         what="the draft")
        await pilot.pause(0.3)
        inbox = app.inbox
        assert inbox is not None
        assert not [p for p in await inbox.presence() if p.kind is PresenceKind.TYPING]
        await pilot.press("!")  # now the operator types
        await wait_until(pilot, lambda: composer.text.endswith("!"), what="the key")
        for _ in range(50):
            if [p for p in await inbox.presence() if p.kind is PresenceKind.TYPING]:
                break
            await pilot.pause(0.02)
        assert [p for p in await inbox.presence() if p.kind is PresenceKind.TYPING]


async def test_ctrl_t_attaches_a_file_and_it_goes_with_the_reply(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    price_list = tmp_path / "price list.pdf"
    price_list.write_bytes(b"%PDF-1.4")
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        composer = app.query_one(Composer)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
        await pilot.press(*str(tmp_path / "nope.pdf"), "enter")  # no such file: it says so
        assert isinstance(app.screen, PickScreen)
        assert "No such file" in str(app.screen.query_one("#pick-error", Static).render())
        field = app.screen.query_one("#pick-input")
        field.value = str(price_list)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(pilot, lambda: composer.files == [price_list], what="the file")
        assert "price list.pdf" in str(composer.border_title)
        await pilot.press("enter")  # no text: the file alone is a message
        inbox = app.inbox
        assert inbox is not None
        opened = screen_of(pilot).opened
        assert opened is not None
        for _ in range(100):
            messages = await inbox.messages(opened.id)
            if messages[-1].attachments:
                break
            await pilot.pause(0.02)
        [attachment] = messages[-1].attachments
        assert (attachment.filename, attachment.local_path) == ("price list.pdf",
                                                                str(price_list))
        assert composer.files == [] and not composer.border_title


# The inbox never looks better than the truth -------------------------------------------------

NINE_CHANNELS = [("shop", "telegram"), ("wa", "whatsapp"), ("vk", "vk"), ("site", "webchat"),
                 ("viber", "viber"), ("fb", "messenger"), ("insta", "instagram"),
                 ("mail", "email"), ("support-bot", "telegram")]


async def nine_channels(data_dir: Path, clock: Clock) -> None:
    from opchat.model import Health

    inbox = await Inbox.open(data_dir, "anna", clock=clock)
    try:
        for name, kind in NINE_CHANNELS:
            await inbox.store.channels.ensure(name, kind)
            await inbox.store.channels.set_health(name, Health.OK)
        await inbox.store.channels.set_health("site", Health.OK, "127.0.0.1:8765")
        await inbox.store.channels.set_health("vk", Health.DOWN,
                                              "401 Unauthorized: invalid access token")
        await inbox.store.channels.set_health("mail", Health.DEGRADED, "IMAP: connection timed out")
    finally:
        await inbox.close()


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_at_80x24_the_waiting_count_and_the_channels_down_always_show(
        tmp_path: Path, settings: Settings, clock: Clock, language: str) -> None:
    import re

    from opchat.i18n import ngettext, set_language
    from opchat.widgets.status_bar import StatusBar

    await seed_inbox(tmp_path, clock)
    await nine_channels(tmp_path, clock)
    set_language(language)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, rows=4)
        status, tabs = app.query_one(StatusBar), app.query_one(ViewTabs)
        await wait_until(pilot, lambda: status.waiting is not None and tabs.counts,
                         what="the counts")
        await pilot.pause(0.1)
        bar, header = rendered_text(status), rendered_text(tabs)
        # Oleg's last reply failed: he waits too, and the failure is counted.
        assert ngettext("{n} waiting", "{n} waiting", 4) in bar, bar
        assert ngettext("{n} failed", "{n} failed", 1) in bar, bar
        assert "vk" in bar and "mail" in bar, bar  # down and degraded: named
        # If anything is cut, it is the errors' text at the end, never the essentials.
        counts, channels = bar.split(" │ ")[:2]
        assert "…" not in counts + channels, bar
        assert re.findall(r"\d+", header)[-1] == "4", header  # the Waiting view's count
        assert not header.rstrip().endswith("…"), header
        # A busy inbox, filtered by a label: names give way, the Waiting count stays.
        tabs.show("all", {"mine": 112, "unassigned": 1304, "all": 15020, "waiting": 457},
                  label="wholesale")
        await pilot.pause(0.05)
        header = rendered_text(tabs)
        assert "457" in header and "15020" in header, header


async def test_a_failed_reply_shows_on_the_row_and_keeps_waiting_until_dismissed(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    from opchat.widgets.status_bar import StatusBar

    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = await started(pilot, rows=4)
        tabs, status = app.query_one(ViewTabs), app.query_one(StatusBar)
        await wait_until(pilot, lambda: tabs.counts.get("waiting") == 4, what="4 waiting")
        await wait_until(pilot, lambda: "1 failed" in rendered_text(status),
                         what="the failure in the status bar")
        # Oleg's row: a ✗ beside his wait, in the error colour.
        oleg = next(i for i in range(4) if conversations.row(i).contact_name == "Oleg Sidorov")
        line = rendered(conversations)[oleg * 2]
        assert "Oleg Sidorov" in line.text and line.text.rstrip().endswith("✗ 0s"), line.text
        cross = next(seg for seg in line if "✗" in seg.text)
        assert cross.style is not None and cross.style.color is not None
        assert cross.style.color == conversations.get_component_rich_style(
            "conversation-list--failed").color
        # Another operator's process dismisses it: this one follows.
        other = await Inbox.open(tmp_path, "boris", clock=clock)
        try:
            conv = await conversation_named(other, "Oleg Sidorov")
            assert await other.dismiss_failure(conv.id)
        finally:
            await other.close()
        await wait_until(pilot, lambda: tabs.counts.get("waiting") == 3, what="3 waiting")
        await wait_until(pilot, lambda: "failed" not in rendered_text(status)
                         and "3 waiting" in rendered_text(status), what="the bar to follow")
        await wait_until(pilot, lambda: "✗" not in rendered_text(conversations),
                         what="the row to lose its mark")


async def test_the_dismiss_key_on_a_failed_dialog_records_who(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = await started(pilot, rows=4)
        oleg = next(i for i in range(4) if conversations.row(i).contact_name == "Oleg Sidorov")
        await open_row(pilot, oleg)
        inbox = screen_of(pilot).inbox
        assert inbox is not None
        await pilot.press("alt+x")
        await wait_until(pilot, lambda: conversations.row(oleg) is not None
                         and conversations.row(oleg).failed_message_id is None
                         and "✗" not in rendered_text(conversations), what="the dismissal")
        events = [e for e in await inbox.store.events.events_after(0)
                  if e.kind == "conversation.failure_cleared"]
        assert [(e.operator, e.data) for e in events] == [("anna", {"reason": "dismissed"})]
        await pilot.press("alt+x")  # nothing left to dismiss: said, not done
        await wait_until(pilot, lambda: any("No failed reply" in str(n.message)
                                            for n in app._notifications),
                         what="the notice")


async def test_ctrl_t_on_a_channel_that_cannot_carry_files_is_refused_at_once(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:  # what the hub records when it loads the channels' transports
        await inbox.store.channels.set_capabilities("site", {"media": False, "max_len": 4096})
        await inbox.store.channels.set_capabilities("wa", {"media": True, "max_len": 4096})
    finally:
        await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        conversations = await started(pilot, rows=4)
        visitor = next(i for i in range(4) if conversations.row(i).contact_name == "Visitor 7")
        await open_row(pilot, visitor)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: any("cannot carry files" in str(n.message)
                                            for n in app._notifications),
                         what="the refusal")
        assert not isinstance(app.screen, PickScreen)
        assert screen_of(pilot).outgoing_files == {}
        maria = next(i for i in range(4) if conversations.row(i).contact_name == "Maria Lopez")
        await open_row(pilot, maria)
        await pilot.press("ctrl+t")  # WhatsApp carries files: the chooser opens
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the chooser")
