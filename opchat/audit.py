"""`opchat audit`: the history of a dialog, or of everything, from the `events` table.

Every change opchat makes is an event with who and when, so this is the
answer to "who hid that?", "when was it resolved?", "what did that merge
move?". Each kind of event reads as one line; a kind this module does not
know prints its data as JSON, so nothing is ever left out.

What is printed came partly from customers and platforms (names, labels,
errors), so every field goes through `opchat.sanitize` — and `--json` output
escapes what could act on a terminal, while staying the same JSON.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from opchat.i18n import _
from opchat.model import Event, EventKind, HiddenItem
from opchat.sanitize import one_line

PAGE = 1000
TEXT_CHARS = 1000  # of one event's description
FIELD_CHARS = 120  # of one value inside it

# Characters JSON leaves raw that a terminal would act on or hide: DEL, C1 controls,
# bidi and zero-width marks, line separators, lone surrogates. Escaped as \uXXXX.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\ud800-\udfff]")


def parse_since(text: str) -> float:
    """An argparse type: "2025-03-14" or "2025-03-14 10:30" (local time unless it says)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM'",
              text=repr(text))) from None
    return moment.timestamp()  # a naive moment is local time


def local_time(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def who(event: Event, words: bool = True) -> str:
    """The operator's login, or "customer" / "hub" for what nobody at the keyboard did
    (in the interface's language when ``words``; JSON keeps the English values)."""
    if event.operator:
        return one_line(event.operator, 40)
    customer = (
        event.kind == EventKind.CONVERSATION_NEW
        or (event.kind == EventKind.MESSAGE_NEW and event.data.get("direction") == "in")
        or event.data.get("reason") == "customer wrote"
    )
    if not words:
        return "customer" if customer else "hub"
    return _("customer") if customer else _("hub")


def _v(value: Any, limit: int = FIELD_CHARS) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return one_line(text, limit) or "—"


def _message(event: Event) -> str:
    return _("message #{n}", n=event.message_id) if event.message_id else _("message")


def _message_new(e: Event) -> str:
    message = _message(e)
    return {
        "in": lambda: _("customer wrote {message}", message=message),
        "out": lambda: _("reply {message} queued", message=message),
        "note": lambda: _("private note {message}", message=message),
        "auto": lambda: _("automatic reply {message}", message=message),
    }.get(str(e.data.get("direction")), lambda: _("{message} stored", message=message))()


def _message_state(e: Event) -> str:
    text = f"{_message(e)} → {_v(e.data.get('state'))}"
    if e.data.get("retry"):
        text += " " + _("(sent again by hand)")
    if e.data.get("error"):
        text += f": {_v(e.data['error'], 300)}"
    return text


def _retrying(e: Event) -> str:
    return _("{message} will be retried in {seconds} s: {error}", message=_message(e),
             seconds=_v(e.data.get("after")), error=_v(e.data.get("error"), 300))


def _status(e: Event) -> str:
    text = _("status {old} → {new}", old=_v(e.data.get("from")), new=_v(e.data.get("to")))
    until = e.data.get("until")
    if isinstance(until, int | float):
        text += " " + _("until {moment}", moment=local_time(until))
    return text + _because(e)


def _label(e: Event) -> str:
    if "added" in e.data:
        return _("label added: {label}", label=_v(e.data["added"]))
    if "removed" in e.data:
        return _("label removed: {label}", label=_v(e.data["removed"]))
    return _("label: {label}", label=_v(e.data))


def _assign(e: Event) -> str:
    nobody = _("nobody")
    text = _("assigned: {old} → {new}", old=_v(e.data.get("from") or nobody),
             new=_v(e.data.get("to") or nobody))
    return text + _because(e)


def _unhidden(e: Event) -> str:
    text = (_("{message} shown again", message=_message(e)) if e.kind == EventKind.MESSAGE_UNHIDDEN
            else _("conversation shown again"))
    return text + _because(e)


def _because(e: Event) -> str:
    """" (why)", from the event's reason: the store's own reasons in the reader's
    language, any other (an operator's words, a newer version's) as it is."""
    reason = e.data.get("reason")
    if not reason:
        return ""
    known = {"customer wrote": _("customer wrote"),
             "edit of a hidden message": _("edit of a hidden message")}
    said = known.get(reason) if isinstance(reason, str) else None
    return f" ({said or _v(reason)})"


def _merged(e: Event) -> str:
    d = e.data
    none = _("none")
    identities = d.get("identities") if isinstance(d.get("identities"), list) else []
    moved = ", ".join(
        f"{_v(i.get('channel'), 40)}/{_v(i.get('name'), 60)}" if isinstance(i, dict) else _v(i)
        for i in identities) or none
    conversations = d.get("conversations") if isinstance(d.get("conversations"), list) else []
    dialogs = ", ".join(f"#{_v(c, 20)}" for c in conversations) or none
    text = _("contact #{merged} ({merged_name}) merged into #{kept} ({kept_name}); moved "
             "identities: {moved}; conversations: {dialogs}", merged=_v(d.get("merged"), 20),
             merged_name=_v(d.get("merged_name"), 60), kept=_v(d.get("contact"), 20),
             kept_name=_v(d.get("kept_name"), 60), moved=moved, dialogs=dialogs)
    filled = d.get("filled")
    if isinstance(filled, list) and filled:
        text += "; " + _("filled in: {fields}", fields=", ".join(_v(f, 20) for f in filled))
    return text


def _failure_cleared(e: Event) -> str:
    reason = str(e.data.get("reason"))
    why = {"dismissed": _("dismissed"), "delivered": _("a later reply was delivered"),
           "resolved": _("resolved"), "snoozed": _("snoozed")}.get(reason, _v(reason))
    return _("the failure of {message} no longer keeps the conversation waiting: {why}",
             message=_message(e), why=why)


def _health(e: Event) -> str:
    text = _("channel {name} {health}", name=_v(e.data.get("channel"), 40),
             health=_v(e.data.get("health"), 20))
    return text + (f": {_v(e.data['detail'], 300)}" if e.data.get("detail") else "")


_DESCRIBE: dict[str, Callable[[Event], str]] = {
    EventKind.MESSAGE_NEW: _message_new,
    EventKind.MESSAGE_STATE: _message_state,
    EventKind.MESSAGE_RETRYING: _retrying,
    EventKind.MESSAGE_HIDDEN: lambda e: _("{message} hidden", message=_message(e)) + _because(e),
    EventKind.MESSAGE_UNHIDDEN: _unhidden,
    EventKind.CONVERSATION_NEW: lambda e: _("new conversation"),
    EventKind.CONVERSATION_STATUS: _status,
    EventKind.CONVERSATION_LABEL: _label,
    EventKind.CONVERSATION_READ: lambda e: _("marked read"),
    EventKind.CONVERSATION_ASSIGN: _assign,
    EventKind.CONVERSATION_HIDDEN: lambda e: _("conversation hidden"),
    EventKind.CONVERSATION_UNHIDDEN: _unhidden,
    EventKind.CONVERSATION_FAILED: lambda e: _(
        "reply {message} failed: the conversation waits again", message=_message(e)),
    EventKind.CONVERSATION_FAILURE_CLEARED: _failure_cleared,
    EventKind.CONTACT_MERGED: _merged,
    EventKind.CONTACT_NOTES: lambda e: _(
        "notes about contact #{contact} changed ({chars} characters)",
        contact=_v(e.data.get("contact"), 20), chars=_v(e.data.get("chars"), 20)),
    EventKind.CHANNEL_HEALTH: _health,
    "quick_replies.saved": lambda e: _("{count} quick replies saved",
                                       count=_v(e.data.get("count"), 20)),
}


def describe(event: Event) -> str:
    """What an event changed, as one line of sanitised text."""
    known = _DESCRIBE.get(event.kind)
    try:
        text = known(event) if known is not None else ""
    except Exception:  # odd data in an old or foreign row: show it raw, never fail
        text = ""
    if not text:
        text = json.dumps(event.data, ensure_ascii=False, sort_keys=True)
    return one_line(text, TEXT_CHARS)


def text_line(event: Event) -> str:
    conversation = f"#{event.conversation_id}" if event.conversation_id is not None else "-"
    return (f"{local_time(event.at)}  {who(event):<10} {conversation:>7}  "
            f"{one_line(event.kind, 40):<21} {describe(event)}")


def terminal_safe_json(value: Any, sort_keys: bool = True) -> str:
    """JSON on one line whose every character is harmless on a terminal (same JSON value)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(event: Event) -> str:
    return terminal_safe_json({
        "id": event.id, "at": event.at, "time": local_time(event.at), "kind": event.kind,
        "conversation_id": event.conversation_id, "message_id": event.message_id,
        "operator": event.operator, "who": who(event, words=False), "data": event.data,
        "text": describe(event)})


def hidden_line(item: HiddenItem, as_json: bool) -> str:
    when = local_time(item.at) if item.at is not None else None
    if as_json:
        return terminal_safe_json({
            "kind": item.kind, "id": item.id, "conversation_id": item.conversation_id,
            "title": item.title, "at": item.at, "time": when, "operator": item.operator})
    where = (_("conversation #{n}", n=item.id) if item.kind == "conversation"
             else _("message #{n} in #{conversation}", n=item.id,
                    conversation=item.conversation_id))
    return (f"{where:<30} {when or '?':<25}  {one_line(item.operator or '?', 40):<10} "
            f"{one_line(item.title, 80) or '—'}")
