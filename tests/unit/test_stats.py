"""Response-time figures from hand-built histories with known answers (store/stats.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opchat.inbox import Inbox
from opchat.model import Figures, InboundMessage, Spread, Status
from opchat.store.stats import FIRST_RESPONSE, REPLY, RESOLUTION
from tests.backends import raw

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[tuple[Inbox, Inbox, Clock]]:
    clock = Clock()
    anna = await Inbox.open(tmp_path, "anna", clock=clock)
    boris = await Inbox.open(tmp_path, "boris", clock=clock)
    yield anna, boris, clock
    await boris.close()
    await anna.close()


async def customer(inbox: Inbox, clock: Clock, chat: str, at: float, n: int,
                   channel: str = "web") -> int:
    clock.now = T0 + at
    got = await inbox.store.inbound.ingest(InboundMessage(
        channel=channel, chat_id=chat, external_id=f"{chat}-{n}", sender_id=chat,
        sender_name=chat.title(), body=f"message {n}"))
    return got.conversation_id


async def whole(inbox: Inbox, by: str | None = None) -> list[Figures]:
    return await inbox.store.stats.figures(T0 - 10, T0 + 100_000, by)


async def test_a_dialog_with_two_rounds(box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, _, clock = box
    conv = await customer(anna, clock, "ivan", 0, 1)
    await customer(anna, clock, "ivan", 20, 2)  # still the same wait: from 0, not 20
    clock.now = T0 + 50
    await anna.send(conv, "hello")  # first response 50, reply 50
    await customer(anna, clock, "ivan", 100, 3)
    clock.now = T0 + 130
    await anna.send(conv, "done")  # reply 30
    clock.now = T0 + 200
    await anna.set_status(conv, Status.RESOLVED)  # resolution 200
    await customer(anna, clock, "ivan", 1000, 4)  # reopened: the clock restarts
    clock.now = T0 + 1010
    await anna.send(conv, "again?")  # first response of round two: 10
    [f] = await whole(anna)
    assert (f.count("started"), f.count("reopened"), f.count("missed")) == (1, 1, 0)
    assert (f.count("in"), f.count("out")) == (4, 3)
    assert f.spread(FIRST_RESPONSE) == Spread(2, 30.0, pytest.approx(46.0), 30.0)
    assert sorted(await _values(anna, REPLY)) == [10.0, 30.0, 50.0]
    assert f.spread(RESOLUTION).count == 1 and f.spread(RESOLUTION).median == 200.0
    assert f.within == {30.0: 0.5, 60.0: 1.0}


async def test_automatic_answers_and_notes_are_no_response(
        box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, _, clock = box
    conv = await customer(anna, clock, "olga", 0, 1)
    trigger = (await anna.store.messages.for_chat("web", "olga"))[-1].id
    clock.now = T0 + 1
    assert await anna.store.replies.add_auto_message(conv, "We are closed", ["hours"], trigger)
    clock.now = T0 + 5
    await anna.note(conv, "VIP, answer carefully")
    clock.now = T0 + 90
    await anna.send(conv, "Hello Olga")
    [f] = await whole(anna)
    assert f.spread(FIRST_RESPONSE).median == 90.0
    assert f.count("out") == 1  # the automatic answer and the note are not replies


async def test_resolved_without_a_reply_is_missed(box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, boris, clock = box
    conv = await customer(anna, clock, "petr", 0, 1)
    clock.now = T0 + 300
    await boris.set_status(conv, Status.RESOLVED)
    [f] = await whole(anna)
    assert (f.count("missed"), f.spread(RESOLUTION).count) == (1, 1)
    assert f.spread(FIRST_RESPONSE).count == 0
    assert f.within == {30.0: None, 60.0: None}  # no first response: no share, not 0%
    by_operator = {g.key: g for g in await whole(anna, "operator")}
    assert by_operator["boris"].count("missed") == 1
    assert by_operator["boris"].spread(RESOLUTION).median == 300.0


async def test_grouped_by_operator_and_channel(box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, boris, clock = box
    a = await customer(anna, clock, "ivan", 0, 1, channel="telegram")
    b = await customer(anna, clock, "olga", 0, 1, channel="web")
    clock.now = T0 + 40
    await anna.send(a, "hi")
    clock.now = T0 + 70
    await boris.send(b, "hi")
    ops = {g.key: g.spread(FIRST_RESPONSE).median for g in await whole(anna, "operator")}
    assert ops == {"": None, "anna": 40.0, "boris": 70.0}
    chans = {g.key: (g.count("started"), g.spread(FIRST_RESPONSE).median)
             for g in await whole(anna, "channel")}
    assert chans == {"telegram": (1, 40.0), "web": (1, 70.0)}
    await anna.label(a, "vip")
    labels = {g.key: g.count("started") for g in await whole(anna, "label")}
    assert labels == {"vip": 1}


async def test_the_period_bounds_what_is_counted(box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, _, clock = box
    conv = await customer(anna, clock, "ivan", 0, 1)
    clock.now = T0 + 50
    await anna.send(conv, "hi")
    assert await anna.store.stats.figures(T0 + 10, T0 + 100) == [
        Figures("", {"out": 1}, {FIRST_RESPONSE: Spread(1, 50.0, 50.0, 50.0),
                                 REPLY: Spread(1, 50.0, 50.0, 50.0)},
                {30.0: 0.0, 60.0: 1.0})]
    assert await anna.store.stats.figures(T0 + 60, T0 + 100) == []


async def test_rebuild_gives_what_the_live_tables_hold(
        box: tuple[Inbox, Inbox, Clock], tmp_path: Path) -> None:
    anna, boris, clock = box
    a = await customer(anna, clock, "ivan", 0, 1)
    b = await customer(anna, clock, "olga", 5, 1)
    await customer(anna, clock, "ivan", 8, 2)
    clock.now = T0 + 30
    await anna.send(a, "one")
    clock.now = T0 + 35
    await boris.set_status(b, Status.RESOLVED)
    await customer(anna, clock, "olga", 60, 2)
    clock.now = T0 + 61
    await boris.send(b, "two")
    clock.now = T0 + 70
    await anna.set_status(a, Status.SNOOZED)  # not a response, not a resolution
    live = {by: await whole(anna, by) for by in (None, "operator", "channel", "day")}
    assert await anna.store.stats.rebuild() > 0
    assert {by: await whole(anna, by) for by in live} == live


async def test_an_upgraded_store_is_rebuilt_when_first_read(
        box: tuple[Inbox, Inbox, Clock], tmp_path: Path) -> None:
    anna, _, clock = box
    conv = await customer(anna, clock, "ivan", 0, 1)
    clock.now = T0 + 45
    await anna.send(conv, "hi")
    # As a store from before the figures were kept: tables empty, not marked built.
    raw(tmp_path, "DELETE FROM stats_facts")
    raw(tmp_path, "UPDATE conversations SET stats_round_start = NULL, "
                  "stats_waiting_start = NULL, stats_responded = 0, stats_rounds = 0")
    raw(tmp_path, "DELETE FROM stats_meta")
    [f] = await whole(anna)
    assert f.spread(FIRST_RESPONSE).median == 45.0


async def _values(inbox: Inbox, kind: str) -> list[float]:
    def run(conn: Any) -> list[float]:
        return [r[0] for r in conn.execute(
            "SELECT at - start FROM stats_facts WHERE kind = ?", (kind,))]
    return await inbox.store.db.read(run)


async def test_the_screen_s_report(box: tuple[Inbox, Inbox, Clock]) -> None:
    anna, boris, clock = box
    for n, (chat, wait) in enumerate((("ivan", 20), ("olga", 45), ("petr", 600))):
        conv = await customer(anna, clock, chat, n * 3600, 1)
        clock.now = T0 + n * 3600 + wait
        await (anna if n else boris).send(conv, "hi")
    report = await anna.stats_report(T0 - 10, T0 + 86400)
    assert report.whole is not None and report.whole.count("started") == 3
    assert report.first_responses == (1, 1, 0, 0, 1, 0, 0)  # ≤30s, ≤1m, …, ≤15m
    assert [f.key for f in report.by_operator] == ["", "anna", "boris"]
    assert len(report.by_hour) == 3  # one dialog an hour
    assert sum(f.count("started") for f in report.by_day) == 3
    empty = await anna.stats_report(T0 - 100, T0 - 10)
    assert empty.whole is None and empty.first_responses == (0,) * 7
