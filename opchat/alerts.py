"""Getting the operator's attention: the terminal bell and desktop notifications.

Desktop notifications are escape sequences the terminal turns into a system
notification, so they work over SSH: OSC 9 (iTerm2, Windows Terminal, WezTerm,
kitty, foot) and OSC 777 (VTE terminals such as GNOME Terminal, urxvt, foot).
A terminal that knows neither ignores them. Their text comes from customers,
so it is cut to one short line with every control character and the
sequences' own separators removed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from opchat.sanitize import one_line

TEXT_CHARS = 120


@dataclass(frozen=True, slots=True)
class Alert:
    way: str  # "bell", "desktop" or "both"
    title: str
    body: str
    loud: bool = False


def notification_sequences(title: str, body: str) -> str:
    """OSC 9 and OSC 777 notifications of ``title``/``body``, safe to write raw."""
    title, body = _field(title), _field(body)
    return f"\x1b]9;{title}: {body}\x07\x1b]777;notify;{title};{body}\x07"


def _field(text: str) -> str:
    flat = one_line(text, TEXT_CHARS)
    # one_line shows invisible characters as markers; what is left must still not
    # end the sequence (BEL, ESC) or split OSC 777's fields (;).
    return "".join(ch for ch in flat if ch.isprintable() and ch != ";")


class Alerter:
    """Rings and notifies through ``write`` (the app's terminal driver)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.recent: deque[Alert] = deque(maxlen=50)  # what was sent, newest last

    def alert(self, way: str, title: str, body: str = "", loud: bool = False) -> None:
        if way == "off":
            return
        self.recent.append(Alert(way, title, body, loud))
        out = ""
        if way in ("bell", "both"):
            out += "\x07\x07" if loud else "\x07"
        if way in ("desktop", "both"):
            out += notification_sequences(title, body)
        self.write(out)
