"""Viber's callbacks as what the hub stores.

Each callback is one JSON object with an ``event``: ``message`` (a customer's
message: text, picture, video, file, sticker, contact, url, location, with the
``tracking_data`` of the bot's message it follows), ``conversation_started``
(the customer opened the chat: nothing stored, no dialog until they write),
``subscribed`` / ``unsubscribed``, ``delivered`` / ``seen`` / ``failed`` (marks
on what the bot sent), ``webhook`` (Viber's check of the address). A dialog is
the customer's Viber id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opchat.i18n import _
from opchat.model import Attachment, InboundMessage, MessageState
from opchat.transports.viber.options import EVENT_TYPES

__all__ = ["EVENT_TYPES", "Batch", "NotViber", "convert"]


@dataclass
class Batch:
    messages: list[InboundMessage] = field(default_factory=list)
    reachable: list[tuple[str, bool]] = field(default_factory=list)
    receipts: list[tuple[str, MessageState, str | None]] = field(default_factory=list)
    started: str | None = None  # conversation_started: the customer's id


class NotViber(ValueError):
    """The body is not a Viber callback."""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _token(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return str(value)
    return None


def _seconds(value: Any) -> float | None:
    return value / 1000.0 if isinstance(value, int) and not isinstance(value, bool) \
        and value > 0 else None


def menu_of(tracking: str) -> dict[str, str]:
    """The choices of the menu the bot sent, as it keeps them in ``tracking_data``."""
    try:
        found = json.loads(tracking)
    except ValueError:
        return {}
    menu = found.get("opchat_menu") if isinstance(found, dict) else None
    return {str(k): str(v) for k, v in menu.items()} if isinstance(menu, dict) else {}


def convert(channel: str, event: Mapping[str, Any]) -> Batch:
    """What one callback carries; NotViber if it is not one."""
    kind = event.get("event")
    if not isinstance(kind, str):
        raise NotViber("no event")
    batch = Batch()
    if kind == "message":
        message = convert_message(channel, event)
        if message is None:
            raise NotViber("a message without its sender, token or content")
        batch.messages.append(message)
    elif kind in ("delivered", "seen", "failed"):
        token = _token(event.get("message_token"))
        if token is None:
            raise NotViber("a receipt without message_token")
        state = {"delivered": MessageState.DELIVERED, "seen": MessageState.READ,
                 "failed": MessageState.FAILED}[kind]
        reason = None
        if kind == "failed":
            reason = _("Viber could not deliver it: {said}",
                       said=str(event.get("desc") or "?"))
        batch.receipts.append((token, state, reason))
    elif kind == "subscribed":
        user = str(_map(event.get("user")).get("id") or "")
        if user:
            batch.reachable.append((user, True))
    elif kind == "unsubscribed":
        user = str(event.get("user_id") or "")
        if user:
            batch.reachable.append((user, False))
    elif kind == "conversation_started":
        batch.started = str(_map(event.get("user")).get("id") or "") or None
    return batch


def convert_message(channel: str, event: Mapping[str, Any]) -> InboundMessage | None:
    sender = _map(event.get("sender"))
    msg = _map(event.get("message"))
    token = _token(event.get("message_token"))
    user = sender.get("id")
    if not token or not isinstance(user, str) or not user or not msg:
        return None
    kind = str(msg.get("type") or "")
    text = str(msg.get("text") or "")
    meta: dict[str, Any] = {}
    attachments: list[Attachment] = []
    tracking = msg.get("tracking_data")
    if isinstance(tracking, str) and tracking:
        meta["tracking_data"] = tracking[:4096]
        choice = menu_of(tracking)
        if kind == "text" and text in choice:
            meta["callback"] = text
            text = choice[text] or text
    media = str(msg.get("media") or "")
    size = msg.get("size") if isinstance(msg.get("size"), int) else None
    if kind in ("picture", "video", "file", "sticker"):
        name = str(msg.get("file_name") or "")
        attachments.append(Attachment(
            kind={"picture": "photo", "file": "document"}.get(kind, kind),
            filename=name, size=size, ref=media))
        if kind == "sticker":
            meta["kind"] = "sticker"
    elif kind == "contact":
        contact = _map(msg.get("contact"))
        meta["contact"] = {"name": str(contact.get("name") or ""),
                           "phone": str(contact.get("phone_number") or "")}
        text = text or _("Contact: {name} {phone}", name=meta["contact"]["name"],
                         phone=meta["contact"]["phone"]).strip()
        meta["kind"] = "contact"
    elif kind == "url":
        text = text or media
        meta["kind"] = "url"
    elif kind == "location":
        place = _map(msg.get("location"))
        lat, lon = place.get("lat"), place.get("lon")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            meta["location"] = [float(lat), float(lon)]
            text = text or str(place.get("address") or f"{lat}, {lon}")
        meta["kind"] = "location"
    elif kind != "text":
        meta["kind"] = kind or "unsupported"
        meta["unsupported"] = _("a Viber message of a kind opchat does not show")
    profile = {key: sender[key] for key in ("language", "country", "avatar")
               if isinstance(sender.get(key), str)}
    return InboundMessage(
        channel=channel, chat_id=user, external_id=token, sender_id=user,
        sender_name=str(sender.get("name") or f"Viber {user[:8]}"), body=text,
        sent_at=_seconds(event.get("timestamp")), attachments=tuple(attachments),
        profile=profile, meta=meta)
