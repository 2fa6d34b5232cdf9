"""Moments an operator picks: "in an hour", "tomorrow 9:00", "next week", or typed.

Pure functions of "now" and the local time zone, so snooze choices are the
same in tests on every machine and every day of the year (DST included).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from opchat.i18n import _

MORNING = 9  # o'clock: when "tomorrow" and "next week" begin

# What a person types for "in 2 hours", "in 30 minutes"..., in English and Russian.
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "м", "мин", "минута", "минуты",
                     "минут", "минуту"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "ч", "час", "часа", "часов"), "hours"),
    **dict.fromkeys(("d", "day", "days", "д", "дн", "день", "дня", "дней"), "days"),
    **dict.fromkeys(("w", "wk", "week", "weeks", "н", "нед", "неделя", "недели", "недель",
                     "неделю"), "weeks"),
}
# Patterns of what an operator types (a snooze's time), compiled when first used (`re`
# keeps them), not at the start of every process that shows a time.
_SPAN = r"^(\d{1,4})\s*([^\W\d_]+)$"
# Days by name: how many days from today, or (for a weekday) its number, Monday 0.
_DAYS_FROM_TODAY = {"today": 0, "сегодня": 0, "tomorrow": 1, "завтра": 1, "послезавтра": 2}
_WEEKDAYS = {
    **{name: n for n, names in enumerate((
        ("mon", "monday", "пн", "понедельник"), ("tue", "tues", "tuesday", "вт", "вторник"),
        ("wed", "wednesday", "ср", "среда", "среду"), ("thu", "thursday", "чт", "четверг"),
        ("fri", "friday", "пт", "пятница", "пятницу"),
        ("sat", "saturday", "сб", "суббота", "субботу"),
        ("sun", "sunday", "вс", "воскресенье"))) for name in names},
}
_DAY_CLOCK = (r"^(?:(?:в|во|on|next)\s+)?([^\W\d_]+)"
              r"(?:\s+(?:(?:в|at)\s+)?(\d{1,2})[:.](\d{2}))?$")
_CLOCK = r"^\s*(\d{1,2})[:.](\d{2})\s*$"
_DATE_CLOCK = r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2})[:.](\d{2}))?\s*$"
_SHORT_UNITS = (("{n}d", 86400), ("{n}h", 3600), ("{n}m", 60))


def short_duration(seconds: float) -> str:
    """ "45s", "3m", "2h", "1d" (in Russian "45с", "3м", "2ч", "1д"): how long a customer
    has waited, in one short word."""
    seconds = max(0, int(seconds))
    for label, unit in _SHORT_UNITS:
        if seconds >= unit:
            return _(label, n=seconds // unit)
    return _("{n}s", n=seconds)


def duration(seconds: float | None) -> str:
    """ "42s", "3m 5s", "2h 10m", "1d 3h" (two units at most); "–" for none."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    for unit, smaller in ((86400, 3600), (3600, 60), (60, 1)):
        if whole >= unit:
            rest = whole % unit // smaller * smaller
            return short_duration(whole) + (f" {short_duration(rest)}" if rest else "")
    return short_duration(whole)


def share(value: float | None) -> str:
    """A share as a whole percentage; "–" when there was nothing to share."""
    return "–" if value is None else f"{value:.0%}"


def stats_period(name: str | None, start: float | None, end: float | None,
                 now: float) -> tuple[float, float]:
    """[start, end) of the figures asked for: "today", "yesterday", "7d" or "30d", or a
    range (start and end as given, defaulting to a week ago and now). What ends "now"
    ends a second later, so what happened this very moment is in."""
    midnight = datetime.combine(datetime.fromtimestamp(now).date(),
                                datetime.min.time()).timestamp()
    if name == "today":
        return midnight, now + 1
    if name == "yesterday":
        day_before = datetime.fromtimestamp(midnight).date() - timedelta(days=1)
        return datetime.combine(day_before, datetime.min.time()).timestamp(), midnight
    if name in ("7d", "30d"):
        return now - (30 if name == "30d" else 7) * 86400, now + 1
    return (now - 7 * 86400 if start is None else start), (now + 1 if end is None else end)


def in_an_hour(now: float) -> float:
    return now + 3600


