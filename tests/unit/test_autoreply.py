"""Automatic answers against a real store: what is said, when, and never twice."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from opchat.autoreply import AutoAnswerer, plan_answer
from opchat.config import ConfigError, Settings, load_settings
from opchat.inbox import Inbox
from opchat.model import Direction, InboundMessage
from opchat.replies import ReplyDraft

FRIDAY_22_MSK = 1_741_978_800.0  # 2025-03-14 19:00 UTC: Friday 22:00 in Moscow

CONFIG = """
language = "en"
[menus.main]
text = "Choose a topic:"
options = [
  { label = "Delivery", reply = "delivery" },
  { label = "Order status", reply = "status" },
  { label = "A person, please", operator = true },
]
[channels.shop]
kind = "demo"
hours = "Mon-Fri 09:00-18:00"
timezone = "Europe/Moscow"
greeting_message = "Hello, {contact.first_name}!"
menu = "main"
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, tmp_path)


@pytest.fixture
async def world(tmp_path: Path):
    clock = Clock(FRIDAY_22_MSK)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "demo")
    await inbox.store.replies.save_all([
        ReplyDraft("delivery", "Delivery", "We deliver in 1-2 days, {contact.first_name}."),
        ReplyDraft("status", "Status", "Your order {order.number} is on its way."),
    ])
    settings = settings_from(tmp_path, CONFIG)
    answerer = AutoAnswerer(inbox, settings.channels)
    yield inbox, clock, answerer
    await inbox.close()


async def say(inbox: Inbox, n: int, body: str, chat: str = "c1", name: str = "Ivan Petrov"):
    result = await inbox.store.inbound.ingest(InboundMessage(
        channel="shop", chat_id=chat, external_id=f"{chat}-{n}", sender_id=chat,
        sender_name=name, body=body))
    return result


async def autos(inbox: Inbox, conversation_id: int) -> list[str]:
    return [m.body for m in await inbox.messages(conversation_id)
            if m.direction is Direction.AUTO]


async def test_a_new_dialog_at_night_gets_greeting_away_and_menu_once(world) -> None:
    inbox, clock, answerer = world
    first = await say(inbox, 1, "Hi, where is my order?")
    message = await answerer.answer(first.message_id)
    assert message is not None and message.direction is Direction.AUTO
    assert message.meta["auto"] == ["greeting", "away", "menu"]
    assert message.body == (
        "Hello, Ivan!\n\n"
        "We are not at work right now; an operator will answer you on Monday at 09:00. "
        "Until then you are talking to an automatic assistant.\n\n"
        "This is an automatic assistant.\nChoose a topic:\n"
        "1 — Delivery\n2 — Order status\n3 — A person, please")
    conversation = await inbox.conversation(first.conversation_id)
    assert conversation is not None and conversation.preview_direction is Direction.AUTO
    # The same message again (a hub restart): nothing more.
    assert await answerer.answer(first.message_id) is None
    # Another message the same night: no second greeting, away or menu.
    clock.now += 60
    second = await say(inbox, 2, "hello?")
    assert await answerer.answer(second.message_id) is None
    # Automatic answers are not an operator's: the customer still waits.
    conversation = await inbox.conversation(first.conversation_id)
    assert conversation is not None
    assert conversation.waiting_since is not None and conversation.first_response_s is None


async def test_a_message_a_machine_wrote_is_never_answered(world) -> None:
    # An out-of-office reply (the email channel marks it "automated"): answering it would
    # start two robots writing to each other.
    inbox, _clock, answerer = world
    robot = await inbox.store.inbound.ingest(InboundMessage(
        channel="shop", chat_id="robot", external_id="robot-1", sender_id="robot",
        sender_name="Ivan Petrov", body="I am on holiday", meta={"automated": "auto-reply"}))
    assert await answerer.answer(robot.message_id) is None
    person = await say(inbox, 1, "Hi", chat="person")
    assert await answerer.answer(person.message_id) is not None


async def test_the_menu_answers_with_a_saved_reply_then_hands_over(world) -> None:
    inbox, clock, answerer = world
    first = await say(inbox, 1, "Hi")
    await answerer.answer(first.message_id)
    clock.now += 30
    choice = await say(inbox, 2, " 1. ")
    answer = await answerer.answer(choice.message_id)
    assert answer is not None and answer.body == "We deliver in 1-2 days, Ivan."
    # A reply that needs what only a person knows ({order.number}) is never sent: a person is.
    clock.now += 30
    status = await say(inbox, 3, "2")
    answer = await answerer.answer(status.message_id)
    assert answer is not None and answer.meta["auto"] == ["handoff"]
    assert "{" not in answer.body and "operator will answer" in answer.body
    # Handed over: numbers are the customer's words now, not choices.
    clock.now += 30
    later = await say(inbox, 4, "1")
    assert await answerer.answer(later.message_id) is None
    assert len(await autos(inbox, first.conversation_id)) == 3


