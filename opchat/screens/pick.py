"""A small chooser: a title, a list of choices, and optionally a line to type in.

Snooze ("1 hour", "tomorrow 9:00", … or a typed time), assign ("me", "boris",
"nobody") and labels (pick one or type a new name) all ask the same kind of
question, so they share this screen. Choices are data, never markup: names of
operators and labels are drawn through `opchat.sanitize`.

The result is a :class:`Picked`: the chosen choice's key, or the typed text.
Escape dismisses with None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from opchat.i18n import _
from opchat.sanitize import one_line, safe_content
from opchat.widgets import translate_bindings


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    label: str
    hint: str = ""  # dim text after the label (a time, a count)


@dataclass(frozen=True, slots=True)
class Picked:
    key: str | None  # the choice picked, or None when text was typed
    text: str = ""  # what was typed (stripped)


class PickScreen(ModalScreen[Picked | None]):
    """Up/Down and Enter pick; typing filters the choices (or is the answer itself)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", _("Cancel"), id="opchat.pick.cancel"),
        Binding("down", "move(1)", _("Down"), show=False, id="opchat.pick.down"),
        Binding("up", "move(-1)", _("Up"), show=False, id="opchat.pick.up"),
    ]

    DEFAULT_CSS = """
    PickScreen {
        align: center middle;
        background: $background 50%;
    }
    PickScreen > Vertical {
        width: 60;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        background: $surface;
        border: round $accent;
        padding: 0 1;
    }
    PickScreen #pick-title { text-style: bold; margin-bottom: 1; }
    PickScreen #pick-error { color: $error; height: auto; }
    PickScreen Input { margin-bottom: 1; }
    PickScreen OptionList { height: auto; max-height: 14; border: none; padding: 0; }
    """

    def __init__(
        self,
        title: str,
        choices: Sequence[Choice],
        *,
        typed: str | None = None,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        """``typed``: the input's placeholder when the operator may type an answer;
        ``check``: returns why typed text is not acceptable, or None."""
        super().__init__(id="pick")
        translate_bindings(self)
        self.title_text = title
        self.choices = list(choices)
        self.typed = typed
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.title_text), id="pick-title")
            if self.typed is not None:
                yield Input(placeholder=self.typed, id="pick-input")
            yield Static(Content(""), id="pick-error")
            yield OptionList(*self._options(""), id="pick-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = 0
        if self.typed is not None:
            self.query_one(Input).focus()
        else:
            options.focus()

    def _options(self, text: str) -> list[Option]:
        needle = text.casefold().strip()
        shown = [c for c in self.choices if needle in c.label.casefold()] if needle \
            else self.choices
        return [Option(self._prompt(c), id=c.key) for c in shown]

    @staticmethod
    def _prompt(choice: Choice) -> Content:
        parts: list[Content | tuple[str, str]] = [safe_content(one_line(choice.label, 60))]
        if choice.hint:
            parts += [("  ", ""), safe_content(one_line(choice.hint, 40), "dim")]
        return Content.assemble(*parts)

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        options.highlighted = 0 if options.option_count else None
        self.query_one("#pick-error", Static).update(Content(""))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        # The highlighted choice wins (typing filters them); text that matches no
        # choice is the answer itself, once `check` accepts it.
        event.stop()
        options = self.query_one(OptionList)
        text = event.value.strip()
        if options.highlighted is not None:
            self.dismiss(Picked(options.get_option_at_index(options.highlighted).id))
            return
        if not text:
            return
        problem = self.check(text) if self.check is not None else None
        if problem:
            self.query_one("#pick-error", Static).update(Content(problem))
        else:
            self.dismiss(Picked(None, text))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(Picked(event.option.id))

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -1
            options.highlighted = max(0, min(options.option_count - 1, current + delta))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