def tomorrow_morning(now: float, tz: tzinfo | None = None) -> float:
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    day = (local + timedelta(days=1)).date()
    return _at(day.year, day.month, day.day, MORNING, 0, local.tzinfo)


def next_week(now: float, tz: tzinfo | None = None) -> float:
    """Monday 9:00 of the next week."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    day = (local + timedelta(days=7 - local.weekday())).date()
    return _at(day.year, day.month, day.day, MORNING, 0, local.tzinfo)


def parse_moment(text: str, now: float, tz: tzinfo | None = None) -> float:
    """A moment typed by an operator: "2h", "30m", "3d", "1w" (or "2ч", "30 мин", "1д",
    "1н"), "18:30" (the next one), "tomorrow 10:00" / "завтра в 10:00", a weekday ("mon",
    "пн 14:00"), "2026-12-01" (9:00 that day) or "2026-12-01 14:00". ValueError (with what
    went wrong, for the operator) when it is none of these or is not in the future."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    words = " ".join(text.lower().split())
    if (match := re.match(_SPAN, words)) and match[2] in _UNITS:
        amount = int(match[1])
        if amount == 0:
            raise ValueError(_("give a time in the future"))
        return now + timedelta(**{_UNITS[match[2]]: amount}).total_seconds()
    if (match := re.match(_DAY_CLOCK, words)) and (
            match[1] in _DAYS_FROM_TODAY or match[1] in _WEEKDAYS):
        return _named_day(match[1], match[2], match[3], text.strip(), local, now)
    if match := re.match(_CLOCK, text):
        hour, minute = int(match[1]), int(match[2])
        _check_clock(hour, minute)
        moment = _at(local.year, local.month, local.day, hour, minute, local.tzinfo)
        if moment <= now:
            day = (local + timedelta(days=1)).date()
            moment = _at(day.year, day.month, day.day, hour, minute, local.tzinfo)
        return moment
    if match := re.match(_DATE_CLOCK, text):
        hour = int(match[4]) if match[4] else MORNING
        minute = int(match[5]) if match[5] else 0
        _check_clock(hour, minute)
        try:
            moment = _at(int(match[1]), int(match[2]), int(match[3]), hour, minute, local.tzinfo)
        except ValueError as exc:
            raise ValueError(_("no such date: {text}", text=text.strip())) from exc
        if moment <= now:
            raise ValueError(_("{text} has already passed", text=text.strip()))
        return moment
    raise ValueError(_("not a time: {text} (try 2h, 18:30, tomorrow 10:00 or "
                       "2026-12-01 14:00)", text=repr(text.strip())))


def _named_day(day: str, hour_text: str | None, minute_text: str | None, text: str,
               local: datetime, now: float) -> float:
    """ "tomorrow 10:00", "завтра", "пн 14:00": 9:00 when no time is given. A weekday is
    today's if that moment is still ahead, else next week's."""
    if hour_text is None and _DAYS_FROM_TODAY.get(day) == 0:
        raise ValueError(_("give a time in the future"))
    hour = int(hour_text) if hour_text else MORNING
    minute = int(minute_text) if minute_text else 0
    _check_clock(hour, minute)
    if day in _DAYS_FROM_TODAY:
        ahead = _DAYS_FROM_TODAY[day]
    else:
        ahead = (_WEEKDAYS[day] - local.weekday()) % 7
    date = (local + timedelta(days=ahead)).date()
    moment = _at(date.year, date.month, date.day, hour, minute, local.tzinfo)
    if moment <= now:
        if day in _DAYS_FROM_TODAY:
            raise ValueError(_("{text} has already passed", text=text))
        date = (local + timedelta(days=ahead + 7)).date()
        moment = _at(date.year, date.month, date.day, hour, minute, local.tzinfo)
    return moment


def _check_clock(hour: int, minute: int) -> None:
    if hour > 23 or minute > 59:
        raise ValueError(_("no such time of day: {time}", time=f"{hour}:{minute:02d}"))


def _at(year: int, month: int, day: int, hour: int, minute: int, tz: tzinfo | None) -> float:
    """Epoch seconds of a wall-clock time; a time skipped by DST moves forward."""
    if tz is None or not hasattr(tz, "key"):
        # A fixed offset from astimezone(): let the system's local time decide.
        return datetime(year, month, day, hour, minute).timestamp()
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()
