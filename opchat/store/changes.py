"""Pieces every part of the store uses to change a dialog and record that it did."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opchat.model import EventKind, check_event_data
from opchat.store.sql import Conn, insert_id, insert_many
from opchat.store.stats import fold

LABEL_CHARS = 40


class UnknownConversation(LookupError):
    pass


def record_event(conn: Conn, at: float, kind: EventKind,
                 conversation_id: int | None = None, message_id: int | None = None,
                 operator: str | None = None, data: dict[str, Any] | None = None) -> None:
    """Append one row to `events`, in the caller's transaction (the change and its record
    commit together), and fold it into the figures. ``data`` must be what the kind's
    payload declares."""
    check_event_data(kind, data or {})
    event_id = insert_id(conn, INSERT_EVENT, (at, str(kind), conversation_id, message_id,
                                              operator, json.dumps(data or {}, ensure_ascii=False)))
    if kind in _FOLDED:
        fold(conn, event_id, at, kind, conversation_id, message_id, operator, data or {})


_FOLDED = frozenset((EventKind.MESSAGE_NEW, EventKind.CONVERSATION_STATUS))

# One event's row as `record_event` appends it; the ingest appends a message's with it
# too, folding it itself (store/inbound.py).
INSERT_EVENT = ("INSERT INTO events (at, kind, conversation_id, message_id, operator, data) "
                "VALUES (?, ?, ?, ?, ?, ?)")

# One event as `insert_events` takes it: (at, kind, dialog, message, operator, data as
# JSON text).
EventRow = tuple[float, str, int | None, int | None, str | None, str]


def insert_events(conn: Conn, events: Sequence[EventRow], ids: list[int] | None = None
                  ) -> list[int]:
    """Append several rows to `events` in one statement, in the order given; their ids,
    ascending in that order (``ids``, if drawn beforehand: see `insert_many`). Not
    folded into the figures: the caller folds what `record_event` would (a group's
    ingest, which has the dialogs' figures at hand)."""
    return insert_many(conn, "INSERT INTO events (at, kind, conversation_id, message_id, "
                       "operator, data)", "(?, ?, ?, ?, ?, ?)", events, ids=ids)


def add_label(conn: Conn, conversation_id: int, name: str, now: float,
              operator: str | None) -> bool:
    """Put a label on a dialog (creating the label if new); False if it was there."""
    name = " ".join("".join(ch for ch in name if ch.isprintable() or ch.isspace()).split())
    name = name[:LABEL_CHARS]
    if not name:
        return False
    conn.execute("INSERT INTO labels (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                 (name, now))
    label_id, label_name = conn.execute("SELECT id, name FROM labels WHERE name = ?",
                                        (name,)).fetchone()
    added = conn.execute("INSERT INTO conversation_labels (conversation_id, label_id) "
                         "VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (conversation_id, label_id)).rowcount
    if added:
        record_event(conn, now, EventKind.CONVERSATION_LABEL, conversation_id,
                     operator=operator, data={"added": label_name})
    return bool(added)
