"""What every part of the store is: its own queries over the one Database."""

from __future__ import annotations

from collections.abc import Callable

from opchat.store.db import Database


class Part:
    """One part of :class:`opchat.store.Store` (contacts, quick replies, presence...).

    The parts share nothing but the database and the clock; each reads rows through
    :mod:`opchat.store.rows` and records events through :mod:`opchat.store.changes`.
    A part never calls another: what needs two (a reply that fails and the dialog it
    belongs to) is one transaction written with the helpers both use.
    """

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock
