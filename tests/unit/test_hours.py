"""Working hours: parsing, timezones, midnight, the clock changes of Europe/Berlin."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opchat.hours import WorkClock, WorkingHours
from tests.tools import missing

if "Europe/Berlin" not in zoneinfo.available_timezones():  # pragma: no cover
    missing("no zone database here (apt-get install tzdata, or pip install tzdata)")


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


OFFICE = "Mon-Fri 09:00-18:00, Sat 10:00-14:00"


def test_an_office_week_in_berlin_winter() -> None:
    hours = WorkingHours.parse(OFFICE, "Europe/Berlin")
    # 2025-03-14 is a Friday; Berlin is UTC+1 until the 30th.
    assert not hours.is_open(utc(2025, 3, 14, 7, 59, 59))  # 08:59:59 local
    assert hours.is_open(utc(2025, 3, 14, 8, 0))  # 09:00
    assert hours.is_open(utc(2025, 3, 14, 16, 59, 59))  # 17:59:59
    assert not hours.is_open(utc(2025, 3, 14, 17, 0))  # 18:00: closed, the end is not in
    assert hours.is_open(utc(2025, 3, 15, 9, 0))  # Saturday 10:00
    assert not hours.is_open(utc(2025, 3, 15, 13, 0))  # Saturday 14:00
    assert not hours.is_open(utc(2025, 3, 16, 11, 0))  # Sunday
    # Friday evening: next Saturday 10:00; Saturday afternoon: Monday 09:00.
    assert hours.next_open(utc(2025, 3, 14, 17, 0)) == utc(2025, 3, 15, 9, 0)
    assert hours.next_open(utc(2025, 3, 15, 13, 30)) == utc(2025, 3, 17, 8, 0)
    at = utc(2025, 3, 14, 12, 0)
    assert hours.next_open(at) == at  # open now: now


def test_the_same_instant_in_other_zones() -> None:
    at = utc(2025, 3, 14, 12, 0)  # Friday 13:00 Berlin, 21:00 Tokyo, 08:00 New York
    assert WorkingHours.parse(OFFICE, "Europe/Berlin").is_open(at)
    assert not WorkingHours.parse(OFFICE, "Asia/Tokyo").is_open(at)
    assert not WorkingHours.parse(OFFICE, "America/New_York").is_open(at)
    # New York opens an hour later (it moved its clocks on March 9th: UTC-4).
    assert WorkingHours.parse(OFFICE, "America/New_York").next_open(at) == utc(2025, 3, 14, 13)


def test_summer_time_keeps_the_wall_clock() -> None:
    hours = WorkingHours.parse(OFFICE, "Europe/Berlin")
    # July: UTC+2, so 09:00 local is 07:00 UTC.
    assert not hours.is_open(utc(2025, 7, 4, 6, 59))
    assert hours.is_open(utc(2025, 7, 4, 7, 0))
    assert not hours.is_open(utc(2025, 7, 4, 16, 0))


def test_spring_forward_in_berlin() -> None:
    # Sunday 2025-03-30: at 01:00 UTC the clocks jump from 02:00 to 03:00.
    hours = WorkingHours.parse("Sun 01:00-04:00", "Europe/Berlin")
    assert not hours.is_open(utc(2025, 3, 29, 23, 59, 59))
    assert hours.is_open(utc(2025, 3, 30, 0, 0))  # 01:00 CET
    assert hours.is_open(utc(2025, 3, 30, 1, 59, 59))  # 03:59:59 CEST
    assert not hours.is_open(utc(2025, 3, 30, 2, 0))  # 04:00 CEST: two hours, not three
    # Opening at a time the clock skips: it opens when the clock jumps past it.
    skipped = WorkingHours.parse("Sun 02:30-06:00", "Europe/Berlin")
    assert not skipped.is_open(utc(2025, 3, 30, 0, 59, 59))  # 01:59:59 CET
    assert skipped.next_open(utc(2025, 3, 30, 0, 30)) == utc(2025, 3, 30, 1, 0)
    assert skipped.is_open(utc(2025, 3, 30, 1, 0))  # 03:00 CEST


def test_fall_back_in_berlin() -> None:
    # Sunday 2025-10-26: at 01:00 UTC the clocks go back from 03:00 to 02:00.
    hours = WorkingHours.parse("Sun 01:00-04:00", "Europe/Berlin")
    assert hours.is_open(utc(2025, 10, 25, 23, 0))  # 01:00 CEST
    assert hours.is_open(utc(2025, 10, 26, 2, 59, 59))  # 03:59:59 CET
    assert not hours.is_open(utc(2025, 10, 26, 3, 0))  # four hours, not three
    # A time that happens twice opens at its first occurrence, and again at the second.
    twice = WorkingHours.parse("Sun 02:30-02:45", "Europe/Berlin")
    assert twice.next_open(utc(2025, 10, 26, 0, 0)) == utc(2025, 10, 26, 0, 30)  # CEST
    assert not twice.is_open(utc(2025, 10, 26, 0, 50))
    assert twice.next_open(utc(2025, 10, 26, 0, 50)) == utc(2025, 10, 26, 1, 30)  # CET


def test_next_open_across_a_clock_change() -> None:
    hours = WorkingHours.parse(OFFICE, "Europe/Berlin")
    # Saturday 2025-03-29 14:00 CET; the clocks change on Sunday; Monday 09:00 is CEST.
    assert hours.next_open(utc(2025, 3, 29, 13, 0)) == utc(2025, 3, 31, 7, 0)
    # And back in October: Monday 27th 09:00 CET is 08:00 UTC.
    assert hours.next_open(utc(2025, 10, 25, 12, 0)) == utc(2025, 10, 27, 8, 0)


def test_a_range_across_midnight_belongs_to_the_night_it_starts() -> None:
    hours = WorkingHours.parse("Fri 22:00-02:00", "UTC")
    assert not hours.is_open(utc(2025, 3, 14, 21, 59))  # Friday
    assert hours.is_open(utc(2025, 3, 14, 22, 0))
    assert hours.is_open(utc(2025, 3, 15, 1, 59))  # Saturday night
    assert not hours.is_open(utc(2025, 3, 15, 2, 0))
    assert not hours.is_open(utc(2025, 3, 13, 23, 0))  # Thursday night is not Friday's
    assert hours.next_open(utc(2025, 3, 15, 3, 0)) == utc(2025, 3, 21, 22, 0)
    # Sunday night runs into Monday: across the end of the week.
    sunday = WorkingHours.parse("Sun 22:00-02:00", "UTC")
    assert sunday.is_open(utc(2025, 3, 17, 1, 0))  # Monday 01:00
    assert not sunday.is_open(utc(2025, 3, 10, 23, 0))  # Monday 23:00


def test_round_the_clock() -> None:
    hours = WorkingHours.parse("24/7", "Europe/Berlin")
    for at in (utc(2025, 3, 30, 1, 30), utc(2025, 10, 26, 1, 30), utc(2025, 12, 25, 3)):
        assert hours.is_open(at) and hours.next_open(at) == at
    assert hours.describe() == "24/7"
    whole_days = WorkingHours.parse("Sat-Sun 00:00-24:00", "UTC")
    assert whole_days.is_open(utc(2025, 3, 16, 23, 59, 59))
    assert not whole_days.is_open(utc(2025, 3, 17, 0, 0))


def test_russian_days_and_other_spellings_mean_the_same() -> None:
    english = WorkingHours.parse("Mon-Fri 09:00-18:00, Sat 10:00-14:00", "Europe/Moscow")
    for spec in ("Пн-Пт 09:00-18:00; Сб 10:00-14:00", "пн–пт 9:00–18:00, сб 10:00-14:00",
                 "monday-friday 09:00-18:00, SATURDAY 10:00-14:00",
                 "Mon, Tue, Wed, Thu, Fri 09:00-18:00, Sat 10:00-14:00"):
        assert WorkingHours.parse(spec, "Europe/Moscow").spans == english.spans, spec
    assert english.describe() == "Mon–Fri 09:00–18:00, Sat 10:00–14:00"
    assert english.describe("ru") == "Пн–Пт 09:00–18:00, Сб 10:00–14:00"


def test_no_days_means_every_day_and_ranges_of_days_wrap_the_week() -> None:
    daily = WorkingHours.parse("10:00-12:00", "UTC")
    assert all(daily.is_open(utc(2025, 3, day, 11)) for day in range(10, 17))
    weekend = WorkingHours.parse("Fri-Mon 10:00-12:00", "UTC")
    open_days = [day for day in range(10, 17) if weekend.is_open(utc(2025, 3, day, 11))]
    assert open_days == [10, 14, 15, 16]  # Monday, Friday, Saturday, Sunday
    split = WorkingHours.parse("Mon-Fri 09:00-13:00 14:00-18:00", "UTC")
    assert split.is_open(utc(2025, 3, 14, 12)) and not split.is_open(utc(2025, 3, 14, 13, 30))
    assert split.next_open(utc(2025, 3, 14, 13, 30)) == utc(2025, 3, 14, 14)


@pytest.mark.parametrize(("spec", "names"), [
    ("", "empty"),
    ("Mno-Fri 09:00-18:00", "'Mno'"),
    ("Mon-Fri 9-18", "'9-18'"),
    ("Mon-Fri 09:00-25:00", "'09:00-25:00'"),
    ("Mon-Fri 24:00-18:00", "'24:00-18:00'"),
    ("Mon 09:60-10:00", "'09:60-10:00'"),
    ("Mon 10:00-10:00", "empty range"),
    ("Mon-Fri", "no time range"),
    ("Mon-Fri 09:00-18:00, Sat", "no time range"),
    ("Mon- 09:00-18:00", "'Mon-'"),
    ("Mon,,Tue 10:00-11:00", "empty item"),
    ("Mon 09:00", "'09:00'"),
])
def test_a_bad_spec_says_what_is_wrong(spec: str, names: str) -> None:
    with pytest.raises(ValueError) as error:
        WorkingHours.parse(spec, "UTC")
    assert names in str(error.value) and "working hours" in str(error.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "/etc/localtime"])
def test_an_unknown_timezone_is_named(zone: str) -> None:
    with pytest.raises(ValueError) as error:
        WorkingHours.parse("24/7", zone)
    assert "timezone" in str(error.value)
    if zone:
        assert repr(zone) in str(error.value)


@settings(max_examples=60, deadline=None)
@given(at=st.floats(min_value=utc(2024, 1, 1), max_value=utc(2027, 1, 1)),
       zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]))
def test_next_open_is_open_and_nothing_before_it_is(at: float, zone: str) -> None:
    hours = WorkingHours.parse("Mon-Fri 09:00-18:00, Sun 02:30-03:00", zone)
    found = hours.next_open(at)
    assert found is not None and found >= at and hours.is_open(found)
    # Sampled every five minutes before it (the shortest opening is 30): closed.
    probe = at
    while probe < found:
        assert not hours.is_open(probe)
        probe += 300.0
    if found > at:
        assert not hours.is_open(max(at, found - 0.5))


# Working time between two moments (WorkClock), as response times in working hours count.

def _berlin(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


@pytest.mark.parametrize(("spec", "begin", "end", "minutes"), [
    # Friday evening to Monday morning: 10 minutes on Friday, 10 on Monday.
    ("Mon-Fri 09:00-18:00", "2026-12-04 17:50", "2026-12-07 09:10", 20),
    ("Mon-Fri 09:00-18:00", "2026-12-05 10:00", "2026-12-05 12:00", 0),  # a Saturday
    ("Mon-Fri 09:00-18:00", "2026-12-07 08:00", "2026-12-07 08:59", 0),  # before opening
    ("Fri 22:00-02:00", "2026-12-04 21:00", "2026-12-05 03:00", 240),  # across midnight
    ("Mon 10:00-12:00 14:00-16:00", "2026-12-07 11:00", "2026-12-07 15:00", 120),
    # The clocks go forward on 29 March 2026 (02:00 → 03:00): that day has 23 hours.
    ("00:00-24:00", "2026-03-28 12:00", "2026-03-29 12:00", 23 * 60),
    # …and back on 25 October: 25 hours.
    ("00:00-24:00", "2026-10-24 12:00", "2026-10-25 12:00", 25 * 60),
    # A year of weekdays: 261 of them, nine hours each.
    ("Mon-Fri 09:00-18:00", "2025-12-01 09:00", "2026-12-01 09:00", 261 * 9 * 60),
])
def test_working_time_between_two_moments(spec: str, begin: str, end: str,
                                          minutes: int) -> None:
    clock = WorkClock({"shop": WorkingHours.parse(spec, "Europe/Berlin")})
    assert clock.seconds("shop", _berlin(begin), _berlin(end)) == minutes * 60


def test_working_time_without_hours_is_calendar_time() -> None:
    clock = WorkClock({"web": None, "tg": WorkingHours.parse("24/7", "Europe/Berlin")})
    begin, end = _berlin("2026-12-05 10:00"), _berlin("2026-12-05 12:00")
    assert clock.seconds("web", begin, end) == clock.seconds("tg", begin, end) == 7200
    assert clock.seconds("unknown channel", begin, end) == 7200
    assert not clock.has_hours


def test_working_time_asked_far_apart_stays_consistent() -> None:
    """The openings are laid out as asked; asking a moment far off grows them without
    changing what earlier answers said."""
    clock = WorkClock({"shop": WorkingHours.parse("Mon-Fri 09:00-18:00", "Europe/Berlin")})
    near = clock.seconds("shop", _berlin("2026-12-07 09:00"), _berlin("2026-12-07 10:00"))
    far = clock.seconds("shop", _berlin("2024-01-01 09:00"), _berlin("2026-12-07 10:00"))
    again = clock.seconds("shop", _berlin("2026-12-07 09:00"), _berlin("2026-12-07 10:00"))
    assert near == again == 3600 and far > 700 * 9 * 3600
