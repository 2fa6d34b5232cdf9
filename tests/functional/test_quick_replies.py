"""Quick replies in the running app: `/` completion, variables, keys, the palette, F3."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Direction
from opchat.replies import ReplyDraft
from opchat.screens.replies import RepliesScreen, ReplyForm
from opchat.widgets.composer import Composer, ConfirmSend
from opchat.widgets.reply_completion import ReplyCompletion
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, inbound, make_app, seed_inbox, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

EVIL_NAME = "{operator.name} [bold]Eve[/]"


async def seed(tmp_path: Path, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.replies.save_all([
            ReplyDraft("delivery", "Delivery terms", "We deliver in 1-2 days."),
            ReplyDraft("dlv-price", "Delivery price", "Delivery costs 300."),
            ReplyDraft("greet", "Greeting by name",
                       "Hello {contact.first_name}! I'm {operator.name}."),
            ReplyDraft("order", "Order", "Order {order.number} leaves on {order.date}."),
        ])
        for _ in range(3):
            await inbox.quick_reply_used(4)  # "delivery" (ids 1-3 are the seeded ones)
        await inbox.quick_reply_used(2)  # "ship"
        await inbox.store.inbound.ingest(inbound("site", "eve", 1, EVIL_NAME, "hi", clock() - 5))
    finally:
        await inbox.close()


async def open_dialog(pilot, name: str) -> Composer:
    app = pilot.app
    screen = app.screen
    await wait_until(pilot, lambda: screen.inbox is not None and screen.thread_pane.replies,
                     what="the replies to load")
    conversations = await app.inbox.conversations()
    conversation = next(c for c in conversations if c.contact_name == name)
    screen.open_conversation(conversation)
    composer = app.query_one(Composer)
    composer.focus()
    await wait_until(pilot, lambda: composer.variables.get("conversation.id")
                     == str(conversation.id), what="the dialog's variables")
    return composer


async def test_slash_completes_inline_and_replies_add_up_in_one_message(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, "Ivan Petrov")
        completion = app.query_one(ReplyCompletion)
        await pilot.press(*"Hi! ", "/", "d", "e")
        assert completion.is_open
        # Shortcut prefix, then shortcut substring ("orDEr"), then words ("DElivery price").
        assert [r.shortcut for r in completion.matches] == ["delivery", "order", "dlv-price"]
        await pilot.press("l")
        assert [r.shortcut for r in completion.matches] == ["delivery", "dlv-price"]
        await pilot.press("tab")
        await wait_until(pilot, lambda: "deliver in" in composer.text, what="the insert")
        assert composer.text == "Hi! We deliver in 1-2 days."
        assert not completion.is_open
        # A second reply in the same message: Down picks the second match, Enter takes it.
        await pilot.press("space", "/", "g", "r")
        assert [r.shortcut for r in completion.matches] == ["greet", "hi"]  # hi: "GReeting"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Hello" in composer.text, what="the second insert")
        assert composer.text == "Hi! We deliver in 1-2 days. Hello Ivan! I'm anna."
        # Still editable; Escape closes the drop-down without leaving the reply box.
        await pilot.press("space", "/", "x", "y", "z")
        assert not completion.is_open  # nothing matches "xyz"
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await pilot.press("space", "/")
        assert completion.is_open
        await pilot.press("escape")
        assert not completion.is_open and composer.has_focus
        await pilot.press("backspace", "backspace", "enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: any(
            m.body == "Hi! We deliver in 1-2 days. Hello Ivan! I'm anna."
            and m.direction is Direction.OUT for m in thread.messages), what="the sent reply")
        uses = {r.shortcut: r.uses for r in await app.inbox.quick_replies()}
        assert uses["delivery"] == 4 and uses["greet"] == 1


async def test_up_down_move_in_the_drop_down(tmp_path: Path, settings: Settings,
                                             clock: Clock) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, "Ivan Petrov")
        await pilot.press("/", "d")
        await pilot.press("down", "tab")
        await wait_until(pilot, lambda: "costs" in composer.text, what="the second match")
        assert composer.text == "Delivery costs 300."


async def test_unfilled_variables_are_highlighted_tabbed_and_never_sent_unasked(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, "Ivan Petrov")
        await pilot.press("/", "o", "r", "d", "tab")
        await wait_until(pilot, lambda: "leaves" in composer.text, what="the insert")
        text = "Order {order.number} leaves on {order.date}."
        assert composer.text == text
        assert composer.selected_text == "{order.number}"  # typing fills it in
        # Highlighted: the placeholder's cells have a background the rest of the line lacks.
        segments = [seg for y in range(3) for seg in composer.render_line(y)]
        styles = [seg.style for seg in segments if seg.text == "{order.date}"]
        assert styles and styles[0].bgcolor is not None
        await pilot.press("tab")
        assert composer.selected_text == "{order.date}"
        await pilot.press("tab")
        assert composer.selected_text == "{order.number}"
        await pilot.press("shift+tab")
        assert composer.selected_text == "{order.date}"
        # Enter asks; "n" goes back to the placeholder, nothing is sent.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSend), what="the ask")
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmSend), what="back")
        assert composer.has_focus and composer.selected_text == "{order.number}"
        await pilot.press(*"4411", "tab", *"Monday")
        assert composer.text == "Order 4411 leaves on Monday."
        assert composer.unfilled() == []
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: any(m.body == "Order 4411 leaves on Monday."
                                            for m in thread.messages), what="sent")
        # Sending as it is, on purpose: "y".
        await pilot.press("/", "o", "r", "d", "tab", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSend), what="the ask")
        await pilot.press("y")
        await wait_until(pilot, lambda: any(m.body == text for m in thread.messages),
                         what="sent as it is")


async def test_an_untrusted_name_is_inserted_literally_and_sent_without_asking(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, EVIL_NAME)
        await pilot.press("/", "g", "r", "e", "e", "t", "tab")
        await wait_until(pilot, lambda: "Hello" in composer.text, what="the insert")
        assert composer.text == "Hello {operator.name}! I'm anna."
        assert composer.unfilled() == []
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: any(m.body == "Hello {operator.name}! I'm anna."
                                            for m in thread.messages), what="sent")
        assert not isinstance(app.screen, ConfirmSend)


async def test_the_palette_keeps_usage_order_and_numbers_pick(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, "Ivan Petrov")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        from textual.command import CommandList

        options = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: options.option_count >= 7, what="the list")
        labels = [options.get_option_at_index(n).prompt.plain.split("\n")[0]
                  for n in range(options.option_count)]
        # Most used first (delivery 3, ship 1), then by shortcut: not alphabetical.
        assert labels[0].startswith("1 delivery") and labels[1].startswith("2 ship")
        assert labels[2].startswith("3 bye")
        # The preview is the text as it would be inserted here.
        greet = next(options.get_option_at_index(n).prompt.plain
                     for n in range(options.option_count)
                     if "greet" in options.get_option_at_index(n).prompt.plain)
        assert "Hello Ivan! I'm anna." in greet
        await pilot.press("2")
        await wait_until(pilot, lambda: "We ship" in composer.text, what="the second reply")
        assert composer.text == "We ship within 2 business days."


async def test_a_reply_bound_to_a_key_in_the_config(tmp_path: Path, settings: Settings,
                                                    clock: Clock) -> None:
    await seed(tmp_path, clock)
    settings.reply_keys = {"delivery": "f5", "bye": "alt+b"}
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_dialog(pilot, "Ivan Petrov")
        await pilot.press(*"Hi. ", "f5", "space", "alt+b")
        await wait_until(pilot, lambda: "nice day" in composer.text, what="both replies")
        assert composer.text == "Hi. We deliver in 1-2 days. Thank you, have a nice day!"


async def test_f3_adds_edits_and_deletes_replies(tmp_path: Path, settings: Settings,
                                                 clock: Clock) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dialog(pilot, "Ivan Petrov")
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, RepliesScreen), what="F3")
        replies = app.screen
        await wait_until(pilot, lambda: replies.replies, what="the list")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplyForm), what="the form")
        await pilot.press(*"bye")  # taken: refused, the form comes back
        await pilot.press("tab", *"Mine", "tab", "tab", *"See you, {contact.first_name}")
        await pilot.press("tab", "tab", "space", "ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplyForm)
                         and app.screen.query_one("#reply-shortcut").value == "bye"
                         and replies.is_attached, what="the form again")
        form = app.screen
        form.query_one("#reply-shortcut").value = "seeya"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any(r.shortcut == "seeya" for r in replies.replies),
                         what="saved")
        mine = next(r for r in await app.inbox.quick_replies() if r.shortcut == "seeya")
        assert mine.owner == "anna" and mine.body == "See you, {contact.first_name}"
        # Someone else does not see a private reply.
        other = await Inbox.open(tmp_path, "boris", clock=clock)
        try:
            assert "seeya" not in [r.shortcut for r in await other.quick_replies()]
        finally:
            await other.close()
        await pilot.press("d")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(replies.replies) == 7, what="deleted")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RepliesScreen),
                         what="back")


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_f3_form_fits_80x24_and_shows_what_is_typed(
        tmp_path: Path, settings: Settings, clock: Clock, language: str) -> None:
    from textual.widgets import Checkbox, Input, Label, Static, TextArea

    from opchat.i18n import set_language
    from tests.functional.conftest import rendered_text

    await seed(tmp_path, clock)
    set_language(language)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dialog(pilot, "Ivan Petrov")
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, RepliesScreen), what="F3")
        await wait_until(pilot, lambda: app.screen.replies, what="the list")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplyForm), what="the form")
        form = app.screen
        await pilot.pause()
        box = form.query_one("Vertical").content_region
        assert 0 <= box.y and box.bottom <= 24 and 0 <= box.x and box.right <= 80
        # Every field shows what is typed into it while it has the focus.
        typed = {"#reply-shortcut": "thanks", "#reply-title": "Thank you",
                 "#reply-folder": "Polite", "#reply-body": "Thanks a lot, {contact.first_name}",
                 "#reply-attachment": "/tmp/card.pdf"}
        for selector, text in typed.items():
            field = form.query_one(selector)
            field.focus()
            await pilot.press(*text)
            await pilot.pause()
            assert field.has_focus
            assert text in rendered_text(field), selector
            assert field.region.height >= 1 and box.contains_region(field.region)
        # Every label is there in full, inside the form.
        for widget in form.query(Label).results():
            shown = " ".join(rendered_text(widget).split())
            assert shown == " ".join(str(widget.render()).split()), shown
            assert box.contains_region(widget.region), shown
        for widget in [*form.query(Checkbox).results(), *form.query(Static).results()]:
            if isinstance(widget, (Input, TextArea, Label)) or not widget.region:
                continue
            assert box.contains_region(widget.region), rendered_text(widget)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, RepliesScreen), what="saved")
        saved = {r.shortcut: r for r in await app.inbox.quick_replies()}
        assert saved["thanks"].body == "Thanks a lot, {contact.first_name}"
    set_language("en")
