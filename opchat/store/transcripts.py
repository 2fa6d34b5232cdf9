"""Transcripts of a dialog sent to the customer by e-mail: asked for, then done.

An operator (or resolving, when `[transcripts] on_resolve` says so) records a
`transcript.requested` event; the hub, which alone runs the channels, sends it
and records `transcript.sent` with a note in the thread saying where it went, or
why it did not. A request already answered is never sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opchat.model import Direction, EventKind, Operator
from opchat.store.changes import UnknownConversation, record_event
from opchat.store.part import Part
from opchat.store.sql import Conn, dialect, insert_id


class TranscriptStore(Part):
    """`Store.transcripts`."""

    async def request(self, conversation_id: int, to: str, by: Operator | None,
                      reason: str = "operator", message: int = 0) -> None:
        """Ask the hub to send the dialog's transcript to the address ``to``; with
        ``message``, only that answer (a web chat visitor who left)."""

        def run(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                            (conversation_id,)).fetchone() is None:
                raise UnknownConversation(conversation_id)
            record_event(conn, self.clock(), EventKind.TRANSCRIPT_REQUESTED, conversation_id,
                         operator=by.login if by else None,
                         data={"to": to, "reason": reason,
                               **({"message": message} if message else {})})

        await self.db.write(run)

    async def answered(self, request: int) -> bool:
        """Whether the request (its event id) has been sent, or failed, already."""

        def run(conn: Conn) -> bool:
            return conn.execute(
                "SELECT 1 FROM events WHERE kind = ? "
                f"AND {dialect(conn).json_int('data', 'request')} = ? LIMIT 1",
                (str(EventKind.TRANSCRIPT_SENT), request)).fetchone() is not None

        return await self.db.read(run)

    async def done(self, request: int, conversation_id: int, to: str, channel: str,
                   note: str, error: str = "", mail_id: str = "") -> None:
        """The request was sent (``error`` "") or not: ``note`` goes in the thread. The
        note keeps ``mail_id`` (the mail's Message-ID) as its external id, so that a
        reply to that mail finds this dialog (:meth:`mailed_from`)."""

        def run(conn: Conn) -> None:
            now = self.clock()
            row = conn.execute("SELECT channel_id FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
            if row is None:
                raise UnknownConversation(conversation_id)
            message_id = _note(conn, now, conversation_id, row["channel_id"], note,
                               mail_id or None)
            record_event(conn, now, EventKind.TRANSCRIPT_SENT, conversation_id, message_id,
                         data={"request": request, "to": to, "channel": channel,
                               "error": error, **({"mail_id": mail_id} if mail_id else {})})

        await self.db.write(run)

    async def mail_failed(self, answer: MailedAnswer, mail_id: str, note: str) -> None:
        """The mail ``mail_id`` that carried an answer came back: ``note`` in that
        dialog's thread, once however often the bounce is read."""

        def run(conn: Conn) -> None:
            row = conn.execute("SELECT channel_id FROM conversations WHERE id = ?",
                               (answer.conversation_id,)).fetchone()
            if row is None or conn.execute(
                    "SELECT 1 FROM messages WHERE channel_id = ? AND external_id = ?",
                    (row["channel_id"], f"{mail_id}#failed")).fetchone() is not None:
                return
            _note(conn, self.clock(), answer.conversation_id, row["channel_id"], note,
                  f"{mail_id}#failed")

        await self.db.write(run)

    async def mailed_from(self, channels: Sequence[str], mail_ids: Sequence[str]
                          ) -> MailedAnswer | None:
        """The dialog, on one of ``channels``, whose answer went out by e-mail as one of
        ``mail_ids`` (Message-IDs, the nearest first); None if none did."""
        if not channels or not mail_ids:
            return None

        def run(conn: Conn) -> MailedAnswer | None:
            marks = ", ".join("?" for _ in channels)
            for mail_id in mail_ids:
                row = conn.execute(
                    "SELECT c.id, ch.name AS channel, c.chat_id, i.external_id AS sender, "
                    "i.display_name AS name FROM messages m "
                    "JOIN channels ch ON ch.id = m.channel_id "
                    "JOIN conversations c ON c.id = m.conversation_id "
                    "LEFT JOIN identities i ON i.id = c.identity_id "
                    f"WHERE m.channel_id IN (SELECT id FROM channels WHERE name IN ({marks})) "
                    "AND m.external_id = ? AND m.direction = ?",
                    (*channels, mail_id, Direction.NOTE.value)).fetchone()
                if row is not None:
                    return MailedAnswer(row["id"], row["channel"], row["chat_id"],
                                        row["sender"] or row["chat_id"], row["name"] or "")
            return None

        return await self.db.read(run)


@dataclass(frozen=True, slots=True)
class MailedAnswer:
    """Where a reply to an answer sent by e-mail belongs: that dialog's channel and chat,
    and the customer who writes there."""

    conversation_id: int
    channel: str
    chat_id: str
    sender_id: str
    sender_name: str


def _note(conn: Conn, now: float, conversation_id: int, channel_id: int, text: str,
          external_id: str | None) -> int:
    """A note of opchat's own (no author) in the thread, with its event; its id."""
    message_id = insert_id(
        conn, "INSERT INTO messages (conversation_id, channel_id, external_id, direction, "
        "author, body, created_at, state, meta) VALUES (?, ?, ?, ?, '', ?, ?, 'sent', '{}')",
        (conversation_id, channel_id, external_id, Direction.NOTE.value, text, now))
    record_event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id,
                 data={"direction": Direction.NOTE.value})
    return message_id
