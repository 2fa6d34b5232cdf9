"""Working hours: "Mon-Fri 09:00-18:00, Sat 10:00-14:00" in a named timezone.

The web chat uses them to say whether operators are expected now and when they
will be; automatic answers ("we are closed, we open at 09:00") reuse them.

A spec is a list of items separated by commas or semicolons. Each item is some
days and one or more time ranges::

    Mon-Fri 09:00-18:00, Sat 10:00-14:00
    Пн-Пт 09:00-18:00; Сб 10:00-14:00
    Mon, Wed 10:00-13:00 14:00-19:00       # days before a time belong to it
    Fri 22:00-02:00                        # crosses midnight: Friday night to Saturday 02:00
    09:00-18:00                            # no days: every day
    24/7

Days are English (Mon, Tue… or any unambiguous prefix of the full name, in any
case) or Russian (Пн, Вт, Ср, Чт, Пт, Сб, Вс, or the full names); ranges of days
may wrap the week (Fri-Mon). ``24:00`` may end a range. Times are wall-clock
times in the timezone: a shop that opens at 09:00 opens at 09:00 in summer and
in winter, and on the night the clocks jump an hour the range is as long or as
short as the clock on the wall says.

Standard library only (``zoneinfo``); the zone database comes from the system
(``/usr/share/zoneinfo``) or the ``tzdata`` package.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opchat.i18n import _

WEEK = 7 * 24 * 60  # minutes
DAY = 24 * 60

_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RU_DAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
_RU_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_SHORT = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
          "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")}
_ALWAYS = {"24/7", "24x7", "always", "круглосуточно"}
_EVERY_DAY = {"daily", "everyday", "ежедневно"}

_TIME_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})$")
_TOKEN = re.compile(r"\d{1,2}:\d{2}\s*[-–—]\s*\d{1,2}:\d{2}|[^\s,;]+")


def _day(word: str) -> int:
    """Monday = 0 for an English or Russian day name; ValueError naming the word."""
    lower = word.lower().rstrip(".")
    if lower in _RU_SHORT:
        return _RU_SHORT.index(lower)
    for names in (_EN_DAYS, _RU_DAYS):
        found = [i for i, name in enumerate(names) if len(lower) >= 2 and name.startswith(lower)]
        if len(found) == 1:
            return found[0]
    raise ValueError(_("working hours: {word} is not a day (Mon, Tue… or Пн, Вт…)",
                       word=repr(word)))


def _days(word: str) -> list[int]:
    """"Mon", "Mon-Fri" or "Fri-Mon" (wrapping the week) as weekday numbers."""
    if word.lower() in _EVERY_DAY:
        return list(range(7))
    if word[:1].isdigit():
        raise ValueError(_("working hours: {word} is not a time range (like 09:00-18:00)",
                           word=repr(word)))
    parts = re.split(r"[-–—]", word)
    if len(parts) == 1:
        return [_day(word)]
    if len(parts) != 2 or not all(parts):
        raise ValueError(_("working hours: {word} is not a range of days (like Mon-Fri)",
                           word=repr(word)))
    start, end = _day(parts[0]), _day(parts[1])
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _minutes(hours: str, minutes: str, text: str, end: bool) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise ValueError(_("working hours: {word} is not a time range (like 09:00-18:00)",
                           word=repr(text)))
    return h * 60 + m


@dataclass(frozen=True, slots=True)
class Span:
    """One opening, in minutes from Monday 00:00 local time; ``end`` may pass the week's end."""

    start: int
    end: int


