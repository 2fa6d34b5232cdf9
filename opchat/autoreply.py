"""Automatic answers: greeting, "we are closed", and a self-service menu.

Runs in the hub only (`Hub.run` starts `AutoAnswerer.run`). It follows the
change feed for customers' messages and, for channels whose config asks for
it (see `opchat.config.AutoAnswers`), answers at once:

* a greeting to a new dialog (`greeting_message`);
* outside the channel's working hours (`hours` in `timezone`), when the
  customer will be answered, and that a bot talks to them meanwhile if the
  channel has a menu: at most once per dialog per day (the channel's day),
  and never when an operator answered in the last `OPERATOR_QUIET` seconds;
* a menu (`menu = "NAME"`, a `[menus.NAME]` table) at the start of a dialog:
  numbered options that answer with a saved reply, or hand the dialog to an
  operator. The menu listens until it hands over or an operator answers.

Answers are `Direction.AUTO` messages: queued in the outbox like any reply,
shown in the thread as automatic, and never an operator's response in the
metrics (the customer still waits). What to answer is decided from what is
stored (`Store.replies.auto_trigger`: the dialog's earlier automatic answers, when an
operator last wrote), and the store refuses a second answer to the same
message, so a hub that restarts and reads the last minutes of the feed
again never answers twice. All the decisions are in `plan_answer`, a pure
function.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from opchat.config import AutoAnswers, ChannelSettings
from opchat.model import (
    ConversationStatusData,
    Direction,
    EventKind,
    MessageNewData,
    Status,
)
from opchat.placeholders import PLACEHOLDER, expand, reply_values
from opchat.replies import reply_text

log = logging.getLogger("opchat.autoreply")

OPERATOR_QUIET = 300.0  # seconds after an operator's answer when "we are closed" is not said
REPLAY = 600.0  # seconds of the feed read again on start; older messages are not answered
TYPICAL = "answer.typical"  # the variable: a sentence saying how soon people are answered
CHOICE = re.compile(r"^\s*(\d)\s*[.)]?\s*$")
# The rating question's buttons, best first (label, payload: see store/ratings.py).
RATING_BUTTONS = tuple((f"{n} " + "★" * n, f"rate:{n}") for n in range(5, 0, -1))
FOLLOWED = frozenset({EventKind.MESSAGE_NEW, EventKind.CONVERSATION_STATUS,
                      EventKind.CONVERSATION_RATED})

# The defaults, in the channel's language; a channel's own texts replace them.
TEXTS = {
    "en": {
        "away": "We are not at work right now; an operator will answer you {next_open}.",
        "bot": "Until then you are talking to an automatic assistant.",
        "menu_bot": "This is an automatic assistant.",
        "handoff": "Thank you! An operator will answer you here.",
        "today": "today at {time}",
        "tomorrow": "tomorrow at {time}",
        "later": "on {day} at {time}",
        "soon": "as soon as possible",
        "days": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                 "Sunday"),
        "usually_minute": "We usually answer within a minute.",
        "usually_minutes": "We usually answer within {n} min.",
        "usually_hours": "We usually answer within {n} h.",
        "rating": "How did we do? Press a button, or answer with a digit from 1 (bad) to 5 "
                  "(excellent); a few words after it are welcome.",
        "rated": "Thank you for your rating!",
    },
    "ru": {
        "away": "Сейчас мы не работаем; оператор ответит вам {next_open}.",
        "bot": "Пока с вами говорит автоматический помощник.",
        "menu_bot": "Это автоматический помощник.",
        "handoff": "Спасибо! Оператор ответит вам здесь.",
        "today": "сегодня в {time}",
        "tomorrow": "завтра в {time}",
        "later": "в {day} в {time}",
        "soon": "как только сможет",
        "days": ("понедельник", "вторник", "среду", "четверг", "пятницу", "субботу",
                 "воскресенье"),
        "usually_minute": "Обычно мы отвечаем в течение минуты.",
        "usually_minutes": "Обычно мы отвечаем за {n} мин.",
        "usually_hours": "Обычно мы отвечаем за {n} ч.",
        "rating": "Как мы справились? Нажмите кнопку или ответьте цифрой от 1 (плохо) до 5 "
                  "(отлично); можно добавить пару слов после неё.",
        "rated": "Спасибо за оценку!",
    },
}


@dataclass(frozen=True, slots=True)
class Answer:
    rules: tuple[str, ...]  # greeting, away, menu, answer, handoff
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (label, payload): the menu's options


def plan_answer(auto: AutoAnswers, trigger, now: float,
                replies: Mapping[str, str] | None = None,
                typical: float | None = None) -> Answer | None:
    """What to answer `trigger` (an `opchat.store.replies.AutoTrigger`) with, if anything.

    `replies`: the shared quick replies' bodies by shortcut, for the menu. `typical`:
    how soon the channel's customers are usually answered, in seconds (None: unknown),
    for `{answer.typical}`.
    """
    texts = TEXTS.get(auto.language, TEXTS["en"])
    values = reply_values(contact_name=trigger.contact_name,
                          conversation_id=trigger.conversation_id,
                          channel_name=trigger.channel, now=now)
    values[TYPICAL] = usually(typical, texts)
    menu = auto.menu
    shown = [a.created_at for a in trigger.autos if "menu" in a.rules]
    shown_at = shown[-1] if shown else None
    handed = shown_at is not None and any(
        "handoff" in a.rules and a.created_at >= shown_at for a in trigger.autos)
    operator_since = (trigger.last_out_at is not None and shown_at is not None
                      and trigger.last_out_at >= shown_at)
    listening = menu is not None and shown_at is not None and not handed and not operator_since

    # A number typed, or a menu button pressed (its payload is the number).
    callback = getattr(trigger, "callback", None)
    choice = CHOICE.match(callback if callback is not None else trigger.body or "")
    if listening and choice is not None and menu is not None:
        number = int(choice.group(1))
        if 1 <= number <= len(menu.options):
            option = menu.options[number - 1]
            body = None if option.operator or replies is None else replies.get(option.reply or "")
            if body is not None:
                expansion = expand(body, values)
                if not expansion.unfilled:
                    return Answer(("answer",), expansion.text)
                # The saved answer needs what only a person knows: hand over instead.
            handoff = menu.handoff if menu.handoff is not None else texts["handoff"]
            return Answer(("handoff",), fill(handoff, values)) if handoff else None

    rules: list[str] = []
    parts: list[str] = []
    if trigger.first and auto.greeting_message and not getattr(trigger, "greeted", False):
        rules.append("greeting")
        parts.append(fill(auto.greeting_message, values))
    hours = auto.hours
    if hours is not None and auto.away_message != "" and not hours.is_open(now):
        today = datetime.fromtimestamp(now, hours.zone).date()
        said_today = any("away" in a.rules
                         and datetime.fromtimestamp(a.created_at, hours.zone).date() == today
                         for a in trigger.autos)
        operator_recently = (trigger.last_out_at is not None
                             and now - trigger.last_out_at < OPERATOR_QUIET)
        if not said_today and not operator_recently:
            when = next_open_words(hours, now, texts)
            text = auto.away_message if auto.away_message is not None else texts["away"]
            away = fill(text, {**values, "next_open": when, "hours": hours.describe(
                auto.language)})
            if menu is not None:
                away += " " + texts["bot"]
            rules.append("away")
            parts.append(away)
    buttons: tuple[tuple[str, str], ...] = ()
    if menu is not None and shown_at is None and trigger.last_out_at is None:
        rules.append("menu")
        lines = [texts["menu_bot"], fill(menu.text, values)]
        lines += [f"{n} — {option.label}" for n, option in enumerate(menu.options, 1)]
        parts.append("\n".join(lines))
        buttons = tuple((f"{n}. {option.label}", str(n))
                        for n, option in enumerate(menu.options, 1))
    if not parts:
        return None
    return Answer(tuple(rules), "\n\n".join(parts), buttons)


def usually(seconds: float | None, texts: Mapping[str, object]) -> str:
    """"We usually answer within a minute." for `{answer.typical}`; "" when unknown (the
    sentence is left out rather than a time nobody measured)."""
    if seconds is None:
        return ""
    if seconds <= 60:
        return str(texts["usually_minute"])
    if seconds < 3600:
        return str(texts["usually_minutes"]).format(n=math.ceil(seconds / 60))
    return str(texts["usually_hours"]).format(n=math.ceil(seconds / 3600))


def fill(template: str, values: Mapping[str, str]) -> str:
    """A configured text with its variables; an unknown one is left out, never sent as `{…}`."""
    text = expand(template, values).text
    text = PLACEHOLDER.sub("", text)
    text = re.sub(r"[ \t]+([,.!?;:])", r"\1", text)
    text = re.sub(r"[,;:]([!?.])", r"\1", text)  # "Hello, {name}!" without a name
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _mentions_typical(auto: AutoAnswers) -> bool:
    texts = [auto.greeting_message, auto.away_message or ""]
    if auto.menu is not None:
        texts.append(auto.menu.text)
    return any("{" + TYPICAL + "}" in text for text in texts)


def next_open_words(hours, now: float, texts: Mapping[str, object]) -> str:
    """When the channel opens next, as the customer reads it ("tomorrow at 09:00")."""
    when = hours.next_open(now)
    if when is None:
        return str(texts["soon"])
    here = datetime.fromtimestamp(now, hours.zone)
    there = datetime.fromtimestamp(when, hours.zone)
    clock = there.strftime("%H:%M")
    days = (there.date() - here.date()).days
    if days == 0:
        return str(texts["today"]).format(time=clock)
    if days == 1:
        return str(texts["tomorrow"]).format(time=clock)
    names = texts["days"]
    assert isinstance(names, tuple)
    return str(texts["later"]).format(day=names[there.weekday()], time=clock)


class AutoAnswerer:
    """Follows the change feed and answers customers' messages by the channels' rules."""

    def __init__(self, inbox, channels: Sequence[ChannelSettings],
                 typical: Callable[[str], Awaitable[float | None]] | None = None) -> None:
        self.inbox = inbox
        self.rules = {c.name: c.auto for c in channels if c.auto is not None}
        # How soon a channel's customers are usually answered (Hub.typical_answer), asked
        # only for a channel whose texts say `{answer.typical}`.
        self.typical = typical

    async def run(self) -> None:
        """Until cancelled; returns at once when no channel has automatic answers."""
        if not self.rules:
            return
        store = self.inbox.store
        # Messages of the last minutes may have come in while no hub ran (or before this
        # one crashed): look at them again; the store says which are answered already.
        after = await store.events.event_id_before(self.inbox.clock() - REPLAY)
        while True:
            try:
                async for events in self.inbox.changes(after_id=after, kinds=FOLLOWED):
                    for event in events:
                        data = event.payload
                        if (event.message_id is not None and isinstance(data, MessageNewData)
                                and data.direction == Direction.IN):
                            await self.answer(event.message_id)
                        elif (isinstance(data, ConversationStatusData)
                              and data.to == Status.RESOLVED.value and event.operator):
                            await self.ask_rating(event.conversation_id, event.at)
                        elif (event.kind == EventKind.CONVERSATION_RATED
                              and event.message_id is not None):
                            await self.thank_for_rating(event.conversation_id,
                                                        event.message_id, event.at)
                        after = event.id
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was busy or away: carry on from where we were
                log.exception("automatic answers lost the change feed; following again")
                await asyncio.sleep(1.0)

    async def ask_rating(self, conversation_id: int | None, resolved_at: float):
        """An operator resolved the dialog: ask the customer to rate it, where the channel
        wants that (`rating = true`); the stored question, or None."""
        if conversation_id is None or self.inbox.clock() - resolved_at > REPLAY:
            return None
        conversation = await self.inbox.conversation(conversation_id)
        auto = self.rules.get(conversation.channel_name) if conversation else None
        if auto is None or not auto.rating:
            return None
        texts = TEXTS.get(auto.language, TEXTS["en"])
        question = auto.rating_question or str(texts["rating"])
        return await self.inbox.store.ratings.ask(conversation_id, question,
                                                  RATING_BUTTONS, resolved_at)

    async def thank_for_rating(self, conversation_id: int | None, message_id: int,
                               rated_at: float):
        """The customer rated the dialog: thank them, once."""
        if conversation_id is None or self.inbox.clock() - rated_at > REPLAY:
            return None
        conversation = await self.inbox.conversation(conversation_id)
        auto = self.rules.get(conversation.channel_name) if conversation else None
        if auto is None or not auto.rating:
            return None
        texts = TEXTS.get(auto.language, TEXTS["en"])
        return await self.inbox.store.replies.add_auto_message(
            conversation_id, str(texts["rated"]), ("rated",), message_id)

    async def answer(self, message_id: int):  # -> Message | None
        """Answer one customer's message if the rules say so; the stored answer, or None."""
        store = self.inbox.store
        trigger = await store.replies.auto_trigger(message_id)
        if trigger is None or trigger.edit or trigger.automated:
            return None  # a robot's mail (an out-of-office reply) is never answered: no loops
        auto = self.rules.get(trigger.channel)
        now = self.inbox.clock()
        if auto is None or now - trigger.created_at > REPLAY:
            return None  # an old message (history, a catch-up): nobody waits for a bot now
        replies = None
        chosen = trigger.callback if trigger.callback is not None else trigger.body or ""
        if auto.menu is not None and CHOICE.match(chosen):
            replies = {r.shortcut: reply_text(r, trigger.channel_kind)
                       for r in await store.replies.all()
                       if getattr(r, "owner", None) is None}
        typical = None
        if self.typical is not None and _mentions_typical(auto):
            try:
                typical = await self.typical(trigger.channel)
            except Exception as exc:  # the figures could not be read: the answer goes without
                log.warning("channel %s: how soon people are answered is unknown now: %s",
                            trigger.channel, exc)
        answer = plan_answer(auto, trigger, now, replies, typical)
        if answer is None:
            return None
        message = await store.replies.add_auto_message(trigger.conversation_id, answer.text,
                                               answer.rules, trigger.message_id, answer.buttons)
        if message is not None:
            log.info("channel %s, dialog %d: automatic answer (%s)", trigger.channel,
                     trigger.conversation_id, ", ".join(answer.rules))
        return message