async def test_an_operator_answer_stops_the_menu_and_the_away_message(world) -> None:
    inbox, clock, answerer = world
    first = await say(inbox, 1, "Hi")
    await answerer.answer(first.message_id)
    clock.now += 60
    await inbox.send(first.conversation_id, "Hello, I'm here late tonight.")
    clock.now += 60
    choice = await say(inbox, 2, "1")
    assert await answerer.answer(choice.message_id) is None
    # The next day's first message, 4 minutes after an operator wrote: no away message.
    clock.now = FRIDAY_22_MSK + 3 * 3600  # Saturday 01:00 in Moscow
    await inbox.send(first.conversation_id, "Still here.")
    clock.now += 240
    night = await say(inbox, 3, "thanks")
    assert await answerer.answer(night.message_id) is None
    clock.now += 120  # now 6 minutes after the operator
    again = await say(inbox, 4, "one more thing")
    answer = await answerer.answer(again.message_id)
    assert answer is not None and answer.meta["auto"] == ["away"]


async def test_once_a_day_is_the_channels_day_not_utc(tmp_path: Path) -> None:
    # Auckland is UTC+13 in March: 10:30 and 11:30 UTC are 23:30 and 00:30 there.
    text = CONFIG.replace('timezone = "Europe/Moscow"', 'timezone = "Pacific/Auckland"')
    text = text.replace('hours = "Mon-Fri 09:00-18:00"', 'hours = "Mon-Fri 09:00-10:00"')
    clock = Clock(1_741_948_200.0)  # 2025-03-14 10:30 UTC
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        answerer = AutoAnswerer(inbox, settings_from(tmp_path, text).channels)
        first = await say(inbox, 1, "hi")
        assert "away" in (await answerer.answer(first.message_id)).meta["auto"]
        clock.now += 3600  # same UTC day, but a new day in Auckland
        second = await say(inbox, 2, "hello?")
        answer = await answerer.answer(second.message_id)
        assert answer is not None and answer.meta["auto"] == ["away"]
        assert "on Monday at 09:00" in answer.body
    finally:
        await inbox.close()


async def test_a_23_hour_day_still_gets_one_away_message(tmp_path: Path) -> None:
    # 2025-03-30 in Berlin is 23 hours long (clocks go forward at 02:00).
    text = CONFIG.replace('timezone = "Europe/Moscow"', 'timezone = "Europe/Berlin"')
    clock = Clock(1_743_291_000.0)  # 2025-03-29 23:30 UTC = Sunday 2025-03-30 00:30 CET
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        answerer = AutoAnswerer(inbox, settings_from(tmp_path, text).channels)
        first = await say(inbox, 1, "hi")
        assert "away" in (await answerer.answer(first.message_id)).meta["auto"]
        clock.now += 22 * 3600  # Sunday 23:30 CEST: the same day on the wall clock
        second = await say(inbox, 2, "hello?")
        assert await answerer.answer(second.message_id) is None
        clock.now += 3600  # Monday 00:30
        third = await say(inbox, 3, "anyone?")
        answer = await answerer.answer(third.message_id)
        assert answer is not None and "today at 09:00" in answer.body
    finally:
        await inbox.close()


async def test_open_hours_no_greeting_no_menu_says_nothing(tmp_path: Path) -> None:
    text = ('[channels.shop]\nkind = "demo"\nhours = "24/7"\ntimezone = "UTC"\n')
    clock = Clock(FRIDAY_22_MSK)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        answerer = AutoAnswerer(inbox, settings_from(tmp_path, text).channels)
        first = await say(inbox, 1, "hi")
        assert await answerer.answer(first.message_id) is None
    finally:
        await inbox.close()


async def test_the_engine_follows_the_feed_and_a_restart_does_not_answer_twice(world) -> None:
    inbox, _clock, answerer = world
    task = asyncio.create_task(answerer.run())
    try:
        first = await say(inbox, 1, "Hi")
        for _ in range(200):
            if await autos(inbox, first.conversation_id):
                break
            await asyncio.sleep(0.02)
        assert len(await autos(inbox, first.conversation_id)) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # A new hub reads the last minutes of the feed again.
    again = asyncio.create_task(AutoAnswerer(inbox, world_channels(world)).run())
    try:
        # The feed is read in order: once a newer dialog is answered, the replayed
        # message has been looked at again.
        newer = await say(inbox, 1, "Hello", chat="c2")
        for _ in range(250):
            if await autos(inbox, newer.conversation_id):
                break
            await asyncio.sleep(0.02)
        assert await autos(inbox, newer.conversation_id)
        assert len(await autos(inbox, first.conversation_id)) == 1
    finally:
        again.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await again


def world_channels(world):
    """The same channels, for a second engine (as a restarted hub builds one)."""
    from opchat.config import ChannelSettings

    return [ChannelSettings(name, "demo", {}, auto) for name, auto in world[2].rules.items()]


async def test_operator_reply_and_auto_message_metrics(tmp_path: Path) -> None:
    clock = Clock(FRIDAY_22_MSK)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        first = await say(inbox, 1, "Hi")
        clock.now += 10
        await inbox.store.messages.add(first.conversation_id, "auto", None, Direction.AUTO)
        conversation = await inbox.conversation(first.conversation_id)
        assert conversation.waiting_since is not None and conversation.first_response_s is None
        clock.now += 10
        await inbox.send(first.conversation_id, "A person")
        conversation = await inbox.conversation(first.conversation_id)
        assert conversation.waiting_since is None and conversation.first_response_s == 20
    finally:
        await inbox.close()