@dataclass(frozen=True)
class WorkingHours:
    zone: ZoneInfo
    spans: tuple[Span, ...]  # empty with always=True
    always: bool = False
    spec: str = ""

    # Reading a spec ---------------------------------------------------------------------

    @classmethod
    def parse(cls, spec: str, tz: str) -> WorkingHours:
        """Working hours from ``spec`` in timezone ``tz``; ValueError saying what is wrong."""
        zone = timezone(tz)
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(_("working hours are empty (write e.g. \"Mon-Fri 09:00-18:00\" "
                               "or \"24/7\")"))
        text = " ".join(spec.split())
        if text.lower() in _ALWAYS:
            return cls(zone, (), always=True, spec=text)
        spans: list[Span] = []
        days: list[int] = []  # days read since the last time range
        ranged = False  # the days in `days` have had a time range already
        for item in re.split(r"[,;]", text):
            if not item.strip():
                raise ValueError(_("working hours: an empty item in {text}", text=repr(text)))
            for token in _TOKEN.findall(item):
                match = _TIME_RANGE.match(token)
                if match is None:
                    if ranged:  # "Mon 9:00-12:00 Tue 10:00-11:00": a new group starts
                        days, ranged = [], False
                    days += _days(token)
                    continue
                start = _minutes(match[1], match[2], token, end=False)
                end = _minutes(match[3], match[4], token, end=True)
                if start == end:
                    raise ValueError(_("working hours: {word} is an empty range", word=repr(token)))
                if end < start:
                    end += DAY  # past midnight, into the next day
                for day in days or range(7):
                    spans.append(Span(day * DAY + start, day * DAY + end))
                ranged = True
            if days and not ranged:
                continue  # "Mon, Wed 10:00-12:00": these days belong to the next item's time
            days, ranged = [], False
        if days and not ranged:
            raise ValueError(_("working hours: {text} ends with days but no time range "
                               "(like 09:00-18:00)", text=repr(text)))
        return cls(zone, tuple(sorted(spans, key=lambda s: (s.start, s.end))), spec=text)

    # Asking ---------------------------------------------------------------------------

    def is_open(self, at: float) -> bool:
        """Open at ``at`` (epoch seconds), by the wall clock of the zone."""
        if self.always:
            return True
        # Whole seconds: rounding to microseconds could put 08:59:59.9999999 at 09:00.
        local = datetime.fromtimestamp(math.floor(at), self.zone)
        minute = local.weekday() * DAY + local.hour * 60 + local.minute + local.second / 60
        return any(s.start <= m < s.end for s in self.spans for m in (minute, minute + WEEK))

    def next_open(self, at: float) -> float | None:
        """``at`` if open then, else the first moment after it that is open; None: never."""
        if self.is_open(at):
            return at
        if not self.spans:
            return None
        # Opening happens when the wall clock reaches a span's start, or when it jumps
        # into a span (a DST change): try both kinds of moment in the coming week.
        start_day = datetime.fromtimestamp(at, self.zone).date()
        candidates: set[float] = set(self._transitions(at, at + 8 * 86400))
        for offset in range(-1, 9):
            day = start_day + timedelta(days=offset)
            for span in self.spans:
                if span.start // DAY != day.weekday():
                    continue
                wall = span.start % DAY
                for fold in (0, 1):  # an ambiguous time happens twice; a missing one never
                    when = _epoch(day, wall, self.zone, fold)
                    if when is not None:
                        candidates.add(when)
        for when in sorted(c for c in candidates if c > at):
            if self.is_open(when):
                return when
        return None

    def _transitions(self, begin: float, end: float) -> list[float]:
        """Moments in (begin, end] when the zone's UTC offset changes, to the second."""
        found = []
        step = 3600.0
        t = begin
        offset = _offset(self.zone, t)
        while t < end:
            nxt = min(t + step, end)
            new = _offset(self.zone, nxt)
            if new != offset:
                lo, hi = t, nxt  # offset(lo) == offset, offset(hi) != offset
                while hi - lo > 1:
                    mid = (lo + hi) // 2 if hi - lo > 2 else lo + 1
                    if _offset(self.zone, mid) == offset:
                        lo = mid
                    else:
                        hi = mid
                found.append(float(hi))
                offset = new
            t = nxt
        return found

    def describe(self, lang: str = "en") -> str:
        """The hours in a normal form, e.g. "Mon–Fri 09:00–18:00, Sat 10:00–14:00"."""
        if self.always:
            return "круглосуточно" if lang.startswith("ru") else "24/7"
        names = _SHORT["ru" if lang.startswith("ru") else "en"]
        times: dict[int, list[tuple[int, int]]] = {}  # weekday -> its ranges
        for span in self.spans:
            day, start = divmod(span.start, DAY)
            times.setdefault(day, []).append((start, start + span.end - span.start))
        groups: dict[tuple[tuple[int, int], ...], list[int]] = {}  # same ranges -> days
        for day in sorted(times):
            groups.setdefault(tuple(sorted(times[day])), []).append(day)
        return ", ".join(
            _day_runs(days, names) + " "
            + " ".join(f"{_clock(start)}–{_clock(end if end == DAY else end % DAY)}"
                       for start, end in ranges)
            for ranges, days in groups.items())


