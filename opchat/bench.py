"""`opchat bench`: how fast opchat is on a big synthetic store, beside a baseline.

Builds (or re-uses, with ``--keep``) a store of 100,000 conversations and
1,000,000 messages in opchat's real schema, then measures, each beside a
baseline taken in the same run on the same machine:

- start-up to the first frame, in a fresh interpreter (imports count), beside
  a minimal Textual app with one Static;
- opening a 10,000-message conversation and paging the conversation list,
  in the store and in the running app;
- full-text search of a two-word query that matches many messages and one
  that matches few; then the search screen's whole query (messages, contacts
  by name, phone and e-mail, labels) for both and for a common first name;
- the ingest rate through the hub's ``ChannelSink.ingest``, beside raw
  ``executemany`` into a plain table;
- the delay from ``ingest`` to the row on screen, in the app's own process
  and from a second process;
- peak RSS of the app after the work above, beside the minimal app's.

Numbers are printed, never asserted: machines are noisy. ``--scale`` shrinks
everything (0.005 runs in seconds, for CI); the full size is for people.

The UI is driven headless. Each app runs in its own subprocess, so that its
start-up includes the imports a user pays for and its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opchat.model import EventKind

FULL_CONVERSATIONS = 100_000
FULL_MESSAGES = 1_000_000
BIG_CONVERSATION = 10_000
SEED = 20240601
GENERATOR = 2  # bump when build_store changes what it writes: kept stores are rebuilt
META_FILENAME = "bench-store.json"
TERMINAL_SIZE = (120, 40)
BENCH_REPLIES = 5_000  # quick replies stored for the reply-insert measurement
UI_TIMEOUT = 60.0  # seconds one UI step may take before the benchmark gives up on it
OPERATORS = ("anna", "boris", "kate", "oleg")
CHANNELS = (("telegram", "telegram"), ("whatsapp", "whatsapp"), ("viber", "viber"),
            ("vk", "vk"), ("messenger", "messenger"), ("instagram", "instagram"),
            ("email", "email"), ("site", "webchat"))

# --- The synthetic store ------------------------------------------------------------------

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
    """Create the schema through the real store, then fill it with raw SQL, fast.

    Rows are consistent with what the store itself would have written: message
    ids follow time, each conversation's last_message_at / last_preview /
    waiting_since / unread agree with its messages, and the FTS index is filled
    by the schema's own trigger.
    """
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
    conn = sqlite3.connect(data_dir / "opchat.db", isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO channels (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
            [(i + 1, name, kind, now - year) for i, (name, kind) in enumerate(CHANNELS)])
        conn.executemany(
            "INSERT INTO operators (id, login, name, created_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            [(i + 1, login, login.title(), now - year, now) for i, login in enumerate(OPERATORS)])
        conn.execute("COMMIT")

        chunk: list[tuple[Any, ...]] = []
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
                row = (msg_id, conv + 1, channel_id, f"in-{msg_id}", "in",
                       _name(contact_of[conv]), None, body, t, "received")
                st.setdefault("waiting", t)
                st["unread"] = st.get("unread", 0) + 1
            else:
                op = assignee[conv] or rng.randrange(len(OPERATORS)) + 1
                if direction == "out":
                    row = (msg_id, conv + 1, channel_id, f"out-{msg_id}", "out",
                           OPERATORS[op - 1], op, body, t, rng.choice(("sent", "delivered",
                                                                        "read", "read")))
                    if "waiting" in st and "first_response" not in st:
                        st["first_response"] = t - starts[conv]
                    st.pop("waiting", None)
                    st["unread"] = 0
                else:
                    row = (msg_id, conv + 1, channel_id, None, "note", OPERATORS[op - 1], op,
                           body, t, "sent")
            st["last"] = (t, body[:200], direction)
            chunk.append(row)
            if len(chunk) == 50_000:
                _insert_messages(conn, chunk)
                chunk = []
                if msg_id % 200_000 == 0:
                    progress(f"  {msg_id:,} messages stored "
                             f"({time.perf_counter() - started:.1f} s)")
        _insert_messages(conn, chunk)

        conn.execute("BEGIN")
        conv_rows, identity_rows, contact_rows, event_rows = [], [], [], []
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
                contact_rows.append((
                    conv + 1, _name(conv),
                    f"+7{rng.randrange(10**9, 10**10)}" if kind in ("whatsapp", "viber") else None,
                    f"c{conv}@example.com" if kind == "email" else None, starts[conv]))
            chat = f"u{conv + 1}"
            identity_rows.append((conv + 1, contact + 1, channel_of[conv] + 1, chat, _name(contact),
                                  f"user{contact}" if kind == "telegram" else None))
            conv_rows.append((
                conv + 1, channel_of[conv] + 1, chat, contact + 1, conv + 1, status,
                assignee[conv], unread, waiting, st.get("first_response"),
                now + 86400 if status == "snoozed" else None, last_t, preview, last_dir,
                starts[conv]))
            event_rows.append((starts[conv], EventKind.CONVERSATION_NEW, conv + 1))
        conn.executemany("INSERT INTO contacts (id, name, phone, email, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", contact_rows)
        conn.executemany("INSERT INTO identities (id, contact_id, channel_id, external_id, "
                         "display_name, username) VALUES (?, ?, ?, ?, ?, ?)", identity_rows)
        conn.executemany(
            "INSERT INTO conversations (id, channel_id, chat_id, contact_id, identity_id, status, "
            "assignee_id, unread, waiting_since, first_response_s, snoozed_until, "
            "last_message_at, last_preview, last_direction, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", conv_rows)
        event_rows.sort()
        conn.executemany("INSERT INTO events (at, kind, conversation_id) VALUES (?, ?, ?)",
                         event_rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    info = StoreInfo(scale=size.scale, seed=seed, conversations=n_conv, messages=n_msg,
                     big_id=big_index + 1, big_messages=size.big, built_at=now,
                     build_s=time.perf_counter() - started,
                     channels=[name for name, _ in CHANNELS], generator=GENERATOR)
    info.save(data_dir)
    return info


def _insert_messages(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, channel_id, external_id, direction, author, "
        "operator_id, body, created_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")


def _name(contact: int) -> str:
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


class BenchError(Exception):
    """The benchmark itself cannot go on (not a slow result: a broken run)."""


# --- Results ------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    value: float | None  # None: not measured (the reason is in `note`)
    unit: str
    baseline: float | None = None
    aim: str = ""
    meets: bool | None = None
    note: str = ""


ROW_NAMES = (
    "build the store",
    "first frame",
    "first frame with the list",
    "open 10k-message conversation (store)",
    "open 10k-message conversation (app)",
    "list page (store)",
    "list page, deep offset (store)",
    "count conversations (store)",
    "list one page down (app)",
    "list jump to the end (app)",
    "search, many matches (store)",
    "search, few matches (store)",
    "search all, many matches (store)",
    "search all, few matches (store)",
    "search all, a common first name (store)",
    "ingest, sequential awaits",
    "ingest, 50 concurrent producers",
    "ingest to screen, same process",
    "ingest to screen, second process",
    "quick reply, Tab to inserted (app)",
    "SQL reads per message in the open dialog (app)",
    "write transactions per message in the open dialog (app)",
    "idle: looks for other processes' commits",
    "peak RSS",
)


async def repeat(fn: Callable[[], Awaitable[Any]], times: int = 7) -> list[float]:
    samples = []
    for _ in range(times):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


# --- Store-level measurements -------------------------------------------------------------


async def measure_store(data_dir: Path, info: StoreInfo) -> dict[str, Any]:
    from opchat.inbox import Inbox
    from opchat.store import ConversationFilter

    out: dict[str, Any] = {}
    inbox = await Inbox.open(data_dir, "bench")
    try:
        first = await inbox.messages(info.big_id)
        if len(first) != 100:
            raise BenchError(f"the big conversation returned {len(first)} messages, not 100")
        out["open"] = await repeat(lambda: inbox.messages(info.big_id))
        out["list0"] = await repeat(lambda: inbox.conversations(offset=50, limit=50))
        deep = max(0, info.conversations - 50)
        out["list_deep"] = await repeat(lambda: inbox.conversations(offset=deep, limit=50))
        out["list_deep_offset"] = deep
        out["count"] = await repeat(lambda: inbox.count(ConversationFilter()))
        for key, query in (("search_many", QUERY_MANY), ("search_few", QUERY_FEW)):
            hits = await inbox.search(query)
            out[f"{key}_hits"] = len(hits)
            out[f"{key}_total"] = await inbox.store.db.read(_count_matches, query)
            out[key] = await repeat(lambda q=query: inbox.search(q))
        for key, query in SEARCH_ALL:
            found = await inbox.search_all(query)
            out[f"{key}_found"] = (len(found.contacts), len(found.labels), len(found.messages))
            out[key] = await repeat(lambda q=query: inbox.search_all(q))
    finally:
        await inbox.close()
    return out


def _count_matches(conn: sqlite3.Connection, query: str) -> int:
    from opchat.store import fts_query

    return conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                        (fts_query(query),)).fetchone()[0]


def inbound(rng: random.Random, words: Words, known: Sequence[tuple[str, str, str]],
            channels: Sequence[str], token: str, n: int) -> list[Any]:
    """Messages as transports would hand them in.

    ``known`` is (chat id, channel, customer's name) of every dialog, most
    recent first. Most messages continue the dialogs of the day: 80% go to
    the 2,000 most recent ones, 10% to any older one, 10% start a new dialog.
    """
    from opchat.model import InboundMessage

    out = []
    for k in range(n):
        r = rng.random()
        if r < 0.9:
            pool = min(len(known), 2000) if r < 0.8 else len(known)
            chat, channel, name = known[rng.randrange(pool)]
        else:
            chat, channel, name = f"new-{token}-{k}", rng.choice(channels), _name(k)
        out.append(InboundMessage(
            channel=channel, chat_id=chat, external_id=f"bench-{token}-{k}",
            sender_id=chat, sender_name=name, body=words.body()))
    return out


async def measure_ingest(data_dir: Path, info: StoreInfo, scale: float) -> dict[str, Any]:
    from opchat.hub import ChannelSink, Hub
    from opchat.inbox import Inbox

    conn = sqlite3.connect(f"file:{data_dir / 'opchat.db'}?mode=ro", uri=True)
    try:
        known = conn.execute(
            "SELECT c.chat_id, ch.name, i.display_name FROM conversations c "
            "JOIN channels ch ON ch.id = c.channel_id JOIN identities i ON i.id = c.identity_id "
            "ORDER BY c.last_message_at DESC, c.id DESC").fetchall()
    finally:
        conn.close()
    rng = random.Random(SEED + 1)
    n_seq = max(200, round(2000 * scale))
    n_conc = max(1000, round(20000 * scale))
    messages = inbound(rng, Words(rng), known, info.channels, f"{time.time_ns():x}",
                       n_seq + n_conc)
    out: dict[str, Any] = {"ingest_seq_n": n_seq, "ingest_conc_n": n_conc}

    # Baseline: the same messages, raw executemany into a plain table, one transaction.
    with tempfile.TemporaryDirectory(prefix="opchat-bench-raw-") as tmp:
        plain = sqlite3.connect(Path(tmp) / "plain.db", isolation_level=None)
        plain.execute("PRAGMA journal_mode = WAL")
        plain.execute("PRAGMA synchronous = NORMAL")
        plain.execute("CREATE TABLE messages (channel TEXT, chat_id TEXT, external_id TEXT, "
                      "author TEXT, body TEXT, created_at REAL)")
        rows = [(m.channel, m.chat_id, m.external_id, m.sender_name, m.body, time.time())
                for m in messages]
        t0 = time.perf_counter()
        plain.execute("BEGIN")
        plain.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", rows)
        plain.execute("COMMIT")
        out["raw_rate"] = len(rows) / (time.perf_counter() - t0)
        plain.close()

    inbox = await Inbox.open(data_dir, "bench")
    try:
        hub = Hub(inbox, [], data_dir)  # not run: its sinks are what transports call
        sinks = {name: ChannelSink(hub, name) for name in info.channels}
        seq, conc = messages[:n_seq], messages[n_seq:]
        t0 = time.perf_counter()
        for m in seq:
            result = await sinks[m.channel].ingest(m)
            if result.duplicate:
                raise BenchError("a benchmark message was taken for a duplicate")
        out["seq_rate"] = n_seq / (time.perf_counter() - t0)

        producers = 50
        queue = iter(conc)

        async def produce() -> None:
            for m in queue:  # shared iterator: each producer takes the next message
                await sinks[m.channel].ingest(m)

        t0 = time.perf_counter()
        await asyncio.gather(*(produce() for _ in range(producers)))
        out["conc_rate"] = n_conc / (time.perf_counter() - t0)
    finally:
        await inbox.close()
    return out


# --- The UI, in child processes -----------------------------------------------------------


def run_child(args: argparse.Namespace) -> int:
    """Entry of a child process (see spawn_child); its result goes to ``--out`` as JSON."""
    result: dict[str, Any]
    try:
        if args.child == "minimal":
            result = child_minimal(args.t0)
        elif args.child == "app":
            result = child_app(args.t0, Path(args.data_dir), args.ops)
        elif args.child == "ingest":
            return child_ingest(Path(args.data_dir))
        else:
            raise BenchError(f"unknown child {args.child!r}")
    except Exception as exc:  # reported by the parent, which carries on
        import traceback

        result = {"error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _rss_mib() -> float:
    """This process's peak resident set size, in MiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child started from a big parent
    would report the parent's peak. ``VmHWM`` belongs to the new program only.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class FrameWatch:
    """Notes each frame an app sends to the terminal, and what held when it was sent.

    Headless, Textual skips turning a frame into escape sequences; we do that
    work ourselves (and throw the text away) so that every app pays for it, as
    it would in a terminal. Patched onto the instance, so the app's class (and
    its CSS) stays its own.

    ``when(condition)`` gives the wall-clock time of the first frame sent while
    ``condition()`` held: the moment the operator could have seen it.
    """

    def __init__(self, app: Any) -> None:
        self.first_at: float | None = None
        self._waiters: list[Waiter] = []
        display = app._display

        def _display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            from textual._compositor import CompositorUpdate

            if not isinstance(renderable, CompositorUpdate):
                return
            renderable.render_segments(app.console)
            at = time.time()
            for waiter in self._waiters:
                if waiter.at is None and _holds(waiter.condition):
                    waiter.at = at
                    waiter.seen.set()
            if self.first_at is None:
                self.first_at = at

        app._display = _display

    def when(self, condition: Callable[[], bool]) -> Waiter:
        waiter = Waiter(condition)
        self._waiters.append(waiter)
        return waiter

    async def seen(self, waiter: Waiter, what: str, timeout: float = UI_TIMEOUT) -> float:
        """The time of the frame `waiter` waits for, once it has been sent."""
        try:
            await asyncio.wait_for(waiter.seen.wait(), timeout)
        except TimeoutError:
            raise BenchError(f"gave up waiting for {what} after {timeout:.0f} s") from None
        finally:
            self._waiters.remove(waiter)
        assert waiter.at is not None
        return waiter.at


@dataclass
class Waiter:
    condition: Callable[[], bool]
    at: float | None = None  # time.time() of the first frame sent while condition() held
    seen: asyncio.Event = field(default_factory=asyncio.Event)


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return bool(condition())
    except Exception:  # the widget is not there yet, or is being rebuilt
        return False


def child_minimal(t0: float) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Hello")

    async def drive(app: Minimal) -> dict[str, Any]:
        frames = FrameWatch(app)
        # The same harness as opchat's app below: run_test, headless, same size.
        async with app.run_test(headless=True, size=TERMINAL_SIZE):
            drawn = frames.when(lambda: True)
            await frames.seen(drawn, "the first frame")
            assert frames.first_at is not None
            result = {"first_frame_ms": (frames.first_at - t0) * 1000, "rss_mib": _rss_mib()}
            app.exit()
        return result

    return asyncio.run(drive(Minimal()))


def child_ingest(data_dir: Path) -> int:
    """For each "chat id TAB name" line on stdin, ingest one message; print when."""
    from opchat.model import InboundMessage
    from opchat.store import Store

    async def go() -> None:
        store = await Store.open(data_dir)
        try:
            print(json.dumps({"ready": time.time()}), flush=True)
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line.strip():
                    return
                chat, name = line.rstrip("\n").split("\t")
                started = time.time()
                await store.ingest(InboundMessage(
                    channel="telegram", chat_id=chat, external_id=chat, sender_id=chat,
                    sender_name=name, body="Привет из другого процесса"))
                print(json.dumps({"started": started, "committed": time.time()}), flush=True)
        finally:
            await store.close()

    asyncio.run(go())
    return 0


def child_app(t0: float, data_dir: Path, ops: bool) -> dict[str, Any]:
    from opchat.app import OpchatApp  # may not exist yet: the parent reports why

    info = StoreInfo.load(data_dir)
    if info is None:
        raise BenchError(f"no benchmark store in {data_dir}")
    driver = AppDriver(OpchatApp, data_dir, info, t0)
    return driver.run(ops)


class AppDriver:
    """Runs OpchatApp headless on the big store and times what the operator does.

    Every time is taken up to the first frame sent while the widgets held what
    the operator waits for (see FrameWatch), from the key press or the ingest.
    """

    def __init__(self, app_class: type, data_dir: Path, info: StoreInfo, t0: float) -> None:
        self.app_class = app_class
        self.data_dir = data_dir
        self.info = info
        self.t0 = t0
        self.result: dict[str, Any] = {}

    def run(self, ops: bool) -> dict[str, Any]:
        # What `opchat` does before its first frame (cli.cmd_app); the hub is imported
        # and run only after it, and not at all here (the bench's second process plays it).
        from opchat.cli import open_inbox
        from opchat.config import load_settings
        from opchat.i18n import set_language
        from opchat.logs import setup_logging

        # No config file: every setting at its default, the data dir is the big store.
        settings = load_settings(self.data_dir / "no-such-config.toml", self.data_dir)
        settings.operator = "bench"
        set_language(settings.language)
        setup_logging(settings.data_dir, settings.log_level)
        app = self.app_class(settings, lambda: open_inbox(settings), None)
        return asyncio.run(self._drive(app, ops))

    async def _drive(self, app: Any, ops: bool) -> dict[str, Any]:
        from opchat.widgets.conversation_list import ConversationList
        from opchat.widgets.thread_view import ThreadView

        frames = FrameWatch(app)
        self.app, self.frames = app, frames
        self.list = lambda: app.screen.query_one(ConversationList)
        self.thread = lambda: app.screen.query_one(ThreadView)
        listed = frames.when(lambda: self.list().row(0) is not None)
        async with app.run_test(headless=True, size=TERMINAL_SIZE) as pilot:
            self.pilot = pilot
            await frames.seen(listed, "the conversation list")
            assert frames.first_at is not None
            self.result["first_frame_ms"] = (frames.first_at - self.t0) * 1000
            assert listed.at is not None
            self.result["first_list_frame_ms"] = (listed.at - self.t0) * 1000
            if ops:
                for step, note in ((self.open_big, "open_note"), (self.page_down, "page_note"),
                                   (self.ingest_here, "local_note"),
                                   (self.ingest_there, "remote_note"),
                                   (self.reply_insert, "reply_note"),
                                   (self.sql_per_message, "sql_note"),
                                   (self.idle, "idle_note")):
                    try:
                        await step()
                    except Exception as exc:  # one broken step must not hide the others
                        self.result[note] = f"not measured: {type(exc).__name__}: {exc}"
            self.result["rss_mib"] = _rss_mib()
            self.result["rss_note"] = ("VmHWM of the app's process after the work above"
                                       if ops else "VmHWM at the first frame")
            app.exit()
        return self.result

    async def _focus_list(self) -> Any:
        lst = self.list()
        lst.focus()
        await self.pilot.pause()
        return lst

    async def open_big(self) -> None:
        """Enter on the big conversation, coming from its neighbour in the list."""
        big = self.info.big_id
        lst = await self._focus_list()
        at = await lst.inbox.position(big)
        if at is None:
            raise BenchError("the big conversation is not in the list")
        other = at + 1 if at + 1 < lst.row_count else at - 1
        cold, warm = [], []
        for n in range(8):
            await self._open_row(other)
            if n < 7:
                # Forget the rendered messages, as if it had never been opened.
                self.thread()._blocks.clear()
            await self._focus_list()
            await self._put_cursor(at)
            shown = self.frames.when(lambda: self._thread_shows(big))
            t0 = time.time()
            await self.pilot.press("enter")
            ms = (await self.frames.seen(shown, "the big conversation") - t0) * 1000
            (cold if n < 7 else warm).append(ms)
        self.result["open_ms"] = statistics.median(cold)
        self.result["open_note"] = (
            f"Enter to the frame showing its newest 100 of {self.info.big_messages:,} messages, "
            f"not rendered before: median of 7, {min(cold):.0f}–{max(cold):.0f} ms; "
            f"rendered before: {warm[0]:.1f} ms")

    async def _put_cursor(self, index: int) -> None:
        lst = self.list()
        lst.move_cursor(index)
        await self.frames.seen(self.frames.when(lambda: self._list_drawn(index)),
                               f"row {index} of the list")

    async def _open_row(self, index: int) -> None:
        lst = await self._focus_list()
        await self._put_cursor(index)
        wanted = lst.row(index).id
        shown = self.frames.when(lambda: self._thread_shows(wanted))
        await self.pilot.press("enter")
        await self.frames.seen(shown, f"conversation {wanted}")

    def _thread_shows(self, conversation_id: int) -> bool:
        thread = self.thread()
        return (thread.conversation is not None and thread.conversation.id == conversation_id
                and not thread._fetching and bool(thread.messages))

    def _list_drawn(self, cursor: int | None = None, below: int | None = None) -> bool:
        """The cursor is on `cursor` (or below `below`) and every row on screen is in memory."""
        from opchat.widgets.conversation_list import ROW_HEIGHT

        lst = self.list()
        if cursor is not None and lst.cursor != cursor:
            return False
        if below is not None and lst.cursor <= below:
            return False
        first = int(lst.scroll_y) // ROW_HEIGHT
        # Rows with at least one line on screen: the last one may be cut by the edge.
        last = min(lst.row_count, -(-(int(lst.scroll_y) + lst.size.height) // ROW_HEIGHT))
        return all(lst.row(i) is not None for i in range(first, last))

    async def page_down(self) -> None:
        lst = await self._focus_list()
        await self.pilot.press("home")
        await self.pilot.pause()
        samples = []
        for _ in range(10):
            drawn = self.frames.when(lambda was=lst.cursor: self._list_drawn(below=was))
            t0 = time.time()
            await self.pilot.press("pagedown")
            samples.append((await self.frames.seen(drawn, "the next page") - t0) * 1000)
        drawn = self.frames.when(lambda: self._list_drawn(lst.row_count - 1))
        t0 = time.time()
        await self.pilot.press("end")
        end_ms = (await self.frames.seen(drawn, "the last page") - t0) * 1000
        await self.pilot.press("home")
        await self.frames.seen(self.frames.when(lambda: self._list_drawn(0)), "the first page")
        self.result["page_ms"] = statistics.median(samples)
        self.result["page_note"] = (
            f"PageDown to the frame with every row on screen loaded; median of 10, "
            f"max {max(samples):.1f} ms")
        self.result["end_ms"] = end_ms
        self.result["end_note"] = f"End to the frame with row {lst.row_count:,} drawn"

    def _listed_first(self, name: str) -> bool:
        lst = self.list()
        row = lst.row(0)
        return row is not None and row.contact_name == name and int(lst.scroll_y) == 0

    async def sql_per_message(self) -> None:
        """The SQL one customer's message costs when it arrives in the dialog the operator
        has open: from the ingest until it is drawn and the app has done what follows
        (read marks, the list, the counts)."""
        from opchat.model import InboundMessage

        big = self.info.big_id
        await self._focus_list()
        await self._put_cursor(await self.list().inbox.position(big) or 0)
        shown = self.frames.when(lambda: self._thread_shows(big))
        await self.pilot.press("enter")
        await self.frames.seen(shown, "the big conversation")
        store = self.list().inbox.store
        address = await store.conversation_address(big)
        if address is None:
            raise BenchError("the big conversation has no address")
        body = f"Ещё вопрос про заказ {time.time_ns()}"
        drawn = self.frames.when(
            lambda: any(m.body == body for m in self.thread().messages[-5:]))
        statements: list[tuple[str, str]] = []
        store.db.trace(lambda connection, sql: statements.append((connection, sql)))
        try:
            await store.ingest(InboundMessage(
                channel=address[0], chat_id=address[1], external_id=f"sql-{time.time_ns()}",
                sender_id=address[1], sender_name="Bench", body=body))
            await self.frames.seen(drawn, "the message in the open dialog")
            await self.pilot.pause(0.5)  # what the app does after drawing it
        finally:
            store.db.trace(None)

        def count(connection: str, *starts: str) -> int:
            return sum(1 for on, sql in statements
                       if on == connection and sql.lstrip().upper().startswith(starts))

        if os.environ.get("OPCHAT_BENCH_SQL"):  # a file to list them in, to see which
            Path(os.environ["OPCHAT_BENCH_SQL"]).write_text("".join(
                f"{connection} {' '.join(sql.split())[:160]}\n"
                for connection, sql in statements))
        self.result["sql_reads"] = count("reader", "SELECT")
        self.result["sql_writes"] = count("writer", "INSERT", "UPDATE", "DELETE")
        self.result["sql_transactions"] = count("writer", "BEGIN IMMEDIATE")
        self.result["sql_note"] = (
            f"one message into the open dialog, until drawn + 0.5 s: "
            f"{self.result['sql_reads']} reads on the reader connection, "
            f"{self.result['sql_writes']} writes in {self.result['sql_transactions']} write "
            f"transactions (the ingest's own included)")

    async def idle(self, seconds: float = 2.0) -> None:
        """How often the open app, doing nothing, asks SQLite whether another process
        committed: every follower of the change feed shares one look."""
        db = self.list().inbox.store.db
        looks = 0
        real = db.data_version

        async def counted() -> int:
            nonlocal looks
            looks += 1
            return await real()

        db.data_version = counted
        try:
            await self.pilot.pause(0.2)
            looks, t0 = 0, time.monotonic()
            await asyncio.sleep(seconds)
            self.result["idle_checks"] = looks / (time.monotonic() - t0)
        finally:
            del db.data_version  # the method again
        self.result["idle_note"] = (f"PRAGMA data_version per second over {seconds:.0f} s, "
                                    "the app open on a dialog, nothing happening")

    async def ingest_here(self) -> None:
        from opchat.model import InboundMessage

        await self._focus_list()
        await self._put_cursor(0)
        store = self.list().inbox.store
        samples = []
        for k in range(5):
            name = f"Same Process {k} {os.getpid()}"
            chat = f"here-{os.getpid()}-{k}-{time.time_ns()}"
            shown = self.frames.when(lambda name=name: self._listed_first(name))
            t0 = time.time()
            await store.ingest(InboundMessage(
                channel="telegram", chat_id=chat, external_id=chat, sender_id=chat,
                sender_name=name, body="Здравствуйте! Заказ ещё не пришёл"))
            samples.append((await self.frames.seen(shown, "the new conversation") - t0) * 1000)
            await self.pilot.pause(0.05)
        self.result["local_delay_ms"] = statistics.median(samples)
        self.result["local_note"] = (
            f"store.ingest() to the frame with the new dialog on top; median of 5, "
            f"min {min(samples):.1f}, max {max(samples):.1f} ms")

    async def ingest_there(self) -> None:
        await self._focus_list()
        await self._put_cursor(0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD_MAIN, "--child", "ingest",
            "--data-dir", str(self.data_dir),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        samples, commits = [], []
        try:
            ready = await asyncio.wait_for(proc.stdout.readline(), UI_TIMEOUT)
            if not ready:
                raise BenchError("the second process did not start")
            for k in range(5):
                chat = f"there-{proc.pid}-{k}-{time.time_ns()}"
                name = f"Second Process {k} {proc.pid}"
                shown = self.frames.when(lambda name=name: self._listed_first(name))
                proc.stdin.write(f"{chat}\t{name}\n".encode())
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), UI_TIMEOUT)
                report = json.loads(line)
                seen = await self.frames.seen(shown, "the other process's dialog")
                samples.append((seen - report["started"]) * 1000)
                commits.append((report["committed"] - report["started"]) * 1000)
                await self.pilot.pause(0.05)
        finally:
            proc.stdin.close()
            await proc.wait()
        self.result["remote_delay_ms"] = statistics.median(samples)
        self.result["remote_note"] = (
            f"ingest() in another process to the frame here; median of 5, "
            f"min {min(samples):.1f}, max {max(samples):.1f} ms "
            f"(the commit itself: median {statistics.median(commits):.1f} ms)")


    async def reply_insert(self) -> None:
        """`/bench-NNNN` then Tab in the reply box, with BENCH_REPLIES replies stored."""
        from opchat.replies import ReplyDraft
        from opchat.widgets.composer import Composer
        from opchat.widgets.reply_completion import ReplyCompletion

        store = self.list().inbox.store
        have = await store.replies.all()
        if sum(r.shortcut.startswith("bench-") for r in have) < BENCH_REPLIES:
            await store.replies.save_all([
                ReplyDraft(f"bench-{n:04d}", f"Bench reply {n}",
                           f"Hello {{contact.first_name}}, this is saved reply number {n}.")
                for n in range(BENCH_REPLIES)])
        screen = self.app.screen
        screen.reload_replies()
        deadline = time.monotonic() + UI_TIMEOUT
        while len(screen.replies) < BENCH_REPLIES:
            if time.monotonic() > deadline:
                raise BenchError("the replies did not load")
            await self.pilot.pause(0.05)
        await self._open_row(1)
        composer = self.app.screen.query_one(Composer)
        completion = self.app.screen.query_one(ReplyCompletion)
        composer.focus()
        typed, inserted = [], []
        for k in range(7):
            number = 1000 + 500 * k
            composer.load_text("")
            await self.pilot.press(*f"/bench-{number:04d}"[:-1])
            listed = self.frames.when(lambda n=number: completion.is_open and bool(
                completion.matches) and completion.matches[0].shortcut == f"bench-{n:04d}")
            t0 = time.time()
            await self.pilot.press(f"{number:04d}"[-1])
            typed.append((await self.frames.seen(listed, "the drop-down") - t0) * 1000)
            shown = self.frames.when(
                lambda n=number: f"saved reply number {n}." in composer.text)
            t0 = time.time()
            await self.pilot.press("tab")
            inserted.append((await self.frames.seen(shown, "the inserted reply") - t0) * 1000)
        composer.load_text("")
        self.result["reply_ms"] = statistics.median(inserted)
        self.result["reply_note"] = (
            f"{BENCH_REPLIES:,} replies stored: Tab on /bench-NNNN to the frame showing the "
            f"reply, variables filled; median of 7, max {max(inserted):.1f} ms; the last key "
            f"of the shortcut to the frame with the drop-down narrowed: median "
            f"{statistics.median(typed):.1f} ms")


CHILD_MAIN = "import sys; from opchat.bench import main; sys.exit(main())"


def spawn_child(kind: str, out: Path, data_dir: Path | None = None, ops: bool = False,
                env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, Any]:
    # Imported, not run as __main__: runpy would compile this file on every start.
    cmd = [sys.executable, "-c", CHILD_MAIN, "--child", kind, "--out", str(out)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if ops:
        cmd.append("--ops")
    t0 = time.time()
    proc = subprocess.run([*cmd, "--t0", repr(t0)], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"child {kind} exited with {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(out.read_text(encoding="utf-8"))


def measure_ui(data_dir: Path, say: Callable[[str], None],
               starts: int = 3) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Start-ups of both apps, taken in turns; then opchat doing the operator's work."""
    say(f"first frame: a minimal Textual app and opchat on the big store, {starts} starts each "
        "(fresh interpreters)")
    minimal_runs, app_runs = [], []
    with tempfile.TemporaryDirectory(prefix="opchat-bench-out-") as tmp:
        # Both apps start from compiled bytecode, as an installed opchat does (an
        # editable install under PYTHONDONTWRITEBYTECODE would compile opchat's
        # sources at every start, but not Textual's): one unmeasured start each
        # fills a private cache.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), TEXTUAL="",
                   OPCHAT_CONFIG=str(Path(tmp) / "no-config.toml"))
        spawn_child("minimal", Path(tmp) / "warm-minimal.json", env=env)
        spawn_child("app", Path(tmp) / "warm-app.json", data_dir, env=env)
        for n in range(starts):
            minimal_runs.append(spawn_child("minimal", Path(tmp) / f"minimal{n}.json", env=env))
            app_runs.append(spawn_child("app", Path(tmp) / f"app{n}.json", data_dir, env=env))
        say("opchat: open the big conversation, page the list, ingest to screen")
        work = spawn_child("app", Path(tmp) / "work.json", data_dir, ops=True, env=env)
    return (_medians(minimal_runs, ("first_frame_ms", "rss_mib")),
            _medians(app_runs, ("first_frame_ms", "first_list_frame_ms")), work)


def _medians(runs: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[0]
    out: dict[str, Any] = {}
    for key in keys:
        values = [run[key] for run in good if key in run]
        if values:
            out[key] = statistics.median(values)
            out[key + "_range"] = (min(values), max(values))
    return out


# --- The report ---------------------------------------------------------------------------


def build_rows(info: StoreInfo, store: dict[str, Any], minimal: dict[str, Any],
               starts: dict[str, Any], app: dict[str, Any]) -> list[Row]:
    reused = "re-used; " if info.reused else ""
    rows: list[Row] = [Row("build the store", info.build_s, "s",
                           note=f"{reused}{info.conversations:,} conversations, "
                                f"{info.messages:,} messages, one of {info.big_messages:,}")]
    def unavailable(*parts: dict[str, Any]) -> str:
        error = next((part["error"] for part in parts if "error" in part), "")
        return f"UI not available: {error}" if error else ""

    ui_note = unavailable(app)

    def ms(key: str, src: dict[str, Any]) -> float | None:
        value = src.get(key)
        return None if value is None else float(value)

    def spread(key: str, src: dict[str, Any]) -> str:
        low, high = src.get(key + "_range", (None, None))
        return "" if low is None else f"{low:.0f}–{high:.0f} ms"

    frame_note = unavailable(starts, minimal) or (
        f"process start to the first frame, median of the starts: "
        f"opchat {spread('first_frame_ms', starts)}, minimal {spread('first_frame_ms', minimal)}")
    list_note = unavailable(starts, minimal) or (
        f"to the first frame with the conversations' rows "
        f"({spread('first_list_frame_ms', starts)}); the minimal app as baseline")
    rows.append(Row("first frame", ms("first_frame_ms", starts), "ms",
                    ms("first_frame_ms", minimal), "≤ 1.5× minimal app", note=frame_note))
    rows.append(Row("first frame with the list", ms("first_list_frame_ms", starts), "ms",
                    ms("first_frame_ms", minimal), "≤ 1.5× minimal app", note=list_note))
    med = statistics.median
    rows.append(Row("open 10k-message conversation (store)", med(store["open"]), "ms",
                    aim="< 50 ms", note=f"min {min(store['open']):.1f} ms, first 100 messages"))
    rows.append(Row("open 10k-message conversation (app)", ms("open_ms", app), "ms",
                    aim="< 50 ms", note=app.get("open_note", ui_note)))
    rows.append(Row("list page (store)", med(store["list0"]), "ms", aim="< 50 ms",
                    note=f"min {min(store['list0']):.1f} ms, 50 rows at offset 50"))
    rows.append(Row("list page, deep offset (store)", med(store["list_deep"]), "ms",
                    aim="< 50 ms", note=f"50 rows at offset {store['list_deep_offset']:,}"))
    rows.append(Row("count conversations (store)", med(store["count"]), "ms", aim="< 50 ms"))
    rows.append(Row("list one page down (app)", ms("page_ms", app), "ms", aim="< 50 ms",
                    note=app.get("page_note", ui_note)))
    rows.append(Row("list jump to the end (app)", ms("end_ms", app), "ms", aim="< 50 ms",
                    note=app.get("end_note", ui_note)))
    for key, label, query in (("search_many", "search, many matches (store)", QUERY_MANY),
                              ("search_few", "search, few matches (store)", QUERY_FEW)):
        rows.append(Row(label, med(store[key]), "ms", aim="< 100 ms",
                        note=f"“{query}”: {store[key + '_total']:,} matches, "
                             f"min {min(store[key]):.1f} ms"))
    for key, label, query in (
            ("all_many", "search all, many matches (store)", QUERY_MANY),
            ("all_few", "search all, few matches (store)", QUERY_FEW),
            ("all_name", "search all, a common first name (store)", QUERY_NAME)):
        contacts, labels, messages = store[key + "_found"]
        rows.append(Row(label, med(store[key]), "ms", aim="< 100 ms",
                        note=f"“{query}”: messages, contacts and labels as the search screen "
                             f"asks; shown {contacts} contacts, {labels} labelled dialogs, "
                             f"{messages} messages; min {min(store[key]):.1f} ms"))
    rows.append(Row("ingest, sequential awaits", store["seq_rate"], "msg/s",
                    store["raw_rate"], "≥ 5,000 msg/s",
                    note=f"{store['ingest_seq_n']:,} messages, one commit each "
                         "(80% to the 2,000 most recent dialogs, 10% to older, 10% new)"))
    rows.append(Row("ingest, 50 concurrent producers", store["conc_rate"], "msg/s",
                    store["raw_rate"], "≥ 5,000 msg/s",
                    note=f"{store['ingest_conc_n']:,} messages, committed in groups; "
                         "baseline: the same rows into a plain table, one executemany"))
    rows.append(Row("ingest to screen, same process", ms("local_delay_ms", app), "ms",
                    aim="< 100 ms", note=app.get("local_note", ui_note)))
    rows.append(Row("ingest to screen, second process", ms("remote_delay_ms", app), "ms",
                    aim="< 300 ms", note=app.get("remote_note", ui_note)))
    rows.append(Row("quick reply, Tab to inserted (app)", ms("reply_ms", app), "ms",
                    aim="< 50 ms", note=app.get("reply_note", ui_note)))
    rows.append(Row("SQL reads per message in the open dialog (app)", ms("sql_reads", app),
                    "reads", aim="≤ 11 reads", note=app.get("sql_note", ui_note)))
    rows.append(Row("write transactions per message in the open dialog (app)",
                    ms("sql_transactions", app), "txns",
                    note=app.get("sql_note", ui_note)))
    rows.append(Row("idle: looks for other processes' commits", ms("idle_checks", app), "/s",
                    aim="≤ 20 /s", note=app.get("idle_note", ui_note)))
    rows.append(Row("peak RSS", ms("rss_mib", app), "MiB", ms("rss_mib", minimal),
                    "< 150 MB", note=app.get("rss_note", ui_note) + (
                        "; baseline: the minimal app's at its first frame" if "rss_mib" in minimal
                        else "")))
    for row in rows:
        row.meets = judge(row)
    return rows


def judge(row: Row) -> bool | None:
    if row.value is None or not row.aim:
        return None
    aim = row.aim
    if aim.startswith("≤ 1.5×"):
        return None if row.baseline is None else row.value <= 1.5 * row.baseline
    number = float(aim.split()[1].replace(",", ""))
    if row.unit == "MiB":
        return row.value * 2**20 < number * 1e6
    if aim.startswith("<"):
        return row.value < number
    if aim.startswith("≤"):
        return row.value <= number
    return row.value >= number


def format_table(rows: Sequence[Row]) -> str:
    def num(value: float | None, unit: str) -> str:
        if value is None:
            return "—"
        if unit == "msg/s":
            return f"{value:,.0f} {unit}"
        if unit == "s":
            return f"{value:.1f} {unit}"
        return f"{value:,.1f} {unit}"

    table = [("what", "value", "baseline", "ratio", "aim", "verdict")]
    for row in rows:
        ratio = ""
        if row.value is not None and row.baseline:
            r = row.value / row.baseline
            ratio = f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"
        verdict = {True: "meets aim", False: "misses aim", None: ""}[row.meets]
        table.append((row.what, num(row.value, row.unit),
                      num(row.baseline, row.unit) if row.baseline else "", ratio, row.aim,
                      verdict))
    widths = [max(len(line[i]) for line in table) for i in range(6)]
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(cell.ljust(w) if i in (0, 4, 5) else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(line, widths, strict=True)))
                     .rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {row.what}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, "", "notes:", *notes])


# --- Running it ---------------------------------------------------------------------------


def run_bench(scale: float = 1.0, keep: str | os.PathLike[str] | None = None) -> int:
    """Build or re-use the store, measure, print the table; 0 unless the benchmark broke."""
    if not scale > 0:
        print("opchat bench: --scale must be more than 0", file=sys.stderr)
        return 2
    size = StoreSize.at(scale)
    say = _say
    say(f"opchat bench, scale {scale:g}: {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    temp = None
    if keep is None:
        temp = tempfile.mkdtemp(prefix="opchat-bench-")
        data_dir = Path(temp)
    else:
        data_dir = Path(keep).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        info = open_or_build(data_dir, size, say)
        say("measuring the store (median of 7 runs each)")
        store = asyncio.run(measure_store(data_dir, info))
        minimal, starts, work = measure_ui(data_dir, say)
        say("ingest through the hub, beside raw inserts (this adds to the store)")
        store.update(asyncio.run(measure_ingest(data_dir, info, scale)))
        for part, name in ((minimal, "minimal app"), (starts, "opchat app"),
                           (work, "opchat at work")):
            if "error" in part:
                say(f"UI not available ({name}): {part['error']}")
                if os.environ.get("OPCHAT_BENCH_DEBUG") and "traceback" in part:
                    say(part["traceback"])
        print()
        print(format_table(build_rows(info, store, minimal, starts, work)))
        return 0
    except BenchError as exc:
        print(f"opchat bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opchat.bench",
                                     description="measure opchat on a synthetic store")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (100,000 dialogs, 1,000,000 messages)")
    parser.add_argument("--keep", metavar="DIR", help="build the store here and keep it")
    # Used by the benchmark to run its own child processes.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--ops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    return run_bench(scale=args.scale, keep=args.keep)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
