"""One line about the state of things: channels, who waits, this process's role.

    DEMO  ● shop  ● web 127.0.0.1:8765  ● vk  │ 3 waiting · 1 failed │ hub │ vk: 401 Unauthorized

A working channel may add a short note after its name (where the web chat
listens); a failing one its error at the end. When the line is too long for
the terminal (80 columns, nine channels, Russian), it first drops the notes
and shortens the errors; then the counts come first and only the channels
that are down keep their names, and what still does not fit is cut at the end:

    DEMO │ 3 waiting · 1 failed │ ● vk  ● 8 ok │ vk: 401 Unauthorized │ hub

Channel names and health details come from the store (a platform's error
text among them), so they are drawn only through `opchat.sanitize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from opchat.i18n import _, ngettext
from opchat.model import Health
from opchat.sanitize import one_line, safe_content
from opchat.widgets import ReportsWorkerErrors

if TYPE_CHECKING:
    from opchat.inbox import Inbox
    from opchat.model import Channel

ERROR_SHOWN_FOR = 60.0  # seconds a failure's summary stays in the bar

HEALTH_CLASSES: dict[Health, str] = {
    Health.OK: "status-bar--ok",
    Health.STARTING: "status-bar--starting",
    Health.DEGRADED: "status-bar--degraded",
    Health.DOWN: "status-bar--down",
    Health.STOPPED: "status-bar--stopped",
}


class StatusBar(ReportsWorkerErrors, Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--ok",
        "status-bar--starting",
        "status-bar--degraded",
        "status-bar--down",
        "status-bar--stopped",
        "status-bar--waiting",
        "status-bar--failed",
        "status-bar--role",
        "status-bar--demo",
        "status-bar--error",
        "status-bar--separator",
    }

    # What the line shows; setting any of them redraws it.
    channels: reactive[list[Channel]] = reactive(list)
    waiting: reactive[int | None] = reactive(None)
    failed: reactive[int] = reactive(0)  # dialogs waiting because their last reply failed
    role: reactive[str | None] = reactive(None)  # "hub" or "follower"
    error: reactive[str | None] = reactive(None)  # a failure's summary, for a while

    def __init__(self, *, demo: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.inbox: Inbox | None = None
        self.demo = demo
        self._error_timer: Timer | None = None

    def attach(self, inbox: Inbox) -> None:
        """Start showing `inbox`'s channels; the counts come through `show_counts`."""
        self.inbox = inbox
        self.reload_channels()

    def reload_channels(self) -> None:
        """Fetch the channels' health again (the counts are read with the views')."""
        if self.inbox is not None:
            self._reload_channels()

    @work(group="status-channels", exclusive=True, exit_on_error=False)
    async def _reload_channels(self) -> None:
        assert self.inbox is not None
        self.channels = await self.inbox.channels()

    def show_counts(self, waiting: int, failed: int) -> None:
        """How many dialogs wait, and how many of them on a failed reply."""
        self.waiting, self.failed = waiting, failed

    def set_role(self, role: str) -> None:
        self.role = role

    def show_error(self, summary: str) -> None:
        """Show a one-line summary of a failure for a while."""
        self.error = one_line(summary, 300)
        if self._error_timer is not None:
            self._error_timer.stop()
        self._error_timer = self.set_timer(ERROR_SHOWN_FOR, self._clear_error)

    def _clear_error(self) -> None:
        self.error = None
        self._error_timer = None

    def render(self) -> Content:
        """The most detailed line that fits; what the operator needs most comes first
        once anything has to give (how many wait, the channels that are down)."""
        width = self.size.width
        for detail in range(2):
            line = self._line(detail)
            if line.cell_length <= width:
                return line
        # The essentials first; the CSS ellipsis cuts what does not fit at the end.
        return self._line(2)

    def _line(self, detail: int) -> Content:
        """0: everything as it is; 1: healthy channels' notes dropped and errors shortened;
        2: the counts first, healthy channels counted rather than named, the role last."""

        def style(component: str):
            return self.get_visual_style(component, partial=True)

        separator = Content.styled(" │ ", style("status-bar--separator"))
        parts: list[Content] = []
        if self.demo:
            parts.append(Content.styled(_("DEMO"), style("status-bar--demo")))
        counts = self._counts(style)
        if detail >= 2 and counts is not None:
            parts.append(counts)
        if self.channels:
            parts.append(self._channels(style, named_all=detail < 2, notes=detail == 0))
        elif self.inbox is None:
            parts.append(Content(_("Opening the inbox…")))
        else:
            # A fresh install: say what to do rather than show an empty bar.
            parts.append(Content.styled(_("no channels: see opchat doctor"), "dim"))
        if detail < 2 and counts is not None:
            parts.append(counts)
        role = None
        if self.role is not None:
            role = Content.styled({"hub": _("hub"), "follower": _("follower")}.get(
                self.role, self.role), style("status-bar--role"))
            if detail < 2:
                parts.append(role)
        for channel in self.channels:
            if channel.health in (Health.DOWN, Health.DEGRADED):
                detail_text = one_line(channel.health_detail, 200 if detail == 0 else 40) \
                    or (_("down") if channel.health is Health.DOWN else _("degraded"))
                parts.append(Content.assemble(
                    safe_content(one_line(channel.name, 40), "bold"),
                    ": ",
                    safe_content(detail_text),
                ).stylize(style(HEALTH_CLASSES[channel.health])))
        if self.error:
            parts.append(safe_content(one_line(self.error, 300 if detail < 2 else 60))
                         .stylize(style("status-bar--error")))
        if role is not None and detail == 2:
            parts.append(role)
        line = separator.join(parts)
        return Content(" ") + line

    def _counts(self, style) -> Content | None:
        """ "9 waiting · 1 failed": a dialog whose reply failed waits too, and says why."""
        if self.waiting is None:
            return None
        waiting = ngettext("{n} waiting", "{n} waiting", self.waiting)
        counts = (Content.styled(waiting, style("status-bar--waiting")) if self.waiting
                  else Content.styled(waiting, "dim"))
        if self.failed:
            counts = Content.assemble(counts, Content.styled(" · ", "dim"), Content.styled(
                ngettext("{n} failed", "{n} failed", self.failed),
                style("status-bar--failed")))
        return counts

    def _channels(self, style, named_all: bool, notes: bool) -> Content:
        """Each channel's dot and name; or, when room is short, the channels that are
        down or degraded named and the others counted by health ("● 7 ok")."""

        def dot(channel: Channel) -> Content:
            return Content.assemble(
                Content.styled("●", style(HEALTH_CLASSES[channel.health])),
                " ",
                safe_content(one_line(channel.name, 40)),
                # A working channel's note, e.g. where the web chat listens.
                safe_content(" " + one_line(channel.health_detail, 40), "dim")
                if notes and channel.health is Health.OK and channel.health_detail else "",
            )

        if named_all:
            return Content("  ").join(dot(channel) for channel in self.channels)
        named = [dot(c) for c in self.channels if c.health in (Health.DOWN, Health.DEGRADED)]
        counted: list[Content] = []
        for health, words in (
                (Health.OK, lambda n: ngettext("{n} ok", "{n} ok", n)),
                (Health.STARTING, lambda n: ngettext("{n} starting", "{n} starting", n)),
                (Health.STOPPED, lambda n: ngettext("{n} stopped", "{n} stopped", n))):
            n = sum(1 for c in self.channels if c.health is health)
            if n:
                counted.append(Content.assemble(
                    Content.styled("●", style(HEALTH_CLASSES[health])), " ", words(n)))
        return Content("  ").join(named + counted)
