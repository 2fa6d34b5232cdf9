"""Service-level targets: how soon a dialog must be answered, and resolved (`[sla]`).

    [sla]
    first_response = "2m"      # from the customer's first message of a round
    next_response = "10m"      # from their first unanswered message, once answered before
    resolution = "1d"          # from the start of the round to resolving it
    warn_before = "30s"        # "about to breach" this long before (default: a fifth)
    working_hours = true       # count only each channel's `hours` (default: calendar)

    [sla.channels.shop]        # a channel's own targets, over the defaults
    first_response = "1m"

    [sla.labels.vip]           # a label's, over the channel's (the strictest label wins)
    first_response = "30s"

A dialog's *due* is its nearest deadline: the response it owes (first or next)
while the customer waits, and its resolution while a round is open. The list
marks dialogs about to breach and breached, the app alerts before a breach,
and `opchat stats` counts what was breached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from opchat.model import Status

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opchat.hours import WorkClock
    from opchat.model import Conversation

KINDS = ("first_response", "next_response", "resolution")
OK, SOON, BREACHED = "ok", "soon", "breached"

_UNIT = {"s": 1, "с": 1, "m": 60, "м": 60, "h": 3600, "ч": 3600, "d": 86400, "д": 86400}
_PART = re.compile(r"(\d+)\s*([smhdсмчд])", re.IGNORECASE)


def parse_duration(text: str | int) -> float:
    """ "45s", "2m", "1h30m", "1d", "2ч" or a number of seconds; ValueError if it is none."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError(text)
        return float(text)
    if not isinstance(text, str):
        raise ValueError(text)
    squeezed = "".join(text.split()).lower()
    parts = _PART.findall(squeezed)
    if not squeezed or "".join(n + u for n, u in parts) != squeezed:
        raise ValueError(text)
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(text)
    return float(seconds)


@dataclass(frozen=True)
class Targets:
    """Seconds each may take; None: no target."""

    first_response: float | None = None
    next_response: float | None = None
    resolution: float | None = None

    def of(self, kind: str) -> float | None:
        value: float | None = getattr(self, kind)
        return value


class Due(NamedTuple):
    kind: str  # one of KINDS
    at: float  # the deadline, epoch seconds
    target: float  # the target it comes from, in seconds
    warn_at: float  # from when it is "about to breach"


@dataclass(frozen=True)
class Sla:
    default: Targets = Targets()
    channels: dict[str, Targets] = field(default_factory=dict)
    labels: dict[str, Targets] = field(default_factory=dict)
    warn_before: float | None = None  # None: a fifth of the target
    working_hours: bool = False

    def target(self, kind: str, channel: str, labels: Iterable[str] = ()) -> float | None:
        """The target of ``kind`` for a dialog on ``channel`` with ``labels``."""
        found = [t for label in labels if label in self.labels
                 and (t := self.labels[label].of(kind)) is not None]
        if found:
            return min(found)
        own = self.channels.get(channel)
        if own is not None and own.of(kind) is not None:
            return own.of(kind)
        return self.default.of(kind)

    def warning(self, target: float) -> float:
        """How long before a deadline a dialog is "about to breach"."""
        return min(target, self.warn_before if self.warn_before is not None else target / 5)

    def deadline(self, channel: str, begin: float, target: float,
                 work: WorkClock | None) -> float:
        if self.working_hours and work is not None:
            return work.after(channel, begin, target)
        return begin + target

    def due(self, conversation: Conversation, work: WorkClock | None = None) -> Due | None:
        """The dialog's nearest deadline, or None if it owes nothing with a target."""
        c = conversation
        if c.status not in (Status.OPEN, Status.PENDING):
            return None
        found: list[Due] = []
        owed: list[tuple[str, float | None]] = [
            ("next_response" if c.round_answered else "first_response", c.waiting_since),
            ("resolution", c.round_start)]
        for kind, begin in owed:
            target = self.target(kind, c.channel_name, c.labels)
            if begin is None or target is None:
                continue
            at = self.deadline(c.channel_name, begin, target, work)
            warn_at = self.deadline(c.channel_name, begin, target - self.warning(target), work)
            found.append(Due(kind, at, target, warn_at))
        return min(found, key=lambda d: d.at, default=None)

    def state(self, conversation: Conversation, now: float,
              work: WorkClock | None = None) -> tuple[str, Due | None]:
        due = self.due(conversation, work)
        if due is None:
            return OK, None
        if now >= due.at:
            return BREACHED, due
        return (SOON if now >= due.warn_at else OK), due

    def candidates(self, by: float) -> tuple[float | None, float | None]:
        """(waiting since, round begun) at or before which a dialog may be about to miss
        a response target, a resolution target, at the moment ``by``; None: no such
        target anywhere. A deadline is never earlier than its start plus the target
        (working time runs no faster than the clock), so this drops no dialog."""
        every = (self.default, *self.channels.values(), *self.labels.values())

        def lead(kinds: tuple[str, ...]) -> float | None:
            found = [t - self.warning(t) for targets in every for kind in kinds
                     if (t := targets.of(kind)) is not None]
            return min(found, default=None)

        response, resolution = lead(("first_response", "next_response")), lead(("resolution",))
        return (None if response is None else by - response,
                None if resolution is None else by - resolution)

    def at_risk(self, conversations: Iterable[Conversation], now: float,
                work: WorkClock | None = None) -> tuple[list[Conversation], float | None]:
        """Those of ``conversations`` about to miss a target or having missed it (the
        list's marks), the nearest deadline first; and the next moment another of them
        will be (None: none will)."""
        found: list[tuple[float, int, Conversation]] = []
        later: float | None = None
        for c in conversations:
            state, due = self.state(c, now, work)
            if due is None:
                continue
            if state != OK:
                found.append((due.at, c.id, c))
            elif later is None or due.warn_at < later:
                later = due.warn_at
        found.sort(key=lambda f: (f[0], f[1]))
        return [c for _at, _id, c in found], later

    @property
    def empty(self) -> bool:
        return all(t == Targets() for t in (self.default, *self.channels.values(),
                                            *self.labels.values()))
