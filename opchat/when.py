"""Moments an operator picks: "in an hour", "tomorrow 9:00", "next week", or typed.

Pure functions of "now" and the local time zone, so snooze choices are the
same in tests on every machine and every day of the year (DST included).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from opchat.i18n import _

MORNING = 9  # o'clock: when "tomorrow" and "next week" begin

_SPAN = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$", re.IGNORECASE)
_SPAN_WORDS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")
_DATE_CLOCK = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2})[:.](\d{2}))?\s*$")


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
    """A moment typed by an operator: "2h", "30m", "3d", "1w", "18:30" (the next one),
    "2026-12-01" (9:00 that day) or "2026-12-01 14:00". ValueError (with what went
    wrong, for the operator) when it is none of these or is not in the future."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    if match := _SPAN.match(text):
        amount, unit = int(match[1]), match[2].lower()
        if amount == 0:
            raise ValueError(_("give a time in the future"))
        return now + timedelta(**{_SPAN_WORDS[unit]: amount}).total_seconds()
    if match := _CLOCK.match(text):
        hour, minute = int(match[1]), int(match[2])
        _check_clock(hour, minute)
        moment = _at(local.year, local.month, local.day, hour, minute, local.tzinfo)
        if moment <= now:
            day = (local + timedelta(days=1)).date()
            moment = _at(day.year, day.month, day.day, hour, minute, local.tzinfo)
        return moment
    if match := _DATE_CLOCK.match(text):
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
    raise ValueError(_("not a time: {text} (try 2h, 18:30 or 2026-12-01 14:00)",
                       text=repr(text.strip())))


def _check_clock(hour: int, minute: int) -> None:
    if hour > 23 or minute > 59:
        raise ValueError(_("no such time of day: {time}", time=f"{hour}:{minute:02d}"))


def _at(year: int, month: int, day: int, hour: int, minute: int, tz: tzinfo | None) -> float:
    """Epoch seconds of a wall-clock time; a time skipped by DST moves forward."""
    if tz is None or not hasattr(tz, "key"):
        # A fixed offset from astimezone(): let the system's local time decide.
        return datetime(year, month, day, hour, minute).timestamp()
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()
