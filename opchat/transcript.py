"""A dialog written out for the customer: what they and the business said, and when.

Plain text, for an e-mail: each message with its time and who wrote it; private
notes, hidden messages and the rating question are never in it. Files are
named, not attached. The words around it are the customer's language (the
channel's, as the automatic answers speak it), not the operator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from opchat.model import Conversation, Direction, Message

TEXTS = {
    "en": {"subject": "Your conversation with us, {date}",
           "intro": "Here is our conversation as it was written, from {start}:",
           "you": "You", "auto": "Automatic answer", "operator": "Operator",
           "file": "[file: {name}]"},
    "ru": {"subject": "Наша переписка, {date}",
           "intro": "Вот наша переписка в том виде, как она шла, начиная с {start}:",
           "you": "Вы", "auto": "Автоответ", "operator": "Оператор",
           "file": "[файл: {name}]"},
}


def subject(conversation: Conversation, language: str) -> str:
    words = TEXTS.get(language, TEXTS["en"])
    return words["subject"].format(
        date=datetime.fromtimestamp(conversation.created_at).strftime("%d.%m.%Y"))


def text(conversation: Conversation, messages: Sequence[Message], language: str,
         business: str = "", zone: ZoneInfo | None = None) -> str:
    """The transcript: a line saying what it is, then every message the customer saw."""
    words = TEXTS.get(language, TEXTS["en"])
    lines = [words["intro"].format(start=_when(conversation.created_at, zone)), ""]
    for m in messages:
        if m.direction is Direction.NOTE or m.meta.get("rating_asked"):
            continue
        if m.direction is Direction.IN:
            who = conversation.contact_name or words["you"]
        elif m.direction is Direction.AUTO:
            who = business or words["auto"]
        else:
            who = business or m.author or words["operator"]
        lines.append(f"{_when(m.created_at, zone)}  {who}:")
        for line in (m.body or "").strip().splitlines() or [""]:
            lines.append(f"  {line}")
        for attachment in m.attachments:
            lines.append("  " + words["file"].format(name=attachment.filename or "—"))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _when(at: float, zone: ZoneInfo | None) -> str:
    return datetime.fromtimestamp(at, zone).strftime("%d.%m.%Y %H:%M")
