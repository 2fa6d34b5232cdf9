"""MAX's updates (long polling or webhook deliveries) as what the hub stores.

One update at a time, in the order MAX gave them, into a :class:`Batch`:
customers' messages and their edits, buttons pressed (to be answered through
``POST /answers`` once stored), the bot started (with its start payload) or
stopped, messages removed, members added to or removed from a group chat.

A dialog is MAX's ``chat_id`` (of the dialog with the customer, or of the group
chat the bot is in: one dialog for the whole chat).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opchat.i18n import _
from opchat.model import Attachment, InboundMessage

UPDATE_TYPES = ("message_created", "message_edited", "message_removed", "message_callback",
                "bot_started", "bot_stopped", "user_added", "user_removed")


@dataclass(frozen=True, slots=True)
class Press:
    """A callback button pressed: answered once stored."""

    callback_id: str


@dataclass
class Batch:
    messages: list[InboundMessage] = field(default_factory=list)
    reachable: list[tuple[str, bool]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)

    @property
    def after(self) -> bool:
        """Whether anything must be done once the messages are stored."""
        return bool(self.reachable or self.deleted)


def dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(
        value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seconds(value: Any) -> float | None:
    """MAX's timestamps are milliseconds."""
    number = _int(value)
    return number / 1000.0 if number else None


def name_of(user: Mapping[str, Any]) -> str:
    full = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip()
    return full or str(user.get("name") or "") or f"MAX {user.get('user_id') or '?'}"


def convert(channel: str, updates: Iterable[Any], batch: Batch, bot_id: int | None = None
            ) -> Batch:
    """Add what ``updates`` carry to ``batch``; kinds the channel does not show are let
    go."""
    for update in dicts(list(updates)):
        kind = update.get("update_type")
        at = update.get("timestamp")
        if kind in ("message_created", "message_edited"):
            converted = convert_message(channel, _map(update.get("message")),
                                        edit=kind == "message_edited", at=at, bot_id=bot_id)
            if converted is not None:
                batch.messages.append(converted)
        elif kind == "message_callback":
            converted = convert_press(channel, update)
            if converted is not None:
                batch.messages.append(converted)
                batch.presses.append(Press(str(_map(update.get("callback"))["callback_id"])))
        elif kind == "message_removed":
            mid = update.get("message_id")
            if isinstance(mid, str) and mid:
                batch.deleted.append(mid)
        elif kind in ("bot_started", "bot_stopped"):
            chat = _int(update.get("chat_id"))
            if not chat:
                continue
            if kind == "bot_started":
                started = convert_started(channel, update)
                if started is not None:
                    batch.messages.append(started)
            batch.reachable.append((str(chat), kind == "bot_started"))
        elif kind in ("user_added", "user_removed"):
            member = convert_member(channel, update)
            if member is not None:
                batch.messages.append(member)
    return batch


STYLES = {"strong": "bold", "emphasized": "italic", "monospaced": "code",
          "strikethrough": "strike", "underline": "underline", "link": "link"}


def plain(body: Mapping[str, Any], meta: dict[str, Any] | None = None) -> str:
    """A message's text, its markup kept beside it as the thread's styles (``entities``)
    and links (``links``); the text itself is plain, never markup."""
    text = str(body.get("text") or "")
    if meta is None:
        return text
    entities, links = [], []
    for mark in dicts(body.get("markup")):
        start, length = _int(mark.get("from")), _int(mark.get("length"))
        style = STYLES.get(str(mark.get("type") or ""))
        if start is None or not length or start < 0 or start + length > len(text) or not style:
            continue
        entities.append([start, length, style])
        url = mark.get("url")
        if style == "link" and isinstance(url, str) and url:
            links.append([start, length, url])
    if entities:
        meta["entities"] = entities
    if links:
        meta["links"] = links
    return text


def convert_message(channel: str, msg: Mapping[str, Any], edit: bool = False,
                    at: Any = None, bot_id: int | None = None) -> InboundMessage | None:
    """A customer's message (or, ``edit``, its new text); None for the bot's own."""
    sender = _map(msg.get("sender"))
    recipient = _map(msg.get("recipient"))
    body = _map(msg.get("body"))
    user, chat, mid = _int(sender.get("user_id")), _int(recipient.get("chat_id")), body.get("mid")
    if not user or not chat or not isinstance(mid, str) or not mid:
        return None
    if sender.get("is_bot") or (bot_id and user == bot_id):
        return None
    meta: dict[str, Any] = {}
    lines = [plain(body, meta)]
    files: list[Attachment] = []
    attachments, remarks = convert_attachments(body.get("attachments"), meta)
    files.extend(attachments)
    lines.extend(remarks)
    reply_to = None
    link = _map(msg.get("link"))
    linked = _map(link.get("message"))
    if link.get("type") == "reply":
        reply_to = str(linked.get("mid") or "") or None
        if linked.get("text"):
            meta["quote"] = str(linked["text"])
    elif link.get("type") == "forward":
        meta["forwarded"] = "once"
        author = _map(link.get("sender"))
        if author:
            meta["forwarded_from"] = name_of(author)
        text = plain(linked).strip()
        more, notes = convert_attachments(linked.get("attachments"), {})
        files.extend(more)
        for line in (text.splitlines() or ([] if more or notes else [_("(no text)")])):
            lines.append("> " + line)
        lines.extend("> " + note for note in notes)
    sent = _seconds(msg.get("timestamp"))
    edited_at = _int(at) or _int(msg.get("timestamp")) or 0
    return InboundMessage(
        channel=channel, chat_id=str(chat),
        external_id=f"{mid}.edit.{edited_at}" if edit else mid, sender_id=str(user),
        sender_name=name_of(sender), username=str(sender.get("username") or "") or None,
        body="\n".join(line for line in lines if line), sent_at=sent,
        reply_to_external_id=reply_to, attachments=tuple(files), meta=meta,
        edit_of_external_id=mid if edit else None)


