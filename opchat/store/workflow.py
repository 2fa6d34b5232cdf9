"""What operators do to dialogs besides answering: assign, snooze, label, keep drafts,
and what keeps a dialog waiting when its reply failed.

Every change writes its ``events`` row in the same transaction, so the other
operators' apps see it within a moment and ``opchat audit`` can tell who did
what. Drafts are the exception: they are private to their operator and not
history, so they are stored without events.
"""

from __future__ import annotations

from opchat.model import EventKind, Label, Operator, Status
from opchat.store.changes import UnknownConversation, add_label, record_event
from opchat.store.db import row_value
from opchat.store.part import Part
from opchat.store.sql import Conn

DRAFT_CHARS = 100_000


class UnknownOperator(LookupError):
    pass


class WorkflowStore(Part):
    """`Store.workflow`."""

    async def assign(
        self, conversation_id: int, login: str | None, by: Operator | None, reason: str = ""
    ) -> bool:
        """Give a dialog to the operator ``login`` (None: to nobody); False if nothing changed."""

        def run(conn: Conn) -> bool:
            return _assign(conn, self.clock(), conversation_id, login, by, reason)

        return await self.db.write(run)

    async def auto_assign(
        self, conversation_id: int, candidates: list[str], cap: int
    ) -> str | None:
        """Give an unassigned dialog to the candidate with the fewest open dialogs, if
        that is under ``cap``; returns who got it. Decided and done in one transaction,
        so two hubs (or a hub and an operator) cannot both assign it."""

        def run(conn: Conn) -> str | None:
            assigned = row_value(conn.execute(
                "SELECT assignee_id FROM conversations WHERE id = ? AND hidden = 0",
                (conversation_id,)).fetchone(), -1)
            if assigned is not None or not candidates:
                return None
            # Only a dialog nobody has ever assigned: one an operator took off someone
            # stays unassigned (the hub replays recent events when it starts).
            if conn.execute("SELECT 1 FROM events WHERE conversation_id = ? "
                            "AND kind = 'conversation.assign' LIMIT 1",
                            (conversation_id,)).fetchone():
                return None
            load = _open_load(conn)
            ranked = sorted(candidates, key=lambda login: (load.get(login, 0), login))
            chosen = ranked[0]
            if load.get(chosen, 0) >= cap:
                return None
            _assign(conn, self.clock(), conversation_id, chosen, None, "auto")
            return chosen

        return await self.db.write(run)

    async def open_load(self) -> dict[str, int]:
        """Open (not resolved, not snoozed) dialogs per assigned operator login."""
        return await self.db.read(_open_load)

    async def ensure_operator(self, login: str, name: str | None = None) -> Operator:
        """The operator with this login, added on their first start; ``last_seen`` now."""

        def run(conn: Conn) -> Operator:
            now = self.clock()
            conn.execute(
                "INSERT INTO operators (login, name, created_at, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (login) DO UPDATE SET last_seen = excluded.last_seen",
                (login, name or login, now, now),
            )
            row = conn.execute("SELECT * FROM operators WHERE login = ?", (login,)).fetchone()
            return Operator(row["id"], row["login"], row["name"])

        return await self.db.write(run)

    async def operators(self) -> list[Operator]:
        def run(conn: Conn) -> list[Operator]:
            return [Operator(r["id"], r["login"], r["name"])
                    for r in conn.execute("SELECT * FROM operators ORDER BY login")]

        return await self.db.read(run)

    async def snooze(self, conversation_id: int, until: float, by: Operator | None) -> None:
        """Put a dialog away until ``until``; the customer writing wakes it earlier."""

        def run(conn: Conn) -> None:
            old = row_value(conn.execute("SELECT status FROM conversations WHERE id = ?",
                                         (conversation_id,)).fetchone())
            if old is None:
                raise UnknownConversation(conversation_id)
            now = self.clock()
            clear_failure(conn, now, conversation_id, "snoozed", by.login if by else None)
            conn.execute("UPDATE conversations SET status = 'snoozed', snoozed_until = ?, "
                         "waiting_since = NULL WHERE id = ?", (until, conversation_id))
            record_event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
                   operator=by.login if by else None,
                   data={"from": old, "to": Status.SNOOZED.value, "until": until})

        await self.db.write(run)

    async def dismiss_failure(self, conversation_id: int, by: Operator | None,
                              message_id: int | None = None) -> bool:
        """The operator has seen that the dialog's last reply failed and lets it be: the
        dialog stops waiting on it. ``message_id``: only if that is the failure that
        stands. False if there was none to dismiss."""

        def run(conn: Conn) -> bool:
            standing = row_value(conn.execute(
                "SELECT failed_message_id FROM conversations WHERE id = ?",
                (conversation_id,)).fetchone())
            if standing is None or (message_id is not None and message_id != standing):
                return False
            return clear_failure(conn, self.clock(), conversation_id, "dismissed",
                                 by.login if by else None)

        return await self.db.write(run)

    async def failed_count(self) -> int:
        """Dialogs whose last reply failed (each also counts as waiting)."""

        def run(conn: Conn) -> int:
            return conn.execute("SELECT count(*) FROM conversations "
                                "WHERE failed_message_id IS NOT NULL AND hidden = 0"
                                ).fetchone()[0]

        return await self.db.read(run)

    async def wake_snoozed(self) -> list[int]:
        """Reopen the snoozed dialogs whose time has come; returns their ids."""
        due = await self.next_snooze_end()
        if due is None or due > self.clock():
            return []  # a read, not a write lock every few seconds

        def run(conn: Conn) -> list[int]:
            now = self.clock()
            due = [r[0] for r in conn.execute(
                "SELECT id FROM conversations WHERE status = 'snoozed' "
                "AND snoozed_until IS NOT NULL AND snoozed_until <= ?", (now,))]
            for conversation_id in due:
                conn.execute("UPDATE conversations SET status = 'open', snoozed_until = NULL "
                             "WHERE id = ?", (conversation_id,))
                record_event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
                       data={"from": "snoozed", "to": "open", "reason": "snooze ended"})
            return due

        return await self.db.write(run)

    async def next_snooze_end(self) -> float | None:
        def run(conn: Conn) -> float | None:
            return row_value(conn.execute(
                "SELECT min(snoozed_until) FROM conversations WHERE status = 'snoozed'"
            ).fetchone())

        return await self.db.read(run)

    # Labels -----------------------------------------------------------------------------

    async def label(self, conversation_id: int, name: str, by: Operator | None) -> bool:
        """Put a label on a dialog (a new name creates the label); False if it was there."""

        def run(conn: Conn) -> bool:
            return add_label(conn, conversation_id, name, self.clock(),
                             by.login if by else None)

        return await self.db.write(run)

    async def unlabel(self, conversation_id: int, name: str, by: Operator | None) -> bool:
        def run(conn: Conn) -> bool:
            row = conn.execute("SELECT id, name FROM labels WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            removed = conn.execute(
                "DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = ?",
                (conversation_id, row["id"])).rowcount
            if removed:
                record_event(conn, self.clock(), EventKind.CONVERSATION_LABEL, conversation_id,
                             operator=by.login if by else None, data={"removed": row["name"]})
            return bool(removed)

        return await self.db.write(run)

    async def labels(self) -> list[Label]:
        """Every label, the most used first."""

        def run(conn: Conn) -> list[Label]:
            return [Label(r["id"], r["name"], r["color"]) for r in conn.execute(
                "SELECT l.*, (SELECT count(*) FROM conversation_labels cl "
                "WHERE cl.label_id = l.id) AS uses FROM labels l ORDER BY uses DESC, l.name")]

        return await self.db.read(run)

    # Drafts -----------------------------------------------------------------------------

    async def save_draft(self, operator: Operator, conversation_id: int, body: str) -> None:
        """Keep what ``operator`` has typed in a dialog (an empty body forgets it)."""

        def run(conn: Conn) -> None:
            if not body.strip():
                conn.execute("DELETE FROM drafts WHERE operator_id = ? AND conversation_id = ?",
                             (operator.id, conversation_id))
                return
            conn.execute(
                "INSERT INTO drafts (operator_id, conversation_id, body, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (operator_id, conversation_id) DO UPDATE "
                "SET body = excluded.body, updated_at = excluded.updated_at",
                (operator.id, conversation_id, body[:DRAFT_CHARS], self.clock()))

        await self.db.write_short(run)

    async def draft(self, operator: Operator, conversation_id: int) -> str:
        def run(conn: Conn) -> str:
            return row_value(conn.execute(
                "SELECT body FROM drafts WHERE operator_id = ? AND conversation_id = ?",
                (operator.id, conversation_id)).fetchone(), "")

        return await self.db.read(run)


