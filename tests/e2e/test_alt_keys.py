"""Every Alt binding, sent as a terminal sends it: ESC and the key (tmux M-x).

Outside the kitty keyboard protocol that is all a program gets for Alt+key, and
Textual read some of those as other keys (ESC f as Ctrl+Right, so Alt+F never
fired; ESC and a digit as a macOS Option character). Pilot presses "alt+f" as a
name and cannot show it; `opchat --demo` in tmux at 80×24 can.
"""

from __future__ import annotations

import re

from tests.e2e.conftest import Demo, reply_box
from tests.e2e.test_terminal import last_line
from tests.tools import require_tmux

require_tmux()


def title(screen: str) -> str:
    """The open dialog's title: the right-hand part of the first line."""
    return screen.splitlines()[0].split("▕", 1)[-1]


def active_view(styled: str) -> str:
    """The name of the view tab drawn bold and underlined (the one shown)."""
    first = styled.splitlines()[0]
    match = re.search(r"\x1b\[1;4m(?:\x1b\[[\d;]*m)*(\w+)", first)
    return match.group(1) if match else ""


def opens_and_closes(demo: Demo, keys: tuple[str, ...], shows: str) -> None:
    demo.burst(*keys)
    demo.wait_for(lambda s: shows in s)
    demo.keys("Escape")
    demo.wait_for(lambda s: shows not in s and "Send" in last_line(s))


def test_alt_keys_that_open_a_chooser(demo: Demo) -> None:
    demo.open_first()
    for keys, shows in [
        (("M-f",), "Show conversations labelled"),
        (("Escape", "f"), "Show conversations labelled"),  # the same bytes, spelt out
        (("M-l",), "type to find, or a new label"),
        (("M-z",), "Snooze until"),
        (("M-g",), "Assign to"),
        (("M-h",), "Hide this conversation?"),
    ]:
        opens_and_closes(demo, keys, shows)


def test_alt_keys_that_change_the_dialog(demo: Demo) -> None:
    demo.open_first()
    # Alt+X: no failed reply here to dismiss, and it says so.
    demo.burst("M-x")
    demo.wait_for(lambda s: "No failed reply" in s)
    # Alt+I shows the contact panel and hides it again.
    demo.burst("M-i")
    demo.wait_for(lambda s: "Notes  n edits" in s)
    demo.burst("M-i")
    demo.wait_for(lambda s: "Notes  n edits" not in s and "DE Анна Смирнова" in title(s))
    # Alt+N: a private note; again: a reply.
    demo.burst("M-n")
    demo.wait_for(lambda s: "Private note" in s)
    demo.burst("M-n")
    demo.wait_for(lambda s: "Private note" not in s)
    # Alt+P pending, Alt+O open again.
    demo.burst("M-p")
    demo.wait_for(lambda s: "· pending" in title(s))
    demo.burst("M-o")
    demo.wait_for(lambda s: "·" not in title(s) and "Анна" in title(s))
    # Alt+G to nobody, Alt+A back to me.
    demo.burst("M-g")
    demo.wait_for(lambda s: "Assign to" in s)
    demo.burst("Down", "Enter")  # me, then Nobody
    demo.wait_for(lambda s: "Assign to" not in s and "→" not in title(s))
    demo.burst("M-a")
    demo.wait_for(lambda s: "→ tester" in title(s))
    # Alt+↓ / Alt+↑: next and previous conversation.
    demo.burst("M-Down")
    demo.wait_for(lambda s: "DE John Carter" in title(s))
    demo.burst("M-Up")
    demo.wait_for(lambda s: "DE Анна Смирнова" in title(s))
    # Alt+E resolves and opens the next one.
    demo.burst("M-e")
    demo.wait_for(lambda s: "Resolved." in s and "DE John Carter" in title(s))
    # Alt+W: who has waited longest (Bob, 5 minutes); Alt+U: the next unread after him.
    demo.burst("M-w")
    demo.wait_for(lambda s: "DE Blocked Bob" in title(s))
    demo.burst("M-u")
    demo.wait_for(lambda s: "Blocked Bob" not in title(s) and "demo" in title(s))


def test_alt_keys_that_move_around(demo: Demo) -> None:
    demo.open_first()
    demo.burst("M-1")
    demo.wait_for(lambda s: "Open" in last_line(s))
    demo.burst("M-2")
    demo.wait_for(lambda s: "Retry" in last_line(s))
    demo.burst("M-3")
    demo.wait_for(lambda s: "Send" in last_line(s))
    # From the reply box too, and in a burst with typing: Alt+digit never types.
    demo.burst("abc", "M-1", "M-3", "d")
    screen = demo.wait_for(lambda s: reply_box(s) == "abcd")
    assert "™" not in screen and "¡" not in screen
    # Alt+V: the next view (Mine, Unassigned, All, Waiting), round to All again.
    assert active_view(demo.styled_screen()) == "All"
    demo.burst("M-v")
    demo.wait_for(lambda s: active_view(s) == "Wait", styled=True)
    demo.burst("M-v")
    demo.wait_for(lambda s: active_view(s) == "Mine", styled=True)
    demo.burst("M-v", "M-v")
    demo.wait_for(lambda s: active_view(s) == "All", styled=True)
    # Alt+Enter: a new line in the reply, not a send.
    demo.burst("M-3", "M-Enter", "e")
    demo.wait_for(lambda s: reply_box(s) == "abcd\ne")
    # Alt+B: a word left in the reply box, as in a shell.
    demo.burst("M-b", "X")
    demo.wait_for(lambda s: reply_box(s) == "abcd\nXe")
