"""Edit what operators know about a person (the contact panel's `n`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from opchat.i18n import _
from opchat.sanitize import clean, one_line, safe_content
from opchat.widgets import translate_bindings


class NotesScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", _("Save"), priority=True, id="opchat.notes.save"),
        Binding("escape", "cancel", _("Cancel"), priority=True, id="opchat.notes.cancel"),
    ]

    DEFAULT_CSS = """
    NotesScreen {
        align: center middle;
        background: $background 60%;
    }
    NotesScreen > #notes {
        width: 76;
        max-width: 100%;
        height: 20;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    NotesScreen #notes-title {
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    NotesScreen TextArea {
        height: 1fr;
    }
    NotesScreen #notes-keys {
        color: $text-muted;
    }
    """

    def __init__(self, name: str, notes: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.contact_name = name
        self.notes = notes

    def compose(self) -> ComposeResult:
        with Vertical(id="notes"):
            yield Static(Content.assemble(_("Notes about") + " ",
                                          safe_content(one_line(self.contact_name, 80) or "—")),
                         id="notes-title")
            yield TextArea(clean(self.notes), soft_wrap=True, id="notes-text")
            yield Static(Content(_("Ctrl+S: save   Esc: cancel")), id="notes-keys")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