def _assign(conn: Conn, now: float, conversation_id: int, login: str | None,
            by: Operator | None, reason: str) -> bool:
    row = conn.execute("SELECT c.assignee_id, op.login FROM conversations c "
                       "LEFT JOIN operators op ON op.id = c.assignee_id WHERE c.id = ?",
                       (conversation_id,)).fetchone()
    if row is None:
        raise UnknownConversation(conversation_id)
    target = None
    if login is not None:
        target = row_value(conn.execute("SELECT id FROM operators WHERE login = ?",
                                        (login,)).fetchone())
        if target is None:
            raise UnknownOperator(login)
    if target == row["assignee_id"]:
        return False
    conn.execute("UPDATE conversations SET assignee_id = ? WHERE id = ?",
                 (target, conversation_id))
    data: dict[str, object] = {"from": row["login"], "to": login}
    if reason:
        data["reason"] = reason
    record_event(conn, now, EventKind.CONVERSATION_ASSIGN, conversation_id,
           operator=by.login if by else None, data=data)
    return True


def _open_load(conn: Conn) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT op.login, count(*) FROM conversations c JOIN operators op "
        "ON op.id = c.assignee_id WHERE c.status IN ('open', 'pending') AND c.hidden = 0 "
        "GROUP BY op.login")}


