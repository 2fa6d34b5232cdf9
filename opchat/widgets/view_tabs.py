"""The list's views, one line above it: Mine 3 · Unassigned 5 · All 20 · Waiting 4.

A view is a filter of the conversation list; Alt+V cycles them. The counts
are read in one statement once the list has its rows (indexed counts). With
service-level targets (`[sla]`) a fifth view, SLA, lists the dialogs about to
miss a target or having missed it, the nearest deadline first (the inbox
judges them: `Inbox._at_risk`).
"""

from __future__ import annotations

import zlib
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from opchat.i18n import _
from opchat.model import ConversationFilter, Status
from opchat.sanitize import one_line

VIEWS = ("mine", "unassigned", "all", "waiting")  # in the order Alt+V goes through them
SLA_VIEWS = (*VIEWS, "sla")  # the same with service-level targets set
_ACTIVE = frozenset({Status.OPEN, Status.PENDING})  # what Mine and Unassigned show


def view_filter(view: str, login: str) -> ConversationFilter:
    """The list filter of a view, for the operator ``login``."""
    if view == "mine":
        return ConversationFilter(statuses=_ACTIVE, assignee=login)
    if view == "unassigned":
        return ConversationFilter(statuses=_ACTIVE, unassigned=True)
    if view == "waiting":
        return ConversationFilter(waiting_only=True, order="waiting")
    if view == "sla":
        return ConversationFilter(at_risk=True, order="due")
    return ConversationFilter()


# Labels get a colour of their own, the same in every process and on every run.
LABEL_COLOURS = ("#e5a50a", "#2ec27e", "#3584e4", "#c061cb", "#e66100", "#26a269",
                 "#1c71d8", "#a51d2d")


def label_colour(name: str) -> str:
    return LABEL_COLOURS[zlib.crc32(name.casefold().encode()) % len(LABEL_COLOURS)]


def view_name(view: str, short: bool = False) -> str:
    if short:  # for a narrow list
        return {"mine": _("Mine"), "unassigned": _("Free"), "all": _("All"),
                "waiting": _("Wait"), "sla": _("SLA")}[view]
    return {"mine": _("Mine"), "unassigned": _("Unassigned"), "all": _("All"),
            "waiting": _("Waiting"), "sla": _("SLA")}[view]


class ViewTabs(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"view-tabs--active", "view-tabs--count"}

    DEFAULT_CSS = """
    ViewTabs {
        height: 1;
        background: $boost;
        color: $text-muted;
        & > .view-tabs--active { color: $text; text-style: bold underline; }
        & > .view-tabs--count { color: $text-muted; }
    }
    """

    # What the tabs show; setting any of them redraws them.
    view: reactive[str] = reactive("all")
    counts: reactive[dict[str, int]] = reactive(dict)  # view -> dialogs in it
    label: reactive[str | None] = reactive(None)  # the label the list is filtered by
    # Views whose count is a lower bound ("500+": the SLA view looks at so many at most).
    at_least: reactive[frozenset[str]] = reactive(frozenset)

    def __init__(self, views: tuple[str, ...] = VIEWS, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views = views

    def show(self, view: str, counts: dict[str, int] | None = None,
             label: str | None = None, at_least: frozenset[str] = frozenset()) -> None:
        self.view = view
        if counts is not None:
            self.counts = counts
            self.label = label
            self.at_least = at_least

    def render(self) -> Text:
        # Names shorten before any count goes; the Waiting and SLA counts are the last
        # to go.
        width = self.size.width
        line = self._line(0)
        for level in range(1, 5):
            if line.cell_len <= width:
                break
            line = self._line(level)
        return line

    def _line(self, level: int) -> Text:
        """0: full names; 1: short names; 2: the other views by their initial;
        3: every view by its initial; 4: only the view shown, Waiting and SLA."""
        active = self.get_component_rich_style("view-tabs--active")
        parts: list[tuple[str, object]] = [(" ", "")]
        for view in self.views:
            if level == 4 and view not in (self.view, "waiting", "sla"):
                continue
            count = self.counts.get(view)
            number = "" if count is None else f"{count}+" if view in self.at_least else str(count)
            name = view_name(view, short=level > 0)
            if (level == 3 or (level >= 2 and view != self.view)) and view != "sla":
                name = name[:1]  # "S" would say nothing: SLA keeps its three letters
            if view == self.view:
                parts += [(name, active), (f" {number}".rstrip(), "")]
            else:
                parts.append((f"{name} {number}".rstrip(), ""))
            parts.append((" · " if level == 0 else "  " if level == 1 else " ", ""))
        if self.label is not None:  # a label filter narrows every view
            parts[-1] = (" #" + one_line(self.label, 30 if level < 2 else 8), active)
        else:
            parts.pop()
        line = Text.assemble(*parts)  # type: ignore[arg-type]
        line.no_wrap = True
        return line
