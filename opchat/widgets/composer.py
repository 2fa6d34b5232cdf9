"""Where the operator types the answer.

A `TextArea` with chat keys: Enter sends, Ctrl+J or Alt+Enter starts a new
line, Up on the first line goes to the thread (to pick a message; with text in the
box, from its start only), Escape
goes back to the list, Alt+B moves a word left (as in a shell; Alt+F is the
label filter).

Enter sends the text as it is at that key, for the dialog loaded into the box
then (`Submitted.conversation_id`), and empties the box at once: what is typed
right after Enter is the start of the next message.

Alt keys: terminals that speak the kitty keyboard protocol report them as
such; the others (xterm, tmux, most SSH clients) send ESC and the key, which
`register_terminal_keys()` makes Textual read as Alt+key (see there).

Quick replies: `/` and a few letters of a shortcut open the drop-down
(`ReplyCompletion`, which the screen hands in as `completion`); Tab or Enter
asks the screen to put the reply in place of `/del` (`ReplyChosen`). A
reply's unfilled variables (`{contact.first_name}` with no name known) are
highlighted, Tab and Shift+Tab go from one to the next, and Enter on a
message that still has one asks before sending (`ConfirmSend`) with the
cursor on it: a customer must never get `{…}` by accident. `variables`, set
by the screen for the open dialog, says which names have a value.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea
from textual.widgets.text_area import Location, Selection

from opchat.i18n import _
from opchat.sanitize import one_line
from opchat.widgets import translate_bindings

if TYPE_CHECKING:
    from opchat.model import QuickReply
    from opchat.placeholders import Expansion, Slot
    from opchat.widgets.reply_completion import ReplyCompletion

# `/` at the start of the text or after a space, then what may be a shortcut, up to the cursor.
SLASH = re.compile(r"(?:^|(?<=\s))/([\w.-]{0,40})$")
PLACEHOLDER_HIGHLIGHT = "opchat-placeholder"


def register_terminal_keys() -> None:
    """Read Alt+letter, Alt+digit and Alt+Enter as a plain terminal sends them.

    Outside the kitty keyboard protocol (xterm, tmux, most SSH clients) Alt+key
    arrives as ESC and the key, and Textual reads some of those as other keys:

    * ESC CR (Alt+Enter) as a plain Enter, which would send a half-written
      message: it becomes Ctrl+J, a new line;
    * ESC f and ESC b as Ctrl+Right and Ctrl+Left, so Alt+F (the label filter)
      never fired;
    * ESC and a digit as the character macOS types for Option+digit ("¡", "™",
      "£"..., for WezTerm on macOS), so Alt+2 typed "™" into the reply.

    Every ESC + lower-case letter or digit is now read as Alt+that key at once.
    The others Textual also reads as Alt+key, but only after a pause: in a
    burst of more than 32 keys, or before another ESC, it typed "^" and the
    letter instead.
    """
    from textual._ansi_sequences import ANSI_SEQUENCES_KEYS

    if not isinstance(ANSI_SEQUENCES_KEYS, dict):
        return
    ANSI_SEQUENCES_KEYS["\x1b\r"] = (_AltKey.newline,)
    for key in _AltKey:
        if key.value.startswith("alt+"):
            ANSI_SEQUENCES_KEYS[f"\x1b{key.value[4:]}"] = (key,)


register_alt_enter = register_terminal_keys  # its name before it did more than Alt+Enter

# Textual's table maps a sequence to members of its Keys enum and reads their
# `.value`; the names it gives Alt+letter are "alt+f", which Keys has not.
_AltKey = Enum("_AltKey", {"newline": "ctrl+j", **{
    f"alt_{char}": f"alt+{char}" for char in string.ascii_lowercase + string.digits}})


class Composer(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", _("Send"), key_display="⏎", id="opchat.composer.send",
                tooltip=_("Send the message")),
        Binding("ctrl+j,alt+enter", "newline", _("Newline"), key_display="^j",
                id="opchat.composer.newline", tooltip=_("Start a new line (also Alt+Enter)")),
        # ESC b was Ctrl+Left until Alt+letter was read as such: keep the shell's word left.
        Binding("alt+b", "cursor_word_left", _("Word left"), show=False,
                id="opchat.composer.word_left"),
        Binding("escape", "leave", _("To the list"), show=False, id="opchat.composer.leave"),
        Binding("tab", "tab", _("Complete"), show=False, id="opchat.composer.complete",
                tooltip=_("Take the /reply shown; else go to the next unfilled variable; "
                          "else to the next pane")),
        Binding("shift+tab", "back_tab", _("Previous variable"), show=False,
                id="opchat.composer.previous_variable",
                tooltip=_("Go to the previous unfilled variable; else to the previous pane")),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"composer--placeholder"}

    class Submitted(Message):
        """The operator pressed Enter on text worth sending, in `conversation_id`'s box;
        `note`: it was written as a private note."""

        def __init__(self, composer: Composer, text: str,
                     conversation_id: int | None = None, note: bool = False) -> None:
            super().__init__()
            self.composer = composer
            self.text = text
            self.conversation_id = conversation_id
            self.note = note

    class LeaveTop(Message):
        """Up on the first line: the thread is next."""

    class Leave(Message):
        """Escape: back to the conversation list."""

    class ReplyChosen(Message):
        """A reply was taken from the drop-down: it replaces `/…` between start and end."""

        def __init__(self, reply: QuickReply, start: Location, end: Location) -> None:
            super().__init__()
            self.reply = reply
            self.start = start
            self.end = end

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
        self.completion: ReplyCompletion | None = None
        self.variables: Mapping[str, str] = {}  # the open dialog's values, by name
        self.files: list[Path] = []  # files to send with the next message (Ctrl+T)
        self.note_label: str | None = None
        self.template_label: str | None = None
        self.conversation_id: int | None = None  # the dialog whose reply this is
        self._slash: tuple[Location, Location] | None = None

    def set_files(self, files: list[Path]) -> None:
        """Files that go with the next message; named on the reply box's top edge."""
        self.files = list(files)
        self._retitle()

    def set_note(self, label: str | None) -> None:
        """Say on the top edge that this is a private note (None: a reply)."""
        self.note_label = label
        self._retitle()

    def set_template(self, label: str | None) -> None:
        """Say on the top edge that the text is a template's, to fill (None: it is not)."""
        self.template_label = label
        self._retitle()

    def _retitle(self) -> None:
        parts = [label for label in (self.note_label, self.template_label) if label]
        if self.files:
            parts.append("📎 " + ", ".join(one_line(path.name, 40) for path in self.files))
        self.border_title = Content("  ".join(parts)) if parts else None

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
        if self._take_completion():
            return
        text = self.text
        if not text.strip() and not self.files:
            return
        unfilled = self.unfilled()
        if not unfilled:
            self._submit(text)
            return
        self._select_slot(unfilled[0])
        conversation_id = self.conversation_id

        def answered(send: bool | None) -> None:
            # Only the text that was asked about is sent: not a text edited meanwhile.
            if send and self.text == text and self.conversation_id == conversation_id:
                self._submit(text)
            else:
                self.focus()

        self.app.push_screen(ConfirmSend([slot.name for slot in unfilled]), answered)

    def _submit(self, text: str) -> None:
        self.post_message(self.Submitted(self, text, self.conversation_id,
                                         note=self.note_label is not None))
        self.clear()

    # Quick replies: the drop-down and the variables ------------------------------------

    def unfilled(self) -> list[Slot]:
        from opchat.placeholders import unfilled_slots  # with the first reply, not before

        return unfilled_slots(self.text, self.variables)

    def insert_expansion(self, expansion: Expansion,
                         replace: tuple[Location, Location] | None = None) -> None:
        """Put a reply's text at the cursor (or over `replace`); select its first gap."""
        start, end = replace if replace is not None else sorted(self.selection)
        self.replace(expansion.text, start, end, maintain_selection_offset=False)
        if expansion.unfilled:
            base = self.document.get_index_from_location(min(start, end))
            from opchat.placeholders import Slot

            slot = expansion.unfilled[0]
            self._select_slot(Slot(base + slot.start, base + slot.end, slot.name))
        self._close_completion()

    def _select_slot(self, slot: Slot) -> None:
        location = self.document.get_location_from_index
        self.selection = Selection(location(slot.start), location(slot.end))

    def _step_slot(self, forward: bool) -> bool:
        slots = self.unfilled()
        if not slots:
            return False
        index = self.document.get_index_from_location
        at = index(min(self.selection)) if forward else index(max(self.selection))
        selected = (index(min(self.selection)), index(max(self.selection)))
        if forward:
            after = [s for s in slots if s.start >= at and (s.start, s.end) != selected]
            self._select_slot(after[0] if after else slots[0])
        else:
            before = [s for s in slots if s.end <= at and (s.start, s.end) != selected]
            self._select_slot(before[-1] if before else slots[-1])
        return True

    def action_tab(self) -> None:
        if self._take_completion() or self._step_slot(forward=True):
            return
        self.screen.focus_next()

    def action_back_tab(self) -> None:
        if not self._step_slot(forward=False):
            self.screen.focus_previous()

    def _take_completion(self) -> bool:
        completion = self.completion
        reply = completion.chosen if completion is not None else None
        if reply is None or self._slash is None:
            return False
        start, end = self._slash
        self._close_completion()
        self.post_message(self.ReplyChosen(reply, start, end))
        return True

    def _close_completion(self) -> None:
        self._slash = None
        if self.completion is not None and self.completion.is_open:
            self.completion.hide()

    def _follow_slash(self) -> None:
        """Open, narrow or close the drop-down as the text before the cursor changes."""
        completion = self.completion
        if completion is None:
            return
        start, end = self.selection
        if start != end:
            self._close_completion()
            return
        row, column = end
        match = SLASH.search(self.document.get_line(row)[:column])
        if match is None:
            self._close_completion()
            return
        self._slash = ((row, match.start()), end)
        if not completion.show(match.group(1)):
            self._slash = None

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._follow_slash()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        if self._slash is not None and event.selection.end != self._slash[1]:
            self._follow_slash()

    def _build_highlight_map(self) -> None:
        # TextArea highlights only through a syntax tree; unfilled variables are added
        # to the same map (byte offsets per line, as TextArea's renderer reads them).
        super()._build_highlight_map()
        if "{" not in self.text:
            return
        theme = self._theme
        if theme is not None and PLACEHOLDER_HIGHLIGHT not in theme.syntax_styles:
            theme.syntax_styles = {**theme.syntax_styles,
                                   PLACEHOLDER_HIGHLIGHT: self._placeholder_style()}
        location = self.document.get_location_from_index
        for slot in self.unfilled():
            (row, start), (end_row, end) = location(slot.start), location(slot.end)
            if row != end_row:
                continue
            line = self.document.get_line(row)
            self._highlights[row].append((len(line[:start].encode()),
                                          len(line[:end].encode()), PLACEHOLDER_HIGHLIGHT))

    def _placeholder_style(self):  # -> rich.style.Style
        try:
            return self.get_component_rich_style("composer--placeholder")
        except Exception:  # before the styles are ready: a plain reverse will do
            from rich.style import Style

            return Style(reverse=True, bold=True)

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)

    def action_leave(self) -> None:
        if self.completion is not None and self.completion.is_open:
            self._close_completion()
            return
        self.post_message(self.Leave())

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.completion is not None and self.completion.is_open:
            self.completion.move(-1)
            return
        if not select and self.navigator.is_first_wrapped_line(self.cursor_location):
            # Typed text first goes to its start: Up pressed while writing must not put
            # the keys typed next on the thread's one-letter commands. From the start
            # (or an empty box), Up goes to the thread.
            if self.cursor_location != (0, 0):
                self.move_cursor((0, 0))
            else:
                self.post_message(self.LeaveTop())
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self.completion is not None and self.completion.is_open:
            self.completion.move(+1)
            return
        super().action_cursor_down(select)


class ConfirmSend(ModalScreen[bool]):
    """Asks before a message with unfilled `{variables}` goes to a customer."""

    DEFAULT_CSS = """
    ConfirmSend { align: center middle; }
    ConfirmSend > Vertical {
        width: 60; max-width: 100%; height: auto;
        border: round $warning; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", _("Send as it is"), id="opchat.confirm.yes"),
        Binding("n,escape", "answer(False)", _("Fill it in"), id="opchat.confirm.no"),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        translate_bindings(self)
        self.names = names

    def compose(self) -> ComposeResult:
        shown = ", ".join("{" + one_line(name, 40) + "}" for name in self.names[:5])
        with Vertical():
            yield Static(_("The message still has {names}: the customer would see it as it "
                           "is.", names=shown), markup=False)
            yield Static(_("y — send as it is   n, Esc — fill it in"), markup=False)

    def action_answer(self, send: bool) -> None:
        self.dismiss(send)
