"""The dialogs: the list's pages and counts, one dialog, its status and read mark.

The list's data is denormalised on `conversations` (last message, preview, unread,
waiting since) so that a page of the list is one indexed query whatever the number of
messages; ingest and replies keep those columns up to date in their own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from opchat.model import Conversation, ConversationFilter, EventKind, Operator, Status
from opchat.store.changes import UnknownConversation
from opchat.store.changes import record_event as _event
from opchat.store.db import row_value
from opchat.store.listing import count_rows, page_rows
from opchat.store.listing import filter_sql as _where
from opchat.store.listing import in_order as _in_order
from opchat.store.part import Part
from opchat.store.rows import conversation_of, conversation_select
from opchat.store.sql import Conn
from opchat.store.workflow import clear_failure


class ConversationStore(Part):
    """`Store.conversations`."""

    async def count(self, flt: ConversationFilter = ConversationFilter()) -> int:
        return await self.db.read(count_rows, flt)

    async def count_many(
        self, filters: Sequence[ConversationFilter], position_of: int | None = None,
        listed: ConversationFilter = ConversationFilter(),
    ) -> tuple[list[int], int | None]:
        """The count of each filter and, with ``position_of``, that dialog's index in the
        ``listed`` list (as `position`): one statement, one snapshot."""
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
            # NULL when the dialog does not exist, as position's None.
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

    async def page(
        self, flt: ConversationFilter = ConversationFilter(), offset: int = 0, limit: int = 50
    ) -> list[Conversation]:
        if flt.at_risk:
            return (await self.db.read(_at_risk_page, flt, offset + limit))[offset:]
        return await self.db.read(page_rows, flt, offset, limit)

    async def page_after(
        self, flt: ConversationFilter, after: tuple[float | None, int] | None, limit: int = 50
    ) -> list[Conversation]:
        """The page that follows the dialog whose sort key was ``after`` (None: the first
        page): (last_message_at, id), or (waiting_since, id) in the "waiting" order. A
        list read page by page this way neither skips nor repeats a dialog when others
        leave it meanwhile, as an offset would."""
        where, params = _where(flt)
        if flt.order == "waiting":
            order = "c.waiting_since IS NULL, c.waiting_since, c.id"
            if after is None:
                beyond: tuple[str, list[Any]] = ("1 = 1", [])
            elif after[0] is None:
                beyond = ("(c.waiting_since IS NULL AND c.id > ?)", [after[1]])
            else:
                beyond = ("(c.waiting_since IS NULL OR c.waiting_since > ? OR "
                          "(c.waiting_since = ? AND c.id > ?))", [after[0], after[0], after[1]])
        else:
            order = "c.last_message_at DESC, c.id DESC"
            beyond = (("1 = 1", []) if after is None else
                      ("(c.last_message_at < ? OR (c.last_message_at = ? AND c.id < ?))",
                       [after[0], after[0], after[1]]))

        def run(conn: Conn) -> list[Conversation]:
            page = conn.execute(
                f"SELECT c.id FROM conversations c {where} AND {beyond[0]} ORDER BY {order} "
                "LIMIT ?", (*params, *beyond[1], limit)).fetchall()
            return _in_order(conn, [r[0] for r in page])

        return await self.db.read(run)

    async def get(self, conversation_id: int) -> Conversation | None:
        def run(conn: Conn) -> Conversation | None:
            row = conn.execute(f"{conversation_select(conn)} WHERE c.id = ?",
                               (conversation_id,)).fetchone()
            return None if row is None else conversation_of(row)

        return await self.db.read(run)

    async def position(
        self, conversation_id: int, flt: ConversationFilter = ConversationFilter()
    ) -> int | None:
        """Index of a conversation in the filtered, ordered list (None if not in it)."""
        conv = await self.get(conversation_id)
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

    async def address(self, conversation_id: int) -> tuple[str, str] | None:
        """(channel name, chat id) of a dialog: where its replies go."""

        def run(conn: Conn) -> tuple[str, str] | None:
            row = conn.execute("SELECT ch.name, c.chat_id FROM conversations c "
                               "JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?",
                               (conversation_id,)).fetchone()
            return None if row is None else (row[0], row[1])

        return await self.db.read(run)

    async def waiting_count(self) -> int:
        def run(conn: Conn) -> int:
            return conn.execute("SELECT count(*) FROM conversations "
                                "WHERE waiting_since IS NOT NULL AND hidden = 0").fetchone()[0]

        return await self.db.read(run)

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

    async def mark_read(self, conversation_id: int, operator: Operator | None) -> None:
        def run(conn: Conn) -> None:
            changed = conn.execute(
                "UPDATE conversations SET unread = 0 WHERE id = ? AND unread > 0",
                (conversation_id,)).rowcount
            if changed:
                _event(conn, self.clock(), EventKind.CONVERSATION_READ, conversation_id,
                       operator=operator.login if operator else None)

        await self.db.write_short(run)


def _at_risk_page(conn: Conn, flt: ConversationFilter, limit: int) -> list[Conversation]:
    """The SLA view's candidates (see `ConversationFilter.at_risk`): at most ``limit``,
    those under way longest first. Each kind is read along its own index (waiting
    since, round start) and stops at ``limit``, rather than sorting every open dialog."""
    where, params = _where(replace(flt, at_risk=False, waiting_before=None,
                                   round_before=None))
    where += " AND c.status IN (?, ?)"
    params += [Status.OPEN.value, Status.PENDING.value]
    ids: set[int] = set()
    for column, before in (("waiting_since", flt.waiting_before),
                           ("stats_round_start", flt.round_before)):
        if before is not None:
            ids.update(r[0] for r in conn.execute(
                f"SELECT c.id FROM conversations c {where} AND c.{column} <= ? "
                f"ORDER BY c.{column} LIMIT ?", (*params, before, limit)))
    if not ids:
        return []
    rows = [conversation_of(r) for r in conn.execute(
        f"{conversation_select(conn)} WHERE c.id IN ({','.join('?' * len(ids))})", sorted(ids))]
    rows.sort(key=lambda c: (min((t for t in (c.round_start, c.waiting_since) if t is not None),
                                 default=0.0), c.id))
    return rows[:limit]
