"""Where the operator types the answer.

A `TextArea` with chat keys: Enter sends, Ctrl+J or Alt+Enter starts a new
line, Up on the first line goes to the thread (to pick a message), Escape
goes back to the list.

Alt+Enter: terminals that speak the kitty keyboard protocol report it as
"alt+enter"; the others (xterm, tmux, most SSH clients) send ESC CR, which
Textual would read as a plain Enter and so send a half-written message.
`register_alt_enter()` makes ESC CR arrive as Ctrl+J instead.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from opchat.i18n import _
from opchat.widgets import translate_bindings


def register_alt_enter() -> None:
    """Read ESC CR (Alt+Enter outside the kitty protocol) as Ctrl+J: a new line."""
    from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
    from textual.keys import Keys

    if isinstance(ANSI_SEQUENCES_KEYS, dict):
        ANSI_SEQUENCES_KEYS.setdefault("\x1b\r", (Keys.ControlJ,))


class Composer(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", _("Send"), key_display="⏎", id="opchat.composer.send",
                tooltip=_("Send the message")),
        Binding("ctrl+j,alt+enter", "newline", _("Newline"), key_display="^j",
                id="opchat.composer.newline", tooltip=_("Start a new line (also Alt+Enter)")),
        Binding("escape", "leave", _("To the list"), show=False, id="opchat.composer.leave"),
    ]

    class Submitted(Message):
        """The operator pressed Enter on text worth sending."""

        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

    class LeaveTop(Message):
        """Up on the first line: the thread is next."""

    class Leave(Message):
        """Escape: back to the conversation list."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            "",
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder=_("Select a conversation"),
            highlight_cursor_line=False,
            compact=True,
            id=id,
            classes=classes,
            disabled=True,
        )
        translate_bindings(self)

    def set_open(self, is_open: bool) -> None:
        """Enable typing when a conversation is open; otherwise say why not."""
        self.disabled = not is_open
        self.placeholder = _("Type a message…") if is_open else _("Select a conversation")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            # Not a new line: let the key reach the bindings, where it sends.
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.navigator.is_first_wrapped_line(self.cursor_location):
            self.post_message(self.LeaveTop())
            return
        super().action_cursor_up(select)
