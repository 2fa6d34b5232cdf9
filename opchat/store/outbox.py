"""The outbox, the hub's side of a reply: what is due, claimed, sent, retried, failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opchat.model import Attachment, EventKind, MessageState, OutboundMessage
from opchat.store.changes import add_label
from opchat.store.changes import record_event as _event
from opchat.store.db import row_value
from opchat.store.part import Part
from opchat.store.rows import buttons_of, template_of
from opchat.store.sql import Conn
from opchat.store.workflow import clear_failure, reply_failed

# One at a time per dialog, so a customer gets replies in the order they were written.
_NOT_BLOCKED = (
    "NOT EXISTS (SELECT 1 FROM outbox o2 JOIN messages m2 ON m2.id = o2.message_id "
    "WHERE m2.conversation_id = m.conversation_id AND o2.id < o.id "
    "AND o2.state IN ('pending', 'sending'))"
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    outbox_id: int
    channel: str
    message: OutboundMessage


class OutboxStore(Part):
    """`Store.outbox`: rows queued with their messages (by `Store.messages.add` and the
    automatic answers), worked through by the hub's outbox workers."""


    async def recover_interrupted_sends(self, channels: Sequence[str] | None = None) -> int:
        """Sends a crashed hub left half-done: we cannot know if they arrived.

        Sending again could duplicate the message for the customer, so each
        one is marked failed with that explanation; the operator decides.
        ``channels``: only theirs (a hub that runs some of the channels); None: all.
        """

        def run(conn: Conn) -> int:
            if channels is not None and not channels:
                return 0
            now = self.clock()
            only = ("" if channels is None else
                    f"AND outbox.channel_id IN (SELECT id FROM channels WHERE name IN "
                    f"({','.join('?' * len(channels))}))")
            rows = conn.execute(
                "SELECT outbox.message_id, messages.conversation_id FROM outbox "
                "JOIN messages ON messages.id = outbox.message_id "
                f"WHERE outbox.state = 'sending' {only}", tuple(channels or ())).fetchall()
            reason = "interrupted while sending: it may or may not have arrived"
            for row in rows:
                fail_message(conn, row["message_id"], row["conversation_id"], reason, now)
            return len(rows)

        return await self.db.write(run)

    async def next_due(self, channels: Sequence[str]) -> float | None:
        """When the earliest row that `claim_due` could take for these channels is due.

        Rows waiting behind an earlier message of their dialog don't count: they
        can't be claimed before it is done, and that is an event of its own.
        """
        marks = ",".join("?" * len(channels))

        def run(conn: Conn) -> float | None:
            return row_value(conn.execute(
                "SELECT min(o.next_attempt_at) FROM outbox o "
                "JOIN messages m ON m.id = o.message_id JOIN channels ch ON ch.id = o.channel_id "
                f"WHERE o.state = 'pending' AND ch.name IN ({marks}) AND {_NOT_BLOCKED}",
                tuple(channels)).fetchone())

        return await self.db.read(run)

    async def claim_due(self, channels: Sequence[str], limit: int = 20) -> list[OutboxItem]:
        """Mark due rows of these channels 'sending' and return them."""
        if not channels:
            return []

        def run(conn: Conn) -> list[OutboxItem]:
            now = self.clock()
            marks = ",".join("?" * len(channels))
            rows = conn.execute(
                "SELECT o.id AS outbox_id, o.attempts, o.progress, m.id AS message_id, m.body, "
                "m.meta, "
                "m.reply_to_id, ch.name AS channel, c.chat_id, "
                "(SELECT external_id FROM messages r WHERE r.id = m.reply_to_id) AS reply_ext "
                "FROM outbox o JOIN messages m ON m.id = o.message_id "
                "JOIN conversations c ON c.id = m.conversation_id "
                "JOIN channels ch ON ch.id = o.channel_id "
                f"WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND ch.name IN ({marks}) "
                f"AND {_NOT_BLOCKED} ORDER BY o.next_attempt_at, o.id LIMIT ?",
                (now, *channels, limit)).fetchall()
            items = []
            for r in rows:
                conn.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1, "
                             "updated_at = ? WHERE id = ?", (now, r["outbox_id"]))
                files = tuple(Attachment(a["kind"], a["filename"], a["mime"], a["size"],
                                         a["ref"], a["local_path"], a["id"], a["sha256"])
                              for a in conn.execute("SELECT * FROM attachments "
                                                    "WHERE message_id = ? ORDER BY id",
                                                    (r["message_id"],)))
                items.append(OutboxItem(r["outbox_id"], r["channel"], OutboundMessage(
                    message_id=r["message_id"], channel=r["channel"], chat_id=r["chat_id"],
                    body=r["body"], attempt=r["attempts"] + 1,
                    reply_to_external_id=r["reply_ext"], attachments=files,
                    buttons=buttons_of(r["meta"]), progress=r["progress"],
                    template=template_of(r["meta"]))))
            return items

        return await self.db.write(run)

    async def mark_sent(self, message_id: int, external_id: str | None,
                        state: MessageState = MessageState.SENT) -> None:
        def run(conn: Conn) -> None:
            now = self.clock()
            row = conn.execute("SELECT conversation_id, channel_id FROM messages WHERE id = ?",
                               (message_id,)).fetchone()
            conv = None if row is None else row["conversation_id"]
            platform_id = external_id
            if platform_id is not None and row is not None and conn.execute(
                    "SELECT 1 FROM messages WHERE channel_id = ? AND external_id = ? AND id != ?",
                    (row["channel_id"], platform_id, message_id)).fetchone():
                # The platform reused an id we hold for another message. The send
                # happened; record it without the id rather than fail the transaction.
                platform_id = None
            conn.execute("UPDATE messages SET state = ?, external_id = ?, error = NULL "
                         "WHERE id = ?", (state.value, platform_id, message_id))
            conn.execute("UPDATE outbox SET state = 'done', updated_at = ?, last_error = NULL "
                         "WHERE message_id = ?", (now, message_id))
            _event(conn, now, EventKind.MESSAGE_STATE, conv, message_id,
                   data={"state": state.value})
            if conv is not None and conn.execute(
                    "SELECT 1 FROM messages WHERE id = ? AND direction = 'out'",
                    (message_id,)).fetchone():
                # A reply reached the customer: an earlier failure no longer keeps them waiting.
                clear_failure(conn, now, conv, "delivered", None, message_id)
            if platform_id is not None and row is not None:
                early = conn.execute(
                    "DELETE FROM early_receipts WHERE channel_id = ? AND external_id = ? "
                    "RETURNING state, error", (row["channel_id"], platform_id)).fetchone()
                if early is not None:
                    _apply_receipt(conn, now, message_id, conv, state,
                                   MessageState(early["state"]), early["error"])

        await self.db.write(run)

    async def report(self, channel: str, external_id: str, state: MessageState,
                     error: str | None = None) -> None:
        """The platform's word on a message the channel sent: delivered, read (the mark
        moves forward, never back), or failed after all (``error`` says why). A receipt
        for an id not recorded yet (the send's own answer is still on its way) is kept
        and applied when it is."""

        def run(conn: Conn) -> None:
            now = self.clock()
            row = conn.execute(
                "SELECT messages.id, conversation_id, state, channels.id AS channel_id "
                "FROM channels LEFT JOIN messages ON messages.channel_id = channels.id "
                "AND messages.external_id = ? WHERE channels.name = ?",
                (external_id, channel)).fetchone()
            if row is None:
                return  # no such channel
            if row["id"] is not None:
                _apply_receipt(conn, now, row["id"], row["conversation_id"],
                               MessageState(row["state"]), state, error)
                return
            kept = conn.execute("SELECT state FROM early_receipts WHERE channel_id = ? "
                                "AND external_id = ?", (row["channel_id"], external_id)
                                ).fetchone()
            if kept is not None and not _ahead(state, MessageState(kept["state"])):
                return
            conn.execute("DELETE FROM early_receipts WHERE at < ?", (now - EARLY_KEPT,))
            conn.execute("INSERT INTO early_receipts "
                         "(channel_id, external_id, state, error, at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (channel_id, external_id) DO UPDATE SET "
                         "state = excluded.state, error = excluded.error, at = excluded.at",
                         (row["channel_id"], external_id, state.value, error, now))

        await self.db.write(run)

    async def read_until(self, channel: str, chat_id: str, at: float) -> int:
        """The customer at ``chat_id`` read what the channel sent them up to ``at`` (the
        platform's watermark): those of its replies still SENT or DELIVERED and sent by
        then (the outbox's time of the send; an echo's own time) become READ, one
        ``message.state`` event each. How many did."""

        def run(conn: Conn) -> int:
            now = self.clock()
            rows = conn.execute(
                "SELECT m.id, m.conversation_id FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id "
                "JOIN channels ch ON ch.id = c.channel_id "
                "LEFT JOIN outbox o ON o.message_id = m.id AND o.state = 'done' "
                "WHERE ch.name = ? AND c.chat_id = ? AND m.direction IN ('out', 'auto') "
                "AND m.state IN ('sent', 'delivered') "
                "AND coalesce(o.updated_at, m.created_at) <= ? ORDER BY m.id",
                (channel, chat_id, at)).fetchall()
            for row in rows:
                conn.execute("UPDATE messages SET state = 'read' WHERE id = ?", (row["id"],))
                _event(conn, now, EventKind.MESSAGE_STATE, row["conversation_id"], row["id"],
                       data={"state": MessageState.READ.value})
            return len(rows)

        return await self.db.write(run)

    async def reschedule(self, message_id: int, after: float, error: str,
                         progress: str | None = None) -> None:
        """Try again later; ``progress`` (see ``Retry``) replaces what was kept, if given."""

        def run(conn: Conn) -> None:
            now = self.clock()
            conn.execute("UPDATE outbox SET state = 'pending', next_attempt_at = ?, "
                         "last_error = ?, updated_at = ?, progress = coalesce(?, progress) "
                         "WHERE message_id = ?",
                         (now + after, error, now, progress, message_id))
            conv = row_value(conn.execute("SELECT conversation_id FROM messages WHERE id = ?",
                                          (message_id,)).fetchone())
            # The message stays "queued"; the event lets the UI show why it waits.
            _event(conn, now, EventKind.MESSAGE_RETRYING, conv, message_id,
                   data={"error": error, "after": after})

        await self.db.write(run)

    async def mark_failed(self, message_id: int, reason: str, label: str | None = None) -> None:
        """Give up on a message; ``label`` its dialog too (e.g. the customer blocked us)."""

        def run(conn: Conn) -> None:
            now = self.clock()
            conv = row_value(conn.execute("SELECT conversation_id FROM messages WHERE id = ?",
                                          (message_id,)).fetchone())
            fail_message(conn, message_id, conv, reason, now)
            if label is not None and conv is not None:
                add_label(conn, conv, label, now, None)

        await self.db.write(run)

    async def outbox_error(self, message_id: int) -> str | None:
        def run(conn: Conn) -> str | None:
            return row_value(conn.execute("SELECT last_error FROM outbox WHERE message_id = ?",
                                          (message_id,)).fetchone())

        return await self.db.read(run)


