"""The list's filter and its pages: the SQL the conversation list reads by.

Apart from the store's parts (`conversations`), so that the list's first page
can be read before the app's first frame (`first_page`) without loading the
rest of the store.
"""

from __future__ import annotations

from typing import Any

from opchat.model import Conversation, ConversationFilter, Status
from opchat.store.rows import conversation_of, conversation_select
from opchat.store.sql import Conn


def count_rows(conn: Conn, flt: ConversationFilter) -> int:
    """How many dialogs ``flt`` lets through (not the SLA view's: see `_at_risk_page`)."""
    where, params = filter_sql(flt)
    return conn.execute(f"SELECT count(*) FROM conversations c {where}", params).fetchone()[0]


def page_rows(conn: Conn, flt: ConversationFilter, offset: int, limit: int,
              ) -> list[Conversation]:
    """A page of the list ``flt`` lets through (not the SLA view's)."""
    where, params = filter_sql(flt)
    order = ("c.waiting_since IS NULL, c.waiting_since, c.id" if flt.order == "waiting"
             else "c.last_message_at DESC, c.id DESC")
    # Skip `offset` rows on the index alone, then join only the page: a deep
    # OFFSET over the full join would build every skipped row first.
    page = conn.execute(
        f"SELECT c.id FROM conversations c {where} ORDER BY {order} LIMIT ? OFFSET ?",
        (*params, limit, offset)).fetchall()
    return in_order(conn, [r[0] for r in page])


def filter_sql(flt: ConversationFilter) -> tuple[str, list[Any]]:
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
    if flt.channel is not None:
        clauses.append("c.channel_id = (SELECT id FROM channels WHERE name = ?)")
        params.append(flt.channel)
    if flt.at_risk:  # counted and paged by `_at_risk_page`; here for a plain count
        clauses.append("c.status IN (?, ?)")
        params += [Status.OPEN.value, Status.PENDING.value]
        owed = []
        if flt.waiting_before is not None:
            owed.append("c.waiting_since <= ?")
            params.append(flt.waiting_before)
        if flt.round_before is not None:
            owed.append("c.stats_round_start <= ?")
            params.append(flt.round_before)
        clauses.append(f"({' OR '.join(owed)})" if owed else "1 = 0")
    if flt.label is not None:
        clauses.append("c.id IN (SELECT cl.conversation_id FROM conversation_labels cl "
                       "JOIN labels l ON l.id = cl.label_id WHERE l.name = ?)")
        params.append(flt.label)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def in_order(conn: Conn, ids: list[int]) -> list[Conversation]:
    """The dialogs of ``ids`` (a page's, read from an index alone), whole, in that order."""
    if not ids:
        return []
    rows = conn.execute(
        f"{conversation_select(conn)} WHERE c.id IN ({','.join('?' * len(ids))})", ids)
    by_id = {r["id"]: conversation_of(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]
