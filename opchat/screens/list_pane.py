"""The left side of the inbox screen: the views above the conversation list.

`ListPane` holds `ViewTabs` and the `ConversationList` and chooses what the
list shows: the view (Mine, Unassigned, All, Waiting, and SLA when `[sla]` sets
targets; Alt+V) and a label to
filter by (Alt+F). When either changes it sets the list's filter and posts
`FilterChanged`: the screen reads the views' counts together with the status
bar's, in one statement, and hands them down.

The inbox flows down from the screen (`data_bind`). The pane's keys work
whatever has focus, in the reply box too, so the screen binds them
(`SCREEN_BINDINGS`, listed in its `BINDINGS`) and passes the action on:
Textual runs a widget's own bindings only while it or a widget inside it
has focus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var

from opchat.i18n import _
from opchat.model import ConversationFilter
from opchat.widgets import ReportsWorkerErrors
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.view_tabs import SLA_VIEWS, VIEWS, ViewTabs, view_filter

if TYPE_CHECKING:
    from opchat.config import Settings
    from opchat.inbox import Inbox


class ListPane(ReportsWorkerErrors, Vertical):
    """The views and the conversation list."""

    # Priority: Alt+letter works while typing too.
    SCREEN_BINDINGS: ClassVar[dict[str, Binding]] = {
        "cycle_view": Binding(
            "alt+v", "cycle_view", _("Views"), show=False, priority=True,
            id="opchat.cycle_view",
            tooltip=_("Next view: Mine, Unassigned, All, Waiting, and SLA with targets set")),
        "filter_label": Binding(
            "alt+f", "filter_label", _("Filter"), show=False, priority=True,
            id="opchat.filter_label", tooltip=_("Show only conversations with a label")),
    }

    inbox: var[Inbox | None] = var(None)  # bound to the screen's

    class FilterChanged(Message):
        """The view or the label filter changed, and the list with it: count again."""

    def __init__(self, settings: Settings, clock: Callable[[], float], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.settings = settings
        self.clock = clock
        self.view = "all"
        self.views = VIEWS if settings.sla is None else SLA_VIEWS
        self.label_filter: str | None = None

    def compose(self) -> ComposeResult:
        yield ViewTabs(self.views, id="views")
        yield ConversationList(self.settings, self.clock, id="conversations")

    @property
    def conversation_list(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def view_tabs(self) -> ViewTabs:
        return self.query_one(ViewTabs)

    def view_filters(self, login: str) -> list[ConversationFilter]:
        """What each view shows, in the order of `views`, the label filter applied."""
        views = [view_filter(view, login) for view in self.views]
        if self.label_filter is not None:
            views = [replace(flt, label=self.label_filter) for flt in views]
        return views

    def _show_chosen(self) -> None:
        if self.inbox is None:
            return
        self.conversation_list.set_filter(
            self.view_filters(self.inbox.operator.login)[self.views.index(self.view)])
        self.post_message(self.FilterChanged())

    def action_cycle_view(self) -> None:
        self.view = self.views[(self.views.index(self.view) + 1) % len(self.views)]
        self.view_tabs.show(self.view)
        self._show_chosen()

    def action_filter_label(self) -> None:
        if self.inbox is not None:
            self._pick_filter()

    @work(exit_on_error=False)
    async def _pick_filter(self) -> None:
        assert self.inbox is not None
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice("", _("Every conversation (no label filter)"))]
        choices += [Choice(f"l:{label.name}", label.name) for label in await self.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                self.label_filter = answer.key[2:] or None
                self._show_chosen()

        await self.app.push_screen(PickScreen(_("Show conversations labelled"), choices),
                                   picked)
