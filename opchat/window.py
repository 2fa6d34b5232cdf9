"""The reply window: how long a channel lets the business write freely after the
customer's last message (Meta's 24-hour customer service window), as screens say it.

Pure functions of the dialog, the channel's window and "now".
"""

from __future__ import annotations

from opchat.i18n import _
from opchat.model import Conversation
from opchat.when import short_duration

SOON = 3 * 3600  # the list warns of a window that closes within this many seconds


def time_left(conversation: Conversation, window: int, now: float) -> float | None:
    """Seconds until the dialog's window closes (0 or less: closed); None when the
    channel has no window or the customer never wrote."""
    if window <= 0 or conversation.last_inbound_at is None:
        return None
    return conversation.last_inbound_at + window - now


def header_note(left: float | None, templates: bool = True) -> str:
    """What the thread's header says of the window ("" when there is none); past it, what
    may still go: a template (``templates``), else nothing until the customer writes."""
    if left is None:
        return ""
    if left <= 0:
        return _("template only: Alt+T") if templates else _("closed until they write")
    return _("{time} left to reply", time=short_duration(left))


def list_mark(left: float | None) -> str:
    """The list's short mark for a window that is closing soon or closed ("" else)."""
    if left is None or left > SOON:
        return ""
    return "⌛" + (short_duration(left) if left > 0 else "0")
