"""What the inbox screen's parts use of the screen they are mixed into.

`WorkflowActions` and `TeamAwareness` are pieces of `InboxScreen` kept in
modules of their own (the thread pane, `screens/thread_pane.py`, is a widget
of its own and needs none of this). They reach the screen through
`self._host`, typed by `InboxHost`, so a misspelt or vanished attribute is a
type error, not an AttributeError at the first key press; `inbox.py` checks
that `InboxScreen` is an `InboxHost`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel
    from textual.timer import Timer
    from textual.widgets import Static

    from opchat.alerts import Alerter
    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import Conversation, Presence
    from opchat.screens.list_pane import ListPane
    from opchat.widgets.composer import Composer
    from opchat.widgets.conversation_list import ConversationList
    from opchat.widgets.status_bar import StatusBar
    from opchat.widgets.view_tabs import ViewTabs


class InboxHost(Protocol):
    """The inbox screen, as far as its parts use it."""

    # The screen's state -----------------------------------------------------------------
    settings: Settings
    clock: Callable[[], float]
    inbox: Inbox | None
    opened: Conversation | None
    presence: dict[tuple[str, str, int], Presence]
    # TeamAwareness: alerts, and when this operator last said "typing".
    alerter: Alerter | None
    _typing_sent: float
    _red_alerted: set[tuple[int, float]]
    _red_looked: bool
    _sla_work: Any  # opchat.hours.WorkClock for service-level targets, made when first needed

    # Its widgets ------------------------------------------------------------------------
    @property
    def list_pane(self) -> ListPane: ...
    @property
    def conversation_list(self) -> ConversationList: ...
    @property
    def composer(self) -> Composer: ...
    @property
    def view_tabs(self) -> ViewTabs: ...
    @property
    def activity_line(self) -> Static: ...
    @property
    def status_bar(self) -> StatusBar: ...

    # Its methods ------------------------------------------------------------------------
    def open_conversation(self, conversation: Conversation) -> None: ...

    # What Textual's Screen gives ---------------------------------------------------------
    @property
    def app(self) -> App[object]: ...
    def notify(self, message: str, *, title: str = ..., severity: SeverityLevel = ...,
               timeout: float | None = ..., markup: bool = ...) -> None: ...
    def set_interval(self, interval: float, callback: Callable[[], object], *,
                     name: str | None = ...) -> Timer: ...


class InboxScreenPart:
    """Base of the inbox screen's mixins: `_host` is the screen they are part of."""

    @property
    def _host(self) -> InboxHost:
        return cast("InboxHost", self)
