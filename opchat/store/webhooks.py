"""Outgoing webhooks' queue: one delivery per endpoint and event, sent in order per dialog.

The hub follows the events log from a place kept here (`webhook_state`), and queues
what each endpoint wants in the transaction that moves that place: a hub killed at
any moment neither loses an event nor queues one twice (``UNIQUE (endpoint,
event_id)`` besides). The payload is written when queued, so a delivery tells what
the dialog was like when the event happened, and a retry sends the same bytes' data.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opchat.model import Direction, Event, EventKind
from opchat.store.part import Part
from opchat.store.sql import Conn

QUEUED, DELIVERED, FAILED = "queued", "delivered", "failed"

# The events log's kinds -> what a webhook calls them.
KINDS: dict[str, str] = {
    EventKind.CONVERSATION_NEW: "conversation.created",
    EventKind.CONVERSATION_STATUS: "conversation.status",
    EventKind.CONVERSATION_ASSIGN: "conversation.assigned",
    EventKind.CONVERSATION_LABEL: "conversation.labelled",
    EventKind.MESSAGE_NEW: "message.created",
    EventKind.CONTACT_NOTES: "contact.updated",
    EventKind.CONTACT_CHANGED: "contact.updated",
    EventKind.CONTACT_MERGED: "contact.merged",
    EventKind.CONVERSATION_RATED: "rating.given",
}


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint: str
    event_id: int
    kind: str  # the webhook's name of the event ("message.created")
    conversation_id: int | None
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str
    created_at: float
    delivered_at: float | None

    def body(self) -> bytes:
        """The JSON posted: the payload with this delivery's id."""
        return json.dumps({"id": self.id, **self.payload}, ensure_ascii=False,
                          separators=(",", ":")).encode()


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WebhookStore(Part):
    """`Store.webhooks`."""

    async def cursor(self) -> int | None:
        """The last event id the queue has looked at; None before the first start."""

        def run(conn: Conn) -> int | None:
            row = conn.execute("SELECT value FROM webhook_state WHERE key = 'cursor'").fetchone()
            return int(row[0]) if row is not None else None

        return await self.db.read(run)

    async def start_at(self, event_id: int) -> None:
        """Place the cursor (first start: only events from now on are sent)."""

        def run(conn: Conn) -> None:
            conn.execute("INSERT INTO webhook_state (key, value) VALUES ('cursor', ?) "
                         "ON CONFLICT DO NOTHING", (str(event_id),))

        await self.db.write(run)

    async def move_to(self, event_id: int) -> None:
        """Skip the events up to ``event_id`` (too old to send)."""

        def run(conn: Conn) -> None:
            conn.execute("UPDATE webhook_state SET value = ? WHERE key = 'cursor' "
                         "AND CAST(value AS INTEGER) < ?", (str(event_id), event_id))

        await self.db.write(run)

    async def enqueue(self, events: list[Event], wants: Mapping[str, Collection[str]]) -> int:
        """Queue each event for every endpoint in ``wants`` (endpoint -> the webhook
        kinds it takes) and move the cursor past them, in one transaction. Returns how
        many deliveries were queued."""

        def run(conn: Conn) -> int:
            queued = 0
            now = self.clock()
            for event in events:
                for kind, payload in _payloads(conn, event):
                    for endpoint, kinds in wants.items():
                        if kind not in kinds:
                            continue
                        queued += conn.execute(
                            "INSERT INTO webhook_deliveries (endpoint, event_id, "
                            "kind, conversation_id, payload, next_attempt_at, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            (endpoint, _event_key(event.id, kind), kind,
                             event.conversation_id, json.dumps(payload, ensure_ascii=False),
                             now, now)).rowcount
            if events:
                conn.execute("INSERT INTO webhook_state (key, value) VALUES ('cursor', ?) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                             (str(events[-1].id),))
            return queued

        return await self.db.write(run)

    async def next_due(self, endpoint: str) -> tuple[Delivery | None, float | None]:
        """The delivery to send now, if any, else when the next one falls due.

        Order per dialog: a dialog's delivery waits while an earlier one of the same
        dialog is still queued (retrying), while other dialogs' go on."""

        def run(conn: Conn) -> tuple[Delivery | None, float | None]:
            # Each dialog's oldest queued delivery (and those of no dialog): the heads.
            heads = ("FROM webhook_deliveries d WHERE endpoint = ? AND state = 'queued' "
                     "AND (conversation_id IS NULL OR NOT EXISTS (SELECT 1 FROM "
                     "webhook_deliveries e WHERE e.endpoint = d.endpoint AND e.state = "
                     "'queued' AND e.conversation_id = d.conversation_id AND e.id < d.id))")
            row = conn.execute(f"SELECT * {heads} AND next_attempt_at <= ? ORDER BY id "
                               "LIMIT 1", (endpoint, self.clock())).fetchone()
            if row is not None:
                return _delivery(row), None
            return None, conn.execute(f"SELECT min(next_attempt_at) {heads}",
                                      (endpoint,)).fetchone()[0]

        return await self.db.read(run)

    async def delivered(self, delivery_id: int) -> None:
        def run(conn: Conn) -> None:
            conn.execute("UPDATE webhook_deliveries SET state = 'delivered', attempts = "
                         "attempts + 1, delivered_at = ?, last_error = '' WHERE id = ?",
                         (self.clock(), delivery_id))

        await self.db.write(run)

    async def retry_later(self, delivery_id: int, after: float, error: str) -> None:
        def run(conn: Conn) -> None:
            conn.execute("UPDATE webhook_deliveries SET attempts = attempts + 1, "
                         "next_attempt_at = ?, last_error = ? WHERE id = ?",
                         (self.clock() + after, error, delivery_id))

        await self.db.write(run)

    async def failed(self, delivery_id: int, error: str) -> None:
        def run(conn: Conn) -> None:
            conn.execute("UPDATE webhook_deliveries SET state = 'failed', attempts = "
                         "attempts + 1, last_error = ? WHERE id = ?", (error, delivery_id))

        await self.db.write(run)

    async def retry(self, delivery_ids: Collection[int] = (), failed: bool = False) -> int:
        """Queue again the given deliveries (or, with ``failed``, every failed one), to
        go at once and be retried for as long as a new one; returns how many."""
        again = ("UPDATE webhook_deliveries SET state = 'queued', attempts = 0, "
                 "next_attempt_at = ?1, created_at = ?1 WHERE ")

        def run(conn: Conn) -> int:
            now = self.clock()
            if failed:
                return conn.execute(again + "state = 'failed'", (now,)).rowcount
            return sum(conn.execute(again + "id = ?2", (now, delivery_id)).rowcount
                       for delivery_id in delivery_ids)

        return await self.db.write(run)

    async def prune(self, before: float) -> int:
        """Forget deliveries done (delivered or failed) before ``before``; how many."""

        def run(conn: Conn) -> int:
            return conn.execute(
                "DELETE FROM webhook_deliveries WHERE (state = 'delivered' AND delivered_at "
                "< ?1) OR (state = 'failed' AND next_attempt_at < ?1 AND created_at < ?1)",
                (before,)).rowcount

        return await self.db.write(run)

    async def get(self, delivery_id: int) -> Delivery | None:
        def run(conn: Conn) -> Delivery | None:
            row = conn.execute("SELECT * FROM webhook_deliveries WHERE id = ?",
                               (delivery_id,)).fetchone()
            return _delivery(row) if row is not None else None

        return await self.db.read(run)

    async def recent(self, endpoint: str | None = None, limit: int = 20,
                     state: str | None = None) -> list[Delivery]:
        """The newest deliveries first (of one endpoint, in one state, when given)."""

        def run(conn: Conn) -> list[Delivery]:
            where, args = [], []
            if endpoint is not None:
                where.append("endpoint = ?")
                args.append(endpoint)
            if state is not None:
                where.append("state = ?")
                args.append(state)
            sql = "SELECT * FROM webhook_deliveries"
            if where:
                sql += " WHERE " + " AND ".join(where)
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
            return [_delivery(r) for r in rows]

        return await self.db.read(run)

    async def counts(self) -> dict[tuple[str, str], int]:
        """(endpoint, state) -> how many deliveries."""

        def run(conn: Conn) -> dict[tuple[str, str], int]:
            return {(r[0], r[1]): r[2] for r in conn.execute(
                "SELECT endpoint, state, count(*) FROM webhook_deliveries "
                "GROUP BY endpoint, state")}

        return await self.db.read(run)


def _event_key(event_id: int, kind: str) -> int:
    # contact.created rides on conversation.new's event: kept apart by sign.
    return -event_id if kind == "contact.created" else event_id


def _delivery(row: Any) -> Delivery:
    return Delivery(row["id"], row["endpoint"], abs(row["event_id"]), row["kind"],
                    row["conversation_id"], json.loads(row["payload"]), row["state"],
                    row["attempts"], row["next_attempt_at"], row["last_error"],
                    row["created_at"], row["delivered_at"])


def _payloads(conn: Conn, event: Event) -> list[tuple[str, dict[str, Any]]]:
    """What webhooks are told of ``event``: (kind, payload) pairs, none for the events
    they do not hear of (private notes, read marks...)."""
    kind = KINDS.get(str(event.kind))
    if kind is None:
        return []
    base: dict[str, Any] = {"event": kind, "at": iso(event.at)}
    if event.operator:
        base["operator"] = event.operator
    conversation = (_conversation(conn, event.conversation_id)
                    if event.conversation_id is not None else None)
    if conversation is not None:
        base["conversation"] = conversation
    data = event.data
    if kind == "message.created":
        if data.get("direction") == Direction.NOTE.value or event.message_id is None:
            return []
        message = _message(conn, event.message_id)
        if message is None:
            return []
        return [(kind, {**base, "message": message})]
    if kind == "conversation.status":
        base["change"] = {"from": data.get("from"), "to": data.get("to")}
        if data.get("until") is not None:
            base["change"]["until"] = iso(data["until"])
    elif kind == "conversation.assigned":
        base["change"] = {"from": data.get("from"), "to": data.get("to")}
    elif kind == "conversation.labelled":
        base["change"] = {key: data[key] for key in ("added", "removed") if data.get(key)}
    elif kind == "rating.given":
        base["rating"] = {"rating": data.get("rating"), "comment": data.get("comment", "")}
    elif kind in ("contact.updated", "contact.merged"):
        contact = _contact(conn, int(data.get("contact") or 0))
        if contact is None:
            return []
        base["contact"] = contact
        if event.kind == EventKind.CONTACT_CHANGED:  # from a channel, not an operator
            base["change"] = {"fields": list(data.get("fields") or [])}
        if kind == "contact.merged":
            base["merged"] = {"id": data.get("merged"), "name": data.get("merged_name", "")}
        return [(kind, base)]
    if conversation is None:
        return []
    found = [(kind, base)]
    if kind == "conversation.created":
        # A contact's first dialog is when opchat met them.
        first = conn.execute("SELECT min(id) FROM conversations WHERE contact_id = ?",
                             (conversation["contact"]["id"],)).fetchone()[0]
        if first == conversation["id"]:
            found.insert(0, ("contact.created", {"event": "contact.created",
                                                 "at": base["at"],
                                                 "contact": conversation["contact"],
                                                 "conversation": conversation}))
    return found


def _contact(conn: Conn, contact_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, name, phone, email FROM contacts WHERE id = ?",
                       (contact_id,)).fetchone()
    if row is None:
        return None
    return {"id": row["id"], "name": row["name"], "phone": row["phone"],
            "email": row["email"]}


def _conversation(conn: Conn, conversation_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT c.id, c.status, c.contact_id, ch.name AS channel, o.login AS assignee "
        "FROM conversations c JOIN channels ch ON ch.id = c.channel_id "
        "LEFT JOIN operators o ON o.id = c.assignee_id WHERE c.id = ?",
        (conversation_id,)).fetchone()
    if row is None:
        return None
    labels = [r[0] for r in conn.execute(
        "SELECT l.name FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id "
        "WHERE cl.conversation_id = ? ORDER BY l.name", (conversation_id,))]
    return {"id": row["id"], "channel": row["channel"], "status": row["status"],
            "assignee": row["assignee"], "labels": labels,
            "contact": _contact(conn, row["contact_id"])}


def _message(conn: Conn, message_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT id, direction, author, body, created_at FROM messages "
                       "WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    attachments = [{"kind": r["kind"], "filename": r["filename"], "mime": r["mime"],
                    "size": r["size"]} for r in conn.execute(
        "SELECT kind, filename, mime, size FROM attachments WHERE message_id = ? ORDER BY id",
        (message_id,))]
    return {"id": row["id"], "direction": row["direction"], "author": row["author"],
            "text": row["body"], "at": iso(row["created_at"]), "attachments": attachments}
