"""Transcripts of a dialog sent to the customer by e-mail: asked for, then done.

An operator (or resolving, when `[transcripts] on_resolve` says so) records a
`transcript.requested` event; the hub, which alone runs the channels, sends it
and records `transcript.sent` with a note in the thread saying where it went, or
why it did not. A request already answered is never sent again.
"""

from __future__ import annotations

from opchat.model import Direction, EventKind, Operator
from opchat.store.changes import UnknownConversation, record_event
from opchat.store.part import Part
from opchat.store.sql import Conn, dialect, insert_id


class TranscriptStore(Part):
    """`Store.transcripts`."""

    async def request(self, conversation_id: int, to: str, by: Operator | None,
                      reason: str = "operator") -> None:
        """Ask the hub to send the dialog's transcript to the address ``to``."""

        def run(conn: Conn) -> None:
            if conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                            (conversation_id,)).fetchone() is None:
                raise UnknownConversation(conversation_id)
            record_event(conn, self.clock(), EventKind.TRANSCRIPT_REQUESTED, conversation_id,
                         operator=by.login if by else None, data={"to": to, "reason": reason})

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
                   note: str, error: str = "") -> None:
        """The request was sent (``error`` "") or not: ``note`` goes in the thread."""

        def run(conn: Conn) -> None:
            now = self.clock()
            row = conn.execute("SELECT channel_id FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
            if row is None:
                raise UnknownConversation(conversation_id)
            message_id = insert_id(conn,
                "INSERT INTO messages (conversation_id, channel_id, direction, author, body, "
                "created_at, state, meta) VALUES (?, ?, ?, '', ?, ?, 'sent', '{}')",
                (conversation_id, row["channel_id"], Direction.NOTE.value, note, now))
            record_event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id,
                         data={"direction": Direction.NOTE.value})
            record_event(conn, now, EventKind.TRANSCRIPT_SENT, conversation_id, message_id,
                         data={"request": request, "to": to, "channel": channel,
                               "error": error})

        await self.db.write(run)
