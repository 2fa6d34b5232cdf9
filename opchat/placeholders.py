"""Variables in quick replies: `{contact.first_name}`, `{operator.name}`, `{date}`...

A saved reply is a template; inserting it fills each `{name}` it knows from
the dialog at hand and leaves the others in place, reported as unfilled so
the reply box can highlight them and refuse to send them by accident.

Values are untrusted: a customer may call themselves ``{operator.name}`` or
``[bold]x[/]``. Expansion is one pass over the template only, so a value is
inserted as it is and never expanded again; nothing here knows about markup
at all (the reply box shows plain text). Control and format characters are
dropped from values and a value is one line: a name cannot smuggle an escape
sequence or a fake second paragraph into a reply.

Which `{…}` in a reply box still need filling: those naming no known value
(`unfilled_slots`). A `{…}` whose name has a value was put there literally
(it came from a value, or the operator typed it): inserting a reply would
have filled it.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PLACEHOLDER",
    "Expansion",
    "Slot",
    "clock_values",
    "expand",
    "find_slots",
    "plain_value",
    "reply_values",
    "unfilled_slots",
]

# `{word}` or `{word.word...}`, starting with a letter: JSON, `{}` or `{ x }` are text.
PLACEHOLDER = re.compile(r"\{([^\W\d][\w]*(?:\.[\w]+)*)\}")
VALUE_CHARS = 200
_KEEP_FORMAT = {"\u200d"}  # the zero-width joiner holds emoji families together


@dataclass(frozen=True, slots=True)
class Slot:
    """A placeholder in a text: characters [start, end) spell `{name}`."""

    start: int
    end: int
    name: str


@dataclass(frozen=True, slots=True)
class Expansion:
    text: str
    unfilled: tuple[Slot, ...]  # offsets into `text`, in order


def plain_value(value: Any) -> str:
    """A value as one line of plain text: controls and invisible formatting dropped."""
    kept = []
    for ch in str(value):
        if ch in "\n\r\t\v\f\u2028\u2029":
            kept.append(" ")
        elif ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf"):
            kept.append(ch)
    return " ".join("".join(kept).split())[:VALUE_CHARS]


def expand(template: str, values: Mapping[str, str]) -> Expansion:
    """Fill `template`'s placeholders from `values` in one pass (values are never re-read)."""
    parts: list[str] = []
    unfilled: list[Slot] = []
    length = 0
    last = 0
    for match in PLACEHOLDER.finditer(template):
        literal = template[last:match.start()]
        parts.append(literal)
        length += len(literal)
        name = match.group(1)
        value = plain_value(values.get(name) or "")
        if value:
            parts.append(value)
            length += len(value)
        else:
            placeholder = match.group(0)
            unfilled.append(Slot(length, length + len(placeholder), name))
            parts.append(placeholder)
            length += len(placeholder)
        last = match.end()
    parts.append(template[last:])
    return Expansion("".join(parts), tuple(unfilled))


def find_slots(text: str) -> list[Slot]:
    return [Slot(m.start(), m.end(), m.group(1)) for m in PLACEHOLDER.finditer(text)]


def unfilled_slots(text: str, values: Mapping[str, str]) -> list[Slot]:
    """The placeholders in `text` that still need the operator (see the module docstring)."""
    return [slot for slot in find_slots(text) if not plain_value(values.get(slot.name) or "")]


def reply_values(
    *,
    contact_name: str = "",
    contact_fields: Mapping[str, Any] | None = None,
    operator_name: str = "",
    operator_login: str = "",
    conversation_id: int | None = None,
    channel_name: str = "",
    now: float | None = None,
) -> dict[str, str]:
    """Every variable a reply can use in one dialog.

    `contact_fields` are the contact's own details (phone, email, and what the
    channel told about them: language, page...), offered as `{contact.KEY}`.
    Date and time are the operator's local ones.
    """
    values: dict[str, str] = {}
    for key, value in (contact_fields or {}).items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            if re.fullmatch(r"\w+", str(key)):
                values[f"contact.{key}"] = plain_value(value)
    name = plain_value(contact_name)
    values["contact.name"] = name
    values["contact.first_name"] = name.split(" ")[0] if name else ""
    # Never the login name: "I'm root" must not reach a customer unless chosen. Without
    # a chosen name the slot stays for the operator to fill in.
    values["operator.name"] = plain_value(operator_name)
    values["operator.login"] = plain_value(operator_login)
    values["conversation.id"] = "" if conversation_id is None else str(conversation_id)
    values["channel.name"] = plain_value(channel_name)
    values.update(clock_values(now))
    return {key: value for key, value in values.items() if value}


def clock_values(now: float | None = None) -> dict[str, str]:
    """`{date}` and `{time}`, local, at `now` (epoch seconds; None: the present)."""
    moment = time.localtime(time.time() if now is None else now)
    return {"date": time.strftime("%d.%m.%Y", moment), "time": time.strftime("%H:%M", moment)}
