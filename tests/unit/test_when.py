"""Snooze moments: fixed choices and typed ones, in a named time zone and across DST."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from opchat.i18n import set_language
from opchat.when import in_an_hour, next_week, parse_moment, short_duration, tomorrow_morning

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


@pytest.fixture
def russian() -> Iterator[None]:
    set_language("ru")
    try:
        yield
    finally:
        set_language("en")


@pytest.mark.parametrize(("typed", "expected"), [
    ("2ч", "2026-11-27 20:20 Fri"),
    ("30м", "2026-11-27 18:50 Fri"),
    ("30 мин", "2026-11-27 18:50 Fri"),
    ("1д", "2026-11-28 18:20 Sat"),
    ("1н", "2026-12-04 18:20 Fri"),
    ("90min", "2026-11-27 19:50 Fri"),
    ("завтра", "2026-11-28 09:00 Sat"),
    ("Завтра 10:30", "2026-11-28 10:30 Sat"),
    ("завтра в 10:30", "2026-11-28 10:30 Sat"),
    ("tomorrow 8:00", "2026-11-28 08:00 Sat"),
    ("в понедельник", "2026-11-30 09:00 Mon"),
    ("пн 14:00", "2026-11-30 14:00 Mon"),
    ("monday", "2026-11-30 09:00 Mon"),
    ("fri", "2026-12-04 09:00 Fri"),  # today is Friday: the next one
    ("пятница 19:00", "2026-11-27 19:00 Fri"),  # later today
    ("сегодня 20:00", "2026-11-27 20:00 Fri"),
    ("today 20:00", "2026-11-27 20:00 Fri"),
])
def test_typed_moments_in_russian_and_in_words(typed: str, expected: str) -> None:
    assert local(parse_moment(typed, at("2026-11-27 18:20"), BERLIN)) == expected


@pytest.mark.parametrize("typed", ["сегодня 10:00", "today", "завтра 25:00", "2ы", "0ч"])
def test_bad_word_moments_say_why(typed: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_moment(typed, at("2026-11-27 18:20"), BERLIN)
    assert str(caught.value)


def test_the_hint_in_russian_shows_russian_units(russian: None) -> None:
    with pytest.raises(ValueError) as caught:
        parse_moment("скоро", at("2026-11-27 18:20"), BERLIN)
    assert "2ч" in str(caught.value) and "завтра" in str(caught.value)


@pytest.mark.parametrize(("seconds", "english", "russian_text"), [
    (45, "45s", "45с"), (180, "3m", "3м"), (7200, "2h", "2ч"), (90000, "1d", "1д")])
def test_wait_times_in_both_languages(seconds: int, english: str, russian_text: str) -> None:
    assert short_duration(seconds) == english
    set_language("ru")
    try:
        assert short_duration(seconds) == russian_text
    finally:
        set_language("en")
