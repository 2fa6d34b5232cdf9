"""The figures rolled up per day, so that a long period reads days, not facts.

Every fact `store/stats.py` writes is also added, in the same transaction, to
``stats_days``: one row per UTC day × channel × operator × kind holding how
many facts there were and, for the durations, their sum (the mean stays exact)
and their histogram over fixed log-spaced buckets (EDGES: eight per doubling,
so a bucket is 9% wide, plus the edges the report counts by: 30 s, 1, 2, 5, 15
and 60 minutes, so the shares answered within 30 s and 60 s and the
first-response bars stay exact). ``stats_hours`` counts answers, dialogs
started and reopened per UTC hour, which the charts of answers by hour of day
and dialogs per day read in any time zone whose offset is whole hours.

A period of at least LONG_DAYS whole days, with more than EXACT_UP_TO
durations in them, reads the whole days from here and the partial days at its
edges from the facts. Counts and means equal the exact
figures; a median or P90 read from buckets lies in the bucket of the exact
value, so within 9% of it (within a second below one second; a duration over
EDGES[-1], about 194 days, reads as EDGES[-1]).

A bucket's counts are kept packed in one integer, 32 bits per bucket, stored
as a BLOB: a period's histogram is the plain sum of its rows' integers, added
in C by Python's big integers, with no loop over buckets per row.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opchat.store.sql import Conn, execute_many

DAY, HOUR = 86400, 3600
LONG_DAYS = 8  # periods with this many whole days or more read the roll-up...
EXACT_UP_TO = 5000  # ...unless they hold no more durations than this: exact, and cheap
PER_DOUBLING = 8
_REPORTED = (30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)  # stats.WITHIN and stats.BUCKETS
EDGES: tuple[float, ...] = tuple(sorted(
    {2.0 ** (i / PER_DOUBLING) for i in range(24 * PER_DOUBLING + 1)} | set(_REPORTED)))
N_BUCKETS = len(EDGES) + 1  # bucket i: EDGES[i-1] < seconds <= EDGES[i]; the last: above
_BITS = 32
_MASK = (1 << _BITS) - 1


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(EDGES, seconds)


def bounds(bucket: int) -> tuple[float, float]:
    """The bucket's lowest and highest value (the last bucket: its lower edge)."""
    low = 0.0 if bucket == 0 else EDGES[bucket - 1]
    return low, EDGES[bucket] if bucket < len(EDGES) else low


@dataclass
class Histogram:
    """Durations in buckets: how many, their exact sum, and the packed bucket counts."""

    n: int = 0
    total: float = 0.0
    packed: int = 0

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Histogram:
        h = cls()
        for value in seconds:
            h.n += 1
            h.total += value
            h.packed += 1 << (_BITS * bucket_of(value))
        return h

    def add(self, other: Histogram) -> None:
        self.n += other.n
        self.total += other.total
        self.packed += other.packed

    def counts(self) -> list[int]:
        packed = self.packed
        return [(packed >> (_BITS * i)) & _MASK for i in range(N_BUCKETS)]

    def at_or_below(self, limit: float) -> int:
        """How many are at most ``limit`` (exact when ``limit`` is one of EDGES)."""
        last = bucket_of(limit)
        return sum(self.counts()[:last + 1])

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile as `statistics.quantiles(method="inclusive")` interpolates
        it, each value placed evenly across its bucket."""
        if not self.n:
            return None
        counts = self.counts()
        rank = q * (self.n - 1)
        below = math.floor(rank)
        low = self._value(counts, below)
        if below == rank or below + 1 >= self.n:
            return low
        high = self._value(counts, below + 1)
        return low + (high - low) * (rank - below)

    @staticmethod
    def _value(counts: list[int], index: int) -> float:
        seen = 0
        for bucket, count in enumerate(counts):
            if index < seen + count:
                low, high = bounds(bucket)
                return low + (high - low) * (index - seen + 0.5) / count
            seen += count
        return bounds(len(counts) - 1)[0]


def _pack(blob: bytes | None) -> int:
    return 0 if blob is None else int.from_bytes(blob, "little")


def _blob(packed: int) -> bytes:
    """The packed counts, little-endian, without the empty buckets above the last used."""
    return packed.to_bytes((packed.bit_length() + 7) // 8, "little")


def add(conn: Conn, kind: str, at: float, channel_id: int, operator: str,
        seconds: float | None, counted: bool) -> None:
    """Add one fact to its day (and, for a count kind, ``counted``, to its hour)."""
    day = math.floor(at / DAY)
    key = (day, channel_id, operator, kind)
    if seconds is None:
        conn.execute("INSERT INTO stats_days (day, channel_id, operator, kind, n, total) "
                     "VALUES (?, ?, ?, ?, 1, 0) ON CONFLICT (day, channel_id, operator, kind) "
                     "DO UPDATE SET n = stats_days.n + 1", key)
    else:
        row = conn.execute("SELECT buckets FROM stats_days WHERE day = ? AND channel_id = ? "
                           "AND operator = ? AND kind = ?", key).fetchone()
        packed = _pack(None if row is None else row[0]) + (1 << (_BITS * bucket_of(seconds)))
        conn.execute("INSERT INTO stats_days (day, channel_id, operator, kind, n, total, buckets) "
                     "VALUES (?, ?, ?, ?, 1, ?, ?) "
                     "ON CONFLICT (day, channel_id, operator, kind) DO UPDATE SET "
                     "n = stats_days.n + 1, total = stats_days.total + excluded.total, "
                     "buckets = excluded.buckets",
                     (*key, seconds, _blob(packed)))
    if counted:
        conn.execute("INSERT INTO stats_hours (hour, kind, n) VALUES (?, ?, 1) "
                     "ON CONFLICT (hour, kind) DO UPDATE SET n = stats_hours.n + 1",
                     (math.floor(at / HOUR), kind))


def add_many(conn: Conn, facts: Iterable[tuple[str, float, int, str, float | None, bool]]
             ) -> None:
    """`add` for several facts, each (kind, at, channel id, operator, seconds, counted):
    the counts summed per day and per hour, each row written once (one statement for the
    days, one for the hours); a duration as `add` writes it."""
    days: dict[tuple[int, int, str, str], int] = {}
    hours: dict[tuple[int, str], int] = {}
    for kind, at, channel_id, operator, seconds, counted in facts:
        if seconds is None:
            key = (math.floor(at / DAY), channel_id, operator, kind)
            days[key] = days.get(key, 0) + 1
        else:  # its day's histogram read and written again: one at a time
            add(conn, kind, at, channel_id, operator, seconds, False)
        if counted:
            hour = (math.floor(at / HOUR), kind)
            hours[hour] = hours.get(hour, 0) + 1
    execute_many(conn, "INSERT INTO stats_days (day, channel_id, operator, kind, n, total)",
                 "(?, ?, ?, ?, ?, 0)", [(*key, n) for key, n in days.items()],
                 " ON CONFLICT (day, channel_id, operator, kind) "
                 "DO UPDATE SET n = stats_days.n + excluded.n")
    execute_many(conn, "INSERT INTO stats_hours (hour, kind, n)", "(?, ?, ?)",
                 [(*key, n) for key, n in hours.items()],
                 " ON CONFLICT (hour, kind) DO UPDATE SET n = stats_hours.n + excluded.n")


def roll_up(conn: Conn, durations: Iterable[str], counted: Iterable[str]) -> None:
    """Fill the roll-up from the facts (a store upgraded from before it was kept, or
    one whose facts were written without it), in the caller's transaction."""
    conn.execute("DELETE FROM stats_days")
    conn.execute("DELETE FROM stats_hours")
    timed = set(durations)
    days: dict[tuple[int, int, str, str], Histogram] = {}
    hours: dict[tuple[int, str], int] = {}
    wanted = set(counted)
    for at, kind, channel_id, operator, start in conn.execute(
            "SELECT at, kind, channel_id, operator, start FROM stats_facts"):
        key = (math.floor(at / DAY), channel_id, operator, kind)
        h = days.get(key)
        if h is None:
            days[key] = h = Histogram()
        h.n += 1
        if kind in timed:
            took = at - start if start is not None and at > start else 0.0
            h.total += took
            h.packed += 1 << (_BITS * bucket_of(took))
        if kind in wanted:
            hour = (math.floor(at / HOUR), kind)
            hours[hour] = hours.get(hour, 0) + 1
    for key, h in days.items():
        conn.execute("INSERT INTO stats_days (day, channel_id, operator, kind, n, total, buckets) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (*key, h.n, h.total, _blob(h.packed) if key[3] in timed else None))
    for (hour, kind), n in hours.items():
        conn.execute("INSERT INTO stats_hours (hour, kind, n) VALUES (?, ?, ?)", (hour, kind, n))


def whole(start: float, end: float, unit: int) -> tuple[int, int]:
    """The whole units (days, hours) inside [start, end): [first, last)."""
    return math.ceil(start / unit), math.floor(end / unit)


def days(conn: Conn, first: int, last: int
         ) -> list[tuple[int, str, str, int, float, int | None]]:
    """(channel id, operator, kind, how many, seconds summed, packed buckets or None for
    a count) of days [first, last), summed per channel, operator and kind: the counts
    summed by SQLite, the histograms here (one big-integer sum a row)."""
    out: list[tuple[int, str, str, int, float, int | None]] = [
        (c, o, k, n, 0.0, None) for c, o, k, n in conn.execute(
            "SELECT channel_id, operator, kind, sum(n) FROM stats_days "
            "WHERE day >= ? AND day < ? AND buckets IS NULL "
            "GROUP BY channel_id, operator, kind", (first, last))]
    timed: dict[tuple[int, str, str], Histogram] = {}
    for channel_id, operator, kind, n, total, blob in conn.execute(
            "SELECT channel_id, operator, kind, n, total, buckets FROM stats_days "
            "WHERE day >= ? AND day < ? AND buckets IS NOT NULL", (first, last)):
        key = (channel_id, operator, kind)
        h = timed.get(key)
        if h is None:
            timed[key] = h = Histogram()
        h.n += n
        h.total += total
        h.packed += int.from_bytes(blob, "little")
    return out + [(c, o, k, h.n, h.total, h.packed) for (c, o, k), h in timed.items()]


def hours(conn: Conn, first: int, last: int, kinds: Iterable[str]) -> Iterable[Any]:
    """(UTC hour, kind, how many) rows of hours [first, last)."""
    wanted = tuple(kinds)
    marks = ", ".join("?" * len(wanted))
    return conn.execute(f"SELECT hour, kind, n FROM stats_hours WHERE hour >= ? AND hour < ? "
                        f"AND kind IN ({marks})", (first, last, *wanted))