# A reply that failed ----------------------------------------------------------------------
#
# A dialog whose last reply failed (the customer blocked the bot, a send cut short by a
# crash...) has not been answered, whatever the thread's order says: it waits again, shows
# the failure in the list and in the status bar, until a later reply is delivered or an
# operator dismisses the failure (resolving or snoozing the dialog dismisses it too). This
# is store state in `conversations.failed_message_id`, so every process sees the same.


def reply_failed(conn: Conn, now: float, message_id: int) -> None:
    """Message ``message_id`` was just marked failed: if it was an operator's reply, its
    dialog waits again (and comes back if it was resolved or snoozed)."""
    row = conn.execute(
        "SELECT m.conversation_id, m.direction, m.created_at, c.status, c.waiting_since, "
        "c.failed_message_id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.id = ?", (message_id,)).fetchone()
    if row is None or row["direction"] != "out":
        return  # an automatic answer failing leaves nobody less answered than they were
    conversation_id = row["conversation_id"]
    if (row["failed_message_id"] or 0) > message_id:
        return  # a later failure stands already
    answered = row_value(conn.execute(
        "SELECT max(id) FROM messages WHERE conversation_id = ? AND direction = 'out' "
        "AND state IN ('sent', 'delivered', 'read')", (conversation_id,)).fetchone()) or 0
    if answered > message_id:
        return  # an older reply retried: a later one has reached the customer
    since = min(t for t in (row["waiting_since"], _first_customer_message(
        conn, conversation_id, answered), row["created_at"]) if t is not None)
    reopen = row["status"] in (Status.RESOLVED.value, Status.SNOOZED.value)
    conn.execute(
        "UPDATE conversations SET failed_message_id = ?, waiting_since = ?, "
        "status = CASE WHEN ? THEN 'open' ELSE status END, "
        "snoozed_until = CASE WHEN ? THEN NULL ELSE snoozed_until END, "
        # No reply has reached them yet: the first response is still to come.
        "first_response_s = CASE WHEN ? THEN NULL ELSE first_response_s END WHERE id = ?",
        (message_id, since, reopen, reopen, answered == 0, conversation_id))
    record_event(conn, now, EventKind.CONVERSATION_FAILED, conversation_id, message_id,
                 data={"waiting_since": since})
    if reopen:
        record_event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
                     data={"from": row["status"], "to": Status.OPEN.value,
                           "reason": "reply failed"})


def clear_failure(conn: Conn, now: float, conversation_id: int, reason: str,
                  operator: str | None, delivered_id: int | None = None) -> bool:
    """The failure that keeps the dialog waiting no longer stands: ``reason`` is
    "delivered" (message ``delivered_id``, a later reply, went out), "dismissed",
    "resolved" or "snoozed". The dialog then waits only for what the customer wrote
    after. False if no failure stood (or a later one than ``delivered_id``)."""
    failed = row_value(conn.execute("SELECT failed_message_id FROM conversations WHERE id = ?",
                                    (conversation_id,)).fetchone())
    if failed is None or (delivered_id is not None and delivered_id < failed):
        return False
    since = _first_customer_message(conn, conversation_id, max(failed, delivered_id or 0))
    conn.execute("UPDATE conversations SET failed_message_id = NULL, waiting_since = ? "
                 "WHERE id = ?", (since, conversation_id))
    record_event(conn, now, EventKind.CONVERSATION_FAILURE_CLEARED, conversation_id, failed,
                 operator, {"reason": reason})
    return True


def _first_customer_message(conn: Conn, conversation_id: int,
                            after_id: int) -> float | None:
    return row_value(conn.execute(
        "SELECT min(created_at) FROM messages WHERE conversation_id = ? AND direction = 'in' "
        "AND id > ?", (conversation_id, after_id)).fetchone())
