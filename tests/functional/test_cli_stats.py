"""`opchat stats` as a user runs it: a real process over a store with a known history."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from tests.functional.test_cli import run

T0 = 1_741_953_600.0  # 2025-03-14 12:00:00 UTC
UTC = {"TZ": "UTC"}
RANGE = ("--from", "2025-03-14", "--to", "2025-03-15")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def seed(data_dir: Path) -> None:
    """Ivan (Telegram) answered by anna after 40 s, then resolved; Olga (web) answered
    by boris after 90 s; Petr (web) resolved by boris with no answer; and on the 16th,
    outside the range, one more customer."""

    async def go() -> None:
        clock = Clock()
        anna = await Inbox.open(data_dir, "anna", clock=clock)
        boris = await Inbox.open(data_dir, "boris", clock=clock)

        async def customer(channel: str, chat: str, at: float) -> int:
            clock.now = T0 + at
            got = await anna.store.inbound.ingest(InboundMessage(
                channel, chat, f"{chat}-{at}", chat, chat.title(), "hello"))
            return got.conversation_id

        ivan = await customer("telegram", "ivan", 0)
        olga = await customer("web", "olga", 10)
        petr = await customer("web", "petr", 20)
        clock.now = T0 + 40
        await anna.send(ivan, "hi Ivan")
        clock.now = T0 + 100
        await boris.send(olga, "hi Olga")
        clock.now = T0 + 200
        await anna.set_status(ivan, Status.RESOLVED)
        await boris.set_status(petr, Status.RESOLVED)
        await customer("web", "later", 2 * 86400)
        await boris.close()
        await anna.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(go())


def test_the_whole_period_for_a_person(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    done = run(tmp_path, "stats", *RANGE, "--lang", "en", env=UTC)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "From 2025-03-14 00:00 to 2025-03-16 00:00"
    shown = {line[:27].strip(): line[27:].strip() for line in lines[1:]}
    assert shown["Dialogs started"] == "3"
    assert shown["Resolved"] == "2"
    assert shown["Missed (no human answer)"] == "1"
    assert shown["Messages in / out"] == "3 / 2"
    assert shown["First response"] == "median 1m 5s · P90 1m 25s · mean 1m 5s · 2 in all"
    assert shown["Answered within 30s / 60s"] == "0% / 50%"


def test_grouped_for_scripts(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    done = run(tmp_path, "stats", *RANGE, "--by", "operator", "--format", "csv", env=UTC)
    assert done.returncode == 0, done.stderr
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert rows["anna"]["first_response_median_s"] == "40.0"
    assert rows["boris"]["first_response_median_s"] == "90.0"
    assert (rows["boris"]["missed"], rows["boris"]["resolved"]) == ("1", "1")
    assert rows[""]["started"] == "3"  # what no operator did: the customers' side

    done = run(tmp_path, "stats", *RANGE, "--by", "channel", "--format", "json", env=UTC)
    assert done.returncode == 0, done.stderr
    by_channel = {r["group"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert set(by_channel) == {"telegram", "web"}
    assert by_channel["web"]["started"] == 2
    assert by_channel["web"]["first_response_within_60s"] == 0.0
    assert by_channel["telegram"]["from"] == "2025-03-14T00:00:00+00:00"


def test_rebuild_prints_the_same_figures(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    live = run(tmp_path, "stats", *RANGE, "--by", "day", "--format", "json", env=UTC)
    rebuilt = run(tmp_path, "stats", *RANGE, "--by", "day", "--format", "json", "--rebuild",
                  env=UTC)
    assert live.returncode == rebuilt.returncode == 0
    assert live.stdout == rebuilt.stdout and live.stdout.count("\n") == 1


def test_mistakes_are_told_in_words(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    done = run(tmp_path, "stats", "--from", "14.03.2025", "--lang", "en")
    assert done.returncode == 2 and "'14.03.2025' is not a date" in done.stderr
    assert "Traceback" not in done.stderr
    done = run(tmp_path, "stats", "--from", "2025-03-15", "--to", "2025-03-14", "--lang", "ru")
    assert done.returncode == 2
    assert "период кончается раньше, чем начинается" in done.stderr
    done = run(tmp_path, "stats", "--period", "7d", "--from", "2025-03-14", "--lang", "en")
    assert done.returncode == 2 and "either --period or --from/--to" in done.stderr
    done = run(tmp_path, "stats", *RANGE, "--by", "weekday", "--lang", "en")
    assert done.returncode == 2 and "invalid choice: 'weekday'" in done.stderr


def test_an_empty_period_says_so(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    done = run(tmp_path, "stats", "--from", "2024-01-01", "--to", "2024-01-02", "--lang", "ru",
               env=UTC)
    assert done.returncode == 0
    assert done.stdout.splitlines()[1] == "За этот период ничего не было."


def test_working_hours_leave_out_the_weekend(tmp_path: Path) -> None:
    """Friday 17:50 to Monday 09:10 is 2d 15h by the calendar, 20 minutes of work."""
    (tmp_path / "config.toml").write_text(
        '[channels.shop]\nkind = "demo"\nhours = "Mon-Fri 09:00-18:00"\ntimezone = "UTC"\n')

    async def go() -> None:
        clock = Clock()
        clock.now = T0 + 5 * 3600 + 50 * 60  # Friday 17:50
        inbox = await Inbox.open(tmp_path / "data", "anna", clock=clock)
        got = await inbox.store.inbound.ingest(InboundMessage(
            "shop", "ivan", "ivan-1", "ivan", "Ivan", "are you there?"))
        clock.now = T0 + (2 * 24 + 21) * 3600 + 10 * 60  # Monday 09:10
        await inbox.send(got.conversation_id, "good morning")
        await inbox.close()

    (tmp_path / "data").mkdir()
    asyncio.run(go())
    week = ("--from", "2025-03-14", "--to", "2025-03-17", "--lang", "en")
    calendar = run(tmp_path, "stats", *week, env=UTC)
    working = run(tmp_path, "stats", *week, "--working-hours", env=UTC)
    assert calendar.returncode == working.returncode == 0, calendar.stderr + working.stderr
    assert "median 2d 15h · P90 2d 15h" in calendar.stdout
    assert "in working hours" in working.stdout.splitlines()[0]
    assert "median 20m · P90 20m · mean 20m · 1 in all" in working.stdout
    done = run(tmp_path, "stats", *week, "--format", "json", env=UTC)
    [figures] = map(json.loads, done.stdout.splitlines())
    assert figures["first_response_median_s"] == (2 * 24 + 15) * 3600 + 20 * 60
    assert figures["first_response_work_median_s"] == 1200.0
