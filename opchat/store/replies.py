"""Quick replies in the store, and what automatic answers need of it.

Replies are shared (``owner_id`` NULL) or private to one operator. A
shortcut is unique in the whole table, shared and private alike (the UNIQUE
of migration 1): ``/delivery`` means one reply whoever types it, and a
private reply can later be shared without a clash.

Automatic answers are `Direction.AUTO` messages. Each one records in its
``meta`` which rules it answered (``auto``: ["greeting", "away", "menu"...])
and the customer's message that triggered it (``trigger``); the check that
no answer exists yet for that trigger and the insert are one transaction, so
a hub that restarts and looks at the same messages again never sends the
same answer twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opchat.model import Direction, EventKind, Message, SavedReply, ShortcutTaken
from opchat.store.changes import UnknownConversation, record_event
from opchat.store.db import row_value
from opchat.store.part import Part
from opchat.store.rows import PREVIEW_CHARS, message_of
from opchat.store.sql import Conn, Row, dialect, insert_id

AUTO_AUTHOR = "opchat"
AUTO_HISTORY = 200  # earlier automatic answers of a dialog the rules look at


@dataclass(frozen=True, slots=True)
class AutoSent:
    """An automatic answer already in a dialog."""

    rules: tuple[str, ...]
    trigger: int | None
    created_at: float


@dataclass(frozen=True, slots=True)
class AutoTrigger:
    """A customer's message and the dialog around it, as automatic answers see them."""

    message_id: int
    conversation_id: int
    channel: str
    body: str
    created_at: float
    first: bool  # nothing was said in the dialog before it
    edit: bool  # an edit of an earlier message, not a new one
    contact_name: str
    autos: tuple[AutoSent, ...]  # oldest first
    last_out_at: float | None  # when an operator last answered
    channel_kind: str = ""
    callback: str | None = None  # the payload of the button the customer pressed
    automated: bool = False  # a machine wrote it (an auto-reply, a bounce): never answered
    greeted: bool = False  # the platform greeted them already (Viber's welcome message)


