"""Customers rate a resolved dialog: asked once, answered with a button or a digit, kept
as a rating without reopening anything, counted in the figures, thanked once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opchat.autoreply import RATING_BUTTONS, AutoAnswerer
from opchat.config import load_settings
from opchat.inbox import Inbox
from opchat.model import Direction, EventKind, InboundMessage, Status
from opchat.store.ratings import ANSWER_WINDOW, answer_of

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

T0 = 1_741_953_600.0

CONFIG = """
language = "en"
[channels.shop]
kind = "demo"
rating = true

[channels.quiet]
kind = "demo"
greeting_message = "Hello!"
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Inbox, Clock, AutoAnswerer]]:
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(tmp_path / "config.toml", tmp_path)
    yield inbox, clock, AutoAnswerer(inbox, settings.channels)
    await inbox.close()


async def say(inbox: Inbox, n: int, body: str, channel: str = "shop",
              callback: str | None = None) -> int:
    got = await inbox.store.inbound.ingest(InboundMessage(
        channel=channel, chat_id="ivan", external_id=f"ivan-{n}", sender_id="ivan",
        sender_name="Ivan Petrov", body=body,
        meta={"callback": callback} if callback is not None else {}))
    return got.conversation_id


async def resolved(inbox: Inbox, clock: Clock, answerer: AutoAnswerer,
                   channel: str = "shop") -> int:
    """Ivan asks, anna answers and resolves; the hub hears of it and asks for a rating."""
    conv = await say(inbox, 1, "Where is my order?", channel)
    clock.now += 30
    await inbox.send(conv, "On its way!")
    clock.now += 30
    await inbox.set_status(conv, Status.RESOLVED)
    await answerer.ask_rating(conv, clock.now)
    return conv


@pytest.mark.parametrize(("body", "answer"), [
    ("5", (5, "")), ("4 thanks, quick and polite", (4, "thanks, quick and polite")),
    ("3/5 ok", (3, "ok")), ("2 из 5, долго", (2, "долго")), ("1!", (1, "")),
    ("5.", (5, "")), ("  4 - fine", (4, "fine")),
    ("6", None), ("0", None), ("45 minutes late", None), ("4.5", None),
    ("Is it 5 days?", None), ("", None),
])
def test_what_reads_as_a_rating(body: str, answer: tuple[int, str] | None) -> None:
    assert answer_of(InboundMessage("shop", "c", "e", "c", "C", body)) == answer


def test_buttons_read_as_ratings_whatever_their_label() -> None:
    pressed = InboundMessage("shop", "c", "e", "c", "C", "5 ★★★★★", meta={"callback": "rate:5"})
    assert answer_of(pressed) == (5, "")
    assert [payload for _label, payload in RATING_BUTTONS] == [
        "rate:5", "rate:4", "rate:3", "rate:2", "rate:1"]


async def test_asked_once_when_an_operator_resolves(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer)
    assert await answerer.ask_rating(conv, clock.now) is None  # a replayed feed asks no more
    [question] = [m for m in await inbox.messages(conv) if m.direction is Direction.AUTO]
    assert question.body.startswith("How did we do?")
    assert question.meta["buttons"] == [list(b) for b in RATING_BUTTONS]
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.status is Status.RESOLVED
    assert conversation.waiting_since is None


async def test_a_channel_without_ratings_asks_nothing(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer, channel="quiet")
    assert not [m for m in await inbox.messages(conv) if m.meta.get("rating_asked")]


async def test_a_digit_is_kept_as_a_rating_and_reopens_nothing(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer)
    clock.now += 60
    assert await say(inbox, 2, "4 thanks, but it took a while") == conv
    conversation = await inbox.conversation(conv)
    assert conversation is not None
    assert conversation.status is Status.RESOLVED and conversation.waiting_since is None
    answer = (await inbox.messages(conv))[-1]
    assert answer.body == "4 thanks, but it took a while" and answer.meta["rating"] == 4
    [rated] = [e for e in await inbox.store.events.events_after(0)
               if e.kind == EventKind.CONVERSATION_RATED]
    assert rated.data == {"rating": 4, "comment": "thanks, but it took a while"}
    card = await inbox.contact_card(conversation.contact_id)
    assert card is not None
    [(rating, comment, operator)] = [(r.rating, r.comment, r.operator) for r in card.ratings]
    assert (rating, comment, operator) == (4, "thanks, but it took a while", "anna")
    # The automatic answers leave it alone, but for one thank-you.
    assert await answerer.answer(answer.id) is None
    assert await answerer.thank_for_rating(conv, answer.id, clock.now) is not None
    assert await answerer.thank_for_rating(conv, answer.id, clock.now) is None
    # The figures: one dialog, rated 4 by anna's customer; the rating no new round.
    [figures] = await inbox.store.stats.figures(T0 - 1, clock.now + 1)
    assert (figures.count("started"), figures.count("reopened")) == (1, 0)
    assert figures.ratings() == (1, 4.0, 1.0)
    by_operator = {f.key: f.ratings() for f in await inbox.store.stats.figures(
        T0 - 1, clock.now + 1, "operator")}
    assert by_operator["anna"] == (1, 4.0, 1.0)
    # A second digit is a message like any other: the question was answered.
    clock.now += 60
    await say(inbox, 3, "2")
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.status is Status.OPEN


async def test_a_button_is_a_rating(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer)
    await say(inbox, 2, "2 ★★", callback="rate:2")
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.status is Status.RESOLVED
    [figures] = await inbox.store.stats.figures(T0 - 1, clock.now + 1)
    assert figures.ratings() == (1, 2.0, 0.0)


async def test_anything_else_reopens_as_before(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer)
    await say(inbox, 2, "One more question")
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.status is Status.OPEN
    assert conversation.waiting_since is not None


async def test_a_digit_days_later_is_a_message(world) -> None:
    inbox, clock, answerer = world
    conv = await resolved(inbox, clock, answerer)
    clock.now += ANSWER_WINDOW + 60
    await say(inbox, 2, "5")
    conversation = await inbox.conversation(conv)
    assert conversation is not None and conversation.status is Status.OPEN
    [figures] = await inbox.store.stats.figures(T0 - 1, clock.now + 1)
    assert figures.ratings() == (0, None, None)
