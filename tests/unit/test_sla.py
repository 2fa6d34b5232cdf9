"""Service-level targets (opchat/sla.py): reading them, whose target applies, when a
dialog is due, and the breaches the figures count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from opchat.config import ConfigError, load_settings
from opchat.hours import WorkClock, WorkingHours
from opchat.inbox import Inbox
from opchat.model import Conversation, Direction, InboundMessage, Status
from opchat.sla import BREACHED, OK, SOON, Sla, Targets, parse_duration

T0 = 1_741_953_600.0  # Friday 2025-03-14 12:00 UTC


@pytest.mark.parametrize(("text", "seconds"), [
    ("45s", 45), ("2m", 120), ("1h30m", 5400), ("1d", 86400), ("2ч", 7200), ("5 м", 300),
    (90, 90), ("1H", 3600)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5", "m5", "0s", -3, 0, True, 1.5, "5m later"])
def test_what_is_no_duration(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


def settings_from(tmp_path: Path, text: str):
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path / "config.toml", tmp_path)


def test_the_config_read_whole(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, """
[channels.shop]
kind = "demo"

[sla]
first_response = "2m"
next_response = 600
resolution = "1d"
warn_before = "30s"
working_hours = true

[sla.channels.shop]
first_response = "1m"

[sla.labels.vip]
first_response = "30s"
""")
    sla = settings.sla
    assert sla == Sla(Targets(120, 600, 86400), {"shop": Targets(first_response=60)},
                      {"vip": Targets(first_response=30)}, 30, True)


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[sla]\nfirst_response = "soon"\n', 2,
     'sla.first_response must be a duration like "90s", "5m", "1h30m" or "2d", not "soon"'),
    ('[sla]\nfirst_respons = "2m"\n', 2, "sla.first_respons"),
    ('[sla.labels.vip]\nresolve = "1d"\n', 2, "sla.labels.vip.resolve"),
    ('[channels.shop]\nkind = "demo"\n[sla.channels.shpo]\nfirst_response = "1m"\n', 3,
     "sla.channels.shpo: there is no channel shpo (channels: shop)"),
    ('[sla]\nworking_hours = "yes"\n', 2, 'sla.working_hours must be true or false, not "yes"'),
    ('[sla]\nwarn_before = "-1m"\n', 2, "sla.warn_before must be a duration"),
])
def test_mistakes_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                         words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, text)
    assert caught.value.line == line
    assert words in caught.value.problem
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}:{line}: ")


def dialog(**changes: object) -> Conversation:
    base = Conversation(id=1, channel_id=1, channel_name="shop", channel_kind="demo",
                        contact_id=1, contact_name="Ivan", status=Status.OPEN, unread=1,
                        waiting_since=T0, last_message_at=T0, preview="hi",
                        preview_direction=Direction.IN, round_start=T0)
    return replace(base, **changes)  # type: ignore[arg-type]


SLA = Sla(Targets(120, 600, 86400), {"shop": Targets(first_response=60)},
          {"vip": Targets(first_response=30), "slow": Targets(first_response=300)})


def test_whose_target_applies() -> None:
    assert SLA.target("first_response", "web") == 120  # the default
    assert SLA.target("first_response", "shop") == 60  # the channel's own
    assert SLA.target("next_response", "shop") == 600  # the channel leaves it to the default
    assert SLA.target("first_response", "shop", ("slow",)) == 300  # a label over the channel
    assert SLA.target("first_response", "shop", ("slow", "vip")) == 30  # the strictest label
    assert Sla().target("first_response", "shop") is None


def test_when_a_dialog_is_due() -> None:
    waiting = dialog()
    assert SLA.state(waiting, T0 + 40) == (OK, SLA.due(waiting))
    state, due = SLA.state(waiting, T0 + 50)  # a fifth of 60 s before: about to breach
    assert (state, due.kind, due.at, due.warn_at) == (SOON, "first_response", T0 + 60, T0 + 48)
    assert SLA.state(waiting, T0 + 61)[0] == BREACHED
    answered_before = dialog(round_answered=True)
    assert SLA.due(answered_before).kind == "next_response"
    assert SLA.due(answered_before).at == T0 + 600
    answered = dialog(waiting_since=None, round_answered=True)
    assert SLA.due(answered).kind == "resolution"  # still owes its resolution
    assert SLA.due(dialog(status=Status.RESOLVED)) is None
    assert SLA.due(dialog(status=Status.SNOOZED)) is None
    assert Sla().due(waiting) is None


def test_deadlines_in_working_hours() -> None:
    """Written on Friday at 17:59 under a one-minute target in working hours (09-18,
    weekdays): due on Monday at 09:00 when the clock counts only working time."""
    hours = WorkingHours.parse("Mon-Fri 09:00-18:00", "UTC")
    work = WorkClock({"shop": hours})
    friday_1759 = T0 + 5 * 3600 + 59 * 60
    monday_0900 = T0 + (2 * 24 + 21) * 3600
    late = dialog(waiting_since=friday_1759, round_start=friday_1759)
    by_calendar = Sla(Targets(first_response=120))
    by_hours = replace(by_calendar, working_hours=True)
    assert by_calendar.due(late, work).at == friday_1759 + 120
    assert by_hours.due(late, work).at == monday_0900 + 60
    assert by_hours.state(late, friday_1759 + 3600, work)[0] == OK  # Friday night: not yet


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[tuple[Inbox, list[float]]]:
    now = [T0]
    box = await Inbox.open(tmp_path, "anna", clock=lambda: now[0])
    yield box, now
    await box.close()


async def test_the_figures_count_what_was_breached(inbox: tuple[Inbox, list[float]]) -> None:
    box, now = inbox

    async def customer(chat: str, at: float, n: int = 1) -> int:
        now[0] = T0 + at
        got = await box.store.inbound.ingest(InboundMessage(
            "shop", chat, f"{chat}-{n}", chat, chat.title(), "hello"))
        return got.conversation_id

    ivan = await customer("ivan", 0)
    now[0] = T0 + 90  # the shop's first response target is 60 s: missed
    await box.send(ivan, "hi")
    await customer("ivan", 100, 2)
    now[0] = T0 + 200  # a next response in 100 s: within 600
    await box.send(ivan, "sure")
    vip = await customer("olga", 0)
    await box.label(vip, "vip")
    now[0] = T0 + 40  # within the shop's 60 s, but Olga is vip: 30 s, missed
    await box.send(vip, "hello Olga")
    [figures] = await box.store.stats.figures(T0 - 1, T0 + 1000, goals=SLA)
    assert figures.count("breached_first_response") == 2
    assert figures.count("breached_next_response") == 0  # the first responses not again
    [plain] = await box.store.stats.figures(T0 - 1, T0 + 1000)
    assert plain.count("breached_first_response") == 0  # no targets asked: none counted
