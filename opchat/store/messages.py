"""A dialog's messages: an operator's reply or note written, a failed one retried, pages read.

Messages are never deleted (a trigger refuses it); hiding one is `Store.history`'s.
What customers send is written by `Store.inbound`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from opchat.model import (
    Attachment,
    Direction,
    EventKind,
    Message,
    MessageState,
    Operator,
    TemplateUse,
)
from opchat.store.changes import UnknownConversation
from opchat.store.changes import record_event as _event
from opchat.store.db import Database
from opchat.store.files import add_attachments, attachments_kept
from opchat.store.part import Part
from opchat.store.presence import end_typing
from opchat.store.rows import PREVIEW_CHARS, message_of, meta_of_template, with_attachments
from opchat.store.sql import Conn, insert_id


class MessageStore(Part):
    """`Store.messages`. A reply ends its author's "typing" in its own transaction;
    ``presence_changed`` (the presence part's `changed`, given by `Store`) then tells
    this process's presence followers."""

    def __init__(self, db: Database, clock: Callable[[], float],
                 presence_changed: Callable[[], None]) -> None:
        super().__init__(db, clock)
        self._presence_changed = presence_changed

    async def add(
        self,
        conversation_id: int,
        body: str,
        operator: Operator | None,
        direction: Direction = Direction.OUT,
        reply_to_id: int | None = None,
        attachments: Sequence[Attachment] = (),
        template: TemplateUse | None = None,
    ) -> Message:
        """An operator's reply (queued in the outbox in the same transaction) or note;
        ``attachments``: files to send with it (``local_path`` set); ``template``: send
        it as this approved template (``body`` is its text as filled). On PostgreSQL the
        files' bytes go into the store first, so that a hub on another machine can send
        them."""
        attachments = await attachments_kept(self.db, attachments)

        def run(conn: Conn) -> Message:
            now = self.clock()
            conv = conn.execute(
                "SELECT c.id, channel_id, c.created_at, waiting_since, first_response_s, "
                "failed_message_id, ch.name AS channel FROM conversations c "
                "JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?",
                (conversation_id,)).fetchone()
            if conv is None:
                raise UnknownConversation(conversation_id)
            outgoing = direction in (Direction.OUT, Direction.AUTO)
            state = MessageState.QUEUED if outgoing else MessageState.SENT
            author = operator.login if operator else ""
            meta = {"template": meta_of_template(template)} if template is not None else {}
            message_id = insert_id(conn,
                "INSERT INTO messages (conversation_id, channel_id, direction, author, "
                "operator_id, body, created_at, state, reply_to_id, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, conv["channel_id"], direction.value, author,
                 operator.id if operator else None, body, now, state.value, reply_to_id,
                 json.dumps(meta, ensure_ascii=False)),
            )
            add_attachments(conn, message_id, attachments)
            if outgoing:
                conn.execute(
                    "INSERT INTO outbox (message_id, channel_id, next_attempt_at, updated_at) "
                    "VALUES (?, ?, ?, ?)", (message_id, conv["channel_id"], now, now))
            updates = ["last_message_at = ?", "last_preview = ?", "last_direction = ?",
                       "last_author = ?"]
            params: list[Any] = [now, body[:PREVIEW_CHARS], direction.value, author]
            if direction == Direction.OUT:
                # A human answer: the customer is no longer waiting; unless the last
                # reply failed, in which case they wait until one is delivered.
                updates.append("unread = 0")
                if conv["failed_message_id"] is None:
                    updates.append("waiting_since = NULL")
                if conv["first_response_s"] is None and conv["waiting_since"] is not None:
                    updates.append("first_response_s = ?")
                    params.append(now - conv["created_at"])
            conn.execute(f"UPDATE conversations SET {', '.join(updates)} WHERE id = ?",
                         (*params, conversation_id))
            if operator is not None and direction in (Direction.OUT, Direction.NOTE):
                # What the operator had typed is what went out: the draft goes with it,
                # and so does "typing" (colleagues see the reply instead).
                conn.execute("DELETE FROM drafts WHERE operator_id = ? AND conversation_id = ?",
                             (operator.id, conversation_id))
                typing_ended.append(end_typing(conn, now, operator.login))
            data: dict[str, Any] = {"direction": direction.value}
            if outgoing:  # which channel's outbox has work now: the hub wakes that one
                data["channel"] = conv["channel"]
            _event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id, author, data)
            return message_of(conn.execute("SELECT * FROM messages WHERE id = ?",
                                         (message_id,)).fetchone())

        typing_ended: list[bool] = []
        message = await self.db.write(run)
        if any(typing_ended):
            self._presence_changed()
        return message

    async def retry(self, message_id: int, operator: Operator | None) -> bool:
        """Put a failed outbound message back in the outbox."""

        def run(conn: Conn) -> bool:
            now = self.clock()
            row = conn.execute("SELECT conversation_id, state, ch.name AS channel "
                               "FROM messages JOIN channels ch ON ch.id = channel_id "
                               "WHERE messages.id = ?", (message_id,)).fetchone()
            if row is None or row["state"] != MessageState.FAILED.value:
                return False
            conn.execute("UPDATE messages SET state = 'queued', error = NULL WHERE id = ?",
                         (message_id,))
            conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, "
                "last_error = NULL, updated_at = ? WHERE message_id = ?", (now, now, message_id))
            _event(conn, now, EventKind.MESSAGE_STATE, row["conversation_id"], message_id,
                   operator.login if operator else None,
                   {"state": "queued", "retry": True, "channel": row["channel"]})
            return True

        return await self.db.write(run)

    async def page(
        self, conversation_id: int, before_id: int | None = None, limit: int = 100
    ) -> list[Message]:
        """Up to ``limit`` messages older than ``before_id`` (newest if None), oldest first."""

        def run(conn: Conn) -> list[Message]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND id < ? AND hidden = 0 "
                "ORDER BY id DESC LIMIT ?",
                (conversation_id, before_id if before_id is not None else 2**62, limit),
            ).fetchall()
            rows.reverse()
            return with_attachments(conn, rows)

        return await self.db.read(run)

    async def after(self, conversation_id: int, after_id: int) -> list[Message]:
        def run(conn: Conn) -> list[Message]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND id > ? AND hidden = 0 "
                "ORDER BY id LIMIT 1000", (conversation_id, after_id)).fetchall()
            return with_attachments(conn, rows)

        return await self.db.read(run)

    async def for_chat(
        self, channel: str, chat_id: str, after_id: int = 0, limit: int = 200
    ) -> list[Message]:
        """What the customer at ``chat_id`` can see of their dialog, oldest first.

        Their own messages and what was sent to them (not private notes, not
        messages that failed), newer than ``after_id``; the newest ``limit``
        of them. For channels whose clients keep no history of their own (the
        web chat widget).
        """

        def run(conn: Conn) -> list[Message]:
            rows = conn.execute(
                "SELECT messages.* FROM messages "
                "JOIN conversations ON conversations.id = messages.conversation_id "
                "JOIN channels ON channels.id = conversations.channel_id "
                "WHERE channels.name = ? AND conversations.chat_id = ? AND messages.id > ? "
                "AND messages.hidden = 0 AND messages.direction IN ('in', 'out', 'auto') "
                "AND messages.state != 'failed' ORDER BY messages.id DESC LIMIT ?",
                (channel, chat_id, after_id, limit)).fetchall()
            rows.reverse()
            return with_attachments(conn, rows)

        return await self.db.read(run)

    async def get(self, message_id: int) -> Message | None:
        def run(conn: Conn) -> Message | None:
            rows = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchall()
            found = with_attachments(conn, rows)
            return found[0] if found else None

        return await self.db.read(run)
