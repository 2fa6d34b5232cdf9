"""The only code that speaks SQL. Every method returns model objects.

Each change to a dialog writes its rows and an `events` row in the same
transaction, so the change feed never misses nor invents anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opchat.model import (
    Attachment,
    Channel,
    Conversation,
    ConversationFilter,
    Direction,
    EventKind,
    Health,
    InboundMessage,
    Ingested,
    Message,
    MessageState,
    Operator,
    Status,
    UnstorableMessage,
)
from opchat.store.changes import UnknownConversation, add_label
from opchat.store.changes import record_event as _event
from opchat.store.contacts import ContactStore
from opchat.store.db import Database, row_value
from opchat.store.events import EventLog
from opchat.store.files import AttachmentStore
from opchat.store.history import HistoryStore
from opchat.store.outbox import OutboxStore
from opchat.store.presence import PresenceStore, end_typing
from opchat.store.reactions import ReactionsStore
from opchat.store.replies import QuickReplyStore
from opchat.store.rows import (
    CONVERSATION_SELECT,
    PREVIEW_CHARS,
    channel_of,
    conversation_of,
    message_of,
    with_attachments,
)
from opchat.store.search import SearchStore
from opchat.store.sql import Conn
from opchat.store.templates import TemplatesStore
from opchat.store.workflow import WorkflowStore, clear_failure

log = logging.getLogger("opchat.store")

# What a single message's data can raise that storing it again will not cure: a value
# of a type SQLite or JSON cannot take, an integer beyond 64 bits, text too big. The
# database's own failures (disk full, locked, damaged, a trigger's abort) are not here:
# those fail the whole transaction, and nothing in it is confirmed.
POISON = (TypeError, ValueError, OverflowError, RecursionError,
          sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.DataError)

DB_FILENAME = "opchat.db"


class Store:
    """The store: channels, ingest, conversations, messages, the outbox and the event
    feed here; the rest in parts over the same Database, one attribute each."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.contacts = ContactStore(db, clock)
        self.attachments = AttachmentStore(db, clock)
        self.history = HistoryStore(db, clock)
        self.presence = PresenceStore(db, clock)
        self.replies = QuickReplyStore(db, clock)
        self.search = SearchStore(db, clock)
        self.workflow = WorkflowStore(db, clock)
        self.outbox = OutboxStore(db, clock)
        self.reactions = ReactionsStore(db, clock)
        self.templates = TemplatesStore(db, clock)
        self.events = EventLog(db, clock)
        self._pending_ingest: list[tuple[InboundMessage, asyncio.Future[Ingested]]] = []
        self._ingest_flush: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, data_dir: Path, clock: Callable[[], float] = time.time) -> Store:
        db = Database(Path(data_dir) / DB_FILENAME)
        await db.open()
        return cls(db, clock)

    async def close(self) -> None:
        if self._ingest_flush is not None:
            await self._ingest_flush
        await self.db.close()

    # Channels ---------------------------------------------------------------------------

    async def ensure_channel(self, name: str, kind: str) -> Channel:
        def run(conn: Conn) -> Channel:
            _channel_id(conn, name, kind, self.clock())
            row = conn.execute("SELECT * FROM channels WHERE name = ?", (name,)).fetchone()
            return channel_of(row)

        return await self.db.write(run)

    async def channels(self) -> list[Channel]:
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

    async def channel_cursor(self, name: str) -> str | None:
        def run(conn: Conn) -> str | None:
            return row_value(conn.execute(
                "SELECT value FROM channel_state JOIN channels ON channels.id = channel_id "
                "WHERE channels.name = ? AND key = 'cursor'", (name,)).fetchone())

        return await self.db.read(run)

    # Inbound ----------------------------------------------------------------------------

    async def ingest(self, message: InboundMessage) -> Ingested:
        """Store one inbound message; returns after COMMIT.

        Concurrent callers are committed together (group commit): whoever
        arrives while a transaction runs joins the next one.
        """
        future: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
        self._pending_ingest.append((message, future))
        if self._ingest_flush is None or self._ingest_flush.done():
            self._ingest_flush = asyncio.create_task(self._flush_ingest())
        return await future

    async def _flush_ingest(self) -> None:
        while self._pending_ingest:
            batch, self._pending_ingest = self._pending_ingest, []
            try:
                results = await self.db.write(self._ingest_rows, [m for m, _ in batch], None)
            except Exception:
                # One bad message must not fail its neighbours: retry each alone.
                for message, future in batch:
                    try:
                        result = await self.db.write(self._ingest_rows, [message], None)
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if future.done():
                            pass
                        elif result[0].skipped is not None:
                            future.set_exception(UnstorableMessage(result[0].skipped))
                        else:
                            future.set_result(result[0])
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if result.skipped is not None:
                    future.set_exception(UnstorableMessage(result.skipped))
                else:
                    future.set_result(result)

    async def ingest_batch(
        self, messages: Sequence[InboundMessage], cursor: tuple[str, str] | None = None
    ) -> list[Ingested]:
        """Store messages, and (channel name, cursor) if given, in one transaction.

        A message whose data the database refuses (see POISON) is left out, logged with
        its channel and id, and answered with ``Ingested.skipped``: the cursor moves past
        it, or the platform would deliver it, and everything behind it, for ever.
        """
        return await self.db.write(self._ingest_rows, list(messages), cursor)

    def _ingest_rows(
        self,
        conn: Conn,
        messages: list[InboundMessage],
        cursor: tuple[str, str] | None,
    ) -> list[Ingested]:
        now = self.clock()
        results = [_ingest_or_skip(conn, m, now) for m in messages]
        if cursor is not None:
            channel_id = _channel_id(conn, cursor[0], None, now)
            conn.execute(
                "INSERT INTO channel_state (channel_id, key, value) VALUES (?, 'cursor', ?) "
                "ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
                (channel_id, cursor[1]),
            )
        return results

    # Operators and what they do ----------------------------------------------------------

    async def ensure_operator(self, login: str, name: str | None = None) -> Operator:
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

    async def add_message(
        self,
        conversation_id: int,
        body: str,
        operator: Operator | None,
        direction: Direction = Direction.OUT,
        reply_to_id: int | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Message:
        """An operator's reply (queued in the outbox in the same transaction) or note;
        ``attachments``: files to send with it (``local_path`` set)."""

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
            message_id = conn.execute(
                "INSERT INTO messages (conversation_id, channel_id, direction, author, "
                "operator_id, body, created_at, state, reply_to_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, conv["channel_id"], direction.value, author,
                 operator.id if operator else None, body, now, state.value, reply_to_id),
            ).lastrowid
            _add_attachments(conn, message_id, attachments)
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
            self.presence.changed()
        return message

    async def retry_message(self, message_id: int, operator: Operator | None) -> bool:
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

    async def mark_read(self, conversation_id: int, operator: Operator | None) -> None:
        def run(conn: Conn) -> None:
            changed = conn.execute(
                "UPDATE conversations SET unread = 0 WHERE id = ? AND unread > 0",
                (conversation_id,)).rowcount
            if changed:
                _event(conn, self.clock(), EventKind.CONVERSATION_READ, conversation_id,
                       operator=operator.login if operator else None)

        await self.db.write(run)

    async def set_status(
        self, conversation_id: int, status: Status, operator: Operator | None
    ) -> None:
        def run(conn: Conn) -> None:
            old = row_value(conn.execute("SELECT status FROM conversations WHERE id = ?",
                                         (conversation_id,)).fetchone())
            if old is None:
                raise UnknownConversation(conversation_id)
            if old == status.value:
                return
            # Resolving or snoozing ends the wait, a failed reply's too (the operator has
            # decided); the customer's next message starts a new one.
            ends_wait = status in (Status.RESOLVED, Status.SNOOZED)
            now = self.clock()
            if ends_wait:
                clear_failure(conn, now, conversation_id, status.value,
                              operator.login if operator else None)
            conn.execute("UPDATE conversations SET status = ?, waiting_since = CASE WHEN ? "
                         "THEN NULL ELSE waiting_since END WHERE id = ?",
                         (status.value, ends_wait, conversation_id))
            _event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
                   operator=operator.login if operator else None,
                   data={"from": old, "to": status.value})

        await self.db.write(run)

    # Reading ----------------------------------------------------------------------------

    async def count_conversations(self, flt: ConversationFilter = ConversationFilter()) -> int:
        where, params = _where(flt)

        def run(conn: Conn) -> int:
            return conn.execute(f"SELECT count(*) FROM conversations c {where}",
                                params).fetchone()[0]

        return await self.db.read(run)

    async def count_many(
        self, filters: Sequence[ConversationFilter], position_of: int | None = None,
        listed: ConversationFilter = ConversationFilter(),
    ) -> tuple[list[int], int | None]:
        """The count of each filter and, with ``position_of``, that dialog's index in the
        ``listed`` list (as `conversation_position`): one statement, one snapshot."""
        columns: list[str] = []
        params: list[Any] = []
        for flt in filters:
            where, more = _where(flt)
            columns.append(f"(SELECT count(*) FROM conversations c {where})")
            params += more
        if position_of is not None:
            where, more = _where(listed)
            if listed.order == "waiting":
                ahead = ("((x.waiting_since IS NULL AND (c.waiting_since IS NOT NULL "
                         "OR c.id < x.id)) OR c.waiting_since < x.waiting_since "
                         "OR (c.waiting_since = x.waiting_since AND c.id < x.id))")
            else:
                ahead = ("(c.last_message_at > x.last_message_at OR "
                         "(c.last_message_at = x.last_message_at AND c.id > x.id))")
            # NULL when the dialog does not exist, as conversation_position's None.
            columns.append(f"(SELECT (SELECT count(*) FROM conversations c {where} AND "
                           f"{ahead}) FROM conversations x WHERE x.id = ?)")
            params += [*more, position_of]
        if not columns:
            return [], None

        def run(conn: Conn) -> tuple[list[int], int | None]:
            row = conn.execute(f"SELECT {', '.join(columns)}", params).fetchone()
            if position_of is None:
                return list(row), None
            return list(row[:-1]), row[-1]

        return await self.db.read(run)

    async def conversations(
        self, flt: ConversationFilter = ConversationFilter(), offset: int = 0, limit: int = 50
    ) -> list[Conversation]:
        where, params = _where(flt)
        order = ("c.waiting_since IS NULL, c.waiting_since, c.id" if flt.order == "waiting"
                 else "c.last_message_at DESC, c.id DESC")

        def run(conn: Conn) -> list[Conversation]:
            # Skip `offset` rows on the index alone, then join only the page: a deep
            # OFFSET over the full join would build every skipped row first.
            page = conn.execute(
                f"SELECT c.id FROM conversations c {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*params, limit, offset)).fetchall()
            if not page:
                return []
            ids = [r[0] for r in page]
            rows = conn.execute(
                f"{CONVERSATION_SELECT} WHERE c.id IN ({','.join('?' * len(ids))})", ids)
            by_id = {r["id"]: conversation_of(r) for r in rows}
            return [by_id[i] for i in ids if i in by_id]

        return await self.db.read(run)

    async def conversation(self, conversation_id: int) -> Conversation | None:
        def run(conn: Conn) -> Conversation | None:
            row = conn.execute(f"{CONVERSATION_SELECT} WHERE c.id = ?",
                               (conversation_id,)).fetchone()
            return None if row is None else conversation_of(row)

        return await self.db.read(run)

    async def conversation_position(
        self, conversation_id: int, flt: ConversationFilter = ConversationFilter()
    ) -> int | None:
        """Index of a conversation in the filtered, ordered list (None if not in it)."""
        conv = await self.conversation(conversation_id)
        if conv is None:
            return None
        where, params = _where(flt)
        if flt.order == "waiting":
            if conv.waiting_since is None:
                ahead = ("(c.waiting_since IS NOT NULL OR c.id < ?)", [conv.id])
            else:
                ahead = ("(c.waiting_since < ? OR (c.waiting_since = ? AND c.id < ?))",
                         [conv.waiting_since, conv.waiting_since, conv.id])
        else:
            ahead = ("(c.last_message_at > ? OR (c.last_message_at = ? AND c.id > ?))",
                     [conv.last_message_at, conv.last_message_at, conv.id])
        joiner = " AND " if where else " WHERE "

        def run(conn: Conn) -> int:
            return conn.execute(
                f"SELECT count(*) FROM conversations c {where}{joiner}{ahead[0]}",
                (*params, *ahead[1])).fetchone()[0]

        return await self.db.read(run)

    async def messages(
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

    async def messages_after(self, conversation_id: int, after_id: int) -> list[Message]:
        def run(conn: Conn) -> list[Message]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND id > ? AND hidden = 0 "
                "ORDER BY id LIMIT 1000", (conversation_id, after_id)).fetchall()
            return with_attachments(conn, rows)

        return await self.db.read(run)

    async def chat_messages(
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

    async def conversation_address(self, conversation_id: int) -> tuple[str, str] | None:
        """(channel name, chat id) of a dialog: where its replies go."""

        def run(conn: Conn) -> tuple[str, str] | None:
            row = conn.execute("SELECT ch.name, c.chat_id FROM conversations c "
                               "JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?",
                               (conversation_id,)).fetchone()
            return None if row is None else (row[0], row[1])

        return await self.db.read(run)

    async def message(self, message_id: int) -> Message | None:
        def run(conn: Conn) -> Message | None:
            rows = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchall()
            found = with_attachments(conn, rows)
            return found[0] if found else None

        return await self.db.read(run)

    async def waiting_count(self) -> int:
        def run(conn: Conn) -> int:
            return conn.execute("SELECT count(*) FROM conversations "
                                "WHERE waiting_since IS NOT NULL AND hidden = 0").fetchone()[0]

        return await self.db.read(run)



# The SQL behind the methods -------------------------------------------------------------





def _where(flt: ConversationFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["c.hidden = 0"]  # a hidden dialog leaves every list and count
    params: list[Any] = []
    if flt.statuses is not None:
        clauses.append(f"c.status IN ({','.join('?' * len(flt.statuses))})")
        params += sorted(s.value for s in flt.statuses)
    if flt.waiting_only:
        clauses.append("c.waiting_since IS NOT NULL")
    if flt.assignee is not None:
        clauses.append("c.assignee_id = (SELECT id FROM operators WHERE login = ?)")
        params.append(flt.assignee)
    if flt.unassigned:
        clauses.append("c.assignee_id IS NULL")
    if flt.unread_only:
        clauses.append("c.unread > 0")
    if flt.failed_only:
        clauses.append("c.failed_message_id IS NOT NULL")
    if flt.label is not None:
        clauses.append("c.id IN (SELECT cl.conversation_id FROM conversation_labels cl "
                       "JOIN labels l ON l.id = cl.label_id WHERE l.name = ?)")
        params.append(flt.label)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _channel_id(conn: Conn, name: str, kind: str | None, now: float) -> int:
    row = conn.execute("SELECT id FROM channels WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return row[0]
    return conn.execute("INSERT INTO channels (name, kind, created_at) VALUES (?, ?, ?)",
                        (name, kind or name, now)).lastrowid


def _ingest_or_skip(conn: Conn, m: InboundMessage, now: float) -> Ingested:
    """Store one message inside a savepoint; a poisoned one is rolled back alone."""
    conn.execute("SAVEPOINT ingest_one")
    try:
        result = _ingest_one(conn, m, now)
    except POISON as exc:
        conn.execute("ROLLBACK TO ingest_one")
        conn.execute("RELEASE ingest_one")
        reason = f"{type(exc).__name__}: {exc}"
        log.error("channel %s: message %s from %s cannot be stored and is skipped (%s)",
                  m.channel, m.external_id, m.sender_id, reason)
        return Ingested(0, 0, duplicate=False, skipped=reason)
    conn.execute("RELEASE ingest_one")
    return result


def _ingest_one(conn: Conn, m: InboundMessage, now: float) -> Ingested:
    channel_id = _channel_id(conn, m.channel, None, now)
    seen = conn.execute("SELECT id, conversation_id FROM messages "
                        "WHERE channel_id = ? AND external_id = ?",
                        (channel_id, m.external_id)).fetchone()
    if seen is not None:
        return Ingested(seen[0], seen[1], duplicate=True)

    identity = conn.execute("SELECT id, contact_id, display_name, username FROM identities "
                            "WHERE channel_id = ? AND external_id = ?",
                            (channel_id, m.sender_id)).fetchone()
    if identity is None:
        contact_id = conn.execute(
            "INSERT INTO contacts (name, phone, email, created_at) VALUES (?, ?, ?, ?)",
            (m.sender_name, m.phone, m.email, now)).lastrowid
        identity_id = conn.execute(
            "INSERT INTO identities (contact_id, channel_id, external_id, display_name, "
            "username, profile) VALUES (?, ?, ?, ?, ?, ?)",
            (contact_id, channel_id, m.sender_id, m.sender_name, m.username,
             json.dumps(m.profile, ensure_ascii=False))).lastrowid
    else:
        identity_id, contact_id = identity["id"], identity["contact_id"]
        if (identity["display_name"], identity["username"]) != (m.sender_name, m.username):
            conn.execute("UPDATE identities SET display_name = ?, username = ? WHERE id = ?",
                         (m.sender_name, m.username, identity_id))
        if m.profile:
            # What the platform says now (the page a visitor is on) updates what it said
            # before; keys it does not mention stay.
            conn.execute("UPDATE identities SET profile = json_patch(profile, ?) WHERE id = ?",
                         (json.dumps(m.profile, ensure_ascii=False), identity_id))
        if m.phone or m.email:
            # A phone or e-mail left later (a web chat form) fills what the contact lacks;
            # it never overwrites what an operator or a merge has set.
            conn.execute("UPDATE contacts SET phone = coalesce(nullif(phone, ''), ?), "
                         "email = coalesce(nullif(email, ''), ?) WHERE id = ?",
                         (m.phone or None, m.email or None, contact_id))

    created_at = now if m.sent_at is None else min(m.sent_at, now)
    conv = conn.execute("SELECT id, status, hidden FROM conversations "
                        "WHERE channel_id = ? AND chat_id = ?",
                        (channel_id, m.chat_id)).fetchone()
    if conv is None:
        conversation_id = conn.execute(
            "INSERT INTO conversations (channel_id, chat_id, contact_id, identity_id, "
            "last_message_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (channel_id, m.chat_id, contact_id, identity_id, created_at, created_at)).lastrowid
        _event(conn, now, EventKind.CONVERSATION_NEW, conversation_id)
        reopened_from = None
    else:
        conversation_id = conv["id"]
        reopened_from = conv["status"] if conv["status"] in ("resolved", "snoozed") else None
        if conv["hidden"]:  # a customer who writes again is never left unseen
            conn.execute("UPDATE conversations SET hidden = 0 WHERE id = ?", (conversation_id,))
            _event(conn, now, EventKind.CONVERSATION_UNHIDDEN, conversation_id,
                   data={"reason": "customer wrote"})

    reply_to = _message_id(conn, channel_id, m.reply_to_external_id)
    edit_of = _message_id(conn, channel_id, m.edit_of_external_id)
    # An edit of a message an operator hid is hidden with it, and changes nothing else.
    hidden = edit_of is not None and bool(row_value(conn.execute(
        "SELECT hidden FROM messages WHERE id = ?", (edit_of,)).fetchone(), 0))
    message_id = conn.execute(
        "INSERT INTO messages (conversation_id, channel_id, external_id, direction, author, body, "
        "created_at, state, reply_to_id, meta, edit_of_id, hidden) "
        "VALUES (?, ?, ?, 'in', ?, ?, ?, 'received', ?, ?, ?, ?)",
        (conversation_id, channel_id, m.external_id, m.sender_name, m.body, created_at, reply_to,
         json.dumps(m.meta, ensure_ascii=False), edit_of, int(hidden)),
    ).lastrowid
    _add_attachments(conn, message_id, m.attachments)
    if hidden:
        _event(conn, now, EventKind.MESSAGE_HIDDEN, conversation_id, message_id,
               data={"direction": "in", "reason": "edit of a hidden message"})
        return Ingested(message_id, conversation_id, duplicate=False)
    for label in m.labels:
        add_label(conn, conversation_id, label, now, None)
    preview = m.body or " ".join(f"[{a.kind}]" for a in m.attachments)
    conn.execute(
        # SET expressions all see the row as it was. A message that arrives late (older
        # than the dialog's last one) is stored but does not replace the preview, and
        # does not make the customer "wait" again if someone has answered since.
        "UPDATE conversations SET unread = unread + 1, "
        "last_preview = CASE WHEN :t >= last_message_at THEN :preview ELSE last_preview END, "
        "last_direction = CASE WHEN :t >= last_message_at THEN 'in' ELSE last_direction END, "
        "last_author = CASE WHEN :t >= last_message_at THEN :author ELSE last_author END, "
        "last_message_at = max(last_message_at, :t), "
        "waiting_since = CASE WHEN status IN ('resolved', 'snoozed') THEN :t "
        "  WHEN waiting_since IS NOT NULL THEN waiting_since "
        "  WHEN :t >= last_message_at THEN :t ELSE NULL END, "
        "status = CASE WHEN status IN ('resolved', 'snoozed') THEN 'open' ELSE status END, "
        "snoozed_until = NULL WHERE id = :id",
        {"t": created_at, "preview": preview[:PREVIEW_CHARS], "author": m.sender_name,
         "id": conversation_id})
    _event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id, data={"direction": "in"})
    if reopened_from is not None:
        _event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
               data={"from": reopened_from, "to": "open", "reason": "customer wrote"})
    return Ingested(message_id, conversation_id, duplicate=False)


def _add_attachments(conn: Conn, message_id: int,
                     attachments: Sequence[Attachment]) -> None:
    for a in attachments:
        conn.execute("INSERT INTO attachments (message_id, kind, filename, mime, size, ref, "
                     "local_path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (message_id, a.kind, a.filename, a.mime, a.size, a.ref, a.local_path))


def _message_id(conn: Conn, channel_id: int, external_id: str | None) -> int | None:
    if external_id is None:
        return None
    return row_value(conn.execute(
        "SELECT id FROM messages WHERE channel_id = ? AND external_id = ?",
        (channel_id, external_id)).fetchone())
