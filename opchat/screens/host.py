"""What the inbox screen's parts use of the screen they are mixed into.

`QuickReplyActions`, `WorkflowActions` and `TeamAwareness` are pieces of
`InboxScreen` kept in modules of their own. They reach the screen through
`self._host`, typed by `InboxHost`, so a misspelt or vanished attribute is a
type error, not an AttributeError at the first key press; `inbox.py` checks
that `InboxScreen` is an `InboxHost`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.app import App
    from textual.binding import BindingsMap
    from textual.notifications import SeverityLevel
    from textual.timer import Timer
    from textual.widgets import Static
    from textual.worker import Worker

    from opchat.alerts import Alerter
    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import Conversation, Presence
    from opchat.widgets.composer import Composer
    from opchat.widgets.conversation_list import ConversationList
    from opchat.widgets.reply_completion import ReplyCompletion
    from opchat.widgets.status_bar import StatusBar
    from opchat.widgets.thread_view import ThreadView
    from opchat.widgets.view_tabs import ViewTabs


class InboxHost(Protocol):
    """The inbox screen, as far as its parts use it."""

    # The screen's state -----------------------------------------------------------------
    settings: Settings
    clock: Callable[[], float]
    inbox: Inbox | None
    opened: Conversation | None
    outgoing_files: dict[int, list[Path]]  # per dialog, for its next reply
    presence: dict[tuple[str, str, int], Presence]
    # WorkflowActions: the list's view and filter, the composer's mode, files asked for.
    view: str
    label_filter: str | None
    note_mode: bool
    _files_wanted: set[int]
    # TeamAwareness: alerts, and when this operator last said "typing".
    alerter: Alerter | None
    _typing_sent: float
    _red_alerted: set[tuple[int, float]]
    _red_looked: bool

    # Its widgets ------------------------------------------------------------------------
    @property
    def conversation_list(self) -> ConversationList: ...
    @property
    def thread(self) -> ThreadView: ...
    @property
    def composer(self) -> Composer: ...
    @property
    def view_tabs(self) -> ViewTabs: ...
    @property
    def activity_line(self) -> Static: ...
    @property
    def reply_completion(self) -> ReplyCompletion: ...
    @property
    def status_bar(self) -> StatusBar: ...

    # Its methods, and one part's method another part uses -------------------------------
    def open_conversation(self, conversation: Conversation) -> None: ...
    def set_outgoing_files(self, conversation_id: int, files: list[Path]) -> None: ...

    # What Textual's Screen gives ---------------------------------------------------------
    _bindings: BindingsMap  # QuickReplyActions binds the config's [reply_keys] at run time

    @property
    def app(self) -> App[object]: ...
    def run_worker(self, work: Awaitable[object], *, group: str = ...,
                   exclusive: bool = ..., exit_on_error: bool = ...) -> Worker[object]: ...
    def notify(self, message: str, *, title: str = ..., severity: SeverityLevel = ...,
               timeout: float | None = ..., markup: bool = ...) -> None: ...
    def set_interval(self, interval: float, callback: Callable[[], object], *,
                     name: str | None = ...) -> Timer: ...
    def refresh_bindings(self) -> None: ...


class InboxScreenPart:
    """Base of the inbox screen's mixins: `_host` is the screen they are part of."""

    @property
    def _host(self) -> InboxHost:
        return cast("InboxHost", self)
