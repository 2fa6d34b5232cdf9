"""One line about the state of things: channels, who waits, this process's role.

    DEMO  ● shop  ● web 127.0.0.1:8765  ● vk  │ 3 waiting │ hub │ vk: 401 Unauthorized

A working channel may add a short note after its name (where the web chat
listens); a failing one its error at the end.

Channel names and health details come from the store (a platform's error
text among them), so they are drawn only through `opchat.sanitize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.content import Content
from textual.widget import Widget

from opchat.i18n import _, ngettext
from opchat.model import Channel, Health
from opchat.sanitize import one_line, safe_content
from opchat.widgets import ReportsWorkerErrors

if TYPE_CHECKING:
    from opchat.inbox import Inbox

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
        "status-bar--role",
        "status-bar--demo",
        "status-bar--error",
        "status-bar--separator",
    }

    def __init__(self, *, demo: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.inbox: Inbox | None = None
        self.demo = demo
        self.channels: list[Channel] = []
        self.waiting: int | None = None
        self.role: str | None = None
        self.error: str | None = None
        self._error_timer = None

    def attach(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.reload()

    def reload(self) -> None:
        """Fetch the channels' health and the waiting count again."""
        if self.inbox is not None:
            self.run_worker(self._reload(), group="status-reload", exclusive=True,
                            exit_on_error=False)

    async def _reload(self) -> None:
        assert self.inbox is not None
        self.channels = await self.inbox.channels()
        self.waiting = await self.inbox.waiting_count()
        self.refresh()

    def set_role(self, role: str) -> None:
        self.role = role
        self.refresh()

    def show_error(self, summary: str) -> None:
        """Show a one-line summary of a failure for a while."""
        self.error = one_line(summary, 300)
        if self._error_timer is not None:
            self._error_timer.stop()
        self._error_timer = self.set_timer(ERROR_SHOWN_FOR, self._clear_error)
        self.refresh()

    def _clear_error(self) -> None:
        self.error = None
        self._error_timer = None
        self.refresh()

    def render(self) -> Content:
        def style(component: str):
            return self.get_visual_style(component, partial=True)

        separator = Content.styled(" │ ", style("status-bar--separator"))
        parts: list[Content] = []
        if self.demo:
            parts.append(Content.styled(_("DEMO"), style("status-bar--demo")))
        if self.channels:
            dots = [
                Content.assemble(
                    Content.styled("●", style(HEALTH_CLASSES[channel.health])),
                    " ",
                    safe_content(one_line(channel.name, 40)),
                    # A working channel's note, e.g. where the web chat listens.
                    safe_content(" " + one_line(channel.health_detail, 40), "dim")
                    if channel.health is Health.OK and channel.health_detail else "",
                )
                for channel in self.channels
            ]
            parts.append(Content("  ").join(dots))
        elif self.inbox is None:
            parts.append(Content(_("Opening the inbox…")))
        else:
            # A fresh install: say what to do rather than show an empty bar.
            parts.append(Content.styled(_("no channels: see opchat doctor"), "dim"))
        if self.waiting is not None:
            waiting = ngettext("{n} waiting", "{n} waiting", self.waiting)
            parts.append(Content.styled(waiting, style("status-bar--waiting"))
                         if self.waiting else Content.styled(waiting, "dim"))
        if self.role is not None:
            role = {"hub": _("hub"), "follower": _("follower")}.get(self.role, self.role)
            parts.append(Content.styled(role, style("status-bar--role")))
        for channel in self.channels:
            if channel.health in (Health.DOWN, Health.DEGRADED):
                detail = one_line(channel.health_detail, 200) or (
                    _("down") if channel.health is Health.DOWN else _("degraded"))
                parts.append(Content.assemble(
                    safe_content(one_line(channel.name, 40), "bold"),
                    ": ",
                    safe_content(detail),
                ).stylize(style(HEALTH_CLASSES[channel.health])))
        if self.error:
            parts.append(safe_content(self.error).stylize(style("status-bar--error")))
        line = separator.join(parts)
        return Content(" ") + line
