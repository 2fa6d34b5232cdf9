"""VK's events (Bots Long Poll updates, Callback API requests) as what the hub stores.

One event at a time, in the order VK gave them, into a :class:`Batch`: customers'
messages (``message_new``, their edits, pressed callback buttons), what an
admin wrote in VK itself (``message_reply``: shown as sent from VK), whether a
customer may be written to (``message_allow`` / ``message_deny``), read marks,
and the callback presses to answer once stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opchat.i18n import _
from opchat.model import Attachment, InboundMessage

CHATS_FROM = 2_000_000_000  # peer ids from here on are group chats


@dataclass(frozen=True, slots=True)
class Read:
    chat_id: str
    message_id: str  # VK's id of the last message the customer read


@dataclass(frozen=True, slots=True)
class Press:
    """A callback button pressed: answered once stored."""

    event_id: str
    user_id: int
    peer_id: int


@dataclass
class Batch:
    messages: list[InboundMessage] = field(default_factory=list)
    echoes: list[InboundMessage] = field(default_factory=list)  # message_reply
    reachable: list[tuple[str, bool]] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)
    ours: list[tuple[InboundMessage, int]] = field(default_factory=list)  # echo, random_id
    typing: list[str] = field(default_factory=list)  # customers typing now (not stored)

    def senders(self) -> set[str]:
        return {m.sender_id for m in self.messages if m.sender_id.isdigit()}


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


def external_id(message: Mapping[str, Any]) -> str | None:
    """VK's id of a message in the community's dialogs (in a group chat, where the
    community sees none, the chat's own number of it)."""
    number = _int(message.get("id"))
    if number:
        return str(number)
    peer, in_chat = _int(message.get("peer_id")), _int(message.get("conversation_message_id"))
    if peer and in_chat:
        return f"{peer}_{in_chat}"
    return None


def convert(channel: str, group_id: int, updates: Iterable[Any], batch: Batch,
            ours: Any = None) -> Batch:
    """Add what ``updates`` carry to ``batch``; updates for another community or of kinds
    the channel does not show are let go. ``ours(random_id)``: whether an echo is of a
    message opchat sent itself."""
    for update in dicts(list(updates)):
        kind = update.get("type")
        obj = update.get("object")
        event_group = _int(update.get("group_id"))
        if not isinstance(obj, Mapping) or (event_group and event_group != group_id):
            continue
        if kind == "message_new":
            message = obj.get("message") if isinstance(obj.get("message"), Mapping) else obj
            converted = convert_message(channel, message)
            if converted is not None:
                batch.messages.append(converted)
        elif kind == "message_edit":
            converted = convert_message(channel, obj, edit=True)
            if converted is not None:
                batch.messages.append(converted)
        elif kind == "message_reply":
            echo = convert_echo(channel, obj)
            if echo is not None:
                random_id = _int(obj.get("random_id")) or 0
                if ours is not None and random_id and ours(random_id):
                    batch.ours.append((echo, random_id))
                else:
                    batch.echoes.append(echo)
        elif kind == "message_event":
            converted = convert_press(channel, obj)
            if converted is not None:
                batch.messages.append(converted)
                batch.presses.append(Press(str(obj["event_id"]), int(obj["user_id"]),
                                           int(obj["peer_id"])))
        elif kind in ("message_allow", "message_deny"):
            user = _int(obj.get("user_id"))
            if user:
                batch.reachable.append((str(user), kind == "message_allow"))
        elif kind == "message_typing_state":
            user = _int(obj.get("from_id"))
            if user and user > 0 and obj.get("state") == "typing":
                batch.typing.append(str(user))
        elif kind == "message_read":
            peer = _int(obj.get("peer_id")) or _int(obj.get("from_id"))
            read = _int(obj.get("read_message_id"))
            if peer and read:
                batch.reads.append(Read(str(peer), str(read)))
    return batch


def convert_message(channel: str, msg: Mapping[str, Any], edit: bool = False
                    ) -> InboundMessage | None:
    """A customer's message (or, ``edit``, its new text); None for the community's own."""
    sender = _int(msg.get("from_id"))
    peer = _int(msg.get("peer_id")) or sender
    ident = external_id(msg)
    if not sender or sender < 0 or not peer or not ident or msg.get("out") == 1:
        return None
    lines = [str(msg.get("text") or "")]
    meta: dict[str, Any] = {}
    files: list[Attachment] = []
    for item in dicts(msg.get("attachments")):
        attachment, remark = convert_attachment(item)
        if attachment is not None:
            files.append(attachment)
            if attachment.kind == "sticker":
                meta["kind"] = "sticker"
        if remark:
            lines.append(remark)
    geo = msg.get("geo")
    if isinstance(geo, Mapping):
        coordinates = geo.get("coordinates") if isinstance(geo.get("coordinates"),
                                                           Mapping) else {}
        latitude, longitude = coordinates.get("latitude"), coordinates.get("longitude")
        place = geo.get("place") if isinstance(geo.get("place"), Mapping) else {}
        title = str(place.get("title") or "")
        where = ""
        if isinstance(latitude, int | float) and isinstance(longitude, int | float):
            meta["location"] = [latitude, longitude]
            where = f"{latitude}, {longitude}"
        lines.append(f"{title} ({where})" if title and where else title or where)
        if not lines[0]:
            meta["kind"] = "location"
    forwarded = dicts(msg.get("fwd_messages"))
    if forwarded:
        meta["forwarded"] = "once" if len(forwarded) == 1 else "many"
        authors = {str(_int(f.get("from_id")) or "") for f in forwarded} - {""}
        if len(authors) == 1:
            meta["forwarded_from"] = _vk_link(next(iter(authors)))
        for item in forwarded:
            text = str(item.get("text") or "").strip() or _("(no text)")
            lines.extend("> " + line for line in text.splitlines())
    reply_to = None
    replied = msg.get("reply_message")
    if isinstance(replied, Mapping):
        reply_to = external_id(replied)
        if replied.get("text"):
            meta["quote"] = str(replied["text"])
    action = msg.get("action")
    if isinstance(action, Mapping) and action.get("type"):
        # A group chat's service message (someone joined, the title changed...).
        lines.append(_("chat action: {action}", action=str(action["type"])))
        meta["kind"] = "system"
    payload = msg.get("payload")
    if isinstance(payload, str) and payload:
        meta["callback"] = button_data(payload)
        meta["kind"] = "callback"
    body = "\n".join(line for line in lines if line)
    date = msg.get("update_time") if edit else msg.get("date")
    ident_here = f"{ident}.edit.{date}" if edit else ident
    return InboundMessage(
        channel=channel, chat_id=str(peer), external_id=ident_here, sender_id=str(sender),
        sender_name=f"id{sender}", body=body,
        sent_at=float(date) if isinstance(date, int | float) else None,
        reply_to_external_id=reply_to, attachments=tuple(files), meta=meta,
        edit_of_external_id=ident if edit else None)


def convert_echo(channel: str, msg: Mapping[str, Any]) -> InboundMessage | None:
    """What the community sent from VK itself (an admin in the web version, another
    tool): to be shown as sent, never sent again."""
    peer = _int(msg.get("peer_id"))
    ident = external_id(msg)
    if not peer or peer < 0 or not ident:
        return None
    lines = [str(msg.get("text") or "")]
    files = []
    for item in dicts(msg.get("attachments")):
        attachment, remark = convert_attachment(item)
        if attachment is not None:
            files.append(attachment)
        if remark:
            lines.append(remark)
    admin = _int(msg.get("admin_author_id"))
    meta: dict[str, Any] = {"elsewhere": "VK"}
    if admin:
        meta["elsewhere"] = f"VK, {_vk_link(str(admin))}"
    date = msg.get("date")
    return InboundMessage(
        channel=channel, chat_id=str(peer), external_id=ident, sender_id=str(peer),
        sender_name="", body="\n".join(line for line in lines if line),
        sent_at=float(date) if isinstance(date, int | float) else None,
        attachments=tuple(files), meta=meta)


def convert_press(channel: str, obj: Mapping[str, Any]) -> InboundMessage | None:
    """A callback button pressed (``message_event``), as the customer's choice."""
    user, peer, event = _int(obj.get("user_id")), _int(obj.get("peer_id")), obj.get("event_id")
    if not user or not peer or not isinstance(event, str) or not event:
        return None
    payload = obj.get("payload")
    data = button_data(payload if isinstance(payload, str) else json.dumps(
        payload, ensure_ascii=False) if payload is not None else "")
    return InboundMessage(
        channel=channel, chat_id=str(peer), external_id=f"event.{event}",
        sender_id=str(user), sender_name=f"id{user}", body=_label_of(payload) or data,
        meta={"callback": data, "kind": "callback"})


def button_data(payload: str) -> str:
    """What a button carried: our own ``{"b": …}``, else VK's payload as it came."""
    try:
        value = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(value, Mapping) and isinstance(value.get("b"), str):
        return value["b"]
    if isinstance(value, Mapping) and isinstance(value.get("command"), str):
        return value["command"]
    return payload


def _label_of(payload: Any) -> str:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return ""
    if isinstance(payload, Mapping) and isinstance(payload.get("l"), str):
        return payload["l"]
    return ""


def _vk_link(user: str) -> str:
    return f"vk.com/id{user}" if not user.startswith("-") else f"vk.com/club{user[1:]}"


def _largest(sizes: Any) -> str:
    best, area = "", -1
    for size in dicts(sizes):
        url = size.get("url") or size.get("src")
        width, height = _int(size.get("width")) or 0, _int(size.get("height")) or 0
        if isinstance(url, str) and width * height > area:
            best, area = url, width * height
    return best


def convert_attachment(item: Mapping[str, Any]) -> tuple[Attachment | None, str]:
    """One of a message's attachments: a file to fetch when asked, and/or a remark for
    the thread (what a bot cannot fetch: videos, posts, links…)."""
    kind = str(item.get("type") or "")
    content = item.get(kind) if isinstance(item.get(kind), Mapping) else {}
    owner, number = content.get("owner_id"), content.get("id")
    if kind == "photo":
        url = _largest(content.get("sizes"))
        remark = str(content.get("text") or "")
        return (Attachment(kind="photo", filename=f"photo{owner}_{number}.jpg",
                           mime="image/jpeg", ref=url) if url else None), remark
    if kind == "doc":
        url = str(content.get("url") or "")
        title = str(content.get("title") or f"doc{owner}_{number}")
        ext = str(content.get("ext") or "")
        if ext and not title.lower().endswith("." + ext.lower()):
            title = f"{title}.{ext}"
        size = _int(content.get("size"))
        return (Attachment(kind="document", filename=title, size=size, ref=url)
                if url else None), ""
    if kind == "audio_message":
        url = str(content.get("link_ogg") or content.get("link_mp3") or "")
        mime = "audio/ogg" if content.get("link_ogg") else "audio/mpeg"
        return (Attachment(kind="voice", filename=f"voice{owner}_{number}."
                           f"{'ogg' if mime == 'audio/ogg' else 'mp3'}", mime=mime, ref=url)
                if url else None), ""
    if kind == "sticker":
        url = _largest(content.get("images_with_background") or content.get("images"))
        return (Attachment(kind="sticker", filename=f"sticker{content.get('sticker_id')}.png",
                           mime="image/png", ref=url) if url else None), ""
    if kind == "graffiti":
        url = str(content.get("url") or "")
        return (Attachment(kind="photo", filename=f"graffiti{owner}_{number}.png",
                           mime="image/png", ref=url) if url else None), ""
    if kind == "video":
        title = str(content.get("title") or "")
        link = f"https://vk.com/video{owner}_{number}"
        return None, _("video: {title} {link}", title=title, link=link).replace("  ", " ")
    if kind == "wall":
        owner = content.get("owner_id") or content.get("from_id") or content.get("to_id")
        link = f"https://vk.com/wall{owner}_{number}"
        text = str(content.get("text") or "").strip()
        words = _("wall post: {link}", link=link)
        return None, f"{words}\n{text}" if text else words
    if kind == "link":
        url = str(content.get("url") or "")
        title = str(content.get("title") or "")
        return None, _("link: {title} {url}", title=title, url=url).replace("  ", " ")
    if kind == "audio":
        return None, _("audio: {artist} — {title}", artist=str(content.get("artist") or ""),
                       title=str(content.get("title") or ""))
    if kind == "market":
        return None, _("product: {title}", title=str(content.get("title") or ""))
    if kind == "poll":
        return None, _("poll: {question}", question=str(content.get("question") or ""))
    if kind == "gift":
        return None, _("a gift")
    return None, _("an attachment VK calls {kind}", kind=kind or "?")