def convert_attachments(items: Any, meta: dict[str, Any]) -> tuple[list[Attachment], list[str]]:
    """A message's attachments: files to fetch when asked, and remarks for the thread."""
    files: list[Attachment] = []
    remarks: list[str] = []
    for item in dicts(items):
        kind = str(item.get("type") or "")
        payload = _map(item.get("payload"))
        url = str(payload.get("url") or "")
        if kind == "image":
            name = f"image{payload.get('photo_id') or ''}.jpg"
            if url:
                files.append(Attachment(kind="photo", filename=name, mime="image/jpeg",
                                        ref=url))
        elif kind == "video":
            if url:
                files.append(Attachment(kind="video", filename="video.mp4",
                                        mime="video/mp4", ref=url))
            else:
                remarks.append(_("a video"))
        elif kind == "audio":
            if url:
                files.append(Attachment(kind="voice", filename="audio.ogg", ref=url))
        elif kind == "file":
            if url:
                files.append(Attachment(kind="document",
                                        filename=str(item.get("filename") or "file"),
                                        size=_int(item.get("size")), ref=url))
        elif kind == "sticker":
            meta["kind"] = "sticker"
            if url:
                files.append(Attachment(kind="sticker", filename="sticker.webp", ref=url))
        elif kind == "contact":
            info = _map(payload.get("max_info"))
            vcf = str(payload.get("vcf_info") or "")
            phone = next((line.split(":", 1)[1] for line in vcf.splitlines()
                          if line.upper().startswith("TEL") and ":" in line), "")
            name = name_of(info) if info else next(
                (line.split(":", 1)[1] for line in vcf.splitlines()
                 if line.upper().startswith("FN") and ":" in line), "")
            remarks.append(_("contact: {name} {phone}", name=name, phone=phone).strip())
        elif kind == "location":
            latitude, longitude = item.get("latitude"), item.get("longitude")
            if isinstance(latitude, int | float) and isinstance(longitude, int | float):
                meta["location"] = [latitude, longitude]
                remarks.append(f"{latitude}, {longitude}")
                meta.setdefault("kind", "location")
        elif kind == "share":
            remarks.append(_("link: {title} {url}", title=str(item.get("title") or ""),
                             url=url).replace("  ", " "))
        elif kind == "inline_keyboard":
            continue
        else:
            remarks.append(_("an attachment MAX calls {kind}", kind=kind or "?"))
    return files, remarks


def convert_press(channel: str, update: Mapping[str, Any]) -> InboundMessage | None:
    """A callback button pressed (``message_callback``), as the customer's choice."""
    callback = _map(update.get("callback"))
    user = _map(callback.get("user"))
    chat = _int(_map(_map(update.get("message")).get("recipient")).get("chat_id"))
    ident, payload = callback.get("callback_id"), callback.get("payload")
    if not isinstance(ident, str) or not ident or not _int(user.get("user_id")) or not chat:
        return None
    data = str(payload or "")
    label = _label_of(_map(_map(update.get("message")).get("body")), data)
    return InboundMessage(
        channel=channel, chat_id=str(chat), external_id=f"callback.{ident}",
        sender_id=str(user["user_id"]), sender_name=name_of(user), body=label or data,
        sent_at=_seconds(callback.get("timestamp")),
        meta={"callback": data, "kind": "callback"})


def _label_of(body: Mapping[str, Any], data: str) -> str:
    """The text of the button that carried ``data``, in the keyboard of the message
    pressed (MAX sends that message with the press)."""
    for item in dicts(body.get("attachments")):
        if item.get("type") != "inline_keyboard":
            continue
        for row in _map(item.get("payload")).get("buttons") or []:
            for button in dicts(row):
                if button.get("payload") == data and isinstance(button.get("text"), str):
                    return button["text"]
    return ""


def convert_started(channel: str, update: Mapping[str, Any]) -> InboundMessage | None:
    """The customer started the bot: where they came from (the start payload of the
    link they followed), shown in their dialog."""
    user, chat = _map(update.get("user")), _int(update.get("chat_id"))
    if not _int(user.get("user_id")) or not chat:
        return None
    payload = str(update.get("payload") or "")
    meta: dict[str, Any] = {"kind": "referral", "referral": {"source_type": "max_start"}}
    if payload:
        meta["referral"]["ref"] = payload
    body = (_("started the bot from: {payload}", payload=payload) if payload
            else _("started the bot"))
    return InboundMessage(
        channel=channel, chat_id=str(chat),
        external_id=f"started.{chat}.{_int(update.get('timestamp')) or 0}",
        sender_id=str(user["user_id"]), sender_name=name_of(user), body=body,
        sent_at=_seconds(update.get("timestamp")), meta=meta)


def convert_member(channel: str, update: Mapping[str, Any]) -> InboundMessage | None:
    """Someone joined or left a group chat the bot is in: a remark in its dialog."""
    user, chat = _map(update.get("user")), _int(update.get("chat_id"))
    if not _int(user.get("user_id")) or not chat:
        return None
    added = update.get("update_type") == "user_added"
    words = (_("{name} joined the chat", name=name_of(user)) if added
             else _("{name} left the chat", name=name_of(user)))
    return InboundMessage(
        channel=channel, chat_id=str(chat),
        external_id=f"{update.get('update_type')}.{chat}.{user['user_id']}."
                    f"{_int(update.get('timestamp')) or 0}",
        sender_id=str(user["user_id"]), sender_name=name_of(user), body=words,
        sent_at=_seconds(update.get("timestamp")),
        meta={"kind": "system"})
