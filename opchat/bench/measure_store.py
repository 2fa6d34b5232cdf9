"""Measurements in the store and the hub, in this process: open, list, count, search, ingest."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from opchat.bench.fixture import (
    QUERY_FEW,
    QUERY_MANY,
    SEARCH_ALL,
    SEED,
    BenchError,
    StoreInfo,
    Words,
    customer_name,
)


async def repeat(fn: Callable[[], Awaitable[Any]], times: int = 7) -> list[float]:
    samples = []
    for _ in range(times):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def measure_store(data_dir: Path, info: StoreInfo) -> dict[str, Any]:
    from opchat.inbox import Inbox
    from opchat.store import ConversationFilter
    from opchat.store.benchdata import count_matches

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
            out[f"{key}_total"] = await count_matches(inbox.store.db, query)
            out[key] = await repeat(lambda q=query: inbox.search(q))
        for key, query in SEARCH_ALL:
            found = await inbox.search_all(query)
            out[f"{key}_found"] = (len(found.contacts), len(found.labels), len(found.messages))
            out[key] = await repeat(lambda q=query: inbox.search_all(q))
        now = info.built_at
        for key, days in (("stats_30d", 30), ("stats_year", 365)):
            shown = await inbox.stats_report(now - days * 86400, now)
            out[f"{key}_facts"] = (shown.whole.spread("reply").count if shown.whole else 0)
            out[key] = await repeat(lambda d=days: inbox.stats_report(now - d * 86400, now),
                                    times=3)
    finally:
        await inbox.close()
    return out


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
            chat, channel, name = f"new-{token}-{k}", rng.choice(channels), customer_name(k)
        out.append(InboundMessage(
            channel=channel, chat_id=chat, external_id=f"bench-{token}-{k}",
            sender_id=chat, sender_name=name, body=words.body()))
    return out


async def measure_ingest(data_dir: Path, info: StoreInfo, scale: float) -> dict[str, Any]:
    from opchat.hub import ChannelSink, Hub
    from opchat.inbox import Inbox
    from opchat.store.benchdata import dialogs_by_recency, raw_insert_rate, transaction_rate

    known = dialogs_by_recency(data_dir)
    rng = random.Random(SEED + 1)
    n_seq = max(200, round(2000 * scale))
    n_conc = max(1000, round(20000 * scale))
    messages = inbound(rng, Words(rng), known, info.channels, f"{time.time_ns():x}",
                       n_seq + n_conc + n_seq)
    out: dict[str, Any] = {"ingest_seq_n": n_seq, "ingest_conc_n": n_conc}

    # Baseline: the same messages, raw executemany into a plain table, one transaction.
    out["raw_rate"] = raw_insert_rate(
        [(m.channel, m.chat_id, m.external_id, m.sender_name, m.body, time.time())
         for m in messages])

    inbox = await Inbox.open(data_dir, "bench")
    try:
        hub = Hub(inbox, [], data_dir)  # not run: its sinks are what transports call
        sinks = {name: ChannelSink(hub, name) for name in info.channels}
        seq, conc = messages[:n_seq], messages[n_seq:n_seq + n_conc]
        alone = messages[n_seq + n_conc:]
        t0 = time.perf_counter()
        for m in seq:
            result = await sinks[m.channel].ingest(m)
            if result.duplicate:
                raise BenchError("a benchmark message was taken for a duplicate")
        # Their search index and figures' roll-up, which follow the commits.
        await inbox.store.search.catch_up()
        await inbox.store.stats.catch_up_or_log()
        out["seq_rate"] = n_seq / (time.perf_counter() - t0)

        producers = 50
        queue = iter(conc)

        async def produce() -> None:
            for m in queue:  # shared iterator: each producer takes the next message
                await sinks[m.channel].ingest(m)

        t0 = time.perf_counter()
        await asyncio.gather(*(produce() for _ in range(producers)))
        await inbox.store.search.catch_up()
        await inbox.store.stats.catch_up_or_log()
        out["conc_rate"] = n_conc / (time.perf_counter() - t0)

        # The same ingest's SQL with no thread hop nor event loop: what is left of the
        # sequential rate once the SQL is paid is the cost of awaiting it.
        ingest_rows = inbox.store.inbound._ingest_rows
        out["sql_rate"] = None if inbox.store.db.path is None else transaction_rate(
            inbox.store.db.path, n_seq, lambda conn, k: ingest_rows(conn, [alone[k]], None))
    finally:
        await inbox.close()
    return out
