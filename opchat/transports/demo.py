"""A channel of simulated customers, so a newcomer sees opchat working.

It is also the reference transport: it follows the same contract as a real
messenger (store before acknowledging, answer sends with a Delivery or raise
Retry / Rejected, report receipts) without any network.

Customers write in Russian and English, answer the operator after a pause,
and some send what real customers send: very long lines, emoji, text that
looks like markup, terminal escape sequences.

It goes on for as long as the demo runs, the way a quiet shop's day does: every
`interval` seconds or so someone writes — a newcomer while there are newcomers
left (`newcomers`, a fixed cast), else a customer who was answered comes back
with a new question. At most `max_waiting` customers wait for an answer at once:
when that many do, one of them asks "anyone there?" (once), and then the demo
waits for the operator; a customer left waiting `patience` seconds (30 minutes)
gives up, as people do, and may come back later. So the list never grows
beyond the cast and the newcomers, and the demo never stops for good either.
How many newcomers have come is kept in the channel's cursor, so a restarted
demo goes on with the next one rather than starting over.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from opchat.config import ChannelSettings
from opchat.model import Direction, Health, InboundMessage, MessageState, OutboundMessage
from opchat.transports import Capabilities, Delivery, Option, OptionSet, Rejected, Sink

LONG_LINE = "Вот полный список того, что я заказывала: " + ", ".join(
    f"позиция {n} (артикул {1000 + n})" for n in range(1, 40)
)
HUGE = ("This is a very long complaint. " * 170)[:5000]


@dataclass
class Customer:
    chat_id: str
    name: str
    username: str | None
    language: str
    opening: list[str]  # what they wrote before opchat started (history)
    follow_ups: list[str]  # said one at a time, after each operator reply
    blocked: bool = False  # sends to them are refused, to show a failed message
    said: int = field(default=0)
    waiting: bool = False  # they wrote last: an answer is due
    waiting_since: float = 0.0
    answered: bool = False  # the operator has written to them (only they come back)
    nudged: bool = False  # asked "anyone there?" while waiting


def cast() -> list[Customer]:
    return [
        Customer("1001", "Анна Смирнова", "anna_s", "ru",
                 ["Здравствуйте! Хочу заказать торт на субботу 🎂",
                  "На 12 человек, шоколадный"],
                 ["А доставка в Химки есть?", "Отлично, спасибо! Оплата картой курьеру?",
                  "Договорились 👍"]),
        Customer("1002", "John Carter", "jcarter", "en",
                 ["Hi, my order #4471 hasn't arrived yet. Any news?"],
                 ["It says 'in transit' since Monday...", "OK, thanks for checking!"]),
        Customer("1003", "Дмитрий [bold]Админ[/bold]", None, "ru",
                 ["[bold]Срочно![/bold] [@click=app.quit]нажмите сюда[/] — не работает промокод"],
                 ["Промокод LETO25, пишет «недействителен»", "Спасибо, сработало"]),
        Customer("1004", "Maria \x1b[31mRed\x1b[0m", "maria", "en",
                 ["Hello \x1b]0;hacked title\x07 there \x1b[2J — "
                  "can I change my delivery address?"],
                 ["New address: 12 Baker St, flat 3", "Perfect 🙏"]),
        Customer("1005", "Ольга", "olga_k", "ru",
                 [LONG_LINE],
                 ["И ещё: можно ли упаковать подарочно? 🎁", "Спасибо большое!"]),
        Customer("1006", "Peter Long", None, "en",
                 [HUGE],
                 ["Sorry for the wall of text. Can I get a refund?", "Fine."]),
        Customer("1007", "Сергей 👨‍👩‍👧", "sergey", "ru",
                 ["Добрый вечер. Вы работаете в воскресенье?"],
                 ["А до скольки?", "Понял, спасибо"]),
        Customer("1008", "Blocked Bob", "bob", "en",
                 ["Cancel my subscription. Don't write to me again."],
                 [], blocked=True),
    ]


# Who comes to the shop while the demo runs, in this order (chat ids 2001, 2002, ...).
NEWCOMERS = [
    ("Екатерина", "ru", "Добрый день! Есть ли у вас подарочные сертификаты?"),
    ("Alex", "en", "Do you ship to Kazakhstan?"),
    ("Игорь", "ru", "Сколько стоит доставка до Казани?"),
    ("Lena", "en", "Hi! Is the blue sweater back in stock? 💙"),
    ("Тимур", "ru", "Можно оплатить по счёту для юрлица?"),
    ("Sofia", "en", "Can I pick up my order from the shop myself?"),
    ("Наталья", "ru", "Подскажите, торт без сахара можно заказать?"),
    ("Tom", "en", "Do you have a discount for students?"),
    ("Алексей", "ru", "Заказ пришёл помятый, что делать? 😞"),
    ("Yuki", "en", "Is it possible to pay in two parts?"),
    ("Марина", "ru", "Вы работаете в праздники?"),
    ("Omar", "en", "Hello! How long does delivery to Almaty take?"),
]
FOLLOW_UPS = {"ru": ["Понятно, спасибо!", "Хорошо 👍"], "en": ["I see, thanks!", "Great 👍"]}
RETURNING = {
    "ru": ["Здравствуйте ещё раз! Хочу заказать снова 🙂",
           "Добрый день, у меня ещё вопрос по заказу",
           "Подскажите, а когда будет новое поступление?"],
    "en": ["Hi again! I'd like to order once more 🙂",
           "Hello, one more question about my order",
           "When do you get new stock?"],
}
NUDGE = {"ru": "Алло? Есть кто-нибудь?", "en": "Hello? Anyone there?"}


OPTIONS = OptionSet((
    Option("interval", "number", "seconds between customers writing, about"),
    Option("reply_delay", "number", "seconds before a customer answers back"),
    Option("max_waiting", "count", "at most this many customers wait at once"),
    Option("patience", "number", "seconds a waiting customer keeps waiting"),
    Option("newcomers", "count", "how many new customers come over time"),
))


class DemoTransport:
    kind: ClassVar[str] = "demo"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(typing=True, max_len=4096)

    def __init__(self, channel: ChannelSettings, data_dir: Path, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.name = channel.name
        self.interval = float(channel.options.get("interval", 12.0))  # seconds between arrivals
        self.reply_delay = float(channel.options.get("reply_delay", 3.0))
        self.max_waiting = int(channel.options.get("max_waiting", 10))
        self.patience = float(channel.options.get("patience", 1800.0))
        self.newcomer_count = min(int(channel.options.get("newcomers", len(NEWCOMERS))),
                                  len(NEWCOMERS))
        self.customers = {c.chat_id: c for c in cast()}
        self.newcomers = 0  # how many of NEWCOMERS have written so far (kept in the cursor)
        self.clock = clock
        self.sleep = sleep
        self.random = rng or random.Random()
        self._sink: Sink | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def _external_id(self, chat_id: str) -> str:
        return f"{chat_id}-{time.time_ns()}-{next(self._ids)}"

    def _message(self, customer: Customer, body: str, sent_at: float | None = None
                 ) -> InboundMessage:
        return InboundMessage(
            channel=self.name, chat_id=customer.chat_id,
            external_id=self._external_id(customer.chat_id), sender_id=customer.chat_id,
            sender_name=customer.name, body=body, sent_at=sent_at, username=customer.username,
            profile={"language": customer.language})

    async def run(self, sink: Sink) -> None:
        await self.start(sink)
        sink.health(Health.OK)
        while True:
            await self.sleep(self.gap())
            await self.arrive(sink)

    def gap(self) -> float:
        """Seconds until the next arrival: about `interval`, never on a beat."""
        return self.interval * self.random.uniform(0.7, 1.3)

    async def start(self, sink: Sink) -> None:
        """Seed the history on a fresh data dir; else pick up where the last run stopped."""
        self._sink = sink
        cursor = await sink.cursor()
        if cursor is None:
            # First start on this data dir: customers who wrote a little while ago.
            now = self.clock()
            history = []
            for n, customer in enumerate(self.customers.values()):
                for k, body in enumerate(customer.opening):
                    history.append(self._message(customer, body, now - 20 - 40 * n + 5 * k))
                self._wait(customer)
            await sink.ingest_batch(history, cursor=_cursor(0))
            return
        self.newcomers = min(_newcomers_in(cursor), self.newcomer_count)
        for number in range(self.newcomers):
            self._newcomer(number)
        for customer in self.customers.values():
            last = await sink.history(customer.chat_id, limit=1)
            if last and last[-1].direction is Direction.IN:
                self._wait(customer, last[-1].created_at)
            customer.answered = bool(last) and last[-1].direction is not Direction.IN
            customer.said = len(customer.follow_ups)  # their story was told in the last run

    def _wait(self, customer: Customer, since: float | None = None) -> None:
        """The customer wrote and expects an answer (a blocked one expects nothing)."""
        customer.waiting = not customer.blocked
        customer.nudged = False
        customer.waiting_since = self.clock() if since is None else since

    def _newcomer(self, number: int) -> Customer:
        name, language, _ = NEWCOMERS[number]
        customer = Customer(str(2001 + number), name, None, language, [],
                            list(FOLLOW_UPS[language]))
        self.customers[customer.chat_id] = customer
        return customer

    async def arrive(self, sink: Sink) -> None:
        """Someone writes (or, when enough customers wait already, nobody new does)."""
        now = self.clock()
        for customer in self.customers.values():
            if customer.waiting and now - customer.waiting_since > self.patience:
                customer.waiting = False  # gave up; may come back another time
        waiting = [c for c in self.customers.values() if c.waiting]
        if len(waiting) >= self.max_waiting:
            # Only someone who has waited a while asks; not someone just written to.
            quiet = [c for c in waiting if not c.nudged
                     and now - c.waiting_since >= 10 * self.interval]
            if quiet:
                customer = self.random.choice(quiet)
                customer.nudged = True
                await sink.ingest(self._message(customer, NUDGE[customer.language]))
            return
        # Who comes back: someone answered whose talk is over, and not just now.
        answered = [c for c in self.customers.values()
                    if c.answered and not c.waiting and not c.blocked
                    and c.said >= len(c.follow_ups)
                    and now - c.waiting_since >= 20 * self.interval]
        if self.newcomers < self.newcomer_count and (not answered or self.random.random() < 0.6):
            customer = self._newcomer(self.newcomers)
            self.newcomers += 1
            self._wait(customer)
            body = NEWCOMERS[self.newcomers - 1][2]
            await sink.ingest_batch([self._message(customer, body)],
                                    cursor=_cursor(self.newcomers))
        elif answered:
            customer = self.random.choice(answered)
            self._wait(customer)
            customer.follow_ups, customer.said = list(FOLLOW_UPS[customer.language]), 0
            await sink.ingest(self._message(customer, self.random.choice(
                RETURNING[customer.language])))

    async def send(self, out: OutboundMessage) -> Delivery:
        await self.sleep(0.2)  # a network round trip
        customer = self.customers.get(out.chat_id)
        if customer is not None and customer.blocked:
            raise Rejected("the customer blocked the bot (simulated)")
        external_id = f"out-{self._external_id(out.chat_id)}"
        if customer is not None:
            customer.waiting = customer.nudged = False
            customer.answered = True
            self._spawn(self._react(customer, external_id))
        return Delivery(external_id=external_id)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _react(self, customer: Customer, external_id: str) -> None:
        """The customer's phone receives it, they read it, and maybe write back."""
        sink = self._sink
        if sink is None:
            return
        await self.sleep(0.5)
        await sink.report(external_id, MessageState.DELIVERED)
        await self.sleep(self.reply_delay * self.random.uniform(0.3, 0.6))
        await sink.report(external_id, MessageState.READ)
        if customer.said < len(customer.follow_ups):
            body = customer.follow_ups[customer.said]
            customer.said += 1
            await self.sleep(self.reply_delay * self.random.uniform(0.5, 1.0))
            if customer.said < len(customer.follow_ups):
                self._wait(customer)  # the last word ("thanks!") expects no answer
            await sink.ingest(self._message(customer, body))


def _cursor(newcomers: int) -> str:
    return f"newcomers={newcomers}"


def _newcomers_in(cursor: str) -> int:
    """How many newcomers a cursor says have come ("seeded": an older demo's, none known)."""
    _, _, number = cursor.partition("newcomers=")
    return int(number) if number.isdigit() else 0
