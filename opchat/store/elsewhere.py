"""What happened to a dialog outside opchat, as the platform tells it: a message the
business sent from another tool (Meta's own inbox, another app on the same Page), and
a message the customer deleted.

An echo is stored as an outgoing message already sent, never queued: it has no outbox
row, so nothing sends it again. It is recognised by its platform id like everything
else, so a message opchat sent itself (its id recorded when the send was answered) or
an echo delivered twice is not stored again. A deleted message is kept as it was, and
marked (``meta["deleted"]``) so the thread can say so.
"""

from __future__ import annotations

import json

from opchat.model import EventKind, InboundMessage
from opchat.store.changes import add_label, record_event
from opchat.store.channels import channel_id as _channel_id
from opchat.store.files import add_attachments
from opchat.store.part import Part
from opchat.store.rows import PREVIEW_CHARS, meta_of, platform_message, set_meta
from opchat.store.sql import Conn, insert_id


class ElsewhereStore(Part):
    """`Store.elsewhere`."""

    async def echo(self, m: InboundMessage) -> bool:
        """Store what the business sent the customer at ``m.chat_id`` from elsewhere, as
        sent (``m.sender_name``: who or what sent it, if the platform says). False when
        it is stored already, or the customer has no dialog on the channel."""

        def run(conn: Conn) -> bool:
            now = self.clock()
            channel_id = _channel_id(conn, m.channel, None, now)
            if conn.execute("SELECT 1 FROM messages WHERE channel_id = ? AND external_id = ?",
                            (channel_id, m.external_id)).fetchone():
                return False
            conv = conn.execute("SELECT id FROM conversations WHERE channel_id = ? "
                                "AND chat_id = ?", (channel_id, m.chat_id)).fetchone()
            if conv is None:
                return False
            at = now if m.sent_at is None else min(m.sent_at, now)
            message_id = insert_id(conn,
                "INSERT INTO messages (conversation_id, channel_id, external_id, direction, "
                "author, body, created_at, state, meta) VALUES (?, ?, ?, 'out', ?, ?, ?, "
                "'sent', ?)",
                (conv["id"], channel_id, m.external_id, m.sender_name, m.body, at,
                 json.dumps(m.meta, ensure_ascii=False)))
            add_attachments(conn, message_id, m.attachments)
            preview = m.body or " ".join(f"[{a.kind}]" for a in m.attachments)
            # Answered elsewhere is answered: a customer who wrote before it waits no more.
            conn.execute(
                "UPDATE conversations SET "
                "last_preview = CASE WHEN :t >= last_message_at THEN :preview "
                "  ELSE last_preview END, "
                "last_direction = CASE WHEN :t >= last_message_at THEN 'out' "
                "  ELSE last_direction END, "
                "last_author = CASE WHEN :t >= last_message_at THEN :author ELSE last_author END, "
                "last_message_at = CASE WHEN last_message_at >= :t THEN last_message_at "
                "  ELSE :t END, "
                "waiting_since = CASE WHEN waiting_since <= :t THEN NULL ELSE waiting_since END "
                "WHERE id = :id",
                {"t": at, "preview": preview[:PREVIEW_CHARS], "author": m.sender_name,
                 "id": conv["id"]})
            record_event(conn, now, EventKind.MESSAGE_NEW, conv["id"], message_id,
                         data={"direction": "out"})
            return True

        return await self.db.write(run)

    async def reachable(self, channel: str, chat_id: str, reachable: bool,
                        label: str) -> bool:
        """The platform says whether the customer at ``chat_id`` may be written to (VK's
        message_allow/deny, Viber's subscribed/unsubscribed, MAX's bot_started/stopped):
        the dialog gets ``label`` while they may not, and loses it when they may again,
        each with its event. False if the customer has no dialog on the channel."""

        def run(conn: Conn) -> bool:
            now = self.clock()
            conv = conn.execute(
                "SELECT c.id FROM conversations c JOIN channels ch ON ch.id = c.channel_id "
                "WHERE ch.name = ? AND c.chat_id = ?", (channel, chat_id)).fetchone()
            if conv is None:
                return False
            if not reachable:
                add_label(conn, conv["id"], label, now, None)
                return True
            row = conn.execute("SELECT id, name FROM labels WHERE name = ?", (label,)).fetchone()
            if row is not None and conn.execute(
                    "DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = ?",
                    (conv["id"], row["id"])).rowcount:
                record_event(conn, now, EventKind.CONVERSATION_LABEL, conv["id"],
                             data={"removed": row["name"]})
            return True

        return await self.db.write(run)

    async def deleted(self, channel: str, external_id: str) -> bool:
        """The customer deleted the channel's message ``external_id``: kept, marked
        ``deleted``, with a ``message.deleted`` event. False if no such message is
        stored."""

        def run(conn: Conn) -> bool:
            row = platform_message(conn, channel, external_id)
            if row is None:
                return False
            meta = meta_of(row["meta"])
            if meta.get("deleted") is True:
                return True
            meta["deleted"] = True
            set_meta(conn, row["id"], meta)
            record_event(conn, self.clock(), EventKind.MESSAGE_DELETED, row["conversation_id"],
                         row["id"])
            return True

        return await self.db.write(run)
