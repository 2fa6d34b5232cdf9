"""Files that came with messages: fetched from the platform only when wanted.

An attachment is stored as metadata when its message arrives (`attachments`
row: kind, name, size, the platform's handle). When an operator asks for the
file, the UI records the request as an event; the hub, which alone talks to
the platform, follows the feed, fetches the file into the data dir and
records where it put it (or why it could not). Any operator's app can then
open it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opchat.model import Attachment, EventKind, Operator
from opchat.store.changes import record_event
from opchat.store.part import Part
from opchat.store.sql import Conn


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    attachment: Attachment
    message_id: int
    conversation_id: int
    channel: str  # the channel's name: whose transport can fetch it


class AttachmentStore(Part):
    """`Store.attachments`."""

    async def get(self, attachment_id: int) -> StoredAttachment | None:
        def run(conn: Conn) -> StoredAttachment | None:
            row = conn.execute(
                "SELECT a.*, m.conversation_id, ch.name AS channel FROM attachments a "
                "JOIN messages m ON m.id = a.message_id JOIN channels ch ON ch.id = m.channel_id "
                "WHERE a.id = ?", (attachment_id,)).fetchone()
            if row is None:
                return None
            return StoredAttachment(
                Attachment(row["kind"], row["filename"], row["mime"], row["size"], row["ref"],
                           row["local_path"], row["id"]),
                row["message_id"], row["conversation_id"], row["channel"])

        return await self.db.read(run)

    async def request(self, attachment_id: int, by: Operator | None) -> None:
        """Ask the hub to fetch a file (it answers with attachment.ready or .failed)."""
        found = await self.get(attachment_id)
        if found is None:
            raise LookupError(f"no attachment {attachment_id}")

        def run(conn: Conn) -> None:
            record_event(conn, self.clock(), EventKind.ATTACHMENT_REQUESTED, found.conversation_id,
                         found.message_id, by.login if by else None,
                         {"attachment": attachment_id})

        await self.db.write(run)

    async def fetched(
        self, attachment_id: int, local_path: str | None, error: str = ""
    ) -> None:
        """The hub fetched the file to ``local_path``, or could not (``error``)."""
        found = await self.get(attachment_id)
        if found is None:
            return

        def run(conn: Conn) -> None:
            if local_path is not None:
                conn.execute("UPDATE attachments SET local_path = ? WHERE id = ?",
                             (local_path, attachment_id))
            record_event(conn, self.clock(),
                         EventKind.ATTACHMENT_READY if local_path is not None
                         else EventKind.ATTACHMENT_FAILED,
                         found.conversation_id, found.message_id,
                         data={"attachment": attachment_id, "error": error} if error
                         else {"attachment": attachment_id})

        await self.db.write(run)

    async def saved(self, channel: str, ref: str, local_path: str) -> int:
        """A transport saved a file by itself (fetched eagerly): note where, for every
        attachment of that channel with that handle; returns how many."""

        def run(conn: Conn) -> int:
            return conn.execute(
                "UPDATE attachments SET local_path = ? WHERE ref = ? AND ref != '' "
                "AND local_path IS NULL "
                "AND message_id IN (SELECT m.id FROM messages m JOIN channels ch "
                "ON ch.id = m.channel_id WHERE ch.name = ?)",
                (local_path, ref, channel)).rowcount

        return await self.db.write(run)


def add_attachments(conn: Conn, message_id: int, attachments: Sequence[Attachment]) -> None:
    """The files that came (or go) with a message, in the caller's transaction."""
    for a in attachments:
        conn.execute("INSERT INTO attachments (message_id, kind, filename, mime, size, ref, "
                     "local_path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (message_id, a.kind, a.filename, a.mime, a.size, a.ref, a.local_path))
