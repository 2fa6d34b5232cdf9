"""`opchat export`: everything an owner's data is, as one JSON object a line.

The format ("opchat-export", version 1) is a header line, then one record per
row, table by table, each with a ``type``:

    {"type": "export", "format": "opchat-export", "version": 1, "schema": 5, ...}
    {"type": "channel", "id": 1, "name": "shop", "kind": "telegram", ...}
    {"type": "conversation", "id": 7, ..., "labels": ["vip"]}
    {"type": "message", "id": 40, "conversation_id": 7, "meta": {...}, "edit_of_id": null, ...}
    {"type": "attachment", "id": 3, "message_id": 40, "local_path": "/var/lib/...", ...}

The columns are listed here by hand rather than read from the table, so a
record's fields are a decision; a test fails when a migration adds a column
or a table that is neither exported nor in ``LEFT_OUT``. Columns holding JSON
are exported as JSON values. Records refer to each other by ``id`` exactly
as the database does, and the whole export is one consistent snapshot.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opchat.store.db import connect_read_only
from opchat.store.schema import SCHEMA_VERSION

FORMAT, VERSION = "opchat-export", 1


@dataclass(frozen=True)
class Record:
    type: str
    table: str
    columns: tuple[str, ...]
    json_columns: tuple[str, ...] = ()
    order: str = "rowid"


RECORDS: tuple[Record, ...] = (
    Record("channel", "channels",
           ("id", "name", "kind", "health", "health_detail", "created_at", "capabilities"),
           json_columns=("capabilities",)),
    Record("operator", "operators", ("id", "login", "name", "created_at", "last_seen")),
    Record("contact", "contacts",
           ("id", "name", "phone", "email", "created_at", "notes", "merged_into")),
    Record("identity", "identities",
           ("id", "contact_id", "channel_id", "external_id", "display_name", "username",
            "profile"), json_columns=("profile",)),
    Record("label", "labels", ("id", "name", "color", "created_at")),
    Record("conversation", "conversations",
           ("id", "channel_id", "chat_id", "contact_id", "identity_id", "status",
            "assignee_id", "unread", "waiting_since", "first_response_s", "snoozed_until",
            "last_message_at", "last_preview", "last_direction", "last_author", "created_at",
            "hidden", "failed_message_id", "last_inbound_at", "rating_asked_at")),
    Record("message", "messages",
           ("id", "conversation_id", "channel_id", "external_id", "direction", "author",
            "operator_id", "body", "created_at", "state", "error", "reply_to_id", "hidden",
            "meta", "edit_of_id"), json_columns=("meta",)),
    Record("attachment", "attachments",
           ("id", "message_id", "kind", "filename", "mime", "size", "ref", "local_path",
            "sha256")),
    Record("outbox", "outbox",
           ("id", "message_id", "channel_id", "state", "attempts", "next_attempt_at",
            "last_error", "updated_at", "progress"), json_columns=("progress",)),
    Record("draft", "drafts", ("operator_id", "conversation_id", "body", "updated_at"),
           order="operator_id, conversation_id"),
    Record("quick_reply", "quick_replies",
           ("id", "shortcut", "title", "body", "uses", "created_at", "updated_at", "owner_id",
            "folder", "attachment", "variants"), json_columns=("variants",)),
    Record("reply_usage", "reply_usage", ("operator_id", "reply_id", "uses"),
           order="operator_id, reply_id"),
    Record("rating", "ratings",
           ("id", "at", "conversation_id", "channel_id", "operator", "rating", "comment",
            "message_id")),
    Record("event", "events",
           ("id", "at", "kind", "conversation_id", "message_id", "operator", "data"),
           json_columns=("data",)),
)

# Tables (and table.column patterns) not exported, and why (the header line repeats this).
LEFT_OUT: dict[str, str] = {
    "conversation_labels": "in each conversation's labels",
    "presence": "who was online or typing in the last seconds; not kept",
    "channel_state": "the platforms' bookmarks (update offsets) of this installation",
    "early_receipts": "receipts waiting for the send they are about; applied, then gone",
    "templates": "the platforms' approved message templates, fetched again by the hub",
    "stats_facts": "response-time figures, derived from the events (opchat stats --rebuild)",
    "stats_meta": "whether the figures have been derived from the events yet",
    "stats_days": "the figures rolled up per day, derived from stats_facts",
    "stats_hours": "the figures' counts per hour, derived from stats_facts",
    "conversations.stats_*": "each dialog's round, derived from the events as stats_facts is",
    "webhook_deliveries": "the queue of deliveries to the business's webhooks (kept 30 days)",
    "webhook_state": "how far the hub has queued the events log for the webhooks",
    "api_tokens": "the HTTP API's tokens (hashes only); made again with opchat api token add",
    "file_contents": "the files' bytes a PostgreSQL store keeps for every machine; the files "
                     "themselves are in the data dirs (attachments.local_path, .sha256)",
}

_LABELS = ("SELECT json_group_array(l.name) FROM conversation_labels cl "
           "JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = conversations.id")
_LABELS_PG = ("SELECT coalesce(json_agg(l.name::text), '[]')::text FROM conversation_labels cl "
              "JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = conversations.id")


def export_records(db_path: Path, now: float | None = None) -> Iterator[dict[str, Any]]:
    """Every record of the store at ``db_path``, read from one snapshot without writing.

    Opened read-only, so it works on a backup copy in a read-only dir and never
    waits for, or blocks, the hub writing beside it.
    """
    conn, _immutable = connect_read_only(db_path)
    try:
        conn.execute("BEGIN")
        yield header(now)
        for record in RECORDS:
            yield from _rows(conn, record)
        conn.execute("COMMIT")
    finally:
        conn.close()


def export_records_pg(url: str, now: float | None = None) -> Iterator[dict[str, Any]]:
    """As export_records, from a PostgreSQL store: one read-only snapshot, rows streamed
    from the server (a cursor of its own) rather than held in memory."""
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            yield header(now)
            for record in RECORDS:
                yield from _rows(conn, record, postgres=True)


def header(now: float | None = None) -> dict[str, Any]:
    moment = datetime.datetime.now(datetime.UTC) if now is None else \
        datetime.datetime.fromtimestamp(now, datetime.UTC)
    return {"type": "export", "format": FORMAT, "version": VERSION, "schema": SCHEMA_VERSION,
            "exported_at": moment.isoformat(timespec="seconds"),
            "records": [record.type for record in RECORDS], "left_out": LEFT_OUT}


def _rows(conn: Any, record: Record, postgres: bool = False) -> Iterator[dict[str, Any]]:
    select = ", ".join(record.columns)
    if record.type == "conversation":
        select += f", ({_LABELS_PG if postgres else _LABELS}) AS labels"
    order = "id" if postgres and record.order == "rowid" else record.order
    sql = f"SELECT {select} FROM {record.table} ORDER BY {order}"
    if postgres:
        cursor = conn.cursor(name=f"export_{record.table}")
        cursor.execute(sql)
        names = list(record.columns) + (["labels"] if record.type == "conversation" else [])
    else:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
    for row in cursor:
        out: dict[str, Any] = {"type": record.type, **dict(zip(names, tuple(row), strict=True))}
        for column in record.json_columns:
            out[column] = _json_value(out[column])
        if record.type == "conversation":
            out["labels"] = json.loads(out["labels"])
        if "hidden" in out:
            out["hidden"] = bool(out["hidden"])
        yield out


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # written by an older opchat or by hand: the text as it is
        return text
