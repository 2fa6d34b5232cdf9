"""The benchmark's synthetic store: its size, how it is built, and what is known about it.

Built from a seeded generator, so every run at one scale builds the same store;
``StoreInfo`` is kept beside it, so ``--keep`` can re-use it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BenchError(Exception):
    """The benchmark itself cannot go on (not a slow result: a broken run)."""


FULL_CONVERSATIONS = 100_000
FULL_MESSAGES = 1_000_000
BIG_CONVERSATION = 10_000
SEED = 20240601
GENERATOR = 3  # bump when build_store changes what it writes: kept stores are rebuilt
META_FILENAME = "bench-store.json"
OPERATORS = ("anna", "boris", "kate", "oleg")
CHANNELS = (("telegram", "telegram"), ("whatsapp", "whatsapp"), ("viber", "viber"),
            ("vk", "vk"), ("messenger", "messenger"), ("instagram", "instagram"),
            ("email", "email"), ("site", "webchat"))

# Words in a rough order of frequency (a Zipf law over the list picks them), so
# the first ones are in many messages and the last ones in few: search has both
# kinds of query to answer.
RU_WORDS = """
здравствуйте заказ доставка спасибо когда можно подскажите пожалуйста есть номер
заказа доставку оплата курьер сегодня завтра адрес хочу вопрос цена товар размер
нет да уже ещё получить отправили сколько стоит карта оплатить возврат чек
магазин телефон время после работаете скидка промокод наличие цвет модель
посылка трек почта неделю день утром вечером срочно помогите ответьте жду
менеджер оператор вернуть деньги обмен брак коробка упаковка подарок сертификат
понедельник пятницу субботу воскресенье москва казань химки питер новосибирск
размеры синий чёрный белый красный зелёный большой маленький средний новый
курьером самовывоз пункт выдачи склад приехал привезли позвонил звонок смс
отмена отменить изменить перенести согласовать подтвердить подтверждение
ошибка сайт приложение корзина аккаунт пароль личный кабинет бонусы баллы
гарантия гарантийный талон ремонт сервис мастер инструкция комплект зарядка
кабель батарея экран чехол наушники колонка часы браслет кольцо серьги
торт пирожные шоколадный ванильный свадебный детский юбилей начинка крем
""".split()
EN_WORDS = """
hello order delivery thanks when can please help my number shipping payment
courier today tomorrow address want question price item size no yes already
still receive sent how much cost card pay refund receipt store phone hours
discount promo code stock colour model parcel tracking post week morning
evening urgent reply waiting manager agent return money exchange damaged box
packaging gift voucher monday friday saturday sunday london berlin warsaw
blue black white red green large small medium new pickup point warehouse
arrived called text cancel change reschedule confirm confirmation error website
app cart account password bonus points warranty repair service manual charger
cable battery screen case headphones speaker watch bracelet ring earrings cake
""".split()
FIRST_NAMES = """Анна Мария Ольга Елена Ирина Наталья Дмитрий Алексей Сергей Иван
Михаил Андрей Екатерина Татьяна Павел Никита John Mary James Linda Peter Sarah
Tom Emma Ahmed Fatima Wei Mei Carlos Lucia""".split()
LAST_NAMES = """Смирнова Иванов Кузнецова Попов Соколова Лебедев Козлова Новиков
Морозова Петров Волкова Соловьёв Smith Johnson Brown Taylor Wilson Davies Evans
Müller García Kowalski Rossi""".split()

# Two-word queries: one that matches many messages, one that matches few.
QUERY_MANY = "заказ доставк"
QUERY_FEW = "гарантийный ремонт"
# What the search screen asks: messages, contacts (name, phone, e-mail) and labels at once.
# A common first name is the contacts' worst case: one customer in thirty is an Anna.
QUERY_NAME = "анна"
SEARCH_ALL = (("all_many", QUERY_MANY), ("all_few", QUERY_FEW), ("all_name", QUERY_NAME))


@dataclass
class StoreSize:
    scale: float
    conversations: int
    messages: int
    big: int  # messages in the one big conversation

    @classmethod
    def at(cls, scale: float) -> StoreSize:
        conversations = max(20, round(FULL_CONVERSATIONS * scale))
        big = BIG_CONVERSATION if scale >= 1 else max(1000, round(BIG_CONVERSATION * scale))
        messages = max(round(FULL_MESSAGES * scale), big + conversations)
        return cls(scale, conversations, messages, big)


@dataclass
class StoreInfo:
    """What the benchmark needs to know about a built store (kept beside it)."""

    scale: float
    seed: int
    conversations: int
    messages: int
    big_id: int  # the big conversation, built as the most recent one (first in the list)
    big_messages: int
    built_at: float
    build_s: float
    channels: list[str] = field(default_factory=list)
    generator: int = 0
    reused: bool = field(default=False, repr=False)  # this run found it built

    @classmethod
    def load(cls, data_dir: Path) -> StoreInfo | None:
        try:
            raw = json.loads((data_dir / META_FILENAME).read_text(encoding="utf-8"))
            raw.pop("reused", None)
            return cls(**raw)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, data_dir: Path) -> None:
        (data_dir / META_FILENAME).write_text(json.dumps(self.__dict__), encoding="utf-8")


class Words:
    """Message bodies from a seeded generator: mixed Russian and English, Zipf-distributed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ru = (RU_WORDS, _zipf(len(RU_WORDS)))
        self.en = (EN_WORDS, _zipf(len(EN_WORDS)))

    def body(self) -> str:
        rng = self.rng
        words, cum = self.ru if rng.random() < 0.7 else self.en
        count = min(int(rng.expovariate(1 / 9)) + 2, 60)
        picked = rng.choices(words, cum_weights=cum, k=count)
        if rng.random() < 0.15:
            picked.insert(rng.randrange(count), f"#{rng.randrange(1000, 99999)}")
        text = " ".join(picked)
        return text[0].upper() + text[1:] + rng.choice((".", "?", "!", "", ".", "?"))


