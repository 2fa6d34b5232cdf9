"""Nothing is deleted without a trace: hiding, unhiding, and reading the audit log.

Hiding a message or a dialog sets its ``hidden`` flag and writes an event
saying who did it and when; the row itself stays (messages cannot be deleted
at all). Lists, counts and threads leave hidden rows out; ``opchat audit
--hidden`` lists them and ``opchat unhide`` brings one back, with its own
event.
"""

from __future__ import annotations

import json
from typing import Any

from opchat.model import Event, EventKind, HiddenItem, Operator
from opchat.store.changes import UnknownConversation, record_event
from opchat.store.part import Part
from opchat.store.sql import Conn, dialect

PREVIEW_CHARS = 200


class UnknownMessage(LookupError):
    pass


class HistoryStore(Part):
    """`Store.history`."""

    async def hide_message(self, message_id: int, operator: Operator | None) -> bool:
        """Hide a message from the thread (it stays stored); False if it was hidden."""
        return await self.db.write(self._set_message_hidden, message_id, True, operator)

    async def unhide_message(self, message_id: int, operator: Operator | None) -> bool:
        return await self.db.write(self._set_message_hidden, message_id, False, operator)

    async def hide_conversation(self, conversation_id: int, operator: Operator | None) -> bool:
        """Hide a dialog from the lists and counts; False if it was hidden."""
        return await self.db.write(self._set_conversation_hidden, conversation_id, True,
                                   operator)

    async def unhide_conversation(self, conversation_id: int,
                                  operator: Operator | None) -> bool:
        return await self.db.write(self._set_conversation_hidden, conversation_id, False,
                                   operator)

    def _set_message_hidden(self, conn: Conn, message_id: int, hidden: bool,
                            operator: Operator | None) -> bool:
        row = conn.execute("SELECT id, conversation_id, direction, hidden, edit_of_id "
                           "FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise UnknownMessage(message_id)
        if bool(row["hidden"]) == hidden:
            return False
        # A message and its edits are one thing to hide: hiding the original alone would
        # leave its text on screen in the edits that carry it.
        original = row["edit_of_id"] or message_id
        versions = conn.execute(
            "UPDATE messages SET hidden = ? WHERE (id = ? OR edit_of_id = ?) AND hidden != ?",
            (int(hidden), original, original, int(hidden))).rowcount
        _refresh_preview(conn, row["conversation_id"])
        data: dict[str, Any] = {"direction": row["direction"]}
        if versions > 1:
            data["versions"] = versions
        record_event(conn, self.clock(),
                     EventKind.MESSAGE_HIDDEN if hidden else EventKind.MESSAGE_UNHIDDEN,
                     row["conversation_id"], message_id,
                     operator.login if operator else None, data)
        return True

    def _set_conversation_hidden(self, conn: Conn, conversation_id: int,
                                 hidden: bool, operator: Operator | None) -> bool:
        row = conn.execute("SELECT hidden FROM conversations WHERE id = ?",
                           (conversation_id,)).fetchone()
        if row is None:
            raise UnknownConversation(conversation_id)
        if bool(row["hidden"]) == hidden:
            return False
        conn.execute("UPDATE conversations SET hidden = ? WHERE id = ?",
                     (int(hidden), conversation_id))
        record_event(conn, self.clock(),
                     EventKind.CONVERSATION_HIDDEN if hidden else EventKind.CONVERSATION_UNHIDDEN,
                     conversation_id, operator=operator.login if operator else None)
        return True

    async def hidden_items(self) -> list[HiddenItem]:
        """Every hidden dialog and message, with who hid it and when, newest first."""

        def run(conn: Conn) -> list[HiddenItem]:
            items: list[HiddenItem] = []
            for r in conn.execute(
                    "SELECT c.id, co.name AS contact, ch.name AS channel, "
                    "(SELECT max(e.id) FROM events e WHERE e.conversation_id = c.id "
                    " AND e.kind = 'conversation.hidden') AS event_id "
                    "FROM conversations c JOIN contacts co ON co.id = c.contact_id "
                    "JOIN channels ch ON ch.id = c.channel_id WHERE c.hidden = 1"):
                at, who = _who_when(conn, r["event_id"])
                items.append(HiddenItem("conversation", r["id"], r["id"],
                                        f"{r['contact']} ({r['channel']})", at, who))
            for r in conn.execute(
                    "SELECT m.id, m.conversation_id, m.body, "
                    "(SELECT max(e.id) FROM events e WHERE e.conversation_id = m.conversation_id "
                    " AND e.message_id = m.id AND e.kind = 'message.hidden') AS event_id "
                    "FROM messages m WHERE m.hidden = 1"):
                at, who = _who_when(conn, r["event_id"])
                items.append(HiddenItem("message", r["id"], r["conversation_id"],
                                        r["body"][:PREVIEW_CHARS], at, who))
            items.sort(key=lambda item: (item.at or 0.0, item.id), reverse=True)
            return items

        return await self.db.read(run)

    async def audit_events(self, conversation_id: int | None = None, since: float | None = None,
                           after_id: int = 0, limit: int = 1000) -> list[Event]:
        """A page of the audit log, oldest first: everything, or one dialog's history.

        A dialog's history includes what was done to its contact (notes,
        merges), also to contacts that were merged into it.
        """

        def run(conn: Conn) -> list[Event]:
            clauses, params = ["e.id > ?"], [after_id]
            if since is not None:
                clauses.append("e.at >= ?")
                params.append(since)
            if conversation_id is not None:
                family = _contact_family(conn, conversation_id)
                marks = ",".join("?" * len(family))
                sql = dialect(conn)
                clauses.append(
                    "(e.conversation_id = ? OR (e.conversation_id IS NULL "
                    f"AND e.kind LIKE 'contact.%' AND ({sql.json_int('e.data', 'contact')} "
                    f"IN ({marks}) OR {sql.json_int('e.data', 'merged')} IN ({marks}))))")
                params += [conversation_id, *family, *family]
            rows = conn.execute(f"SELECT * FROM events e WHERE {' AND '.join(clauses)} "
                                "ORDER BY e.id LIMIT ?", (*params, limit))
            return [Event(r["id"], r["at"], r["kind"], r["conversation_id"], r["message_id"],
                          r["operator"], _data(r["data"])) for r in rows]

        return await self.db.read(run)


def _contact_family(conn: Conn, conversation_id: int) -> list[int]:
    """The dialog's contact and every contact merged into it (directly or not)."""
    rows = conn.execute(
        "WITH RECURSIVE family(id) AS ("
        " SELECT contact_id FROM conversations WHERE id = ?"
        " UNION SELECT co.id FROM contacts co JOIN family f ON co.merged_into = f.id)"
        " SELECT id FROM family", (conversation_id,)).fetchall()
    return [r[0] for r in rows] or [0]


def _who_when(conn: Conn, event_id: int | None) -> tuple[float | None, str | None]:
    if event_id is None:
        return None, None
    row = conn.execute("SELECT at, operator FROM events WHERE id = ?", (event_id,)).fetchone()
    return (row["at"], row["operator"]) if row is not None else (None, None)


def _refresh_preview(conn: Conn, conversation_id: int) -> None:
    """The list's preview shows the newest message that is not hidden."""
    kinds = dialect(conn).joined("'[' || a.kind || ']'", "' '")
    newest = conn.execute(
        f"SELECT m.body, m.direction, m.author, (SELECT {kinds} "
        "FROM attachments a WHERE a.message_id = m.id) AS kinds FROM messages m "
        "WHERE m.conversation_id = ? AND m.hidden = 0 ORDER BY m.created_at DESC, m.id DESC "
        "LIMIT 1", (conversation_id,)).fetchone()
    if newest is None:
        preview, direction, author = "", "in", ""
    else:
        preview = newest["body"] or newest["kinds"] or ""
        direction, author = newest["direction"], newest["author"]
    conn.execute("UPDATE conversations SET last_preview = ?, last_direction = ?, "
                 "last_author = ? WHERE id = ?",
                 (preview[:PREVIEW_CHARS], direction, author, conversation_id))


def _data(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