class QuickReplyStore(Part):
    """`Store.replies`."""

    # Quick replies ----------------------------------------------------------------------

    async def all(self, visible_to: int | None = None) -> list[SavedReply]:
        """Replies, most used first: the shared ones and `visible_to`'s own (None: all)."""

        def run(conn: Conn) -> list[SavedReply]:
            # The operator's own most used first, then the team's: their top replies are
            # on the number keys, and a newcomer starts from what the team uses.
            where, params = "", (visible_to,)
            if visible_to is not None:
                where, params = "WHERE q.owner_id IS NULL OR q.owner_id = ?", (
                    visible_to, visible_to)
            rows = conn.execute(
                "SELECT q.*, o.login AS owner FROM quick_replies q "
                "LEFT JOIN operators o ON o.id = q.owner_id "
                "LEFT JOIN reply_usage u ON u.reply_id = q.id AND u.operator_id = ? "
                f"{where} ORDER BY coalesce(u.uses, 0) DESC, q.uses DESC, q.shortcut", params)
            return [_reply(r) for r in rows]

        return await self.db.read(run)

    async def save_all(self, replies: Sequence[Any]) -> int:
        """Add or update replies by shortcut, all in one transaction; returns how many.

        Each item is a ``(shortcut, title, body)`` triple (folder, owner and
        attachment stay as they were) or an object with those attributes and
        ``folder``, ``owner`` (a login, created if unknown) and ``attachment``.
        """

        def run(conn: Conn) -> int:
            now = self.clock()
            for item in replies:
                if isinstance(item, tuple):
                    shortcut, title, body = item
                    conn.execute(
                        "INSERT INTO quick_replies (shortcut, title, body, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (shortcut) DO UPDATE "
                        "SET title = excluded.title, body = excluded.body, "
                        "updated_at = excluded.updated_at",
                        (shortcut, title, body, now, now))
                    continue
                owner_id = _operator_id(conn, item.owner, now)
                conn.execute(
                    "INSERT INTO quick_replies (shortcut, title, body, folder, owner_id, "
                    "attachment, variants, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (shortcut) DO UPDATE SET title = excluded.title, "
                    "body = excluded.body, folder = excluded.folder, "
                    "owner_id = excluded.owner_id, attachment = excluded.attachment, "
                    "variants = excluded.variants, updated_at = excluded.updated_at",
                    (item.shortcut, item.title, item.body, item.folder, owner_id,
                     item.attachment, _variants_json(item), now, now))
            if replies:
                _event(conn, now, EventKind.QUICK_REPLIES_SAVED, {"count": len(replies)})
            return len(replies)

        return await self.db.write(run)

    async def put(self, reply: Any, reply_id: int | None = None,
                              operator: str | None = None) -> SavedReply:
        """Add a reply (`reply_id` None) or change one, as an operator does in the app.

        Unlike an import, this never takes over another reply's shortcut:
        `ShortcutTaken` says so instead.
        """

        def run(conn: Conn) -> SavedReply:
            now = self.clock()
            holder = row_value(conn.execute("SELECT id FROM quick_replies WHERE shortcut = ?",
                                            (reply.shortcut,)).fetchone())
            if holder is not None and holder != reply_id:
                raise ShortcutTaken(reply.shortcut)
            owner_id = _operator_id(conn, reply.owner, now)
            fields = (reply.shortcut, reply.title, reply.body, reply.folder, owner_id,
                      reply.attachment, _variants_json(reply), now)
            if reply_id is None:
                reply_id_ = insert_id(conn,
                    "INSERT INTO quick_replies (shortcut, title, body, folder, owner_id, "
                    "attachment, variants, updated_at, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, now))
            else:
                changed = conn.execute(
                    "UPDATE quick_replies SET shortcut = ?, title = ?, body = ?, folder = ?, "
                    "owner_id = ?, attachment = ?, variants = ?, updated_at = ? WHERE id = ?",
                    (*fields, reply_id)).rowcount
                if not changed:
                    raise LookupError(f"no quick reply {reply_id}")
                reply_id_ = reply_id
            _event(conn, now, EventKind.QUICK_REPLIES_SAVED,
                   {"count": 1, "shortcut": reply.shortcut}, operator)
            row = conn.execute("SELECT q.*, o.login AS owner FROM quick_replies q LEFT JOIN "
                               "operators o ON o.id = q.owner_id WHERE q.id = ?",
                               (reply_id_,)).fetchone()
            return _reply(row)

        return await self.db.write(run)

    async def delete(self, reply_id: int, operator: str | None = None) -> bool:
        def run(conn: Conn) -> bool:
            row = conn.execute("SELECT shortcut, title, body FROM quick_replies WHERE id = ?",
                               (reply_id,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM quick_replies WHERE id = ?", (reply_id,))
            # The text goes into the audit log: a deleted reply can be written again.
            _event(conn, self.clock(), EventKind.QUICK_REPLIES_DELETED,
                   {"shortcut": row["shortcut"], "title": row["title"], "body": row["body"]},
                   operator)
            return True

        return await self.db.write(run)

    async def used(self, reply_id: int, operator_id: int | None = None) -> None:
        def run(conn: Conn) -> None:
            conn.execute("UPDATE quick_replies SET uses = uses + 1 WHERE id = ?", (reply_id,))
            if operator_id is not None:
                conn.execute(
                    "INSERT INTO reply_usage (operator_id, reply_id, uses) "
                    "SELECT ?, id, 1 FROM quick_replies WHERE id = ? "
                    "ON CONFLICT (operator_id, reply_id) DO UPDATE SET uses = reply_usage.uses + 1",
                    (operator_id, reply_id))

        await self.db.write(run)

    async def reply_context(self, conversation_id: int) -> dict[str, Any]:
        """What a reply's `{contact.…}` variables can say about the dialog's customer."""

        def run(conn: Conn) -> dict[str, Any]:
            row = conn.execute(
                "SELECT co.phone, co.email, i.username, i.profile FROM conversations c "
                "JOIN contacts co ON co.id = c.contact_id "
                "LEFT JOIN identities i ON i.id = c.identity_id WHERE c.id = ?",
                (conversation_id,)).fetchone()
            if row is None:
                return {}
            fields: dict[str, Any] = {}
            try:
                profile = json.loads(row["profile"] or "{}")
            except ValueError:
                profile = {}
            if isinstance(profile, dict):
                fields.update(profile)
            for key in ("phone", "email", "username"):
                if row[key]:
                    fields[key] = row[key]
            return fields

        return await self.db.read(run)

    # Automatic answers ------------------------------------------------------------------

    async def auto_trigger(self, message_id: int) -> AutoTrigger | None:
        """A customer's message with what the automatic answers decide from (None: not one)."""

        def run(conn: Conn) -> AutoTrigger | None:
            sql = dialect(conn)
            m = conn.execute(
                "SELECT m.id, m.conversation_id, m.body, m.created_at, m.edit_of_id, "
                f"{sql.json('m.meta', 'callback')} AS callback, "
                f"{sql.json('m.meta', 'automated')} AS automated, "
                f"{sql.json('m.meta', 'rating')} AS rating, "
                f"{sql.json('m.meta', 'greeted')} AS greeted, "
                "ch.name AS channel, ch.kind AS channel_kind, co.name AS contact_name "
                "FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id "
                "JOIN channels ch ON ch.id = c.channel_id "
                "JOIN contacts co ON co.id = c.contact_id "
                "WHERE m.id = ? AND m.direction = 'in'", (message_id,)).fetchone()
            if m is None:
                return None
            conversation_id = m["conversation_id"]
            earlier = conn.execute(
                "SELECT 1 FROM messages WHERE conversation_id = ? AND id < ? LIMIT 1",
                (conversation_id, message_id)).fetchone()
            autos = [
                _auto_sent(r) for r in conn.execute(
                    "SELECT meta, created_at FROM messages WHERE conversation_id = ? "
                    "AND direction = 'auto' ORDER BY id DESC LIMIT ?",
                    (conversation_id, AUTO_HISTORY))]
            autos.reverse()
            last_out = row_value(conn.execute(
                "SELECT max(created_at) FROM messages WHERE conversation_id = ? "
                "AND direction = 'out'", (conversation_id,)).fetchone())
            return AutoTrigger(
                message_id=m["id"], conversation_id=conversation_id, channel=m["channel"],
                body=m["body"], created_at=m["created_at"], first=earlier is None,
                edit=m["edit_of_id"] is not None, contact_name=m["contact_name"],
                autos=tuple(autos), last_out_at=last_out, channel_kind=m["channel_kind"],
                callback=m["callback"] if isinstance(m["callback"], str) else None,
                # A machine wrote it, or it is the customer's rating of a resolved
                # dialog: neither is answered automatically.
                automated=bool(m["automated"]) or m["rating"] is not None,
                greeted=bool(m["greeted"]))

        return await self.db.read(run)

    async def add_auto_message(
        self, conversation_id: int, body: str, rules: Sequence[str], trigger: int,
        buttons: Sequence[tuple[str, str]] = (),
    ) -> Message | None:
        """Queue an automatic answer to `trigger`; None if one was queued already.

        Like an operator's reply it goes through the outbox, but the customer
        still waits: neither `waiting_since` nor `first_response_s` changes.
        """

        def run(conn: Conn) -> Message | None:
            now = self.clock()
            conv = conn.execute("SELECT channel_id, ch.name AS channel FROM conversations c "
                                "JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?",
                                (conversation_id,)).fetchone()
            if conv is None:
                raise UnknownConversation(conversation_id)
            if conn.execute(
                    "SELECT 1 FROM messages WHERE conversation_id = ? AND direction = 'auto' "
                    f"AND {dialect(conn).json_text('meta', 'trigger')} = ?",
                    (conversation_id, str(trigger))).fetchone():
                return None
            meta: dict[str, Any] = {"auto": list(rules), "trigger": trigger}
            if buttons:
                meta["buttons"] = [list(button) for button in buttons]
            return queue_auto(conn, now, conversation_id, conv["channel_id"], conv["channel"],
                              body, meta)

        return await self.db.write(run)


def queue_auto(conn: Conn, now: float, conversation_id: int, channel_id: int, channel: str,
               body: str, meta: dict[str, Any]) -> Message:
    """An automatic message (``meta["auto"]``: its rules) queued in the outbox, shown as
    the dialog's last message, with its event; in the caller's transaction. The
    customer still waits: neither `waiting_since` nor `first_response_s` changes."""
    message_id = insert_id(conn,
        "INSERT INTO messages (conversation_id, channel_id, direction, author, body, "
        "created_at, state, meta) VALUES (?, ?, 'auto', ?, ?, ?, 'queued', ?)",
        (conversation_id, channel_id, AUTO_AUTHOR, body, now,
         json.dumps(meta, ensure_ascii=False)))
    conn.execute("INSERT INTO outbox (message_id, channel_id, next_attempt_at, "
                 "updated_at) VALUES (?, ?, ?, ?)", (message_id, channel_id, now, now))
    conn.execute("UPDATE conversations SET last_message_at = ?, last_preview = ?, "
                 "last_direction = 'auto', last_author = ? WHERE id = ?",
                 (now, body[:PREVIEW_CHARS], AUTO_AUTHOR, conversation_id))
    _event(conn, now, EventKind.MESSAGE_NEW, {"direction": Direction.AUTO.value,
                                              "auto": list(meta["auto"]), "channel": channel},
           conversation_id=conversation_id, message_id=message_id)
    return message_of(conn.execute("SELECT * FROM messages WHERE id = ?",
                                   (message_id,)).fetchone())


def _reply(r: Row) -> SavedReply:
    try:
        variants = json.loads(r["variants"])
    except ValueError:
        variants = {}
    return SavedReply(r["id"], r["shortcut"], r["title"], r["body"], r["uses"],
                      folder=r["folder"], owner=r["owner"], attachment=r["attachment"],
                      variants=variants if isinstance(variants, dict) else {})


def _variants_json(reply: Any) -> str:
    return json.dumps(getattr(reply, "variants", None) or {}, ensure_ascii=False)


def _auto_sent(r: Row) -> AutoSent:
    try:
        meta = json.loads(r["meta"] or "{}")
    except ValueError:
        meta = {}
    rules = meta.get("auto") if isinstance(meta, dict) else None
    trigger = meta.get("trigger") if isinstance(meta, dict) else None
    return AutoSent(tuple(str(rule) for rule in rules) if isinstance(rules, list) else (),
                    trigger if isinstance(trigger, int) else None, r["created_at"])


def _operator_id(conn: Conn, login: str | None, now: float) -> int | None:
    if not login:
        return None
    conn.execute("INSERT INTO operators (login, name, created_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (login) DO NOTHING", (login, login, now))
    return row_value(conn.execute("SELECT id FROM operators WHERE login = ?",
                                  (login,)).fetchone())


def _event(conn: Conn, at: float, kind: EventKind, data: dict[str, Any],
           operator: str | None = None, conversation_id: int | None = None,
           message_id: int | None = None) -> None:
    record_event(conn, at, kind, conversation_id, message_id, operator, data)
