"""Snooze moments: fixed choices and typed ones, in a named time zone and across DST."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from opchat.when import in_an_hour, next_week, parse_moment, tomorrow_morning

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, tz: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(moment: float, tz: ZoneInfo = BERLIN) -> str:
    return datetime.fromtimestamp(moment, tz).strftime("%Y-%m-%d %H:%M %a")


def test_fixed_choices() -> None:
    friday_evening = at("2026-11-27 18:20")
    assert in_an_hour(friday_evening) == friday_evening + 3600
    assert local(tomorrow_morning(friday_evening, BERLIN)) == "2026-11-28 09:00 Sat"
    assert local(next_week(friday_evening, BERLIN)) == "2026-11-30 09:00 Mon"
    # On a Monday, "next week" is the Monday after, not today.
    assert local(next_week(at("2026-11-30 08:00"), BERLIN)) == "2026-12-07 09:00 Mon"


def test_tomorrow_across_the_spring_dst_change() -> None:
    # Clocks go forward on 2026-03-29 in Berlin: that day has 23 hours.
    assert local(tomorrow_morning(at("2026-03-28 10:00"), BERLIN)) == "2026-03-29 09:00 Sun"
    assert local(parse_moment("1d", at("2026-03-28 10:00"), BERLIN)) == "2026-03-29 11:00 Sun"


@pytest.mark.parametrize(("typed", "expected"), [
    ("2h", "2026-11-27 20:20 Fri"),
    ("30m", "2026-11-27 18:50 Fri"),
    (" 1W ", "2026-12-04 18:20 Fri"),
    ("19:00", "2026-11-27 19:00 Fri"),
    ("08.15", "2026-11-28 08:15 Sat"),  # already past today: tomorrow
    ("2026-12-01", "2026-12-01 09:00 Tue"),
    ("2026-12-01 14:05", "2026-12-01 14:05 Tue"),
])
def test_typed_moments(typed: str, expected: str) -> None:
    assert local(parse_moment(typed, at("2026-11-27 18:20"), BERLIN)) == expected


@pytest.mark.parametrize("typed", ["", "soon", "0h", "25:00", "12:60", "2026-02-30",
                                   "2026-11-01", "2026-11-27 18:00", "-3h", "{x}"])
def test_bad_moments_say_why(typed: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_moment(typed, at("2026-11-27 18:20"), BERLIN)
    assert str(caught.value)
