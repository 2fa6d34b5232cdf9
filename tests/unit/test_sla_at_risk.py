"""The SLA view's selection (opchat/sla.py `candidates`, `at_risk`) on random dialogs:
the SQL pre-filter never drops a dialog the list marks, and the view is what the
marks say, nearest deadline first."""

from __future__ import annotations

import random

from opchat.hours import WorkClock, WorkingHours
from opchat.model import Conversation, Direction, Status
from opchat.sla import OK, Sla, Targets

T0 = 1_741_953_600.0  # Friday 2025-03-14 12:00 UTC


def dialog(rng: random.Random, n: int) -> Conversation:
    waiting = T0 - rng.uniform(0, 20_000) if rng.random() < 0.7 else None
    start = (waiting or T0) - rng.uniform(0, 50_000) if rng.random() < 0.8 else None
    return Conversation(
        id=n, channel_id=1, channel_name=rng.choice(("shop", "site")), channel_kind="demo",
        contact_id=n, contact_name=f"c{n}", unread=1, last_message_at=T0, preview="hi",
        preview_direction=Direction.IN,
        status=rng.choice((Status.OPEN, Status.PENDING, Status.SNOOZED)),
        waiting_since=waiting, round_start=start, round_answered=rng.random() < 0.5,
        labels=("vip",) if rng.random() < 0.2 else ())


def test_candidates_keep_every_dialog_at_risk_and_at_risk_is_the_marks() -> None:
    rng = random.Random(7)
    sla = Sla(Targets(first_response=600, next_response=1800, resolution=86400),
              {"site": Targets(first_response=120)}, {"vip": Targets(resolution=3600)},
              working_hours=True)
    work = WorkClock({"shop": WorkingHours.parse("Mon-Fri 09:00-18:00", "UTC")})
    dialogs = [dialog(rng, n) for n in range(400)]
    for now in (T0, T0 + 777, T0 + 50_000):
        waiting_before, round_before = sla.candidates(now)
        assert waiting_before is not None and round_before is not None
        marked = [c for c in dialogs if sla.state(c, now, work)[0] != OK]
        assert marked
        for c in marked:  # what SQL selects: waiting or round begun early enough
            assert ((c.waiting_since is not None and c.waiting_since <= waiting_before)
                    or (c.round_start is not None and c.round_start <= round_before))
        found, later = sla.at_risk(dialogs, now, work)
        assert {c.id for c in found} == {c.id for c in marked}
        dues = [sla.due(c, work).at for c in found]  # type: ignore[union-attr]
        assert dues == sorted(dues)
        assert later is not None and later > now
        assert later == min(d.warn_at for c in dialogs if (d := sla.due(c, work)) is not None
                            and sla.state(c, now, work)[0] == OK)


def test_no_target_of_a_kind_leaves_it_out() -> None:
    waiting_before, round_before = Sla(Targets(first_response=60)).candidates(T0)
    assert waiting_before == T0 - 48 and round_before is None  # a fifth: warned at 48 s
    assert Sla().candidates(T0) == (None, None)