# Receipts for ids nobody recorded (messages sent from another tool on the same account)
# are forgotten after a week.
EARLY_KEPT = 7 * 24 * 3600.0
_FORWARD = (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)


def _ahead(new: MessageState, old: MessageState) -> bool:
    """Whether receipt ``new`` says more than ``old``: failed says the most."""
    if old is MessageState.FAILED:
        return False
    if new is MessageState.FAILED:
        return True
    return new in _FORWARD and (old not in _FORWARD or _FORWARD.index(new) > _FORWARD.index(old))


def _apply_receipt(conn: Conn, now: float, message_id: int, conversation_id: int | None,
                   current: MessageState, state: MessageState, error: str | None) -> None:
    if current not in _FORWARD or not _ahead(state, current):
        return  # never backwards; a failed or queued message keeps what it says
    if state is MessageState.FAILED:
        if current is MessageState.READ:
            return  # read it was: a failure after that is the platform's muddle
        fail_message(conn, message_id, conversation_id, error or "failed", now)
        return
    conn.execute("UPDATE messages SET state = ? WHERE id = ?", (state.value, message_id))
    _event(conn, now, EventKind.MESSAGE_STATE, conversation_id, message_id,
           data={"state": state.value})


def fail_message(conn: Conn, message_id: int, conversation_id: int | None,
                 reason: str, now: float) -> None:
    """The message failed for good: its row, its outbox row, its event, and its dialog
    waiting again (see `workflow.reply_failed`)."""
    conn.execute("UPDATE messages SET state = 'failed', error = ? WHERE id = ?",
                 (reason, message_id))
    conn.execute("UPDATE outbox SET state = 'failed', last_error = ?, updated_at = ? "
                 "WHERE message_id = ?", (reason, now, message_id))
    _event(conn, now, EventKind.MESSAGE_STATE, conversation_id, message_id,
           data={"state": "failed", "error": reason})
    reply_failed(conn, now, message_id)
