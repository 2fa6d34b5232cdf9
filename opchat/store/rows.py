"""Rows to model objects, in one place: what each part of the store reads back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from opchat import model
from opchat.model import Conversation, Direction, Health, MessageState, Status
from opchat.store.sql import Conn, Row, dialect

if TYPE_CHECKING:
    from opchat.model import Attachment, Channel, Message, TemplateUse

# Channels, messages and attachments are `opchat.model_later`'s (the app's first frame,
# whose list is read through this module, needs none): taken from `model` when used.

PREVIEW_CHARS = 200  # of the last message, kept on its conversation for the list

LABEL_SEP = "\x1f"  # between label names in one column; never in a name (controls are dropped)
_SELECTS: dict[str, str] = {}


def conversation_select(conn: Conn) -> str:
    """The SELECT of a dialog with its channel, contact, assignee and labels."""
    sql = dialect(conn)
    found = _SELECTS.get(sql.name)
    if found is None:
        labels = sql.joined("l.name", sql.char(31))
        found = _SELECTS[sql.name] = (
            "SELECT c.*, ch.name AS channel_name, ch.kind AS channel_kind, "
            f"co.name AS contact_name, op.login AS assignee, (SELECT {labels} "
            "FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id "
            "WHERE cl.conversation_id = c.id) AS labels "
            "FROM conversations c "
            "JOIN channels ch ON ch.id = c.channel_id "
            "JOIN contacts co ON co.id = c.contact_id "
            "LEFT JOIN operators op ON op.id = c.assignee_id")
    return found


def channel_of(row: Row) -> Channel:
    return model.Channel(row["id"], row["name"], row["kind"], Health(row["health"]),
                   row["health_detail"], meta_of(row["capabilities"] or "null") or None)


def conversation_of(r: Row) -> Conversation:
    return Conversation(
        id=r["id"], channel_id=r["channel_id"], channel_name=r["channel_name"],
        channel_kind=r["channel_kind"], contact_id=r["contact_id"],
        contact_name=r["contact_name"], status=Status(r["status"]), unread=r["unread"],
        waiting_since=r["waiting_since"], last_message_at=r["last_message_at"],
        preview=r["last_preview"], preview_direction=Direction(r["last_direction"]),
        preview_author=r["last_author"],
        assignee=r["assignee"], first_response_s=r["first_response_s"],
        created_at=r["created_at"], failed_message_id=r["failed_message_id"],
        last_inbound_at=r["last_inbound_at"], round_start=r["stats_round_start"],
        round_answered=bool(r["stats_responded"]),
        labels=tuple(sorted(r["labels"].split(LABEL_SEP))) if r["labels"] else ())


def message_of(r: Row, attachments: tuple[Attachment, ...] = ()) -> Message:
    return model.Message(
        id=r["id"], conversation_id=r["conversation_id"], direction=Direction(r["direction"]),
        author=r["author"], body=r["body"], created_at=r["created_at"],
        state=MessageState(r["state"]), error=r["error"], external_id=r["external_id"],
        reply_to_id=r["reply_to_id"], attachments=attachments,
        meta=meta_of(r["meta"]), edit_of_id=r["edit_of_id"])


def buttons_of(meta: str) -> tuple[tuple[str, str], ...]:
    """The buttons an automatic answer offers, from its meta (see OutboundMessage)."""
    found = meta_of(meta).get("buttons")
    if not isinstance(found, list):
        return ()
    return tuple((str(b[0]), str(b[1])) for b in found
                 if isinstance(b, list) and len(b) == 2)


def meta_of_template(use: TemplateUse) -> dict[str, Any]:
    """A template use as a message's meta keeps it (see MESSAGE_META)."""
    return {"name": use.name, "language": use.language, "header": list(use.header),
            "body": list(use.body)}


def template_of(meta: str) -> TemplateUse | None:
    """The template an outgoing message is sent as, from its meta; None if none."""
    found = meta_of(meta).get("template")
    if not isinstance(found, dict) or not found.get("name") or not found.get("language"):
        return None
    return model.TemplateUse(str(found["name"]), str(found["language"]),
                       tuple(str(v) for v in found.get("header") or ()),
                       tuple(str(v) for v in found.get("body") or ()))


def platform_message(conn: Conn, channel: str, external_id: str) -> Row | None:
    """The channel's message the platform calls ``external_id`` (its id,
    conversation_id and meta), or None if it is not stored."""
    return conn.execute(
        "SELECT messages.id, conversation_id, meta FROM messages "
        "JOIN channels ON channels.id = messages.channel_id "
        "WHERE channels.name = ? AND external_id = ?", (channel, external_id)).fetchone()


def set_meta(conn: Conn, message_id: int, meta: dict[str, Any]) -> None:
    conn.execute("UPDATE messages SET meta = ? WHERE id = ?",
                 (json.dumps(meta, ensure_ascii=False), message_id))


def meta_of(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def with_attachments(conn: Conn, rows: list[Row]) -> list[Message]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    found: dict[int, list[Attachment]] = {}
    for a in conn.execute(
            f"SELECT * FROM attachments WHERE message_id IN ({','.join('?' * len(ids))})", ids):
        found.setdefault(a["message_id"], []).append(model.Attachment(
            a["kind"], a["filename"], a["mime"], a["size"], a["ref"], a["local_path"], a["id"],
            a["sha256"]))
    return [message_of(r, tuple(found.get(r["id"], ()))) for r in rows]
