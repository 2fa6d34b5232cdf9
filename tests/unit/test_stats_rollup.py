"""The per-day roll-up (store/rollup.py) against the exact figures on a random store."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import Figures, InboundMessage, Spread, Status
from opchat.store import rollup, stats
from opchat.store.rollup import EDGES, Histogram, bucket_of

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

T0 = 1_698_000_000.0  # 2023-10-22: the period crosses New York's end of DST (Nov 5)
DAYS = 40


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def random_store(tmp_path: Path, seed: int) -> tuple[Inbox, Clock]:
    rng = random.Random(seed)
    clock = Clock()
    inboxes = [await Inbox.open(tmp_path, login, clock=clock) for login in ("anna", "boris")]
    open_ids: dict[str, int] = {}
    n = 0
    while clock.now < T0 + DAYS * 86400:
        # Seconds to hours between events, so durations fill many buckets.
        clock.now += rng.choice((1, 5, 20, 45, 90, 400, 2000, 9000)) * rng.uniform(0.5, 1.5)
        chat = f"c{rng.randrange(30)}"
        r = rng.random()
        if r < 0.5 or chat not in open_ids:
            n += 1
            got = await inboxes[0].store.inbound.ingest(InboundMessage(
                channel=rng.choice(("web", "tg", "mail")), chat_id=chat,
                external_id=f"m{n}", sender_id=chat, sender_name=chat, body="hi"))
            open_ids[chat] = got.conversation_id
        elif r < 0.85:
            await rng.choice(inboxes).send(open_ids[chat], "hello")
        else:
            await rng.choice(inboxes).set_status(open_ids[chat], Status.RESOLVED)
    await inboxes[1].close()
    return inboxes[0], clock


def close_enough(rolled: Spread, exact: Spread) -> None:
    assert rolled.count == exact.count
    if not exact.count:
        return
    assert rolled.mean == pytest.approx(exact.mean, rel=1e-9, abs=1e-9)
    for got, want in ((rolled.median, exact.median), (rolled.p90, exact.p90)):
        assert got is not None and want is not None
        # In the exact value's bucket: within one bucket's width (9%), or a second.
        assert abs(got - want) <= max(want * (2 ** (1 / 8) - 1), 1.0), (got, want)


def same_figures(rolled: list[Figures], exact: list[Figures]) -> None:
    assert [f.key for f in rolled] == [f.key for f in exact]
    for r, e in zip(rolled, exact, strict=True):
        assert r.counts == e.counts
        assert r.within == e.within
        assert set(r.durations) == set(e.durations)
        for kind in e.durations:
            close_enough(r.durations[kind], e.durations[kind])


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_roll_up_gives_the_exact_figures(tmp_path: Path, new_york: None,
                                                   seed: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollup, "EXACT_UP_TO", 0)  # a few hundred durations: buckets all the same
    inbox, _clock = await random_store(tmp_path, seed)
    try:
        start, end = T0 + 2.3 * 86400, T0 + (DAYS - 1.6) * 86400  # partial days at the edges
        assert rollup.whole(start, end, rollup.DAY)[1] - rollup.whole(
            start, end, rollup.DAY)[0] >= rollup.LONG_DAYS
        db = inbox.store.db
        for by in (None, "channel", "operator"):
            rolled = await db.read(stats.figures, start, end, by)
            exact = await db.read(stats.figures, start, end, by, None, None, False)
            same_figures(rolled, exact)
        r = await db.read(stats.report, start, end)
        e = await db.read(stats.report, start, end, None, None, False)
        assert r.whole is not None and e.whole is not None
        same_figures([r.whole], [e.whole])
        same_figures(r.by_channel, e.by_channel)
        same_figures(r.by_operator, e.by_operator)
        assert r.by_hour == e.by_hour  # counts by local hour and day: exact, DST and all
        assert r.by_day == e.by_day
        assert r.first_responses == e.first_responses  # the bars' edges are buckets' edges

        # The roll-up kept with the facts (on SQLite, once caught up with them) is what
        # rebuilding, or filling it from the facts, produces.
        await inbox.store.stats.catch_up_or_log()
        def rows(conn):  # type: ignore[no-untyped-def]
            return (sorted(tuple(r) for r in conn.execute("SELECT * FROM stats_days")),
                    sorted(tuple(r) for r in conn.execute("SELECT * FROM stats_hours")))

        live = await db.read(rows)
        await db.write(stats.roll_up)
        assert _same_rows(await db.read(rows), live)
        await inbox.store.stats.rebuild()
        assert _same_rows(await db.read(rows), live)
    finally:
        await inbox.close()


def _same_rows(a: tuple[list[tuple], list[tuple]], b: tuple[list[tuple], list[tuple]]) -> bool:
    if a[1] != b[1] or len(a[0]) != len(b[0]):
        return False
    for x, y in zip(a[0], b[0], strict=True):  # sums of seconds: to the float's precision
        if x[:5] != y[:5] or x[6] != y[6] or x[5] != pytest.approx(y[5], rel=1e-9):
            return False
    return True


def test_buckets() -> None:
    for edge in (30.0, 60.0, 120.0, 300.0, 900.0, 3600.0):
        assert edge in EDGES
        assert bucket_of(edge) < bucket_of(edge + 0.001)
    h = Histogram.of([0.0, 0.5, 29.9, 30.0, 30.1, 61.0, 10 ** 9])
    assert h.n == 7
    assert h.at_or_below(30.0) == 4
    assert h.at_or_below(60.0) == 5
    assert stats.histogram(h) == stats.histogram([0.0, 0.5, 29.9, 30.0, 30.1, 61.0, 10 ** 9])
    assert Histogram().quantile(0.5) is None
    one = Histogram.of([100.0])
    low, high = rollup.bounds(bucket_of(100.0))
    assert low < one.quantile(0.5) <= high  # type: ignore[operator]


async def test_a_long_period_with_few_durations_reads_them_exactly(tmp_path: Path) -> None:
    inbox, _clock = await random_store(tmp_path, 3)
    try:
        start, end = T0, T0 + DAYS * 86400
        db = inbox.store.db
        timed = await db.read(rollup.days, *rollup.whole(start, end, rollup.DAY),
                              stats.DURATIONS)
        assert 0 < sum(d[3] for d in timed if d[5] is not None) <= rollup.EXACT_UP_TO
        assert await db.read(stats.figures, start, end, "channel") == await db.read(
            stats.figures, start, end, "channel", None, None, False)
    finally:
        await inbox.close()


@pytest.mark.parametrize(("days", "offset"), [(7, 0.3), (1.5, 0.6), (0.5, 0.2), (2, 0.0)])
async def test_a_short_period_counts_from_the_roll_up_exactly(
        tmp_path: Path, new_york: None, days: float, offset: float) -> None:
    """Shorter than LONG_DAYS: the durations still from every fact (exact), the counts of
    whole days and hours from the roll-up, the edges from the facts: the same figures as
    from the facts alone, to the last count and second."""
    inbox, _clock = await random_store(tmp_path, 3)
    try:
        dst_ends = 1_699_164_000.0  # 2023-11-05 06:00 UTC, 2 a.m. in New York
        start = dst_ends - days * 86400 / 2 + offset * 3600  # the period across it
        end = start + days * 86400
        db = inbox.store.db
        for by in (None, "channel", "operator"):
            rolled = await db.read(stats.figures, start, end, by)
            exact = await db.read(stats.figures, start, end, by, None, None, False)
            assert rolled == exact
            assert any(f.counts for f in exact)
        r = await db.read(stats.report, start, end)
        e = await db.read(stats.report, start, end, None, None, False)
        assert r == e
    finally:
        await inbox.close()
