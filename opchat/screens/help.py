"""Every key, grouped by where it works (F1 or ?).

The table is built from the bindings themselves, with the app's keymap
applied, so what it says is what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from opchat.i18n import _
from opchat.widgets import translate_bindings


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"  # read when F1 is first pressed, not before the first frame
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,question_mark,q", "dismiss", _("Close"), id="opchat.help.close"),
    ]

    def __init__(self, groups: Iterable[tuple[str, Iterable[Binding]]],
                 extra: Iterable[tuple[str, list[tuple[str, str]]]] = ()) -> None:
        super().__init__(id="help")
        translate_bindings(self)
        self.groups = [(title, list(bindings)) for title, bindings in groups]
        self.extra = list(extra)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(Content.styled(_("Keys"), "bold"), id="help-title")
            for title, bindings in self.groups:
                rows = [(self._keys(binding), _(binding.tooltip or binding.description))
                        for binding in bindings if binding.description or binding.tooltip]
                yield self._table(title, rows)
            for title, rows in self.extra:
                yield self._table(title, rows)
            yield Static(Content.styled(_("Esc closes this help."), "dim"), classes="help-hint")

    def _keys(self, binding: Binding) -> str:
        keymap = self.app._keymap  # the keymap set through App.set_keymap()
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        shown = []
        for key in keys.split(","):
            key = key.strip()
            if key:
                shown.append(self.app.get_key_display(Binding(key, "")))
        return ", ".join(shown)

    def _table(self, title: str, rows: list[tuple[str, str]]) -> Vertical:
        """A title, then one row per key: the keys in a column as wide as the widest,
        the text beside them, wrapping under itself rather than under the keys."""
        width = max((len(keys) for keys, _text in rows), default=0) + 2
        lines: list[Static | Horizontal] = [
            Static(Content.styled(title, "bold underline"), classes="help-title")]
        for keys, text in rows:
            key_cell = Static(Content.styled(keys, "bold"), classes="help-keys")
            key_cell.styles.width = width
            lines.append(Horizontal(key_cell, Static(Content(text), classes="help-text"),
                                    classes="help-row"))
        return Vertical(*lines, classes="help-group")
