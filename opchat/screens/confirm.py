"""Ask before doing something that leaves a trace: hiding a message or a dialog, merging.

A modal with what will happen spelled out, and two keys: Enter (or y) does
it, Escape (or n) does not. The body is `Content` built by the caller from
sanitised text; nothing here parses markup.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from opchat.i18n import _
from opchat.widgets import translate_bindings


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "answer(True)", _("Yes"), priority=True, id="opchat.confirm.yes"),
        Binding("escape,n", "answer(False)", _("No"), priority=True, id="opchat.confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
        background: $background 60%;
    }
    ConfirmScreen > #confirm {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen #confirm-title {
        text-style: bold;
    }
    ConfirmScreen #confirm-body {
        height: auto;
        max-height: 16;
    }
    ConfirmScreen #confirm-keys {
        color: $text-muted;
    }
    """

    def __init__(self, title: str, body: Content, yes: str) -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text = title
        self.body = body
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Content(self.title_text), id="confirm-title")
            with VerticalScroll(id="confirm-body"):
                yield Static(self.body, id="confirm-text")
            yield Static(Content(_("Enter: {yes}   Esc: cancel", yes=self.yes)),
                         id="confirm-keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