@pytest.mark.parametrize(("text", "message"), [
    ('[channels.shop]\nkind = "demo"\nhours = "Mon-Fri 9-18"\ntimezone = "UTC"\n',
     "config.toml:3: channels.shop.hours: working hours"),
    ('[channels.shop]\nkind = "demo"\nhours = "Mon-Fri 09:00-18:00"\n',
     "config.toml:3: channels.shop.hours needs timezone"),
    ('[channels.shop]\nkind = "demo"\nhours = "24/7"\ntimezone = "Mars/Olympus"\n',
     "config.toml:4: channels.shop.timezone: unknown timezone"),
    ('[channels.shop]\nkind = "demo"\nmenu = "main"\n', "config.toml:3: channels.shop.menu: "
                                                        "no [menus.main] table"),
    ('[menus.main]\ntext = "Pick"\noptions = [{ label = "x" }]\n',
     "needs either reply"),
    ('[menus.main]\ntext = "Pick"\noptions = [{ label = "x", reply = "a b" }]\n',
     "is not a quick reply's shortcut"),
    ('[menus.main]\noptions = [{ label = "x", operator = true }]\n', "needs a text"),
    ('[reply_keys]\ndelivery = ""\n', "config.toml:2: reply_keys.delivery must name keys"),
    ('[channels.shop]\nkind = "demo"\ngreeting_message = 3\n', "must be a string"),
])
def test_bad_automatic_answer_settings_name_file_and_line(tmp_path: Path, text: str,
                                                          message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, text)
    assert message in str(caught.value)


def test_plan_answer_needs_no_store() -> None:
    from opchat.store.replies import AutoTrigger

    settings = load_settings_text(CONFIG)
    auto = settings.channels[0].auto
    trigger = AutoTrigger(1, 1, "shop", "hi", FRIDAY_22_MSK, True, False, "", (), None)
    answer = plan_answer(auto, trigger, FRIDAY_22_MSK)
    # No name known: the greeting leaves the variable out rather than send "{…}".
    assert answer is not None and answer.text.startswith("Hello!\n\n")


def load_settings_text(text: str) -> Settings:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return settings_from(Path(tmp), text)


async def test_the_menu_offers_buttons_and_a_pressed_one_answers(world) -> None:
    inbox, clock, answerer = world
    first = await say(inbox, 1, "Hi")
    menu = await answerer.answer(first.message_id)
    assert menu is not None
    assert menu.meta["buttons"] == [["1. Delivery", "1"], ["2. Order status", "2"],
                                    ["3. A person, please", "3"]]
    # The outbox hands the buttons to the transport (shown where the channel can).
    [item] = await inbox.store.outbox.claim_due(["shop"])
    assert item.message.buttons == (("1. Delivery", "1"), ("2. Order status", "2"),
                                    ("3. A person, please", "3"))
    clock.now += 30
    # A press arrives as the button's text, with its payload: the payload chooses.
    pressed = await inbox.store.inbound.ingest(InboundMessage(
        channel="shop", chat_id="c1", external_id="cb:1", sender_id="c1",
        sender_name="Ivan Petrov", body="1. Delivery", meta={"callback": "1"}))
    answer = await answerer.answer(pressed.message_id)
    assert answer is not None and answer.body == "We deliver in 1-2 days, Ivan."


@pytest.mark.parametrize(("typical", "said"), [
    (40.0, "Hello! We usually answer within a minute. How can we help?"),
    (150.0, "Hello! We usually answer within 3 min. How can we help?"),
    (7300.0, "Hello! We usually answer within 3 h. How can we help?"),
    (None, "Hello! How can we help?"),  # unmeasured: no claim at all
])
async def test_the_greeting_may_say_how_soon_people_are_answered(
        tmp_path: Path, typical: float | None, said: str) -> None:
    settings = settings_from(tmp_path, '[channels.shop]\nkind = "demo"\n'
                             'greeting_message = "Hello! {answer.typical} How can we help?"\n')
    clock = Clock(FRIDAY_22_MSK)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    asked: list[str] = []

    async def typical_answer(channel: str) -> float | None:
        asked.append(channel)
        return typical

    try:
        answerer = AutoAnswerer(inbox, settings.channels, typical_answer)
        got = await say(inbox, 1, "hi")
        answer = await answerer.answer(got.message_id)
        assert answer is not None and answer.body == said
        assert asked == ["shop"]
    finally:
        await inbox.close()


async def test_the_figure_is_not_asked_when_no_text_uses_it(world) -> None:
    inbox, _clock, _answerer = world
    settings = settings_from(inbox.store.db.path.parent, CONFIG)
    asked: list[str] = []

    async def typical_answer(channel: str) -> float | None:
        asked.append(channel)
        return 30.0

    answerer = AutoAnswerer(inbox, settings.channels, typical_answer)
    got = await say(inbox, 1, "hi")
    assert await answerer.answer(got.message_id) is not None
    assert asked == []
