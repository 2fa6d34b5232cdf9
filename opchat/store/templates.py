"""The message templates each channel's platform offers (WhatsApp's approved texts), as
the hub last found them, for the app's template picker."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opchat.model import Template
from opchat.store.part import Part
from opchat.store.sql import Conn


class TemplatesStore(Part):
    """`Store.templates`."""

    async def replace(self, channel: str, templates: Sequence[Template]) -> None:
        """What ``channel`` offers now: every template it listed before is forgotten."""

        def run(conn: Conn) -> None:
            row = conn.execute("SELECT id FROM channels WHERE name = ?", (channel,)).fetchone()
            if row is None:
                return
            now = self.clock()
            conn.execute("DELETE FROM templates WHERE channel_id = ?", (row["id"],))
            for t in templates:
                conn.execute(
                    "INSERT INTO templates (channel_id, name, language, status, "
                    "category, header, body, footer, buttons, found_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (channel_id, name, language) DO UPDATE SET "
                    "status = excluded.status, category = excluded.category, "
                    "header = excluded.header, body = excluded.body, footer = excluded.footer, "
                    "buttons = excluded.buttons, found_at = excluded.found_at",
                    (row["id"], t.name, t.language, t.status, t.category, t.header, t.body,
                     t.footer, json.dumps(list(t.buttons), ensure_ascii=False), now))

        await self.db.write(run)

    async def of_channel(self, channel_id: int, approved_only: bool = True) -> list[Template]:
        """The channel's templates by name and language (only those it may send, unless
        ``approved_only`` is False)."""

        def run(conn: Conn) -> list[Template]:
            rows = conn.execute(
                "SELECT name, language, status, category, header, body, footer, buttons "
                "FROM templates WHERE channel_id = ?"
                + (" AND status = 'APPROVED'" if approved_only else "")
                + " ORDER BY name, language", (channel_id,)).fetchall()
            return [Template(r["name"], r["language"], r["status"], r["category"],
                             r["header"], r["body"], r["footer"],
                             tuple(str(b) for b in json.loads(r["buttons"] or "[]")))
                    for r in rows]

        return await self.db.read(run)
