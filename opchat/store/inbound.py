"""What customers send: stored idempotently, group-committed, before anyone acknowledges it.

A message is unique per (channel, external id): a redelivered one is recognised, not
stored twice. Its contact, identity, dialog, attachments, labels and `events` rows are
written in the transaction that stores it, with the transport's cursor when it gives one.
The messages committed together are written set-wise, a multi-row statement per table
(`_Group`), with the rows and events one message at a time would write.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence

from opchat.model import (
    EventKind,
    InboundMessage,
    Ingested,
    UnstorableMessage,
    check_event_data,
)
from opchat.store import stats
from opchat.store.changes import INSERT_EVENT, add_label, insert_events
from opchat.store.changes import record_event as _event
from opchat.store.channels import channel_id as _channel_id
from opchat.store.db import Database, row_value
from opchat.store.files import add_attachments
from opchat.store.part import Part
from opchat.store.ratings import ANSWER_WINDOW, answer_of, rate
from opchat.store.rows import PREVIEW_CHARS
from opchat.store.sql import (
    Conn,
    PostgresDialect,
    Row,
    dialect,
    execute_many,
    insert_id,
    insert_many,
    pipelined,
)

log = logging.getLogger("opchat.store")

# What a single message's data can raise that storing it again will not cure: a value
# of a type the database or JSON cannot take, an integer beyond 64 bits, text too big
# (the driver's own such errors are `Database.data_errors`). The database's failures
# (disk full, locked, damaged, a trigger's abort) are not here: those fail the whole
# transaction, and nothing in it is confirmed.
NOT_STORABLE: tuple[type[Exception], ...] = (TypeError, ValueError, OverflowError,
                                             RecursionError)


# Up to this many messages are a short transaction (`Database.write_short`: under a
# millisecond of SQL); a larger group goes to the writer's thread, and whoever ingests
# meanwhile joins the next group.
SHORT_GROUP = 4


class InboundStore(Part):
    """`Store.inbound`: `ingest` (one message, group-committed), `ingest_batch` (a
    transport's page with its cursor) and the platform's delivery receipts."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__(db, clock)
        self._poison = (*NOT_STORABLE, *db.data_errors)
        self._pending: list[tuple[InboundMessage, asyncio.Future[Ingested]]] = []
        # The group commit under way: a task, or a message written by its caller.
        self._flush: asyncio.Future[None] | None = None
        # Channels' ids by name, as committed (a channel's row is never renamed nor
        # deleted, so its id stays): one statement fewer per message.
        self._channels: dict[str, int] = {}

    async def _write(self, messages: list[InboundMessage],
                     cursor: tuple[str, str] | None) -> list[Ingested]:
        made: dict[str, int] = {}
        try:
            # Nearly every message can be stored: first written without a savepoint
            # each (two statements fewer a message). If one cannot, that transaction is
            # rolled back whole and written again with them, to skip it alone.
            write = self.db.write_short if len(messages) <= SHORT_GROUP else self.db.write
            results = await write(self._ingest_rows, messages, cursor, made, False)
        except self._poison:
            made = {}
            results = await self.db.write(self._ingest_rows, messages, cursor, made, True)
        self._channels.update(made)  # committed now
        return results

    async def ingest(self, message: InboundMessage) -> Ingested:
        """Store one inbound message; returns after COMMIT.

        Concurrent callers are committed together (group commit): whoever
        arrives while a transaction runs joins the next one.
        """
        if ((self._flush is not None and not self._flush.done())
                or not self.db.short_write_here()):
            future: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
            self._pending.append((message, future))
            if self._flush is None or self._flush.done():
                self._flush = asyncio.create_task(self._flush_pending())
            return await future
        # Nothing under way, and the database writes a short transaction right here on
        # the loop's thread (SQLite): written in the caller's task, with no task nor
        # future between (one awaiting producer pays two turns of the loop fewer); who
        # comes meanwhile waits in `_pending` and is written as a group after it.
        # Elsewhere (PostgreSQL: a round trip a statement) the flush task starts on the
        # loop's next turn, so that the producers woken by the last commit join it.
        under_way: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flush = under_way
        try:
            [result] = await self._write([message], None)
        finally:
            if self._pending:
                self._flush = asyncio.create_task(self._flush_pending())
            under_way.set_result(None)
        if result.skipped is not None:
            raise UnstorableMessage(result.skipped)
        return result

    async def drain(self) -> None:
        """Wait for the group commits under way, if any (before the database closes)."""
        while self._flush is not None and not self._flush.done():
            await self._flush

    async def _flush_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([m for m, _ in batch], None)
            except Exception:
                # One bad message must not fail its neighbours: retry each alone.
                for message, future in batch:
                    try:
                        result = await self._write([message], None)
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

        A message whose data the database refuses (see NOT_STORABLE) is left out, logged
        with its channel and id, and answered with ``Ingested.skipped``: the cursor moves
        past it, or the platform would deliver it, and everything behind it, for ever.
        """
        return await self._write(list(messages), cursor)

    def _ingest_rows(
        self,
        conn: Conn,
        messages: list[InboundMessage],
        cursor: tuple[str, str] | None,
        made: dict[str, int] | None = None,
        savepoints: bool = False,
    ) -> list[Ingested]:
        """``made``: the channels' ids this transaction read or made, to be known once
        it commits. ``savepoints``: each message in its own, a poisoned one skipped;
        without, it fails the transaction."""
        now = self.clock()
        known = self._channels
        seen = {} if made is None else made

        def channel(name: str) -> int:
            found = known.get(name) or seen.get(name)
            if found is None:
                found = seen[name] = _channel_id(conn, name, None, now)
            return found

        if savepoints:
            results = []
            for m in messages:
                before = dict(seen)
                results.append(_ingest_or_skip(conn, m, now, self._poison, channel))
                if results[-1].skipped is not None:  # a channel it made was rolled back
                    seen.clear()
                    seen.update(before)
        elif len(messages) == 1 and not dialect(conn).remote:
            # SQLite's statements cost no round trip: one message alone is written the
            # plain way, cheaper in Python than a group of one (measured ~5%).
            results = [_ingest_one(conn, messages[0], now, channel(messages[0].channel))]
        else:
            channels = [channel(m.channel) for m in messages]
            results = _Group(conn, now).write(messages, channels,
                                              _look_up_all(conn, messages, channels))
        if cursor is not None:
            conn.execute(
                "INSERT INTO channel_state (channel_id, key, value) VALUES (?, 'cursor', ?) "
                "ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
                (channel(cursor[0]), cursor[1]),
            )
        return results


def _ingest_or_skip(conn: Conn, m: InboundMessage, now: float,
                    poison: tuple[type[Exception], ...],
                    channel: Callable[[str], int]) -> Ingested:
    """Store one message inside a savepoint; a poisoned one is rolled back alone."""
    conn.execute("SAVEPOINT ingest_one")
    try:
        result = _ingest_one(conn, m, now, channel(m.channel))
    except poison as exc:
        conn.execute("ROLLBACK TO ingest_one")
        conn.execute("RELEASE ingest_one")
        reason = f"{type(exc).__name__}: {exc}"
        log.error("channel %s: message %s from %s cannot be stored and is skipped (%s)",
                  m.channel, m.external_id, m.sender_id, reason)
        return Ingested(0, 0, duplicate=False, skipped=reason)
    conn.execute("RELEASE ingest_one")
    return result


# The message if it came before, its sender's identity and its dialog, in one look
# (each is unique per channel; the one-row base keeps a row when none is found).
_FOUND = (
    "m.id AS seen_id, m.conversation_id AS seen_conversation, "
    "i.id AS identity_id, i.contact_id, i.display_name, i.username, "
    "c.id AS conversation_id, c.status, c.hidden, c.rating_asked_at, "
    "c.last_message_at, c.last_inbound_at, c.waiting_since, "
    "c.stats_round_start, c.stats_waiting_start, c.stats_responded, c.stats_rounds ")
_LOOKUP = (
    f"SELECT {_FOUND} FROM (SELECT 1 AS one) AS base "
    "LEFT JOIN messages m ON m.channel_id = :channel AND m.external_id = :message "
    "LEFT JOIN identities i ON i.channel_id = :channel AND i.external_id = :sender "
    "LEFT JOIN conversations c ON c.channel_id = :channel AND c.chat_id = :chat")
# The same for several messages at once: one row each, in their order (VALUES' columns
# are column1, column2... on both databases; {joins}: `_LOOKUP_JOINS` in the dialect's
# words).
_LOOKUP_ALL = (
    f"SELECT k.column1 AS n, {_FOUND} FROM (VALUES {{rows}}) AS k {{joins}} "
    "ORDER BY k.column1")
_LOOKUP_JOINS = (("messages", "m", "m.channel_id = k.column2 AND m.external_id = k.column3"),
                 ("identities", "i", "i.channel_id = k.column2 AND i.external_id = k.column4"),
                 ("conversations", "c", "c.channel_id = k.column2 AND c.chat_id = k.column5"))
_LOOKUP_AT_ONCE = 500


def _look_up_all(conn: Conn, messages: list[InboundMessage], channels: list[int]
                 ) -> list[Row]:
    """`_LOOKUP` of each message as the transaction stands before any of them is
    written, in one statement (a few for a big group)."""
    if len(messages) == 1:
        return [_look_up(conn, messages[0], channels[0])]
    rows: list[Row] = []
    for start in range(0, len(messages), _LOOKUP_AT_ONCE):
        part = range(start, min(start + _LOOKUP_AT_ONCE, len(messages)))
        rows += conn.execute(
            _LOOKUP_ALL.format(rows=", ".join(["(?, ?, ?, ?, ?)"] * len(part)),
                               joins=" ".join(dialect(conn).keyed_join(*j)
                                              for j in _LOOKUP_JOINS)),
            [value for n in part for value in (n, channels[n], messages[n].external_id,
                                               messages[n].sender_id, messages[n].chat_id)]
        ).fetchall()
    return rows


def _look_up(conn: Conn, m: InboundMessage, channel_id: int) -> Row:
    return conn.execute(_LOOKUP, {"channel": channel_id, "message": m.external_id,
                                  "sender": m.sender_id, "chat": m.chat_id}).fetchone()


# What a group writes for the usual message, checked once against model.EVENT_DATA.
_REOPENED = {"to": "open", "reason": "customer wrote"}
_UNHIDDEN = {"reason": "customer wrote"}
_IN = json.dumps({"direction": "in"})
for _kind, _data in ((EventKind.MESSAGE_NEW, {"direction": "in"}),
                     (EventKind.CONVERSATION_NEW, {}),
                     (EventKind.CONVERSATION_UNHIDDEN, _UNHIDDEN),
                     (EventKind.CONVERSATION_STATUS, {"from": "resolved", **_REOPENED})):
    check_event_data(_kind, _data)
_UNHIDDEN_JSON = json.dumps(_UNHIDDEN, ensure_ascii=False)
_NEW, _CONVERSATION_NEW, _STATUS, _UNHIDE = (str(k) for k in (
    EventKind.MESSAGE_NEW, EventKind.CONVERSATION_NEW, EventKind.CONVERSATION_STATUS,
    EventKind.CONVERSATION_UNHIDDEN))
_RESTING = ("resolved", "snoozed")  # a customer who writes reopens these


class _Sender:
    """A sender's identity as the group knows it; ``new``: its contact's and identity's
    rows, until written."""

    __slots__ = ("contact_id", "id", "name", "new", "username")

    def __init__(self, identity_id: int | None, contact_id: int | None, name: str,
                 username: str | None,
                 new: tuple[tuple[object, ...], tuple[object, ...]] | None = None) -> None:
        self.id, self.contact_id, self.name, self.username = (identity_id, contact_id, name,
                                                              username)
        self.new = new


class _Dialog:
    """A dialog as the group's messages leave it (what the dialog's UPDATE in
    `_ingest_one` does to the row, worked out here); what is not yet written: ``new``
    (the whole row), ``unread`` added, ``last`` (preview, author) set, ``dirty``."""

    __slots__ = ("channel_id", "chat_id", "created_at", "dirty", "hidden", "id", "last",
                 "last_inbound_at", "last_message_at", "new", "rating_asked_at", "round",
                 "sender", "status", "unread", "waiting_since")

    def __init__(self, channel_id: int, chat_id: str, sender: _Sender | None,
                 row: Row | None, created_at: float) -> None:
        self.channel_id, self.chat_id, self.sender = channel_id, chat_id, sender
        self.unread, self.last, self.dirty = 0, None, False
        self.last: tuple[str, str] | None
        self.round: stats.Round
        if row is None:  # as `_ingest_one` inserts it
            self.id, self.new = None, True
            self.created_at = self.last_message_at = created_at
            self.status, self.hidden, self.rating_asked_at = "open", 0, None
            self.last_inbound_at = self.waiting_since = None
            self.round = (None, None, 0, 0)
        else:
            self.id, self.new, self.created_at = row["conversation_id"], False, created_at
            self.status, self.hidden = row["status"], row["hidden"]
            self.rating_asked_at = row["rating_asked_at"]
            self.last_message_at = row["last_message_at"]
            self.last_inbound_at = row["last_inbound_at"]
            self.waiting_since = row["waiting_since"]
            self.round = (row["stats_round_start"], row["stats_waiting_start"],
                          row["stats_responded"], row["stats_rounds"])

    def add(self, t: float, preview: str, author: str) -> None:
        """One message in at ``t``: `_ingest_one`'s UPDATE of the dialog, in Python (SET
        expressions see the row as it was; a comparison with NULL is not true)."""
        last = self.last_message_at
        latest = last is not None and t >= last
        self.unread += 1
        if latest:
            self.last = (preview, author)
        if self.status in _RESTING:
            self.waiting_since = t
            self.status = "open"
        elif self.waiting_since is None:
            self.waiting_since = t if latest else None
        if last is None or not last >= t:
            self.last_message_at = t
        if self.last_inbound_at is None or not self.last_inbound_at >= t:
            self.last_inbound_at = t
        self.dirty = True


class _Message:
    __slots__ = ("channel_id", "conversation_id", "created_at", "dialog", "id", "m", "meta")

    def __init__(self, m: InboundMessage, channel_id: int, dialog: _Dialog,
                 created_at: float, meta: str) -> None:
        self.m, self.channel_id, self.dialog = m, channel_id, dialog
        self.created_at, self.meta = created_at, meta
        self.id: int | None = None
        self.conversation_id: int | None = None

    def result(self, duplicate: bool = False) -> Ingested:
        assert self.id is not None and self.conversation_id is not None
        return Ingested(self.id, self.conversation_id, duplicate=duplicate)


class _Again:
    """A message the group had already (the same id earlier in it): its result."""

    __slots__ = ("first",)

    def __init__(self, first: _Message) -> None:
        self.first = first


class _Group:
    """A group of messages written as `_ingest_one` writes each, the same rows and the
    same events in the same order, but in multi-row statements: one INSERT for the
    group's new contacts, one for their identities, one for its new dialogs, one for
    its messages, one for its events, one each for the figures' facts, days and hours,
    and one UPDATE … FROM (VALUES …) for the dialogs it touches (on SQLite, where that
    join costs more than it saves, one plain UPDATE each). The group's state
    (each dialog as its messages leave it) is kept here, from the one look-up before
    the group.

    A message out of the ordinary (one that changes what is known of its sender, edits
    or answers another, brings labels, answers a rating request, or has metadata the
    figures read back) is written by `_ingest_one` itself: what the group has so far is
    written first, and what that message touched is looked up again by the next one."""

    def __init__(self, conn: Conn, now: float) -> None:
        self.conn, self.now = conn, now
        self.senders: dict[tuple[int, str], _Sender] = {}
        self.dialogs: dict[tuple[int, str], _Dialog] = {}
        self.seen: dict[tuple[int, str], _Message] = {}
        self.stale: set[tuple[str, int, str]] = set()  # changed by `_ingest_one`
        # Not yet written:
        self.new_senders: list[_Sender] = []
        self.new_dialogs: list[_Dialog] = []
        self.touched: list[_Dialog] = []  # the dialogs known before, in first-touched order
        self.messages: list[_Message] = []
        # (kind, dialog, message or None, data JSON, its facts: (kind, operator, start))
        self.events: list[tuple[str, _Dialog, _Message | None, str,
                                list[tuple[str, str, float | None]]]] = []

    def write(self, messages: list[InboundMessage], channels: list[int],
              rows: list[Row]) -> list[Ingested]:
        results: list[Ingested | _Message | _Again] = []
        for m, channel_id, row in zip(messages, channels, rows, strict=True):
            results.append(self._add(m, channel_id, row))
        self._flush()
        return [r if isinstance(r, Ingested) else
                r.first.result(duplicate=True) if isinstance(r, _Again) else r.result()
                for r in results]

    def _add(self, m: InboundMessage, channel_id: int, row: Row) -> Ingested | _Message | _Again:
        message_key, sender_key, chat_key = ((channel_id, m.external_id),
                                             (channel_id, m.sender_id), (channel_id, m.chat_id))
        first = self.seen.get(message_key)
        if first is not None:
            return _Again(first)
        sender = self.senders.get(sender_key)
        dialog = self.dialogs.get(chat_key)
        if self.stale and ((("message", *message_key) in self.stale) or (
                sender is None and ("sender", *sender_key) in self.stale) or (
                dialog is None and ("chat", *chat_key) in self.stale)):
            row = _look_up(self.conn, m, channel_id)  # as `_ingest_one` left them
        if row["seen_id"] is not None:
            return Ingested(row["seen_id"], row["seen_conversation"], duplicate=True)
        if sender is None and row["identity_id"] is not None:
            sender = _Sender(row["identity_id"], row["contact_id"], row["display_name"],
                             row["username"])
        if dialog is None and row["conversation_id"] is not None:
            dialog = _Dialog(channel_id, m.chat_id, None, row, 0.0)
        meta = json.dumps(m.meta, ensure_ascii=False) if m.meta else "{}"
        if (m.reply_to_external_id is not None or m.edit_of_external_id is not None
                or m.labels or not _plain_meta(m.meta, meta)
                or (dialog is not None and dialog.rating_asked_at is not None)
                or (sender is not None and (
                    m.profile or m.phone or m.email
                    or (m.sender_name and m.sender_name != sender.name)
                    or (m.username is not None and m.username != sender.username)))):
            self._flush()
            result = _ingest_one(self.conn, m, self.now, channel_id)
            self.senders.pop(sender_key, None)
            self.dialogs.pop(chat_key, None)
            self.stale |= {("message", *message_key), ("sender", *sender_key),
                           ("chat", *chat_key)}
            return result

        now = self.now
        created_at = now if m.sent_at is None else min(m.sent_at, now)
        if sender is None:
            sender = _Sender(None, None, m.sender_name, m.username, (
                (m.sender_name, m.phone, m.email, now),
                (channel_id, m.sender_id, m.sender_name, m.username,
                 json.dumps(m.profile, ensure_ascii=False))))
            self.new_senders.append(sender)
        self.senders[sender_key] = sender
        reopened_from = None
        if dialog is None:
            dialog = _Dialog(channel_id, m.chat_id, sender, None, created_at)
            self.new_dialogs.append(dialog)
            self.events.append((_CONVERSATION_NEW, dialog, None, "{}", []))
        else:
            if not dialog.new and not dialog.dirty:
                self.touched.append(dialog)
            reopened_from = dialog.status if dialog.status in _RESTING else None
            if dialog.hidden:  # a customer who writes again is never left unseen
                dialog.hidden = 0
                self.events.append((_UNHIDE, dialog, None,
                                    _UNHIDDEN_JSON, []))
        self.dialogs[chat_key] = dialog
        message = _Message(m, channel_id, dialog, created_at, meta)
        self.messages.append(message)
        self.seen[message_key] = message
        preview = m.body or " ".join(f"[{a.kind}]" for a in m.attachments)
        dialog.add(created_at, preview[:PREVIEW_CHARS], m.sender_name)
        facts, dialog.round = stats.message_step("in", created_at, dialog.round, None)
        self.events.append((_NEW, dialog, message, _IN, facts))
        if reopened_from is not None:
            self.events.append((_STATUS, dialog, None,
                                json.dumps({"from": reopened_from, **_REOPENED},
                                           ensure_ascii=False), []))
        return message

    def _flush(self) -> None:
        """Write what the group has not written yet.

        On a server, the new rows' ids are drawn first, in one statement, and the rest
        is sent in one round trip (pipelined): nothing is read back from it."""
        server = dialect(self.conn)
        if not isinstance(server, PostgresDialect):
            self._insert_all(None)
            return
        ids = server.new_ids(self.conn, {"contacts": len(self.new_senders),
                                  "identities": len(self.new_senders),
                                  "conversations": len(self.new_dialogs),
                                  "messages": len(self.messages),
                                  "events": len(self.events)})
        with pipelined(self.conn):
            self._insert_all(ids)

    def _insert_all(self, ids: dict[str, list[int]] | None) -> None:
        conn, now = self.conn, self.now
        drawn = (lambda table: None) if ids is None else ids.get
        if self.new_senders:
            made = self.new_senders
            for sender, contact_id in zip(made, insert_many(
                    conn, "INSERT INTO contacts (name, phone, email, created_at)",
                    "(?, ?, ?, ?)", [s.new[0] for s in made if s.new],
                    ids=drawn("contacts")), strict=True):
                sender.contact_id = contact_id
            for sender, identity_id in zip(made, insert_many(
                    conn, "INSERT INTO identities (contact_id, channel_id, external_id, "
                    "display_name, username, profile)", "(?, ?, ?, ?, ?, ?)",
                    [(s.contact_id, *s.new[1]) for s in made if s.new],
                    ids=drawn("identities")), strict=True):
                sender.id, sender.new = identity_id, None
            self.new_senders = []
        if self.new_dialogs:
            made_dialogs = self.new_dialogs
            rows = []
            for d in made_dialogs:
                assert d.sender is not None and d.last is not None
                rows.append((d.channel_id, d.chat_id, d.sender.contact_id, d.sender.id,
                             d.last_message_at, d.created_at, d.unread, d.last[0], d.last[1],
                             d.last_inbound_at, d.waiting_since, *d.round))
            for d, conversation_id in zip(made_dialogs, insert_many(
                    conn, "INSERT INTO conversations (channel_id, chat_id, contact_id, "
                    "identity_id, last_message_at, created_at, unread, last_preview, "
                    "last_direction, last_author, last_inbound_at, waiting_since, "
                    "stats_round_start, stats_waiting_start, stats_responded, stats_rounds)",
                    "(?, ?, ?, ?, ?, ?, ?, ?, 'in', ?, ?, ?, ?, ?, ?, ?)", rows,
                    ids=drawn("conversations")), strict=True):
                d.id = conversation_id
            self.new_dialogs = []
        if self.messages:
            written = self.messages
            for message, message_id in zip(written, insert_many(
                    conn, "INSERT INTO messages (conversation_id, channel_id, external_id, "
                    "direction, author, body, created_at, state, meta)",
                    "(?, ?, ?, 'in', ?, ?, ?, 'received', ?)",
                    [(x.dialog.id, x.channel_id, x.m.external_id, x.m.sender_name, x.m.body,
                      x.created_at, x.meta) for x in written], ids=drawn("messages")),
                    strict=True):
                message.id, message.conversation_id = message_id, message.dialog.id
            execute_many(conn, "INSERT INTO attachments (message_id, kind, filename, mime, "
                         "size, ref, local_path, sha256)", "(?, ?, ?, ?, ?, ?, ?, ?)",
                         [(x.id, a.kind, a.filename, a.mime, a.size, a.ref, a.local_path,
                           a.sha256) for x in written for a in x.m.attachments])
            self.messages = []
        if self.events:
            events = self.events
            facts: list[stats.Fact] = []
            for (_kind, dialog, message, _data, made_facts), event_id in zip(
                    events, insert_events(conn, [
                        (now, kind, dialog.id, None if message is None else message.id, None,
                         data) for kind, dialog, message, data, _facts in events],
                        ids=drawn("events")),
                    strict=True):
                if made_facts:
                    assert message is not None and dialog.id is not None
                    facts += [(message.created_at, event_id, kind, dialog.id,
                               message.channel_id, operator, start)
                              for kind, operator, start in made_facts]
            stats.add_facts(conn, facts)
            self.events = []
        if self.touched:
            rows = [(d.id, d.unread, int(d.last is not None), *(d.last or (None, None)),
                     d.last_message_at, d.last_inbound_at, d.waiting_since, d.status,
                     d.hidden, *d.round) for d in self.touched]
            if dialect(conn).remote:
                execute_many(conn, _UPDATE_DIALOGS_HEAD,
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
                             _UPDATE_DIALOGS_TAIL)
            else:
                for row in rows:
                    conn.execute(_UPDATE_DIALOG, row)
            self.touched = []
        for d in self.dialogs.values():
            d.new, d.dirty, d.unread, d.last = False, False, 0, None


# The dialogs a group touched, each as `_Dialog` worked it out: unread added to, the
# preview and author set where a message was the latest ({3}), the rest as is; {n} is
# the nth value of the dialog's row, {1} its id.
_DIALOG_SET = (
    "unread = conversations.unread + {2}, "
    "last_preview = CASE WHEN {3} = 1 THEN {4} ELSE conversations.last_preview END, "
    "last_direction = CASE WHEN {3} = 1 THEN 'in' ELSE conversations.last_direction END, "
    "last_author = CASE WHEN {3} = 1 THEN {5} ELSE conversations.last_author END, "
    "last_message_at = CAST({6} AS DOUBLE PRECISION), "
    "last_inbound_at = CAST({7} AS DOUBLE PRECISION), "
    "waiting_since = CAST({8} AS DOUBLE PRECISION), "
    "status = {9}, snoozed_until = NULL, hidden = {10}, "
    "stats_round_start = CAST({11} AS DOUBLE PRECISION), "
    "stats_waiting_start = CAST({12} AS DOUBLE PRECISION), "
    "stats_responded = {13}, stats_rounds = {14}")
_VALUES = [f"v.column{n}" for n in range(15)]
# A server: every dialog in one statement (a round trip each would cost more).
_UPDATE_DIALOGS_HEAD = f"UPDATE conversations SET {_DIALOG_SET.format(*_VALUES)} FROM ("
_UPDATE_DIALOGS_TAIL = ") AS v WHERE conversations.id = v.column1"
# SQLite, in the process: a statement per dialog is cheaper than a join with VALUES
# (measured: ~6 µs a dialog against ~20 µs for one, ~8 µs each for fifty).
_UPDATE_DIALOG = (f"UPDATE conversations SET {_DIALOG_SET.format(*(f'?{n}' for n in range(15)))} "
                  "WHERE id = ?1")


# The dialog's row after one message in. SET expressions all see the row as it was. A
# message that arrives late (older than the dialog's last one) is stored but does not
# replace the preview, and does not make the customer "wait" again if someone has
# answered since.
_TOUCH = (
    "UPDATE conversations SET unread = unread + 1, "
    "last_preview = CASE WHEN :t >= last_message_at THEN :preview ELSE last_preview END, "
    "last_direction = CASE WHEN :t >= last_message_at THEN 'in' ELSE last_direction END, "
    "last_author = CASE WHEN :t >= last_message_at THEN :author ELSE last_author END, "
    "last_message_at = CASE WHEN last_message_at >= :t THEN last_message_at ELSE :t END, "
    "last_inbound_at = CASE WHEN last_inbound_at >= :t THEN last_inbound_at ELSE :t END, "
    "snoozed_until = NULL{waiting}{figures} WHERE id = :id")
# With the wait where the customer may start to wait: a dialog resolved or snoozed
# reopens. Without it (already waiting, not resting), neither column is in the SET: an
# index on a column that is SET is rewritten even when its value stays (a page a message).
_WAITING = (
    ", waiting_since = CASE WHEN status IN ('resolved', 'snoozed') THEN :t "
    "  WHEN waiting_since IS NOT NULL THEN waiting_since "
    "  WHEN :t >= last_message_at THEN :t ELSE NULL END, "
    "status = CASE WHEN status IN ('resolved', 'snoozed') THEN 'open' ELSE status END")
# With the dialog's figures when the message changes them (a round starts: see
# stats.message_step), which the figures' fold would otherwise write in an UPDATE of its
# own; keyed (the customer already waits, the figures change).
_FIGURES = (", stats_round_start = :round_start, stats_waiting_start = :waiting_start, "
            "stats_responded = :responded, stats_rounds = :rounds")
_TOUCHES = {(waits, figures): _TOUCH.format(waiting="" if waits else _WAITING,
                                            figures=_FIGURES if figures else "")
            for waits in (False, True) for figures in (False, True)}


def _ingest_one(conn: Conn, m: InboundMessage, now: float, channel_id: int) -> Ingested:
    """One message, as the transaction stands (a group's: after what it has written)."""
    found = _look_up(conn, m, channel_id)
    if found["seen_id"] is not None:
        return Ingested(found["seen_id"], found["seen_conversation"], duplicate=True)

    identity = None if found["identity_id"] is None else found
    if identity is None:
        contact_id = insert_id(conn,
            "INSERT INTO contacts (name, phone, email, created_at) VALUES (?, ?, ?, ?)",
            (m.sender_name, m.phone, m.email, now))
        identity_id = insert_id(conn,
            "INSERT INTO identities (contact_id, channel_id, external_id, display_name, "
            "username, profile) VALUES (?, ?, ?, ?, ?, ?)",
            (contact_id, channel_id, m.sender_id, m.sender_name, m.username,
             json.dumps(m.profile, ensure_ascii=False)))
    else:
        identity_id, contact_id = identity["identity_id"], identity["contact_id"]
        changed: list[str] = []  # what this message changes of the contact
        # A message that does not say the sender's name or username (an edit, a channel
        # that looked the profile up once) leaves the ones known; it does not wipe them.
        name = m.sender_name or identity["display_name"]
        username = identity["username"] if m.username is None else m.username
        if (identity["display_name"], identity["username"]) != (name, username):
            conn.execute("UPDATE identities SET display_name = ?, username = ? WHERE id = ?",
                         (name, username, identity_id))
            if m.sender_name and m.sender_name != identity["display_name"]:
                # A contact still named as the platform named them follows the platform's
                # new name (a renamed account; a name a channel could not learn at first);
                # a name an operator or a merge chose stays.
                if conn.execute("UPDATE contacts SET name = ? WHERE id = ? AND name = ?",
                                (m.sender_name, contact_id,
                                 identity["display_name"])).rowcount:
                    changed.append("name")
        if m.profile:
            # What the platform says now (the page a visitor is on) updates what it said
            # before; keys it does not mention stay.
            conn.execute(f"UPDATE identities SET profile = {dialect(conn).json_merged('profile')} "
                         "WHERE id = ?",
                         (json.dumps(m.profile, ensure_ascii=False), identity_id))
        if m.phone or m.email:
            # A phone or e-mail left later (a web chat form) fills what the contact lacks;
            # it never overwrites what an operator or a merge has set.
            lacked = conn.execute("SELECT coalesce(phone, '') = '' AS phone, "
                                  "coalesce(email, '') = '' AS email FROM contacts "
                                  "WHERE id = ?", (contact_id,)).fetchone()
            filled = [f for f, given in (("phone", m.phone), ("email", m.email))
                      if given and lacked is not None and lacked[f]]
            if filled:
                conn.execute("UPDATE contacts SET phone = coalesce(nullif(phone, ''), ?), "
                             "email = coalesce(nullif(email, ''), ?) WHERE id = ?",
                             (m.phone or None, m.email or None, contact_id))
                changed.extend(filled)
        if changed:  # for the webhooks' contact.updated, and the audit log
            _event(conn, now, EventKind.CONTACT_CHANGED,
                   data={"contact": contact_id, "fields": changed})

    created_at = now if m.sent_at is None else min(m.sent_at, now)
    conv = None if found["conversation_id"] is None else found
    if conv is not None and conv["rating_asked_at"] is not None:
        rated = _rating(conn, m, now, created_at, channel_id, conv)
        if rated is not None:
            return rated
    if conv is None:
        conversation_id = insert_id(conn,
            "INSERT INTO conversations (channel_id, chat_id, contact_id, identity_id, "
            "last_message_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (channel_id, m.chat_id, contact_id, identity_id, created_at, created_at))
        _event(conn, now, EventKind.CONVERSATION_NEW, conversation_id)
        reopened_from = None
        figures: tuple[float | None, float | None, int, int] = (None, None, 0, 0)
    else:
        conversation_id = conv["conversation_id"]
        figures = (conv["stats_round_start"], conv["stats_waiting_start"],
                   conv["stats_responded"], conv["stats_rounds"])
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
    meta = json.dumps(m.meta, ensure_ascii=False) if m.meta else "{}"
    message_id = insert_id(conn,
        "INSERT INTO messages (conversation_id, channel_id, external_id, direction, author, body, "
        "created_at, state, reply_to_id, meta, edit_of_id, hidden) "
        "VALUES (?, ?, ?, 'in', ?, ?, ?, 'received', ?, ?, ?, ?)",
        (conversation_id, channel_id, m.external_id, m.sender_name, m.body, created_at, reply_to,
         meta, edit_of, int(hidden)),
    )
    add_attachments(conn, message_id, m.attachments)
    if hidden:
        _event(conn, now, EventKind.MESSAGE_HIDDEN, conversation_id, message_id,
               data={"direction": "in", "reason": "edit of a hidden message"})
        return Ingested(message_id, conversation_id, duplicate=False)
    for label in m.labels:
        add_label(conn, conversation_id, label, now, None)
    preview = m.body or " ".join(f"[{a.kind}]" for a in m.attachments)
    waits = conv is not None and conv["waiting_since"] is not None and reopened_from is None
    touch = {"t": created_at, "preview": preview[:PREVIEW_CHARS], "author": m.sender_name,
             "id": conversation_id}
    if not _plain_meta(m.meta, meta):  # a rating, or what only the database reads: the fold
        conn.execute(_TOUCHES[waits, False], touch)
        _event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id,
               data={"direction": "in"})
    else:
        # What `record_event` and the figures' fold would do, with what they would read
        # back at hand (the dialog's figures as looked up above, nothing since has changed
        # them): the figures go in the dialog's one UPDATE, then the event and its facts.
        was = (figures[0], figures[1], int(bool(figures[2])), figures[3])
        facts, after = stats.message_step("in", created_at, was, None)
        if after != was:
            touch.update(zip(("round_start", "waiting_start", "responded", "rounds"), after,
                             strict=True))
        conn.execute(_TOUCHES[waits, after != was], touch)
        event_id = insert_id(conn, INSERT_EVENT,
                             (now, _NEW, conversation_id, message_id, None, _IN))
        for kind, author, start in facts:
            stats.add_fact(conn, event_id, kind, created_at, conversation_id, channel_id,
                           author, start)
    if reopened_from is not None:
        _event(conn, now, EventKind.CONVERSATION_STATUS, conversation_id,
               data={"from": reopened_from, "to": "open", "reason": "customer wrote"})
    return Ingested(message_id, conversation_id, duplicate=False)


def _rating(conn: Conn, m: InboundMessage, now: float, created_at: float, channel_id: int,
            conv: Row) -> Ingested | None:
    """The customer's answer to "rate us 1-5" on the resolved dialog ``conv``: stored as
    their message, kept as a rating; the dialog stays resolved and nobody waits. None
    if the message is something else (it is then stored as any message is)."""
    answer = answer_of(m)
    if (answer is None or conv["status"] != "resolved" or m.edit_of_external_id is not None
            or now - conv["rating_asked_at"] > ANSWER_WINDOW):
        return None
    rating, comment = answer
    conversation_id = conv["conversation_id"]
    message_id = insert_id(conn,
        "INSERT INTO messages (conversation_id, channel_id, external_id, direction, author, "
        "body, created_at, state, meta) VALUES (?, ?, ?, 'in', ?, ?, ?, 'received', ?)",
        (conversation_id, channel_id, m.external_id, m.sender_name, m.body, created_at,
         json.dumps({**m.meta, "rating": rating}, ensure_ascii=False)))
    add_attachments(conn, message_id, m.attachments)
    conn.execute("UPDATE conversations SET last_message_at = CASE WHEN last_message_at >= :t "
                 "THEN last_message_at ELSE :t END, last_preview = :preview, "
                 "last_direction = 'in', last_author = :author WHERE id = :id",
                 {"t": created_at, "preview": (m.body or str(rating))[:PREVIEW_CHARS],
                  "author": m.sender_name, "id": conversation_id})
    _event(conn, now, EventKind.MESSAGE_NEW, conversation_id, message_id, data={"direction": "in"})
    rate(conn, now, conversation_id, channel_id, message_id, rating, comment)
    return Ingested(message_id, conversation_id, duplicate=False)


def _plain_meta(meta: dict[str, object], text: str) -> bool:
    """Whether the fold may be told the message has no rating without reading its meta
    back. Reading it (as JSON, in the database) also refuses what the database cannot
    read as JSON: PostgreSQL a NUL escape, either one a NaN or an Infinity; such a
    message stays unstorable as it always was. A string merely holding those letters
    is read back too, which costs a statement and changes nothing."""
    return (not meta or ("rating" not in meta and "\\u0000" not in text
                         and "NaN" not in text and "Infinity" not in text))


def _message_id(conn: Conn, channel_id: int, external_id: str | None) -> int | None:
    if external_id is None:
        return None
    return row_value(conn.execute(
        "SELECT id FROM messages WHERE channel_id = ? AND external_id = ?",
        (channel_id, external_id)).fetchone())
