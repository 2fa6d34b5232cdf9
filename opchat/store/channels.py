"""The channels: one row per configured channel, its health, capabilities and cursor."""

from __future__ import annotations

import json
from typing import Any

from opchat.model import Channel, EventKind, Health
from opchat.store.changes import record_event as _event
from opchat.store.db import row_value
from opchat.store.part import Part
from opchat.store.rows import channel_of
from opchat.store.sql import Conn, insert_id


class ChannelStore(Part):
    """`Store.channels`: what the hub records of each channel, read by every process."""

    async def ensure(self, name: str, kind: str) -> Channel:
        def run(conn: Conn) -> Channel:
            channel_id(conn, name, kind, self.clock())
            row = conn.execute("SELECT * FROM channels WHERE name = ?", (name,)).fetchone()
            return channel_of(row)

        return await self.db.write(run)

    async def all(self) -> list[Channel]:
        def run(conn: Conn) -> list[Channel]:
            return [channel_of(r) for r in conn.execute("SELECT * FROM channels ORDER BY name")]

        return await self.db.read(run)

    async def set_capabilities(self, name: str, capabilities: dict[str, Any]) -> None:
        """What the channel's transport says it can carry (files, edits...), so that
        processes which never import transports (the UI) know it too."""

        def run(conn: Conn) -> None:
            conn.execute("UPDATE channels SET capabilities = ? WHERE name = ?",
                         (json.dumps(capabilities, sort_keys=True), name))

        await self.db.write(run)

    async def set_health(self, name: str, health: Health, detail: str = "") -> None:
        def run(conn: Conn) -> None:
            row = conn.execute(
                "SELECT id, health, health_detail FROM channels WHERE name = ?", (name,)
            ).fetchone()
            if row is None or (row["health"], row["health_detail"]) == (health.value, detail):
                return
            conn.execute(
                "UPDATE channels SET health = ?, health_detail = ? WHERE id = ?",
                (health.value, detail, row["id"]),
            )
            _event(conn, self.clock(), EventKind.CHANNEL_HEALTH,
                   data={"channel": name, "health": health.value, "detail": detail})

        await self.db.write(run)

    async def cursor(self, name: str) -> str | None:
        """Where the channel's transport left off upstream (stored by
        `Store.inbound.ingest_batch` with the messages it read there)."""

        def run(conn: Conn) -> str | None:
            return row_value(conn.execute(
                "SELECT value FROM channel_state JOIN channels ON channels.id = channel_id "
                "WHERE channels.name = ? AND key = 'cursor'", (name,)).fetchone())

        return await self.db.read(run)


def channel_id(conn: Conn, name: str, kind: str | None, now: float) -> int:
    """The channel's id, its row created (kind defaulting to the name) if new."""
    row = conn.execute("SELECT id FROM channels WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return row[0]
    return insert_id(conn, "INSERT INTO channels (name, kind, created_at) VALUES (?, ?, ?)",
                        (name, kind or name, now))
