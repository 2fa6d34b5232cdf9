"""The figures rolled up per day, so that a long period reads days, not facts.

Every fact `store/stats.py` writes is also added to ``stats_days``, in groups
after the commits (the reads adding what is not rolled up yet: see `catch_up`):
one row per UTC day × channel × operator × kind holding how
many facts there were and, for the durations, their sum (the mean stays exact)
and their histogram over fixed log-spaced buckets (EDGES: eight per doubling,
so a bucket is 9% wide, plus the edges the report counts by: 30 s, 1, 2, 5, 15
and 60 minutes, so the shares answered within 30 s and 60 s and the
first-response bars stay exact). ``stats_hours`` counts answers, dialogs
started and reopened per UTC hour, which the charts of answers by hour of day
and dialogs per day read in any time zone whose offset is whole hours.

A period of at least LONG_DAYS whole days, with more than EXACT_UP_TO
durations in them, reads the whole days from here and the partial days at its
edges from the facts. A shorter one reads only its counts so (whole days, and
whole hours for the charts), its durations from every fact. Counts and means
equal the exact
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
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from opchat.model import EventKind
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


# A fact as the roll-up takes it: (kind, at, channel id, operator, start).
Fact = tuple[str, float, int, str, "float | None"]
_DayKey = tuple[int, int, str, str]  # (day, channel id, operator, kind)


def _gather(facts: Iterable[Fact], timed: Collection[str], counted: Collection[str]
            ) -> tuple[dict[_DayKey, Histogram], dict[tuple[int, str], int]]:
    """The facts summed per day (a count, or for a ``timed`` kind the durations'
    histogram) and, for the ``counted`` kinds, per hour."""
    days: dict[_DayKey, Histogram] = {}
    hours: dict[tuple[int, str], int] = {}
    for kind, at, channel_id, operator, start in facts:
        key = (math.floor(at / DAY), channel_id, operator, kind)
        h = days.get(key)
        if h is None:
            days[key] = h = Histogram()
        h.n += 1
        if kind in timed:
            took = at - start if start is not None and at > start else 0.0
            h.total += took
            h.packed += 1 << (_BITS * bucket_of(took))
        if kind in counted:
            hour = (math.floor(at / HOUR), kind)
            hours[hour] = hours.get(hour, 0) + 1
    return days, hours


def add(conn: Conn, facts: Iterable[Fact], timed: Collection[str],
        counted: Collection[str]) -> None:
    """Add ``facts`` to the stored roll-up, in the caller's transaction: the counts in
    one statement for the days and one for the hours (each row once, however many
    facts), a duration's day read and written with its histogram summed here."""
    days, hours = _gather(facts, timed, counted)
    execute_many(conn, "INSERT INTO stats_days (day, channel_id, operator, kind, n, total)",
                 "(?, ?, ?, ?, ?, 0)",
                 [(*key, h.n) for key, h in days.items() if key[3] not in timed],
                 " ON CONFLICT (day, channel_id, operator, kind) "
                 "DO UPDATE SET n = stats_days.n + excluded.n")
    for key, h in days.items():
        if key[3] not in timed:
            continue
        row = conn.execute("SELECT buckets FROM stats_days WHERE day = ? AND channel_id = ? "
                           "AND operator = ? AND kind = ?", key).fetchone()
        packed = _pack(None if row is None else row[0]) + h.packed
        conn.execute("INSERT INTO stats_days (day, channel_id, operator, kind, n, total, buckets) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (day, channel_id, operator, kind) DO UPDATE SET "
                     "n = stats_days.n + excluded.n, total = stats_days.total + excluded.total, "
                     "buckets = excluded.buckets",
                     (*key, h.n, h.total, _blob(packed)))
    execute_many(conn, "INSERT INTO stats_hours (hour, kind, n)", "(?, ?, ?)",
                 [(*key, n) for key, n in hours.items()],
                 " ON CONFLICT (hour, kind) DO UPDATE SET n = stats_hours.n + excluded.n")


def roll_up(conn: Conn, timed: Collection[str], counted: Collection[str]) -> None:
    """Fill the roll-up from all the facts (a store upgraded from before it was kept,
    or one whose facts were written without it), in the caller's transaction."""
    conn.execute("DELETE FROM stats_days")
    conn.execute("DELETE FROM stats_hours")
    add(conn, conn.execute("SELECT kind, at, channel_id, operator, start FROM stats_facts"),
        timed, counted)
    _set_upto(conn, _last_event(conn))


# The facts are written with each message, the roll-up in groups after the commits
# (store/later.py): ``stats_meta.rolled_upto`` is the last event whose facts it holds.
# Event ids come in commit order (SQLite has one writer; on PostgreSQL every write
# transaction takes the same lock first), so the facts it lacks are those of the events
# after it; a fact's row is found by its event and its time, which is the event's own
# for a resolution and the message's for a message (stats.py). A read adds those facts
# itself (`days`, `hours`), so the figures never lag.

