"""Search (Ctrl+F): every message, contact name, phone, e-mail and label.

    ┌ Search messages, contacts and labels ──────────────────┐
    │ заказ 44                                               │
    │ 3 results                                              │
    │ 14.03 11:59  Ivan Petrov  shop                         │
    │   Where is my order #4411?                             │
    │ …                                                      │
    └────────────────────────────────────────────────────────┘

Results update as you type: each change waits `DEBOUNCE` seconds for the
next key, then one exclusive worker asks the inbox (a newer query cancels
the older one's wait), so typing never waits for the database. The cursor
stays in the input; Up/Down (PgUp/PgDn) move through the results, Enter
opens the one highlighted — pressed before the results of what was typed
have arrived, it opens the first of them when they do — and Esc closes.

What is opened: a message hit opens its conversation scrolled to that
message, selected; a contact opens their most recent conversation; a label
lists the conversations it is on (one result each, most recent first), and
opens the one chosen.

Every piece of text is customer data: it is drawn only as `Content` built
through `opchat.sanitize`, and the match markers the store puts around a hit
become a style, never markup.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from opchat.i18n import _, ngettext
from opchat.model import split_marked
from opchat.sanitize import clean, one_line, safe_content
from opchat.widgets import ReportsWorkerErrors, clock_label, translate_bindings

if TYPE_CHECKING:
    from opchat.inbox import Inbox
    from opchat.model import SearchResults

DEBOUNCE = 0.15  # seconds without a key before the query runs
MESSAGE_HITS = 50  # newest messages shown for one query

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SearchTarget:
    """What the operator chose: a conversation, and the message to show in it."""

    conversation_id: int
    message_id: int | None = None  # None: the conversation at its newest message


class SearchScreen(ReportsWorkerErrors, ModalScreen[SearchTarget | None]):
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="opchat.search.close",
                tooltip=_("Close the search")),
        # Priority: the input has its own Enter, Up and Down (a single-line input
        # does nothing with the arrows, but it would hide these from the footer).
        Binding("enter", "open", _("Open"), priority=True, id="opchat.search.open",
                tooltip=_("Open the conversation at the highlighted result")),
        Binding("down", "move(1)", _("Move"), key_display="↑↓", priority=True,
                id="opchat.search.next", tooltip=_("Next result")),
        Binding("up", "move(-1)", _("Previous result"), show=False, priority=True,
                id="opchat.search.previous"),
        Binding("pagedown", "page(1)", _("Page down"), show=False, priority=True,
                id="opchat.search.page_down"),
        Binding("pageup", "page(-1)", _("Page up"), show=False, priority=True,
                id="opchat.search.page_up"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "search-screen--match",
        "search-screen--when",
        "search-screen--kind",
    }

    def __init__(self, inbox: Inbox, clock) -> None:
        super().__init__(id="search")
        translate_bindings(self)
        self.inbox = inbox
        self.clock = clock
        self.targets: list[SearchTarget] = []  # one per option, in order
        self.shown_query: str | None = None  # whose results the list shows
        self._timer: Timer | None = None
        self._open_when_ready = False

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(Content.styled(_("Search messages, contacts and labels"), "bold"),
                         id="search-title")
            yield Input(placeholder=_("Words, a name, a phone number or an e-mail…"),
                        id="search-input", compact=True)
            yield Static(Content(""), id="search-status")
            results = OptionList(id="search-results", markup=False, compact=True)
            results.can_focus = False  # the cursor stays in the input
            yield results
        yield Footer(compact=True, show_command_palette=False)

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def results(self) -> OptionList:
        return self.query_one("#search-results", OptionList)

    def on_mount(self) -> None:
        self._status(_("Type to search every message, contact name, phone, e-mail and label."))
        self.input.focus()

    # Searching as you type --------------------------------------------------------------

    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._search_now, name="search-debounce")

    def _search_now(self) -> None:
        self._timer = None
        query = self.input.value
        if not query.strip():
            self.workers.cancel_group(self, "search")
            self._show(query, None)
            return
        self._status(_("Searching…"))
        self._search(query)

    @work(group="search", exclusive=True, exit_on_error=False)
    async def _search(self, query: str) -> None:
        results = await self.inbox.search_all(query, MESSAGE_HITS)
        if query != self.input.value:
            return  # typed on: the search for the newer text is on its way
        self._show(query, results)
        if self._open_when_ready:
            self._open_when_ready = False
            self.action_open()

    def _show(self, query: str, results: SearchResults | None) -> None:
        self.shown_query = query
        options: list[Option] = []
        targets: list[SearchTarget] = []
        if results is not None:
            for contact in results.contacts:
                options.append(Option(self._contact_prompt(contact)))
                targets.append(SearchTarget(contact.conversation_id))
            for label in results.labels:
                options.append(Option(self._label_prompt(label)))
                targets.append(SearchTarget(label.conversation_id))
            for hit in results.messages:
                options.append(Option(self._message_prompt(hit)))
                targets.append(SearchTarget(hit.conversation_id, hit.message_id))
        self.targets = targets
        self.results.set_options(options)
        self.results.highlighted = 0 if options else None
        if results is None:
            self._status(_("Type to search every message, contact name, phone, e-mail and "
                           "label."))
        elif not options:
            self._status(_("Nothing found."))
        else:
            text = ngettext("{n} result", "{n} results", len(options))
            if len(results.messages) >= MESSAGE_HITS:
                text += " · " + _("the newest {n} messages", n=MESSAGE_HITS)
            self._status(text)

    def _status(self, text: str) -> None:
        self.query_one("#search-status", Static).update(Content(text))

    # Moving and choosing ----------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        if delta > 0:
            self.results.action_cursor_down()
        else:
            self.results.action_cursor_up()

    def action_page(self, delta: int) -> None:
        if delta > 0:
            self.results.action_page_down()
        else:
            self.results.action_page_up()

    def action_open(self) -> None:
        query = self.input.value
        if query.strip() and (self._timer is not None or query != self.shown_query):
            # Enter right after typing: open the first result of this text when it comes.
            self._open_when_ready = True
            if self._timer is not None:
                self._timer.stop()
                self._search_now()
            return
        index = self.results.highlighted
        if index is not None and 0 <= index < len(self.targets):
            self.dismiss(self.targets[index])

    @on(OptionList.OptionSelected, "#search-results")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        if 0 <= event.option_index < len(self.targets):
            self.dismiss(self.targets[event.option_index])

    def action_close(self) -> None:
        self.dismiss(None)

    # Drawing one result -----------------------------------------------------------------

    def _when(self, at: float) -> str:
        label = clock_label(at, self.clock())
        if ":" in label:
            return label
        return f"{label} {time.strftime('%H:%M', time.localtime(at))}"

    def _head(self, at: float, contact: str | Content, channel: str) -> Content:
        name = contact if isinstance(contact, Content) else safe_content(
            one_line(contact, 80) or "—")
        return Content.assemble(
            (self._when(at), self._style("search-screen--when")), "  ",
            name.stylize_before("bold"), "  ",
            safe_content(one_line(channel, 30), "dim"),
        )

    def _message_prompt(self, hit) -> Content:
        return Content("\n").join([
            self._head(hit.created_at, hit.contact_name, hit.channel_name),
            Content.assemble("  ", self._marked(hit.snippet)),
        ])

    def _contact_prompt(self, contact) -> Content:
        details: list[Content | str | tuple[str, Style]] = [
            "  ", (_("contact") + ": ", self._style("search-screen--kind")),
            self._marked(contact.name or "—"),
        ]
        for value in (contact.phone, contact.email):
            if value:
                details += ["  ", self._marked(value)]
        return Content("\n").join([
            self._head(contact.last_message_at, self._marked(contact.name or "—"),
                       contact.channel_name),
            Content.assemble(*details),
        ])

    def _label_prompt(self, label) -> Content:
        return Content("\n").join([
            self._head(label.last_message_at, label.contact_name, label.channel_name),
            Content.assemble("  ", (_("label") + ": ", self._style("search-screen--kind")),
                             "#", self._marked(label.label)),
        ])

    def _marked(self, text: str) -> Content:
        """Text the store marked with MATCH_START/MATCH_END: the marks become a style.

        Each piece is cleaned on its own (the marks are control characters that
        cleaning would drop) and squeezed onto one line.
        """
        match = self._style("search-screen--match")
        return Content.assemble(*[
            _piece(piece).stylize(match) if matched else _piece(piece)
            for piece, matched in split_marked(text)])

    def _style(self, component: str) -> Style:
        return self.get_visual_style(component)


def _piece(text: str) -> Content:
    return safe_content(_SPACES.sub(" ", clean(text)))
