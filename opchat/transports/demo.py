"""A channel of simulated customers, so a newcomer sees opchat working.

It is also the reference transport: it follows the same contract as a real
messenger (store before acknowledging, answer sends with a Delivery or raise
Retry / Rejected, report receipts) without any network.

Customers write in Russian and English, answer the operator after a pause,
and some send what real customers send: very long lines, emoji, text that
looks like markup, terminal escape sequences.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from opchat.config import ChannelSettings
from opchat.model import Health, InboundMessage, MessageState, OutboundMessage
from opchat.transports import Capabilities, Delivery, Rejected, Sink

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


NEWCOMERS = [
    ("Екатерина", "ru", "Добрый день! Есть ли у вас подарочные сертификаты?"),
    ("Alex", "en", "Do you ship to Kazakhstan?"),
    ("Игорь", "ru", "Сколько стоит доставка до Казани?"),
    ("Lena", "en", "Hi! Is the blue sweater back in stock? 💙"),
    ("Тимур", "ru", "Можно оплатить по счёту для юрлица?"),
]


class DemoTransport:
    kind: ClassVar[str] = "demo"
    capabilities: ClassVar[Capabilities] = Capabilities(typing=True, max_len=4096)

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        self.name = channel.name
        self.interval = float(channel.options.get("interval", 12.0))  # seconds between newcomers
        self.reply_delay = float(channel.options.get("reply_delay", 3.0))
        self.customers = {c.chat_id: c for c in cast()}
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
        self._sink = sink
        if await sink.cursor() is None:
            # First start on this data dir: customers who wrote a little while ago.
            now = time.time()
            history = []
            for n, customer in enumerate(self.customers.values()):
                for k, body in enumerate(customer.opening):
                    history.append(self._message(customer, body, now - 20 - 40 * n + 5 * k))
            await sink.ingest_batch(history, cursor="seeded")
        sink.health(Health.OK)
        newcomers = itertools.cycle(NEWCOMERS)
        for number in itertools.count(2001):
            await asyncio.sleep(self.interval * random.uniform(0.7, 1.3))
            name, language, body = next(newcomers)
            customer = Customer(str(number), name, None, language, [], [])
            self.customers[customer.chat_id] = customer
            await sink.ingest(self._message(customer, body))

    async def send(self, out: OutboundMessage) -> Delivery:
        await asyncio.sleep(0.2)  # a network round trip
        customer = self.customers.get(out.chat_id)
        if customer is not None and customer.blocked:
            raise Rejected("the customer blocked the bot (simulated)")
        external_id = f"out-{self._external_id(out.chat_id)}"
        if customer is not None:
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
        await asyncio.sleep(0.5)
        await sink.report(external_id, MessageState.DELIVERED)
        await asyncio.sleep(self.reply_delay * random.uniform(0.3, 0.6))
        await sink.report(external_id, MessageState.READ)
        if customer.said < len(customer.follow_ups):
            body = customer.follow_ups[customer.said]
            customer.said += 1
            await asyncio.sleep(self.reply_delay * random.uniform(0.5, 1.0))
            await sink.ingest(self._message(customer, body))
