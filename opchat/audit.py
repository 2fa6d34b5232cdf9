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
from opchat.model import (
    ChannelHealthData,
    ContactChangedData,
    ContactMergedData,
    ContactNotesData,
    ConversationAssignData,
    ConversationLabelData,
    ConversationStatusData,
    Event,
    EventKind,
    HiddenItem,
    MessageHiddenData,
    MessageNewData,
    MessageRetryingData,
    MessageStateData,
    QuickRepliesData,
    ReasonData,
)
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
    payload = event.payload
    # A newer opchat's kind has no payload here: its reason is read from the raw data.
    reason = (event.data.get("reason") if payload is None
              else getattr(payload, "reason", None))
    customer = (
        event.kind == EventKind.CONVERSATION_NEW
        or (isinstance(payload, MessageNewData) and payload.direction == "in")
        or reason == "customer wrote"
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


# Each takes the event and its payload (`Event.payload`, the kind's `EVENT_DATA` type).

def _message_new(e: Event, p: MessageNewData) -> str:
    message = _message(e)
    return {
        "in": lambda: _("customer wrote {message}", message=message),
        "out": lambda: _("reply {message} queued", message=message),
        "note": lambda: _("private note {message}", message=message),
        "auto": lambda: _("automatic reply {message}", message=message),
    }.get(str(p.direction), lambda: _("{message} stored", message=message))()


def _message_state(e: Event, p: MessageStateData) -> str:
    text = f"{_message(e)} → {_v(p.state)}"
    if p.retry:
        text += " " + _("(sent again by hand)")
    if p.error:
        text += f": {_v(p.error, 300)}"
    return text


def _retrying(e: Event, p: MessageRetryingData) -> str:
    return _("{message} will be retried in {seconds} s: {error}", message=_message(e),
             seconds=_v(p.after), error=_v(p.error, 300))


def _hidden(e: Event, p: MessageHiddenData) -> str:
    return _("{message} hidden", message=_message(e)) + _because(p.reason)


def _status(e: Event, p: ConversationStatusData) -> str:
    text = _("status {old} → {new}", old=_v(p.from_), new=_v(p.to))
    if isinstance(p.until, int | float):
        text += " " + _("until {moment}", moment=local_time(p.until))
    return text + _because(p.reason)


def _label(e: Event, p: ConversationLabelData) -> str:
    if p.added is not None:
        return _("label added: {label}", label=_v(p.added))
    if p.removed is not None:
        return _("label removed: {label}", label=_v(p.removed))
    return _("label: {label}", label=_v(e.data))


def _assign(e: Event, p: ConversationAssignData) -> str:
    nobody = _("nobody")
    text = _("assigned: {old} → {new}", old=_v(p.from_ or nobody), new=_v(p.to or nobody))
    return text + _because(p.reason)


def _unhidden(e: Event, p: MessageHiddenData | ReasonData) -> str:
    text = (_("{message} shown again", message=_message(e)) if e.kind == EventKind.MESSAGE_UNHIDDEN
            else _("conversation shown again"))
    return text + _because(p.reason)


def _because(reason: object) -> str:
    """" (why)", from the event's reason: the store's own reasons in the reader's
    language, any other (an operator's words, a newer version's) as it is."""
    if not reason:
        return ""
    known = {"customer wrote": _("customer wrote"),
             "edit of a hidden message": _("edit of a hidden message")}
    said = known.get(reason) if isinstance(reason, str) else None
    return f" ({said or _v(reason)})"


def _merged(e: Event, p: ContactMergedData) -> str:
    none = _("none")
    identities = p.identities if isinstance(p.identities, tuple) else ()
    moved = ", ".join(
        f"{_v(i.get('channel'), 40)}/{_v(i.get('name'), 60)}" if isinstance(i, dict) else _v(i)
        for i in identities) or none
    conversations = p.conversations if isinstance(p.conversations, tuple) else ()
    dialogs = ", ".join(f"#{_v(c, 20)}" for c in conversations) or none
    text = _("contact #{merged} ({merged_name}) merged into #{kept} ({kept_name}); moved "
             "identities: {moved}; conversations: {dialogs}", merged=_v(p.merged, 20),
             merged_name=_v(p.merged_name, 60), kept=_v(p.contact, 20),
             kept_name=_v(p.kept_name, 60), moved=moved, dialogs=dialogs)
    if isinstance(p.filled, tuple) and p.filled:
        text += "; " + _("filled in: {fields}", fields=", ".join(_v(f, 20) for f in p.filled))
    return text


def _failure_cleared(e: Event, p: ReasonData) -> str:
    reason = str(p.reason)
    why = {"dismissed": _("dismissed"), "delivered": _("a later reply was delivered"),
           "resolved": _("resolved"), "snoozed": _("snoozed")}.get(reason, _v(reason))
    return _("the failure of {message} no longer keeps the conversation waiting: {why}",
             message=_message(e), why=why)


def _notes(e: Event, p: ContactNotesData) -> str:
    return _("notes about contact #{contact} changed ({chars} characters)",
             contact=_v(p.contact, 20), chars=_v(p.chars, 20))


def _contact_changed(e: Event, p: ContactChangedData) -> str:
    names = {"name": _("name"), "phone": _("phone"), "email": _("e-mail")}
    fields = p.fields if isinstance(p.fields, tuple) else ()
    return _("contact #{contact}: {fields} from the channel", contact=_v(p.contact, 20),
             fields=", ".join(names.get(f, _v(f, 20)) for f in fields if isinstance(f, str)))


def _health(e: Event, p: ChannelHealthData) -> str:
    text = _("channel {name} {health}", name=_v(p.channel, 40), health=_v(p.health, 20))
    return text + (f": {_v(p.detail, 300)}" if p.detail else "")


def _replies_saved(e: Event, p: QuickRepliesData) -> str:
    return _("{count} quick replies saved", count=_v(p.count, 20))


# By kind; the second argument is the kind's payload (`model.EVENT_DATA`).
_DESCRIBE: dict[str, Callable[[Event, Any], str]] = {
    EventKind.MESSAGE_NEW: _message_new,
    EventKind.MESSAGE_STATE: _message_state,
    EventKind.MESSAGE_RETRYING: _retrying,
    EventKind.MESSAGE_DELETED: lambda e, p: _("message {message} deleted by the customer",
                                              message=_message(e)),
    EventKind.MESSAGE_HIDDEN: _hidden,
    EventKind.MESSAGE_UNHIDDEN: _unhidden,
    EventKind.CONVERSATION_NEW: lambda e, p: _("new conversation"),
    EventKind.CONVERSATION_STATUS: _status,
    EventKind.CONVERSATION_LABEL: _label,
    EventKind.CONVERSATION_READ: lambda e, p: _("marked read"),
    EventKind.CONVERSATION_ASSIGN: _assign,
    EventKind.CONVERSATION_HIDDEN: lambda e, p: _("conversation hidden"),
    EventKind.CONVERSATION_UNHIDDEN: _unhidden,
    EventKind.CONVERSATION_FAILED: lambda e, p: _(
        "reply {message} failed: the conversation waits again", message=_message(e)),
    EventKind.CONVERSATION_FAILURE_CLEARED: _failure_cleared,
    EventKind.TRANSCRIPT_REQUESTED: lambda e, p: (
        _("transcript asked for, to {to}", to=one_line(p.to, 200)) if not p.message else
        _("answer {message} to go by e-mail to {to} (the visitor left)",
          message=p.message, to=one_line(p.to, 200))),
    EventKind.TRANSCRIPT_SENT: lambda e, p: (
        (_("sent by e-mail to {to}: {mail_id}", to=one_line(p.to, 200),
           mail_id=one_line(p.mail_id, 200)) if p.mail_id else
         _("transcript sent to {to}", to=one_line(p.to, 200))) if not p.error else
        _("transcript to {to} not sent: {why}", to=one_line(p.to, 200),
          why=one_line(p.error, 200))),
    EventKind.CONVERSATION_RATED: lambda e, p: _(
        "the customer rated the conversation {n} of 5", n=p.rating) + (
        f": {one_line(p.comment, 200)}" if p.comment else ""),
    EventKind.CONTACT_MERGED: _merged,
    EventKind.CONTACT_NOTES: _notes,
    EventKind.CONTACT_CHANGED: _contact_changed,
    EventKind.CHANNEL_HEALTH: _health,
    EventKind.QUICK_REPLIES_SAVED: _replies_saved,
}


def describe(event: Event) -> str:
    """What an event changed, as one line of sanitised text."""
    known = _DESCRIBE.get(event.kind)
    try:
        text = known(event, event.payload) if known is not None else ""
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
