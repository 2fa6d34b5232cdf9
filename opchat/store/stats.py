"""How fast dialogs are answered: figures kept as the events happen, read for a period.

Every `message.new` and `conversation.status` event is folded, in the transaction
that records it, into the dialog's ``stats_*`` columns (when its current round
began, since when the customer has waited, whether a human has answered yet) and
``stats_facts`` (one row per fact: a dialog started or reopened, a message in or
out, a first response, a reply, a resolution, a dialog resolved with no human
answer; clustered by time, so a message adds one page to its commit). A report
reads facts in a time range, never messages. `rebuild` folds the whole events
log again with the same code, so what it produces is what the live tables hold.

The definitions, as help desks define them:

- a *round* of a dialog runs from the customer's first message (of the dialog,
  or after it was resolved) to its resolution;
- *first response*: from the start of the round to the first human reply;
- *reply time*: each human reply minus the moment the customer began waiting
  (their first unanswered message, not the last);
- *resolution*: from the start of the round to its resolution;
- *missed*: a round resolved with no human reply in it.

Automatic answers, menus and private notes are never a response. An answer
written in the platform's own app (`sent elsewhere`) is a human one, by an
operator opchat does not know. Times are the messages' own (``created_at``),
so a message fetched late still counts from when the customer wrote it.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, cast

from opchat.model import Direction, EventKind, Figures, Spread, StatsReport, Status
from opchat.store import rollup
from opchat.store.db import Database, row_value
from opchat.store.later import CatchUp
from opchat.store.part import Part
from opchat.store.rollup import Histogram
from opchat.store.sql import Conn, Dialect, dialect, execute_many

T = TypeVar("T")

STARTED, REOPENED, MISSED = "started", "reopened", "missed"
IN, OUT = "in", "out"
FIRST_RESPONSE, REPLY, RESOLUTION = "first_response", "reply", "resolution"
DURATIONS = (FIRST_RESPONSE, REPLY, RESOLUTION)
COUNTS = (STARTED, REOPENED, MISSED, IN, OUT)  # dialogs resolved: RESOLUTION's count
HOURLY = (OUT, STARTED, REOPENED)  # what the charts by hour of day and by day count
WITHIN = (30.0, 60.0)  # the shares of first responses reported, in seconds


class MessageRow(NamedTuple):
    """What folding a `message.new` reads of the message and its dialog (`_message`)."""

    direction: str
    created_at: float
    channel_id: int
    rated: bool
    stats_round_start: float | None
    stats_waiting_start: float | None
    stats_responded: int
    stats_rounds: int


def fold(conn: Conn, event_id: int, at: float, kind: str, conversation_id: int | None,
         message_id: int | None, operator: str | None, data: Mapping[str, Any]) -> None:
    """Bring the figures up to date with one event (called by `changes.record_event`,
    in the transaction that records it; and by `rebuild`, for every event in order).
    The ingest does the same for an inbound message itself, with what it has at hand
    (`message_step`, `add_fact`: store/inbound.py)."""
    if conversation_id is None:
        return
    if kind == EventKind.MESSAGE_NEW and message_id is not None:
        _message(conn, event_id, conversation_id, message_id, operator)
    elif kind == EventKind.CONVERSATION_STATUS and data.get("to") == Status.RESOLVED.value:
        _resolved(conn, event_id, at, conversation_id, operator)


# One row of stats_facts: (at, event id, kind, dialog, channel id, operator, start).
Fact = tuple[float, int, str, int, int, str, float | None]
# A dialog's figures as its stats_* columns hold them: (round start, waiting since,
# responded, rounds).
Round = tuple[float | None, float | None, int, int]


def add_fact(conn: Conn, event_id: int, kind: str, at: float, conversation_id: int,
             channel_id: int, operator: str | None = None, start: float | None = None) -> None:
    conn.execute("INSERT INTO stats_facts (at, event_id, kind, conversation_id, channel_id, "
                 "operator, start) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (at, event_id, kind, conversation_id, channel_id, operator or "", start))


def add_facts(conn: Conn, facts: Sequence[Fact]) -> None:
    """Write facts as `add_fact` does each, in one statement (the roll-up follows them
    later: store/rollup.py)."""
    execute_many(conn, "INSERT INTO stats_facts (at, event_id, kind, conversation_id, "
                 "channel_id, operator, start)", "(?, ?, ?, ?, ?, ?, ?)", facts)


def message_step(direction: str, t: float, was: Round, operator: str | None
                 ) -> tuple[list[tuple[str, str, float | None]], Round]:
    """What a message in (``direction`` "in") or out at ``t`` makes of a dialog whose
    figures were ``was``: its facts, each (kind, operator, start), and the figures
    after it. No I/O: the one definition `fold` and a group's ingest both follow."""
    round_start, waiting, responded, rounds = was[0], was[1], bool(was[2]), was[3]
    facts: list[tuple[str, str, float | None]] = []
    if direction == Direction.IN:
        facts.append((IN, "", None))
        if round_start is None:
            round_start, responded, rounds = t, False, rounds + 1
            facts.append((STARTED if rounds == 1 else REOPENED, "", None))
        if waiting is None:
            waiting = t
    else:
        author = operator or ""
        facts.append((OUT, author, None))
        if waiting is not None:
            facts.append((REPLY, author, waiting))
            if not responded and round_start is not None:
                facts.append((FIRST_RESPONSE, author, round_start))
                responded = True
            waiting = None
    return facts, (round_start, waiting, int(responded), rounds)