def _zipf(n: int, s: float = 1.0) -> list[float]:
    total, cum = 0.0, []
    for rank in range(1, n + 1):
        total += 1 / rank**s
        cum.append(total)
    return cum


def build_store(data_dir: Path, size: StoreSize, seed: int = SEED,
                progress: Callable[[str], None] = print) -> StoreInfo:
    """Create the schema through the real store, then fill it in bulk, fast
    (``opchat.store.benchdata``).

    Rows are consistent with what the store itself would have written: message
    ids follow time, each conversation's last_message_at / last_preview /
    waiting_since / unread agree with its messages, and the search indexes of
    the messages and contacts are caught up at the end, as the store does after
    its commits.
    """
    from opchat.model import EventKind
    from opchat.store.benchdata import (
        ChannelRow,
        ContactRow,
        ConversationRow,
        EventRow,
        FixtureWriter,
        IdentityRow,
        MessageRow,
        OperatorRow,
        StatsFactRow,
    )

    started = time.perf_counter()
    asyncio.run(_create_schema(data_dir))
    rng = random.Random(seed)
    words = Words(rng)
    now = float(int(time.time()))
    year = 365 * 86400.0
    n_conv, n_msg = size.conversations, size.messages

    # Which conversation each message belongs to: the big one gets `big`, every
    # other at least one, the rest spread unevenly (a few chatty customers).
    weights = [rng.expovariate(1.0) for _ in range(n_conv - 1)]
    counts = [1] * (n_conv - 1)
    for i in rng.choices(range(n_conv - 1), weights=weights, k=n_msg - size.big - (n_conv - 1)):
        counts[i] += 1
    big_index = n_conv - 1
    counts.append(size.big)

    # When each message was written: bursts of minutes, with days between them.
    timeline: list[tuple[float, int]] = []
    starts: list[float] = []
    for conv, count in enumerate(counts):
        if conv == big_index:
            start = now - year
            step = (year - 60) / count
            timeline.extend((start + k * step, conv) for k in range(count))
            starts.append(start)
            continue
        t = start = now - rng.random() * year
        starts.append(start)
        for _ in range(count):
            timeline.append((min(t, now - 120), conv))
            t += rng.expovariate(1 / 300) if rng.random() < 0.85 else rng.expovariate(1 / 172800)
    timeline.sort()
    progress(f"  timeline of {len(timeline):,} messages ready "
             f"({time.perf_counter() - started:.1f} s)")

    channel_of = [rng.randrange(len(CHANNELS)) for _ in range(n_conv)]
    contact_of = list(range(n_conv))
    second = set(rng.sample(range(n_conv - 1), n_conv // 20))
    for conv in sorted(second):
        # One customer in twenty also writes from a second channel.
        other = rng.randrange(n_conv)
        while other in second:
            other = rng.randrange(n_conv)
        contact_of[conv] = other
    assignee = [rng.randrange(len(OPERATORS)) + 1 if rng.random() < 0.5 else None
                for _ in range(n_conv)]

    remaining = counts[:]
    state: list[dict[str, Any]] = [{} for _ in range(n_conv)]
    with FixtureWriter(data_dir) as fill:
        fill.insert(
            [ChannelRow(i + 1, name, kind, now - year) for i, (name, kind) in enumerate(CHANNELS)],
            [OperatorRow(i + 1, login, login.title(), now - year, now)
             for i, login in enumerate(OPERATORS)])

        chunk: list[MessageRow] = []
        facts: list[StatsFactRow] = []  # what store/stats.py would have folded, as it would
        for msg_id, (t, conv) in enumerate(timeline, start=1):
            st = state[conv]
            remaining[conv] -= 1
            last = remaining[conv] == 0
            if not st:
                direction = "in"
            elif conv == big_index:
                direction = "in" if last or rng.random() < 0.5 else "out"
            elif last and t < now - 2 * 86400:
                direction = "out" if rng.random() < 0.9 else "in"  # old dialogs were answered
            else:
                r = rng.random()
                direction = "in" if r < 0.55 else "out" if r < 0.97 else "note"
            body = words.body()
            channel_id = channel_of[conv] + 1
            if direction == "in":
                row = MessageRow(msg_id, conv + 1, channel_id, f"in-{msg_id}", "in",
                                 customer_name(contact_of[conv]), None, body, t, "received")
                facts.append(StatsFactRow(t, msg_id, "in", conv + 1, channel_id, "", None))
                if not st:
                    facts.append(StatsFactRow(t, msg_id, "started", conv + 1, channel_id, "",
                                              None))
                st.setdefault("waiting", t)
                st["unread"] = st.get("unread", 0) + 1
            else:
                op = assignee[conv] or rng.randrange(len(OPERATORS)) + 1
                if direction == "out":
                    row = MessageRow(msg_id, conv + 1, channel_id, f"out-{msg_id}", "out",
                                     OPERATORS[op - 1], op, body, t,
                                     rng.choice(("sent", "delivered", "read", "read")))
                    login = OPERATORS[op - 1]
                    facts.append(StatsFactRow(t, msg_id, "out", conv + 1, channel_id, login,
                                              None))
                    if "waiting" in st:
                        facts.append(StatsFactRow(t, msg_id, "reply", conv + 1, channel_id,
                                                  login, st["waiting"]))
                    if "waiting" in st and "first_response" not in st:
                        st["first_response"] = t - starts[conv]
                        facts.append(StatsFactRow(t, msg_id, "first_response", conv + 1,
                                                  channel_id, login, starts[conv]))
                    st.pop("waiting", None)
                    st["unread"] = 0
                else:
                    row = MessageRow(msg_id, conv + 1, channel_id, None, "note",
                                     OPERATORS[op - 1], op, body, t, "sent")
            st["last"] = (t, body[:200], direction)
            chunk.append(row)
            if len(chunk) == 50_000:
                fill.insert(chunk, facts)
                chunk, facts = [], []
                if msg_id % 200_000 == 0:
                    progress(f"  {msg_id:,} messages stored "
                             f"({time.perf_counter() - started:.1f} s)")
        fill.insert(chunk, facts)
        facts = []

        conv_rows: list[ConversationRow] = []
        identity_rows: list[IdentityRow] = []
        contact_rows: list[ContactRow] = []
        event_rows: list[EventRow] = []
        for conv in range(n_conv):
            st = state[conv]
            last_t, preview, last_dir = st["last"]
            waiting = st.get("waiting")
            if conv == big_index:
                status = "open"
            elif waiting is not None:
                status = rng.choice(("open", "open", "open", "pending", "snoozed"))
            else:
                status = "resolved" if rng.random() < 0.8 else rng.choice(("open", "pending"))
            unread = st.get("unread", 0) if waiting is not None else 0
            kind = CHANNELS[channel_of[conv]][1]
            contact = contact_of[conv]
            if contact == conv:
                contact_rows.append(ContactRow(
                    conv + 1, customer_name(conv),
                    f"+7{rng.randrange(10**9, 10**10)}" if kind in ("whatsapp", "viber") else None,
                    f"c{conv}@example.com" if kind == "email" else None, starts[conv]))
            chat = f"u{conv + 1}"
            identity_rows.append(IdentityRow(
                conv + 1, contact + 1, channel_of[conv] + 1, chat, customer_name(contact),
                f"user{contact}" if kind == "telegram" else None))
            conv_rows.append(ConversationRow(
                conv + 1, channel_of[conv] + 1, chat, contact + 1, conv + 1, status,
                assignee[conv], unread, waiting, st.get("first_response"),
                now + 86400 if status == "snoozed" else None, last_t, preview, last_dir,
                starts[conv]))
            event_rows.append(EventRow(starts[conv], EventKind.CONVERSATION_NEW, conv + 1))
            if status == "resolved":
                at, who = min(last_t + 60, now), OPERATORS[(assignee[conv] or 1) - 1]
                facts.append(StatsFactRow(at, n_msg + conv + 1, "resolution", conv + 1,
                                          channel_of[conv] + 1, who, starts[conv]))
                if st.get("first_response") is None:
                    facts.append(StatsFactRow(at, n_msg + conv + 1, "missed", conv + 1,
                                              channel_of[conv] + 1, who, starts[conv]))
        event_rows.sort()
        fill.insert(contact_rows, identity_rows, conv_rows, event_rows, facts)
    info = StoreInfo(scale=size.scale, seed=seed, conversations=n_conv, messages=n_msg,
                     big_id=big_index + 1, big_messages=size.big, built_at=now,
                     build_s=time.perf_counter() - started,
                     channels=[name for name, _ in CHANNELS], generator=GENERATOR)
    info.save(data_dir)
    return info


def customer_name(contact: int) -> str:
    return (f"{FIRST_NAMES[contact % len(FIRST_NAMES)]} "
            f"{LAST_NAMES[(contact // len(FIRST_NAMES)) % len(LAST_NAMES)]}")


async def _create_schema(data_dir: Path) -> None:
    from opchat.store import Store

    store = await Store.open(data_dir)
    await store.close()


def open_or_build(data_dir: Path, size: StoreSize, say: Callable[[str], None]) -> StoreInfo:
    info = StoreInfo.load(data_dir)
    if info is not None and (info.scale, info.seed, info.generator) == (
            size.scale, SEED, GENERATOR) and (data_dir / "opchat.db").exists():
        say(f"re-using the store in {data_dir} (built in {info.build_s:.1f} s)")
        info.reused = True
        return info
    if (data_dir / "opchat.db").exists():
        if info is None:
            raise BenchError(f"{data_dir} holds a database the benchmark did not build; "
                             "give --keep an empty or new directory")
        say(f"the store in {data_dir} was built at scale {info.scale} "
            f"(generator {info.generator}); rebuilding")
        for name in os.listdir(data_dir):
            if name.startswith("opchat.db") or name == META_FILENAME:
                (data_dir / name).unlink()
    say(f"building {size.conversations:,} conversations, {size.messages:,} messages "
        f"(one of {size.big:,}) in {data_dir}")
    info = build_store(data_dir, size, progress=say)
    say(f"  built in {info.build_s:.1f} s "
        f"({(data_dir / 'opchat.db').stat().st_size / 2**20:.0f} MiB)")
    return info