def timezone(name: str) -> ZoneInfo:
    """The zone called ``name`` (e.g. "Europe/Berlin"); ValueError if there is none."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(_("working hours need a timezone, e.g. \"Europe/Berlin\""))
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(_("unknown timezone {name} (a name like \"Europe/Berlin\"; "
                           "install the tzdata package if the system has no zone database)",
                           name=repr(name))) from None


def _offset(zone: ZoneInfo, at: float) -> timedelta | None:
    return datetime.fromtimestamp(at, zone).utcoffset()


def _epoch(day: date, minute: int, zone: ZoneInfo, fold: int) -> float | None:
    """The moment the zone's wall clock shows ``day`` + ``minute``; None if it never does."""
    local = datetime.combine(day, time(minute // 60, minute % 60), zone).replace(fold=fold)
    when = local.timestamp()
    back = datetime.fromtimestamp(when, zone)
    if (back.date(), back.hour, back.minute) != (day, minute // 60, minute % 60):
        return None  # skipped by a spring-forward change
    return when


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_runs(days: list[int], names: tuple[str, ...]) -> str:
    if len(days) == 7:
        return f"{names[0]}–{names[6]}"
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(names[r[0]] if len(r) == 1 else f"{names[r[0]]}–{names[r[-1]]}"
                     for r in runs)



class WorkClock:
    """Working time between two moments, by each channel's hours (a channel without
    hours, or open 24/7, works all the time): what a customer waited while someone
    was expected to answer.

    Each channel's openings are laid out once as moments (DST included: a range is
    as long as the wall clock says), with running totals, so a duration costs two
    binary searches however long it is.
    """

    def __init__(self, hours: dict[str, WorkingHours | None]) -> None:
        self.hours = hours
        # channel -> (first day, last day, interval starts, ends, open seconds before each)
        self._laid: dict[str, tuple[date, date, list[float], list[float], list[float]]] = {}

    @classmethod
    def of(cls, channels: Iterable[Any]) -> WorkClock:
        """The clock of configured channels (config.ChannelSettings: their `auto.hours`)."""
        return cls({c.name: c.auto.hours if c.auto is not None else None for c in channels})

    @property
    def has_hours(self) -> bool:
        """Whether any channel keeps hours (else working time is calendar time)."""
        return any(h is not None and not h.always for h in self.hours.values())

    def seconds(self, channel: str, begin: float, end: float) -> float:
        """Working seconds in [begin, end) on ``channel``."""
        if end <= begin:
            return 0.0
        hours = self.hours.get(channel)
        if hours is None or hours.always:
            return end - begin
        laid = self._covering(channel, hours, begin, end)
        return max(0.0, _open_until(laid, end) - _open_until(laid, begin))

    def after(self, channel: str, begin: float, seconds: float) -> float:
        """The moment ``seconds`` of working time after ``begin`` on ``channel``."""
        hours = self.hours.get(channel)
        if hours is None or hours.always or seconds <= 0:
            return begin + max(0.0, seconds)
        days = max(14.0, seconds / 86400 * 3)
        while True:  # lay out enough days ahead to hold that much working time
            laid = self._covering(channel, hours, begin, begin + days * 86400)
            starts, ends, before = laid
            goal = _open_until(laid, begin) + seconds
            total = before[-1] + ends[-1] - starts[-1] if starts else 0.0
            if goal <= total:
                n = bisect.bisect_left([b + e - s for b, s, e in zip(before, starts, ends,
                                                                     strict=True)], goal)
                return starts[n] + goal - before[n]
            if days > 3660:  # ten years of hours without that much time: never open
                return math.inf
            days *= 2

    def _covering(self, channel: str, hours: WorkingHours, begin: float, end: float,
                  ) -> tuple[list[float], list[float], list[float]]:
        """The channel's openings laid out over days that hold ``begin`` and ``end``."""
        low = datetime.fromtimestamp(begin, hours.zone).date() - timedelta(days=1)
        high = datetime.fromtimestamp(end, hours.zone).date() + timedelta(days=1)
        laid = self._laid.get(channel)
        if laid is None or not (laid[0] <= low and high <= laid[1]):
            if laid is not None:  # grow what is there, so repeated asks stay cheap
                low, high = min(low, laid[0]), max(high, laid[1])
            laid = (low - timedelta(days=7), high + timedelta(days=7),
                    *_lay_out(hours, low - timedelta(days=7), high + timedelta(days=7)))
            self._laid[channel] = laid
        return laid[2], laid[3], laid[4]


def _open_until(laid: tuple[list[float], list[float], list[float]], at: float) -> float:
    """Open seconds from the start of the laid-out days to ``at``."""
    starts, ends, before = laid
    n = bisect.bisect_right(starts, at) - 1
    if n < 0:
        return 0.0
    return before[n] + min(at, ends[n]) - starts[n]


def _lay_out(hours: WorkingHours, first: date, last: date,
             ) -> tuple[list[float], list[float], list[float]]:
    """The openings from ``first`` to ``last`` as merged [start, end) moments, and the
    open seconds before each."""
    found: list[tuple[float, float]] = []
    day = first
    while day <= last:
        for span in hours.spans:
            weekday, start = divmod(span.start, DAY)
            if weekday != day.weekday():
                continue
            later, end = divmod(span.end - weekday * DAY, DAY)
            found.append((_wall(day, start, hours.zone),
                          _wall(day + timedelta(days=later), end, hours.zone)))
        day += timedelta(days=1)
    starts: list[float] = []
    ends: list[float] = []
    for s, e in sorted(found):
        if starts and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    before, total = [], 0.0
    for s, e in zip(starts, ends, strict=True):
        before.append(total)
        total += e - s
    return starts, ends, before


def _wall(day: date, minute: int, zone: ZoneInfo) -> float:
    """The moment the wall clock shows ``minute`` past midnight of ``day`` (a time the
    clocks skip is read with the offset before the change, as the wall clock runs on)."""
    return datetime.combine(day, time(minute // 60, minute % 60), zone).timestamp()
