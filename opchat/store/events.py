"""The events table as a feed: where it ends, where a replay starts, what came after."""

from __future__ import annotations

import json

from opchat.model import Event
from opchat.store.db import row_value
from opchat.store.part import Part
from opchat.store.sql import Conn


class EventLog(Part):
    """`Store.events`: reading the append-only log (the parts write it with
    `changes.record_event`, in the transaction of the change it records)."""


    async def last_event_id(self) -> int:
        def run(conn: Conn) -> int:
            return row_value(conn.execute("SELECT max(id) FROM events").fetchone()) or 0

        return await self.db.read(run)

    async def event_id_before(self, at: float) -> int:
        """The id of the last event older than `at` (0 if none): where a replay starts."""

        def run(conn: Conn) -> int:
            # Newest first on the primary key: only the recent events are looked at.
            return row_value(conn.execute("SELECT id FROM events WHERE at < ? "
                                          "ORDER BY id DESC LIMIT 1", (at,)).fetchone()) or 0

        return await self.db.read(run)

    async def events_after(self, after_id: int, limit: int = 1000,
                           conversation_id: int | None = None) -> list[Event]:
        def run(conn: Conn) -> list[Event]:
            if conversation_id is None:
                rows = conn.execute("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit))
            else:
                rows = conn.execute(
                    "SELECT * FROM events WHERE conversation_id = ? AND id > ? "
                    "ORDER BY id LIMIT ?", (conversation_id, after_id, limit))
            return [Event(r["id"], r["at"], r["kind"], r["conversation_id"], r["message_id"],
                          r["operator"], json.loads(r["data"])) for r in rows]

        return await self.db.read(run)