def catch_up(conn: Conn, timed: Collection[str], counted: Collection[str]) -> int:
    """In the caller's write transaction, add to the roll-up the facts it lacks; how
    many."""
    upto, top = _upto(conn), _last_event(conn)
    if top <= upto:
        return 0
    facts = _facts_after(conn, upto, top)
    add(conn, facts, timed, counted)
    _set_upto(conn, top)
    return len(facts)


def pending(conn: Conn) -> list[Fact]:
    """The facts the stored roll-up lacks."""
    upto, top = _upto(conn), _last_event(conn)
    return [] if top <= upto else _facts_after(conn, upto, top)


def _facts_after(conn: Conn, upto: int, top: int) -> list[Fact]:
    # The events apart (MATERIALIZED): joined directly, SQLite carries their id range
    # over to the facts' key and scans every fact of the same time for each event, and a
    # group of messages shares its time.
    return [tuple(r) for r in conn.execute(  # type: ignore[misc]
        "WITH e AS MATERIALIZED (SELECT id, at, kind, message_id FROM events "
        "WHERE id > ? AND id <= ?) "
        "SELECT f.kind, f.at, f.channel_id, f.operator, f.start FROM e "
        "JOIN stats_facts f ON f.at = e.at AND f.event_id = e.id WHERE e.kind = ? "
        "UNION ALL "
        "SELECT f.kind, f.at, f.channel_id, f.operator, f.start FROM e "
        "JOIN messages m ON m.id = e.message_id "
        "JOIN stats_facts f ON f.at = m.created_at AND f.event_id = e.id WHERE e.kind = ?",
        (upto, top, str(EventKind.CONVERSATION_STATUS), str(EventKind.MESSAGE_NEW)))]


def _upto(conn: Conn) -> int:
    row = conn.execute("SELECT value FROM stats_meta WHERE key = 'rolled_upto'").fetchone()
    return 0 if row is None else int(row[0])


def _set_upto(conn: Conn, upto: int) -> None:
    conn.execute("INSERT INTO stats_meta (key, value) VALUES ('rolled_upto', ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(upto),))


def _last_event(conn: Conn) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]


def whole(start: float, end: float, unit: int) -> tuple[int, int]:
    """The whole units (days, hours) inside [start, end): [first, last)."""
    return math.ceil(start / unit), math.floor(end / unit)


def days(conn: Conn, first: int, last: int, timed: Collection[str]
         ) -> list[tuple[int, str, str, int, float, int | None]]:
    """(channel id, operator, kind, how many, seconds summed, packed buckets or None for
    a count) of days [first, last), summed per channel, operator and kind (a key may
    come twice: the caller adds them up): the counts summed by SQLite, the histograms
    here (one big-integer sum a row), and the facts not rolled up yet (`pending`);
    ``timed``: the kinds that are durations."""
    out: list[tuple[int, str, str, int, float, int | None]] = [
        (c, o, k, n, 0.0, None) for c, o, k, n in conn.execute(
            "SELECT channel_id, operator, kind, sum(n) FROM stats_days "
            "WHERE day >= ? AND day < ? AND buckets IS NULL "
            "GROUP BY channel_id, operator, kind", (first, last))]
    sums: dict[tuple[int, str, str], Histogram] = {}
    for channel_id, operator, kind, n, total, blob in conn.execute(
            "SELECT channel_id, operator, kind, n, total, buckets FROM stats_days "
            "WHERE day >= ? AND day < ? AND buckets IS NOT NULL", (first, last)):
        key = (channel_id, operator, kind)
        h = sums.get(key)
        if h is None:
            sums[key] = h = Histogram()
        h.n += n
        h.total += total
        h.packed += int.from_bytes(blob, "little")
    out += [(c, o, k, h.n, h.total, h.packed) for (c, o, k), h in sums.items()]
    late, _hours = _gather(pending(conn), timed, ())
    out += [(c, o, k, h.n, h.total, h.packed if k in timed else None)
            for (day, c, o, k), h in late.items() if first <= day < last]
    return out


def hours(conn: Conn, first: int, last: int, kinds: Iterable[str]) -> list[tuple[int, str, int]]:
    """(UTC hour, kind, how many) of hours [first, last) and ``kinds`` (counted ones: see
    `add`), the facts not rolled up yet included (an hour and kind may come twice: the
    caller adds them up)."""
    wanted = tuple(kinds)
    marks = ", ".join("?" * len(wanted))
    out: list[tuple[int, str, int]] = [tuple(r) for r in conn.execute(  # type: ignore[misc]
        f"SELECT hour, kind, n FROM stats_hours WHERE hour >= ? AND hour < ? "
        f"AND kind IN ({marks})", (first, last, *wanted))]
    _days, late = _gather(pending(conn), (), wanted)
    out += [(hour, kind, n) for (hour, kind), n in late.items() if first <= hour < last]
    return out
