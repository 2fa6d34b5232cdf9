"""Telegram updates, as the Bot API sends them (JSON objects), into InboundMessages.

Works on the raw wire format rather than aiogram's models: one update of a
shape the models do not know must not stop the whole batch (and with it the
channel), and webhook mode receives plain JSON anyway. Nothing here does I/O
or imports aiogram.

What comes out, per update:

- ``message`` / ``edited_message``: one message. Its external id is
  ``"{chat_id}:{message_id}"`` — the same form as the id a sent reply gets, so
  a customer's reply to an operator's message finds it; an edit is
  ``"{chat_id}:{message_id}:e{edit_date}"``, stored beside the original.
- ``callback_query`` (a button pressed): a message whose body is the button's
  label, external id ``"cb:{id}"``; the query must then be answered.
- anything else (channel posts, membership changes, service notices, the moves
  of a live location...): nothing, but the update still counts for the offset.

All text is stored raw; the UI sanitises it when drawing.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opchat.model import Attachment, InboundMessage

# The update kinds asked for (getUpdates / setWebhook ``allowed_updates``).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# Telegram entity type -> MESSAGE_META style. Mentions, hashtags, commands and
# the like are plain text for the operator.
STYLES = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "strikethrough": "strike",
    "code": "code",
    "pre": "pre",
    "text_link": "link",
    "url": "link",
    "spoiler": "spoiler",
}

# Message fields that are a service notice, not something the customer wrote.
SERVICE_FIELDS = (
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
    "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
    "channel_chat_created", "message_auto_delete_timer_changed", "migrate_to_chat_id",
    "migrate_from_chat_id", "pinned_message", "successful_payment", "users_shared",
    "chat_shared", "write_access_allowed", "proximity_alert_triggered", "forum_topic_created",
    "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened", "video_chat_started",
    "video_chat_ended", "video_chat_scheduled", "video_chat_participants_invited",
    "web_app_data", "boost_added", "chat_background_set", "connected_website",
)
QUOTE_CHARS = 200

log = logging.getLogger("opchat.telegram")


@dataclass
class Batch:
    """What a list of updates holds for opchat."""

    messages: list[InboundMessage] = field(default_factory=list)
    callback_ids: list[str] = field(default_factory=list)  # answer these once stored
    next_offset: int | None = None  # highest update_id + 1: the offset that confirms them


def convert_updates(channel: str, updates: Iterable[Any]) -> Batch:
    batch = Batch()
    for update in updates:
        if not isinstance(update, Mapping):
            continue
        update_id = update.get("update_id")
        if _is_int(update_id):
            batch.next_offset = max(batch.next_offset or 0, update_id + 1)
        try:
            message, callback_id = convert_update(channel, update)
        except Exception:
            # One update of a shape nobody foresaw must not stall the channel: it is
            # skipped (logged), and the offset moves past it like any other.
            log.exception("channel %s: skipped update %s that could not be read",
                          channel, update_id)
            continue
        if message is None:
            continue  # nothing for opchat; it still counts for the offset
        batch.messages.append(message)
        if callback_id is not None:
            batch.callback_ids.append(callback_id)
    return batch


def convert_update(channel: str, update: Mapping[str, Any]
                   ) -> tuple[InboundMessage | None, str | None]:
    """The message an update carries (or None), and the callback query id to answer."""
    if isinstance(update.get("message"), Mapping):
        return convert_message(channel, update["message"]), None
    edited = update.get("edited_message")
    if isinstance(edited, Mapping):
        if "location" in edited:
            # A live location "edits" its message every few seconds for hours: the
            # first position is stored, the moves are not.
            return None, None
        return convert_message(channel, edited, edited=True), None
    if isinstance(update.get("callback_query"), Mapping):
        query = update["callback_query"]
        message = convert_callback(channel, query)
        return message, (str(query["id"]) if message is not None else None)
    return None, None


# Messages ------------------------------------------------------------------------------


def convert_message(channel: str, msg: Mapping[str, Any], edited: bool = False
                    ) -> InboundMessage | None:
    chat = msg.get("chat")
    message_id = msg.get("message_id")
    if not isinstance(chat, Mapping) or not _is_int(chat.get("id")) or not _is_int(message_id):
        return None
    if any(key in msg for key in SERVICE_FIELDS):
        return None
    chat_id = str(chat["id"])
    sender = _sender(msg, chat)
    content = _content(msg)
    meta: dict[str, Any] = dict(content.meta)
    forwarded = _forwarded_from(msg)
    if forwarded:
        meta["forwarded_from"] = forwarded
    reply_to = None
    reply = msg.get("reply_to_message")
    if isinstance(reply, Mapping) and _is_int(reply.get("message_id")):
        reply_to = f"{chat_id}:{reply['message_id']}"
        quote = _quote(msg, reply)
        if quote:
            meta["quote"] = quote
    external_id = f"{chat_id}:{message_id}"
    edit_of = None
    sent_at = msg.get("date")
    if edited:
        edit_date = msg.get("edit_date")
        edit_of = external_id
        external_id = f"{external_id}:e{edit_date if _is_int(edit_date) else 0}"
        sent_at = edit_date if _is_int(edit_date) else None
    return InboundMessage(
        channel=channel, chat_id=chat_id, external_id=external_id,
        sender_id=sender.id, sender_name=sender.name, username=sender.username,
        phone=content.own_phone if content.own_phone and content.contact_user == sender.id
        else None,
        body=content.body,
        sent_at=float(sent_at) if _is_int(sent_at) and sent_at > 0 else None,
        reply_to_external_id=reply_to, attachments=tuple(content.attachments),
        profile=sender.profile, meta=meta, edit_of_external_id=edit_of)


@dataclass
class _Sender:
    id: str
    name: str
    username: str | None
    profile: dict[str, Any]


def _sender(msg: Mapping[str, Any], chat: Mapping[str, Any]) -> _Sender:
    user = msg.get("from")
    if isinstance(user, Mapping) and _is_int(user.get("id")):
        return _user(user)
    # An anonymous group admin or a channel writing in a group speaks as a chat.
    source = msg.get("sender_chat") if isinstance(msg.get("sender_chat"), Mapping) else chat
    name = _text(source.get("title")) or _person_name(source) or f"Telegram {source.get('id')}"
    username = _text(source.get("username")) or None
    return _Sender(str(source.get("id", chat.get("id"))), name, username,
                   {"username": username} if username else {})


def _user(user: Mapping[str, Any]) -> _Sender:
    username = _text(user.get("username")) or None
    name = _person_name(user) or (f"@{username}" if username else f"Telegram user {user['id']}")
    profile = {key: value for key, value in (
        ("language", _text(user.get("language_code"))), ("username", username)) if value}
    return _Sender(str(user["id"]), name, username, profile)


def _person_name(who: Mapping[str, Any]) -> str:
    return " ".join(part for part in (_text(who.get("first_name")),
                                      _text(who.get("last_name"))) if part)


@dataclass
class _Content:
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    own_phone: str | None = None  # a shared contact's phone...
    contact_user: str | None = None  # ...and whose it is (the sender's own, or not)


def _content(msg: Mapping[str, Any]) -> _Content:
    content = _Content()
    if isinstance(msg.get("text"), str):
        content.body = msg["text"]
        _add_entities(content, msg["text"], msg.get("entities"))
    elif isinstance(msg.get("caption"), str):
        content.body = msg["caption"]
        _add_entities(content, msg["caption"], msg.get("caption_entities"))
    kind = _add_media(content, msg)
    if kind is None:
        kind = _add_other(content, msg)
    if kind is not None:
        content.meta["kind"] = kind
    return content


def _add_media(content: _Content, msg: Mapping[str, Any]) -> str | None:
    photo = msg.get("photo")
    if isinstance(photo, list) and photo:
        sizes = [size for size in photo if isinstance(size, Mapping) and size.get("file_id")]
        if sizes:
            # The largest size: by bytes where given, else by pixels.
            best = max(sizes, key=lambda s: (_int(s.get("file_size")),
                                             _int(s.get("width")) * _int(s.get("height"))))
            content.attachments.append(_file("photo", best, mime="image/jpeg"))
            return "photo"
    # "animation" before "document": a GIF carries both, the animation is what it is.
    for kind, default_mime in (("animation", "video/mp4"), ("document", ""),
                               ("video", "video/mp4"), ("video_note", "video/mp4"),
                               ("voice", "audio/ogg"), ("audio", "audio/mpeg")):
        item = msg.get(kind)
        if isinstance(item, Mapping) and item.get("file_id"):
            content.attachments.append(_file(kind, item, mime=default_mime))
            return kind
    sticker = msg.get("sticker")
    if isinstance(sticker, Mapping):
        content.body = content.body or _text(sticker.get("emoji"))
        if sticker.get("file_id"):
            mime = ("video/webm" if sticker.get("is_video")
                    else "application/x-tgsticker" if sticker.get("is_animated")
                    else "image/webp")
            content.attachments.append(_file("sticker", sticker, mime=mime))
        return "sticker"
    return None


def _add_other(content: _Content, msg: Mapping[str, Any]) -> str | None:
    contact = msg.get("contact")
    if isinstance(contact, Mapping):
        name = _person_name(contact)
        phone = _text(contact.get("phone_number"))
        content.body = content.body or ": ".join(part for part in (name, phone) if part)
        content.own_phone = phone or None
        if _is_int(contact.get("user_id")):
            content.contact_user = str(contact["user_id"])
        return "contact"
    location = msg.get("location")
    venue = msg.get("venue")
    if isinstance(venue, Mapping) and isinstance(venue.get("location"), Mapping):
        location = venue["location"]
    if isinstance(location, Mapping) and _is_number(location.get("latitude")) \
            and _is_number(location.get("longitude")):
        lat, lon = location["latitude"], location["longitude"]
        content.meta["location"] = [lat, lon]
        where = f"{lat}, {lon}"
        if isinstance(venue, Mapping):
            place = ", ".join(part for part in (_text(venue.get("title")),
                                                _text(venue.get("address"))) if part)
            content.body = content.body or (f"{place} ({where})" if place else where)
            return "venue"
        content.body = content.body or where
        return "location"
    poll = msg.get("poll")
    if isinstance(poll, Mapping):
        content.body = content.body or _text(poll.get("question"))
        return "poll"
    dice = msg.get("dice")
    if isinstance(dice, Mapping):
        content.body = content.body or f"{_text(dice.get('emoji'))} {dice.get('value', '')}".strip()
        return "dice"
    if not content.body:
        # Something newer than this code (a story, a game, a gift...): keep that it came.
        known = next((key for key in ("story", "game", "invoice", "giveaway", "paid_media",
                                      "checklist", "gift") if key in msg), None)
        return known or "unsupported"
    return None


def _file(kind: str, item: Mapping[str, Any], mime: str = "") -> Attachment:
    filename = _text(item.get("file_name"))
    if kind == "audio" and not filename:
        filename = " - ".join(p for p in (_text(item.get("performer")),
                                          _text(item.get("title"))) if p)
    size = item.get("file_size")
    return Attachment(kind=kind, filename=filename, mime=_text(item.get("mime_type")) or mime,
                      size=size if _is_int(size) else None, ref=str(item["file_id"]))


# Formatting -----------------------------------------------------------------------------


def _add_entities(content: _Content, text: str, entities: Any) -> None:
    styled, links = convert_entities(text, entities)
    if styled:
        content.meta["entities"] = styled
    if links:
        content.meta["links"] = links


def convert_entities(text: str, entities: Any) -> tuple[list[list[Any]], list[list[Any]]]:
    """Telegram entities as ``[[offset, length, style]]`` in characters of ``text``.

    Telegram counts offsets in UTF-16 code units: every character outside the
    Basic Multilingual Plane (most emoji) counts two, so they must be mapped to
    Python's code points. Also returns ``[[offset, length, url]]`` for links
    whose address is not their text (``text_link``).
    """
    if not isinstance(entities, list) or not entities:
        return [], []
    # units[i]: the UTF-16 offset at which character i starts (and, last, the end).
    units = [0]
    for ch in text:
        units.append(units[-1] + (2 if ord(ch) > 0xFFFF else 1))
    styled: list[list[Any]] = []
    links: list[list[Any]] = []
    for entity in entities:
        if not isinstance(entity, Mapping):
            continue
        kind = entity.get("type")
        style = STYLES.get(kind) if isinstance(kind, str) else None
        offset, length = entity.get("offset"), entity.get("length")
        if style is None or not _is_int(offset) or not _is_int(length) or offset < 0 \
                or length <= 0:
            continue
        start = bisect.bisect_left(units, offset)
        end = bisect.bisect_left(units, offset + length)
        start, end = min(start, len(text)), min(end, len(text))
        if end <= start:
            continue
        styled.append([start, end - start, style])
        if entity.get("type") == "text_link" and isinstance(entity.get("url"), str):
            links.append([start, end - start, entity["url"]])
    return styled, links


# Where a message came from ----------------------------------------------------------------


def _forwarded_from(msg: Mapping[str, Any]) -> str:
    origin = msg.get("forward_origin")  # Bot API 7.0 and later
    if isinstance(origin, Mapping):
        kind = origin.get("type")
        if kind == "user" and isinstance(origin.get("sender_user"), Mapping):
            return _who(origin["sender_user"])
        if kind == "hidden_user":
            return _text(origin.get("sender_user_name")) or "a hidden user"
        chat = origin.get("sender_chat") if kind == "chat" else origin.get("chat")
        if isinstance(chat, Mapping):
            name = _who(chat)
            signature = _text(origin.get("author_signature"))
            return f"{name} ({signature})" if signature else name
        return "unknown"
    # Before 7.0 (and still sent by some servers): forward_from & co.
    if isinstance(msg.get("forward_from"), Mapping):
        return _who(msg["forward_from"])
    if isinstance(msg.get("forward_from_chat"), Mapping):
        name = _who(msg["forward_from_chat"])
        signature = _text(msg.get("forward_signature"))
        return f"{name} ({signature})" if signature else name
    if msg.get("forward_sender_name"):
        return _text(msg["forward_sender_name"])
    return ""


def _who(who: Mapping[str, Any]) -> str:
    name = _text(who.get("title")) or _person_name(who)
    username = _text(who.get("username"))
    if name and username:
        return f"{name} (@{username})"
    return name or (f"@{username}" if username else f"Telegram {who.get('id', '?')}")


def _quote(msg: Mapping[str, Any], reply: Mapping[str, Any]) -> str:
    """What the customer replied to, in their words: the part they quoted, else its start."""
    quote = msg.get("quote")
    if isinstance(quote, Mapping) and isinstance(quote.get("text"), str):
        return quote["text"][:QUOTE_CHARS]
    text = reply.get("text") if isinstance(reply.get("text"), str) else reply.get("caption")
    return text[:QUOTE_CHARS] if isinstance(text, str) else ""


# Buttons ---------------------------------------------------------------------------------


def convert_callback(channel: str, query: Mapping[str, Any]) -> InboundMessage | None:
    """A pressed inline button, as a message whose body is the button's label."""
    user = query.get("from")
    if query.get("id") in (None, "") or not isinstance(user, Mapping) \
            or not _is_int(user.get("id")):
        return None
    sender = _user(user)
    data = _text(query.get("data")) or _text(query.get("game_short_name"))
    message = query.get("message")
    reply_to = None
    label = ""
    if isinstance(message, Mapping) and isinstance(message.get("chat"), Mapping) \
            and _is_int(message["chat"].get("id")):
        chat_id = str(message["chat"]["id"])
        if _is_int(message.get("message_id")):
            reply_to = f"{chat_id}:{message['message_id']}"
        label = _button_label(message, data)
    else:
        # A button under an inline-mode message: no chat; the private chat's id is the user's.
        chat_id = sender.id
    return InboundMessage(
        channel=channel, chat_id=chat_id, external_id=f"cb:{query['id']}",
        sender_id=sender.id, sender_name=sender.name, username=sender.username,
        body=label or data or "(button)", reply_to_external_id=reply_to,
        profile=sender.profile, meta={"callback": data, "kind": "callback"})


def _button_label(message: Mapping[str, Any], data: str) -> str:
    markup = message.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, Mapping) else None
    for row in rows if isinstance(rows, list) else ():
        for button in row if isinstance(row, list) else ():
            if isinstance(button, Mapping) and button.get("callback_data") == data:
                return _text(button.get("text"))
    return ""


# Small checks on untrusted JSON -------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return value if _is_int(value) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