def _message(conn: Conn, event_id: int, conversation_id: int, message_id: int,
             operator: str | None) -> None:
    row = conn.execute(
        "SELECT m.direction, m.created_at, m.channel_id, "
        f"{dialect(conn).json('m.meta', 'rating')} IS NOT NULL AS rated, "
        "c.stats_round_start, c.stats_waiting_start, c.stats_responded, c.stats_rounds "
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.id = ?", (message_id,)).fetchone()
    if row is None:
        return
    m = MessageRow(*row)  # the columns in MessageRow's order
    if m.direction not in (Direction.IN, Direction.OUT) or m.rated:
        return  # notes and automatic answers are no one's response; a rating, no new round
    t, channel_id = m.created_at, m.channel_id
    was = (m.stats_round_start, m.stats_waiting_start, int(bool(m.stats_responded)),
           m.stats_rounds)
    facts, now = message_step(m.direction, t, was, operator)
    for kind, author, start in facts:  # one or two: `add_facts` would cost more here
        add_fact(conn, event_id, kind, t, conversation_id, channel_id, author, start)
    if now != was:
        conn.execute("UPDATE conversations SET stats_round_start = ?, stats_waiting_start = ?, "
                     "stats_responded = ?, stats_rounds = ? WHERE id = ?",
                     (*now, conversation_id))


def _resolved(conn: Conn, event_id: int, at: float, conversation_id: int,
              operator: str | None) -> None:
    c = conn.execute("SELECT channel_id, stats_round_start, stats_responded "
                     "FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if c is None or c["stats_round_start"] is None:
        return  # resolved before the customer wrote anything: no round to count
    channel_id, start = c["channel_id"], c["stats_round_start"]
    add_fact(conn, event_id, RESOLUTION, at, conversation_id, channel_id, operator, start)
    if not c["stats_responded"]:
        add_fact(conn, event_id, MISSED, at, conversation_id, channel_id, operator, start)
    conn.execute("UPDATE conversations SET stats_round_start = NULL, stats_waiting_start = NULL, "
                 "stats_responded = 0 WHERE id = ?", (conversation_id,))


def rebuild(conn: Conn) -> int:
    """Recompute the figures from the events log, in the caller's transaction; returns
    the number of events folded."""
    conn.execute("DELETE FROM stats_facts")
    conn.execute("DELETE FROM stats_days")
    conn.execute("DELETE FROM stats_hours")
    conn.execute("UPDATE conversations SET stats_round_start = NULL, stats_waiting_start = NULL, "
                 "stats_responded = 0, stats_rounds = 0")
    n = 0
    for e in conn.execute("SELECT id, at, kind, conversation_id, message_id, operator, data "
                          "FROM events WHERE kind IN (?, ?) ORDER BY id",
                          (str(EventKind.MESSAGE_NEW), str(EventKind.CONVERSATION_STATUS))
                          ).fetchall():
        try:
            data = json.loads(e["data"])
        except ValueError:
            data = {}
        fold(conn, e["id"], e["at"], e["kind"], e["conversation_id"], e["message_id"],
             e["operator"], data if isinstance(data, dict) else {})
        n += 1
    conn.execute("INSERT INTO stats_meta (key, value) VALUES ('built', '1') "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    roll_up(conn)
    return n


def roll_up(conn: Conn) -> None:
    """Fill the per-day roll-up from the facts, in the caller's transaction (a store
    upgraded from before it was kept: its first read; a rebuild)."""
    rollup.roll_up(conn, DURATIONS, HOURLY)
    conn.execute("INSERT INTO stats_meta (key, value) VALUES ('rolled', '1') "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


def _key_sql(by: str | None, sql: Dialect) -> tuple[str, str]:
    """(the SQL of a fact's group, the join it needs)."""
    if by is None:
        return "''", ""
    if by == "channel":  # grouped by id, named afterwards: no join per fact
        return "f.channel_id", ""
    if by == "operator":
        return "f.operator", ""
    if by == "label":
        return ("l.name", "JOIN conversation_labels cl ON cl.conversation_id = f.conversation_id "
                "JOIN labels l ON l.id = cl.label_id")
    if by == "hour":
        return sql.local_hour("f.at"), ""
    if by == "day":
        return sql.local_day("f.at"), ""
    raise ValueError(f"unknown grouping: {by}")


Counts = dict[str, dict[str, int]]  # group -> kind -> how many
Durations = list[float] | Histogram  # in seconds: each one, or (a long period) in buckets
Values = dict[str, dict[str, Durations]]  # group -> kind -> durations


class WorkTime(Protocol):
    """Working seconds between two moments on a channel (opchat.hours.WorkClock)."""

    def seconds(self, channel: str, begin: float, end: float) -> float: ...


class Goals(Protocol):
    """Service-level targets (opchat.sla.Sla): seconds each kind may take on a channel
    for a dialog with some labels, counted in working hours or not."""

    working_hours: bool

    def target(self, kind: str, channel: str, labels: Iterable[str] = ()) -> float | None: ...


# Which target each duration answers to: a reply that was also the round's first
# response is judged as a first response only.
_GOAL_OF = {FIRST_RESPONSE: "first_response", REPLY: "next_response",
            RESOLUTION: "resolution"}


def _collect(conn: Conn, start: float, end: float, by: str | None,
             count: tuple[str, ...] = COUNTS, durations: bool = True,
             work: WorkTime | None = None,
             goals: Goals | None = None,
             rolled: bool = True) -> tuple[Counts, Values, Values | None]:
    """The raw figures of [start, end) per group, in calendar time and (``work``) in
    working time, with (``goals``) the breaches of each target counted as
    ``breached_<target>``: two scans of the period at most."""
    return _collect_many(conn, start, end, (by,), count, durations, work, goals, rolled)[by]


def _collect_many(conn: Conn, start: float, end: float, bys: Sequence[str | None],
                  count: tuple[str, ...] = COUNTS, durations: bool = True,
                  work: WorkTime | None = None, goals: Goals | None = None,
                  rolled: bool = True,
                  ) -> dict[str | None, tuple[Counts, Values, Values | None]]:
    """`_collect` for several groupings at once. A long period (``rolled``: LONG_DAYS
    whole days or more) grouped by nothing, channel or operator reads its whole days
    from the roll-up (store/rollup.py) and only the partial days at its edges from
    the facts, its durations then as histograms; working time that differs from
    calendar time and breaches of targets are worked out fact by fact, so they read
    the facts of the whole period. A shorter period, or one whose durations are read
    fact by fact, still reads its whole days' counts from the roll-up
    (`_exact_durations`)."""
    same = work is None or not getattr(work, "has_hours", True)
    first, last = rollup.whole(start, end, rollup.DAY)
    if (not rolled or last <= first
            or any(by not in (None, "channel", "operator") for by in bys)):
        return _collect_facts(conn, start, end, bys, count, durations, work, goals)
    days = rollup.days(conn, first, last, DURATIONS)
    if (last - first < rollup.LONG_DAYS or (durations and (goals is not None or not same))
            or (durations and sum(d[3] for d in days if d[5] is not None)
                <= rollup.EXACT_UP_TO)):
        return _exact_durations(conn, start, end, first, last, bys, count, durations, work,
                                goals, days)
    names = dict(conn.execute("SELECT id, name FROM channels").fetchall())
    out: dict[str | None, tuple[Counts, Values, Values | None]] = {}
    for by in bys:
        values: Values = {}
        out[by] = ({}, values, None if work is None else values)
    for begin, until in ((start, first * rollup.DAY), (last * rollup.DAY, end)):
        if until > begin:
            edge = _collect_facts(conn, begin, until, bys, count, durations, work, None,
                                  ratings=False)
            for by in bys:
                counts, values, _worked = out[by]
                _add_counts(counts, edge[by][0])
                for group, timed in edge[by][1].items():
                    for kind, seconds in timed.items():
                        _hist_of(values.setdefault(group, {}), kind).add(_as_hist(seconds))
    wanted = set(count)
    for channel_id, operator, kind, n, total, packed in days:
        for by in bys:
            group = _day_group(by, names, channel_id, operator)
            counts, values, _worked = out[by]
            if packed is not None:
                if durations:
                    _hist_of(values.setdefault(group, {}), kind).add(
                        Histogram(n, total, packed))
            elif kind in wanted:
                _add_counts(counts, {group: {kind: n}})
    if durations:
        _ratings(conn, start, end, bys, names, out)
    return out


def _exact_durations(conn: Conn, start: float, end: float, first: int, last: int,
                     bys: Sequence[str | None], count: tuple[str, ...], durations: bool,
                     work: WorkTime | None, goals: Goals | None,
                     days: list[tuple[int, str, str, int, float, int | None]],
                     ) -> dict[str | None, tuple[Counts, Values, Values | None]]:
    """`_collect_many` of a period with whole days [first, last) whose durations are
    read exactly, from its facts (and breaches and ratings with them); its counts, exact
    in the roll-up too, from the roll-up's ``days`` and the facts of the partial days at
    its edges only (a week's counts scanned every fact of the week)."""
    out = _collect_facts(conn, start, end, bys, (), durations, work, goals)
    if not count:
        return out
    names = dict(conn.execute("SELECT id, name FROM channels").fetchall())
    for begin, until in ((start, first * rollup.DAY), (last * rollup.DAY, end)):
        if until > begin:
            edge = _collect_facts(conn, begin, until, bys, count, durations=False)
            for by in bys:
                _add_counts(out[by][0], edge[by][0])
    wanted = set(count)
    for channel_id, operator, kind, n, _total, packed in days:
        if packed is None and kind in wanted:
            for by in bys:
                _add_counts(out[by][0], {_day_group(by, names, channel_id, operator): {kind: n}})
    return out


def _add_counts(counts: Counts, more: Counts) -> None:
    for group, kinds in more.items():
        mine = counts.setdefault(group, {})
        for kind, n in kinds.items():
            mine[kind] = mine.get(kind, 0) + n


def _day_group(by: str | None, names: Mapping[int, str], channel_id: int,
               operator: str) -> str:
    """A roll-up row's group in the grouping ``by`` (nothing, channel or operator)."""
    return (names.get(channel_id, str(channel_id)) if by == "channel"
            else operator if by == "operator" else "")


def _hist_of(kinds: dict[str, Durations], kind: str) -> Histogram:
    found = kinds.get(kind)
    if not isinstance(found, Histogram):
        kinds[kind] = found = _as_hist(found or [])
    return found


def _as_hist(seconds: Durations) -> Histogram:
    return seconds if isinstance(seconds, Histogram) else Histogram.of(seconds)


def _ratings(conn: Conn, start: float, end: float, bys: Sequence[str | None],
             names: Mapping[int, str],
             out: dict[str | None, tuple[Counts, Values, Values | None]]) -> None:
    """What customers thought of [start, end), as ``rating_<n>`` counts per group."""
    keys = [_key_sql(by, dialect(conn))[0] for by in bys]
    columns = ", ".join(f"{k} AS k{n}" for n, k in enumerate(keys))
    groups = ", ".join(f"k{n}" for n in range(len(bys)))
    for row in conn.execute(
            f"SELECT {columns}, f.rating, count(*) FROM ratings f "
            f"WHERE f.at >= ? AND f.at < ? GROUP BY {groups}, f.rating", (start, end)):
        for i, by in enumerate(bys):
            group = (names.get(row[i], str(row[i])) if by == "channel" else row[i]) or ""
            counts = out[by][0].setdefault(group, {})
            what = f"rating_{row[len(bys)]}"
            counts[what] = counts.get(what, 0) + row[len(bys) + 1]


def _collect_facts(conn: Conn, start: float, end: float, bys: Sequence[str | None],
                   count: tuple[str, ...] = COUNTS, durations: bool = True,
                   work: WorkTime | None = None, goals: Goals | None = None,
                   ratings: bool = True,
                   ) -> dict[str | None, tuple[Counts, Values, Values | None]]:
    """`_collect` for several groupings at once, from the facts: the counts by each,
    and the durations read in one scan of the period for all of them (no more than
    one may be "label", whose join repeats a fact per label, and then alone)."""
    if "label" in bys and len(bys) > 1:
        raise ValueError("label is grouped alone")
    out: dict[str | None, tuple[Counts, Values, Values | None]] = {}
    names = dict(conn.execute("SELECT id, name FROM channels").fetchall())
    keys, joins = zip(*(_key_sql(by, dialect(conn)) for by in bys), strict=True)
    join = " ".join(dict.fromkeys(j for j in joins if j))
    columns = ", ".join(f"{k} AS k{n}" for n, k in enumerate(keys))
    groups = ", ".join(f"k{n}" for n in range(len(bys)))
    wide = len(bys)
    for by in bys:
        out[by] = ({}, {}, None if work is None else {})

    def group_of(by: str | None, k: Any) -> str:  # channels are grouped by id
        return (names.get(k, str(k)) if by == "channel" else k) or ""

    def add(row: Any, what: str, n: int) -> None:
        for i, by in enumerate(bys):
            counts = out[by][0].setdefault(group_of(by, row[i]), {})
            counts[what] = counts.get(what, 0) + n

    # Every grouping's counts from one scan of the period: grouped by all keys at once
    # (a few hundred rows), then summed per grouping.
    marks = ", ".join("?" * len(count))
    for row in conn.execute(
            f"SELECT {columns}, f.kind, count(*) FROM stats_facts f {join} "
            f"WHERE f.at >= ? AND f.at < ? AND f.kind IN ({marks}) GROUP BY {groups}, f.kind",
            (start, end, *count)) if count else ():
        add(row, row[wide], row[wide + 1])
    if durations and ratings:  # and what customers thought of it, grouped the same way
        for row in conn.execute(
                f"SELECT {columns}, f.rating, count(*) FROM ratings f {join} "
                f"WHERE f.at >= ? AND f.at < ? GROUP BY {groups}, f.rating", (start, end)):
            add(row, f"rating_{row[wide]}", row[wide + 1])
    if not durations:
        return out
    # Working time is calendar time when no channel keeps hours: not worked out twice.
    same = work is None or not getattr(work, "has_hours", True)
    labels = _labels(conn) if goals is not None else {}
    first_of: set[int] = set()  # events that were a round's first response
    # (grouping, group, kind) -> durations: one flat dict, split by group at the end
    flat: dict[tuple[int, Any, str], list[float]] = {}
    flat_work: dict[tuple[int, Any, str], list[float]] = {}
    breached: dict[tuple[int, Any, str], int] = {}
    for row in conn.execute(
            f"SELECT {columns}, f.kind, f.start, f.at, f.channel_id, f.event_id, "
            f"f.conversation_id FROM stats_facts f {join} WHERE f.at >= ? AND f.at < ? "
            "AND f.kind IN (?, ?, ?) ORDER BY f.at, f.event_id, f.kind",
            (start, end, *DURATIONS)):
        kind, begun, ended, channel_id, event_id, conversation_id = row[wide:]
        took = ended - begun if ended > begun else 0.0
        took_work = took
        if not same and work is not None:
            took_work = work.seconds(names.get(channel_id, ""), begun, ended)
        for n in range(wide):
            key = (n, row[n], kind)
            found = flat.get(key)
            if found is None:
                flat[key] = found = []
                flat_work[key] = []
            found.append(took)
            if not same:
                flat_work[key].append(took_work)
        if goals is None:
            continue
        if kind == FIRST_RESPONSE:
            first_of.add(event_id)
        elif kind == REPLY and event_id in first_of:
            continue
        goal = _GOAL_OF[kind]
        target = goals.target(goal, names.get(channel_id, ""),
                              labels.get(conversation_id, ()))
        judged = took_work if goals.working_hours else took
        if target is not None and judged > target:
            for n in range(wide):
                key = (n, row[n], goal)
                breached[key] = breached.get(key, 0) + 1
    for (n, k, kind), seconds in flat.items():
        by = bys[n]
        group = group_of(by, k)
        _counts, values, worked = out[by]
        values.setdefault(group, {})[kind] = seconds
        if worked is not None:
            worked.setdefault(group, {})[kind] = seconds if same else flat_work[(n, k, kind)]
    for (n, k, goal), hits in breached.items():
        out[bys[n]][0].setdefault(group_of(bys[n], k), {})[f"breached_{goal}"] = hits
    return out


def _labels(conn: Conn) -> dict[int, tuple[str, ...]]:
    """Every labelled dialog's labels (for targets set per label)."""
    out: dict[int, tuple[str, ...]] = {}
    for conversation_id, name in conn.execute(
            "SELECT cl.conversation_id, l.name FROM conversation_labels cl "
            "JOIN labels l ON l.id = cl.label_id"):
        out[conversation_id] = (*out.get(conversation_id, ()), name)
    return out


def _within(seconds: Durations) -> dict[float, float | None]:
    if isinstance(seconds, Histogram):
        return {limit: (seconds.at_or_below(limit) / seconds.n if seconds.n else None)
                for limit in WITHIN}
    return {limit: (sum(1 for s in seconds if s <= limit) / len(seconds) if seconds else None)
            for limit in WITHIN}


def _figures(counts: Counts, values: Values, worked: Values | None = None) -> list[Figures]:
    out = []
    for k in sorted(set(counts) | set(values)):
        durations = {kind: spread_of(v) for kind, v in values.get(k, {}).items()}
        within = _within(values.get(k, {}).get(FIRST_RESPONSE, []))
        work = work_within = None
        if worked is not None:
            work = {kind: spread_of(v) for kind, v in worked.get(k, {}).items()}
            work_within = _within(worked.get(k, {}).get(FIRST_RESPONSE, []))
        out.append(Figures(k, counts.get(k, {}), durations, within, work, work_within))
    return out


def figures(conn: Conn, start: float, end: float, by: str | None = None,
            work: WorkTime | None = None, goals: Goals | None = None,
            rolled: bool = True) -> list[Figures]:
    """The figures of facts in [start, end), one row per group (by None: one row); with
    ``work``, the durations in working time too.

    Durations are grouped by who answered (or resolved) for ``by="operator"``;
    counts that have no operator (messages in, dialogs started) fall under "".
    A long period's medians and P90s come from the roll-up's buckets (``rolled``;
    see store/rollup.py for how close they are).
    """
    return _figures(*_collect(conn, start, end, by, work=work, goals=goals, rolled=rolled))


def spread_of(values: Durations) -> Spread:
    if isinstance(values, Histogram):
        if not values.n:
            return Spread()
        return Spread(values.n, values.quantile(0.5), values.quantile(0.9),
                      values.total / values.n)
    if not values:
        return Spread()
    values = sorted(values)
    p90 = (values[0] if len(values) == 1
           else statistics.quantiles(values, n=10, method="inclusive")[8])
    return Spread(len(values), statistics.median(values), p90, statistics.fmean(values))


# The first-response histogram's bars: up to 30 s, to a minute, 2, 5, 15 and 60
# minutes, and longer.
BUCKETS = (30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, math.inf)


def histogram(seconds: Durations) -> tuple[int, ...]:
    """How many of ``seconds`` fall in each bar of BUCKETS."""
    if isinstance(seconds, Histogram):
        up_to = [seconds.at_or_below(limit) for limit in BUCKETS]
        return tuple(n - (up_to[i - 1] if i else 0) for i, n in enumerate(up_to))
    counts = [0] * len(BUCKETS)
    for value in seconds:
        counts[next(n for n, limit in enumerate(BUCKETS) if value <= limit)] += 1
    return tuple(counts)


def _pool(values: Values) -> dict[str, Durations]:
    pooled: dict[str, Durations] = {}
    for group in values.values():
        for kind, seconds in group.items():
            found = pooled.get(kind)
            if isinstance(seconds, Histogram) or isinstance(found, Histogram):
                merged = _as_hist(found or [])
                merged = Histogram(merged.n, merged.total, merged.packed)  # not the group's
                merged.add(_as_hist(seconds))
                pooled[kind] = merged
            else:
                pooled[kind] = [*(found or []), *seconds]
    return pooled


def _local_counts(conn: Conn, start: float, end: float, wanted: Mapping[str, tuple[str, ...]],
                  rolled: bool = True) -> dict[str, Counts]:
    """Counts by local hour of day ("hour") or local day ("day"), of the kinds ``wanted``
    for each: the period's whole hours from the roll-up (when the time zone's offset
    is whole hours at both ends), the rest from the facts."""
    first, last = rollup.whole(start, end, rollup.HOUR)
    whole_hours = all(time.localtime(t).tm_gmtoff % rollup.HOUR == 0 for t in (start, end))
    if not rolled or not whole_hours or last <= first:
        return {by: _collect(conn, start, end, by, kinds, durations=False, rolled=False)[0]
                for by, kinds in wanted.items()}
    out: dict[str, Counts] = {by: {} for by in wanted}

    def add(by: str, group: str, kind: str, n: int) -> None:
        mine = out[by].setdefault(group, {})
        mine[kind] = mine.get(kind, 0) + n

    for begin, until in ((start, first * rollup.HOUR), (last * rollup.HOUR, end)):
        if until > begin:
            for by, kinds in wanted.items():
                edge = _collect(conn, begin, until, by, kinds, durations=False, rolled=False)
                for group, found in edge[0].items():
                    for kind, n in found.items():
                        add(by, group, kind, n)
    every = {kind for kinds in wanted.values() for kind in kinds}
    local: dict[int, dict[str, str]] = {}  # UTC hour -> grouping -> its local key
    for hour, kind, n in rollup.hours(conn, first, last, every):
        keys = local.get(hour)
        if keys is None:
            t = time.localtime(hour * rollup.HOUR)
            local[hour] = keys = {"hour": f"{t.tm_hour:02d}",
                                  "day": f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"}
        for by, kinds in wanted.items():
            if kind in kinds:
                add(by, keys[by], kind, n)
    return out


def report(conn: Conn, start: float, end: float, work: WorkTime | None = None,
           goals: Goals | None = None, rolled: bool = True) -> StatsReport:
    """What the stats screen shows of [start, end), read in one snapshot: six scans of
    the period (the whole is the channels' sum; hours and days count one kind each);
    a long period reads its whole days and hours from the roll-up instead."""
    both = _collect_many(conn, start, end, ("channel", "operator"), work=work, goals=goals,
                         rolled=rolled)
    counts, values, worked = both["channel"]
    local = _local_counts(conn, start, end, {"hour": (OUT,), "day": (STARTED, REOPENED)},
                          rolled)
    total: dict[str, int] = {}
    for group in counts.values():
        for kind, n in group.items():
            total[kind] = total.get(kind, 0) + n
    pooled = _pool(values)
    whole = _figures({"": total} if total else {}, {"": pooled} if pooled else {},
                     None if worked is None else {"": _pool(worked)})
    return StatsReport(
        start, end, whole[0] if whole else None, _figures(counts, values, worked),
        _figures(*both["operator"]),
        _figures(local["hour"], {}), _figures(local["day"], {}),
        histogram(pooled.get(FIRST_RESPONSE, [])), BUCKETS,
        None if worked is None else histogram(_pool(worked).get(FIRST_RESPONSE, [])))


def _catch_up(conn: Conn) -> int:
    return rollup.catch_up(conn, DURATIONS, HOURLY)


def built(conn: Conn) -> bool:
    return row_value(conn.execute("SELECT value FROM stats_meta WHERE key = 'built'")
                     .fetchone()) is not None


def _kept(conn: Conn) -> tuple[bool, bool]:
    """(the facts have been derived from the events, the roll-up from the facts)."""
    found = {r[0] for r in conn.execute(
        "SELECT key FROM stats_meta WHERE key IN ('built', 'rolled')")}
    return "built" in found, "rolled" in found


class StatsStore(Part):
    """`Store.stats`: the figures of a period, and rebuilding them from the events log."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__(db, clock)
        # The roll-up follows the commits in groups (store/later.py).
        self.later = CatchUp(db, "stats_facts", _catch_up, "the figures' roll-up")

    async def catch_up_or_log(self) -> None:
        """Roll up the facts not rolled up yet, in a transaction of its own; a failure is
        logged (the figures read them anyway, and the next commit tries again)."""
        await self.later.now_or_log()

    async def close(self) -> None:
        await self.later.close()

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one snapshot, where the figures are kept. A store
        upgraded from before they were gets them rebuilt from its events, once; one from
        before the roll-up, the roll-up from its facts; then it reads. (Asked in the
        read's own snapshot: a second round trip to the reader's thread cost the stats
        screen tens of milliseconds while the app draws.)"""

        def run(conn: Conn) -> tuple[bool, bool, T | None]:
            facts, rolled = _kept(conn)
            return facts, rolled, fn(conn, *args) if facts and rolled else None

        facts, rolled, found = await self.db.read(run)
        if facts and rolled:
            return cast(T, found)
        if not facts:
            await self.rebuild()
        else:
            await self.db.write(roll_up)
        return await self.db.read(fn, *args)

    async def figures(self, start: float, end: float, by: str | None = None,
                      work: WorkTime | None = None,
                      goals: Goals | None = None) -> list[Figures]:
        """The figures for [start, end) (see `figures`)."""
        return await self._read(figures, start, end, by, work, goals)

    async def report(self, start: float, end: float, work: WorkTime | None = None,
                     goals: Goals | None = None) -> StatsReport:
        """Everything the stats screen shows of [start, end) (see `report`)."""
        return await self._read(report, start, end, work, goals)

    async def rebuild(self) -> int:
        """Recompute the figures, and their roll-up, from the events log, in one
        transaction."""
        return await self.db.write(rebuild)
