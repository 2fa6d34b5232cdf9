"""The main screen: the list on the left, the open thread and the composer on the right.

The screen is where the widgets meet the inbox's actions: it opens what the
list chose, sends what the composer submits, retries what the thread asks
for, and turns batches of change events into "reload this, append that".

    ┌ConversationList──┬─thread title──────────────────┐
    │TG Ivan        3m │ThreadView                     │
    │   Hello…       1 │                               │
    │                  ├───────────────────────────────┤
    │                  │Composer                       │
    └──────────────────┴───────────────────────────────┘
    StatusBar
    Footer
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from opchat.i18n import _
from opchat.model import Conversation, Event, QuickReply, Status
from opchat.sanitize import one_line, safe_content
from opchat.widgets import ReportsWorkerErrors, translate_bindings
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList, channel_tag
from opchat.widgets.quick_replies import quick_reply_palette
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView

if TYPE_CHECKING:
    from opchat.config import Settings
    from opchat.inbox import Inbox

# Events after which the list's rows, order or count may differ.
LIST_EVENTS = frozenset({
    "conversation.new", "message.new", "conversation.read", "conversation.status",
})
WAITING_EVENTS = frozenset({"conversation.new", "message.new", "conversation.status"})


class InboxScreen(ReportsWorkerErrors, Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n,alt+down", "next_conversation", _("Next"), key_display="^n",
                priority=True, id="opchat.next_conversation",
                tooltip=_("Open the next conversation in the list")),
        Binding("ctrl+p,alt+up", "previous_conversation", _("Prev"), key_display="^p",
                priority=True, id="opchat.previous_conversation",
                tooltip=_("Open the previous conversation in the list")),
        Binding("ctrl+r", "quick_replies", _("Replies"), key_display="^r", priority=True,
                id="opchat.quick_replies", tooltip=_("Insert a saved reply (fuzzy search)")),
        Binding("alt+1", "focus_list", _("List"), show=False, id="opchat.focus_list",
                tooltip=_("Go to the conversation list")),
        Binding("alt+2", "focus_thread", _("Thread"), show=False, id="opchat.focus_thread",
                tooltip=_("Go to the messages (select one to act on it)")),
        Binding("alt+3", "focus_composer", _("Composer"), show=False,
                id="opchat.focus_composer", tooltip=_("Go to the reply box")),
        Binding("escape", "focus_list", _("To the list"), show=False,
                id="opchat.escape_to_list", tooltip=_("Go to the conversation list")),
    ]

    def __init__(self, settings: Settings, clock, *, demo: bool = False) -> None:
        super().__init__(id="inbox")
        translate_bindings(self)
        self.settings = settings
        self.clock = clock
        self.demo = demo
        self.inbox: Inbox | None = None
        self.opened: Conversation | None = None
        self._drafts: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ConversationList(self.settings, self.clock, id="conversations")
            with Vertical(id="thread-pane"):
                yield Static(Content(""), id="thread-title")
                yield ThreadView(self.settings, self.clock, id="thread")
                yield Composer(id="composer")
        yield StatusBar(demo=self.demo, id="status")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def conversation_list(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def thread(self) -> ThreadView:
        return self.query_one(ThreadView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.conversation_list.focus()

    def attach(self, inbox: Inbox) -> None:
        """The inbox is open: load everything."""
        self.inbox = inbox
        self.conversation_list.attach(inbox)
        self.status_bar.attach(inbox)

    # Opening a conversation -------------------------------------------------------------

    @on(ConversationList.Opened)
    def _list_opened(self, event: ConversationList.Opened) -> None:
        self.open_conversation(event.conversation)
        self.composer.focus()

    @on(ConversationList.TypedAhead)
    def _typed_ahead(self, event: ConversationList.TypedAhead) -> None:
        if self.opened is None:
            return
        self.composer.insert(event.text)
        self.composer.focus()

    def open_conversation(self, conversation: Conversation) -> None:
        if self.inbox is None:
            return
        composer = self.composer
        if self.opened is not None and self.opened.id != conversation.id:
            self._drafts[self.opened.id] = composer.text
        switching = self.opened is None or self.opened.id != conversation.id
        self.opened = conversation
        self.conversation_list.set_opened(conversation.id)
        self.thread.show(self.inbox, conversation)
        self._show_title(conversation)
        composer.set_open(True)
        if switching:
            composer.load_text(self._drafts.pop(conversation.id, ""))
            composer.move_cursor(composer.document.end)
        if conversation.unread:
            self.run_worker(self.inbox.mark_read(conversation.id), exit_on_error=False)

    def _show_title(self, conversation: Conversation) -> None:
        tag, colour = channel_tag(conversation.channel_kind)
        parts: list[Content | tuple[str, str]] = [
            (f" {tag} ", f"bold {colour}"),
            safe_content(one_line(conversation.contact_name, 200) or "—", "bold"),
            ("  ", ""),
            safe_content(one_line(conversation.channel_name, 40), "dim"),
        ]
        if conversation.status is not Status.OPEN:
            status = {
                Status.PENDING: _("pending"),
                Status.SNOOZED: _("snoozed"),
                Status.RESOLVED: _("resolved"),
            }[conversation.status]
            parts.append((f"  · {status}", "italic"))
        self.query_one("#thread-title", Static).update(Content.assemble(*parts))

    # Moving around ----------------------------------------------------------------------

    def _step(self, delta: int) -> None:
        # With no dialog open yet, "next" opens the one under the cursor (the newest).
        conversation = self.conversation_list.step(delta if self.opened is not None else 0)
        if conversation is not None:
            self.open_conversation(conversation)

    def action_next_conversation(self) -> None:
        self._step(+1)

    def action_previous_conversation(self) -> None:
        self._step(-1)

    def action_focus_list(self) -> None:
        self.conversation_list.focus()

    def action_focus_thread(self) -> None:
        self.thread.focus()
        if self.thread.selected_id is None:
            self.thread.select_newest()

    def action_focus_composer(self) -> None:
        if not self.composer.disabled:
            self.composer.focus()

    @on(Composer.LeaveTop)
    def _composer_up(self) -> None:
        self.action_focus_thread()

    @on(Composer.Leave)
    def _composer_escape(self) -> None:
        self.action_focus_list()

    @on(ThreadView.LeaveBottom)
    def _thread_down(self) -> None:
        self.action_focus_composer()

    # Acting -----------------------------------------------------------------------------

    @on(Composer.Submitted)
    def _send(self, event: Composer.Submitted) -> None:
        if self.inbox is None or self.opened is None:
            return
        event.composer.clear()
        self.run_worker(self._deliver(self.opened.id, event.text), group="send",
                        exit_on_error=False)

    async def _deliver(self, conversation_id: int, text: str) -> None:
        assert self.inbox is not None
        try:
            message = await self.inbox.send(conversation_id, text)
        except Exception:
            # Nothing was stored: give the text back rather than lose it.
            if self.opened is not None and self.opened.id == conversation_id:
                composer = self.composer
                if not composer.text.strip():
                    composer.load_text(text)
            raise
        if self.opened is not None and self.opened.id == conversation_id:
            self.thread.append([message])

    @on(ThreadView.RetryRequested)
    def _retry(self, event: ThreadView.RetryRequested) -> None:
        if self.inbox is not None:
            self.run_worker(self._requeue(event.message.id), exit_on_error=False)

    async def _requeue(self, message_id: int) -> None:
        assert self.inbox is not None
        if await self.inbox.retry(message_id):
            self.notify(_("The message is queued again."), markup=False, timeout=3)
        self.thread.update_message(message_id)

    def action_quick_replies(self) -> None:
        if self.inbox is None:
            return
        if self.opened is None or self.composer.disabled:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        self.run_worker(self._open_palette(), group="quick-replies", exclusive=True,
                        exit_on_error=False)

    async def _open_palette(self) -> None:
        assert self.inbox is not None
        replies = await self.inbox.quick_replies()
        if not replies:
            self.notify(_("No quick replies yet: add some with `opchat replies add`."),
                        markup=False, timeout=5)
            return
        await self.app.push_screen(quick_reply_palette(replies, self.insert_reply))

    def insert_reply(self, reply: QuickReply) -> None:
        """Put a saved reply's body at the composer's cursor; it stays editable."""
        composer = self.composer
        if composer.disabled:
            return
        composer.focus()
        composer.insert(reply.body)
        if self.inbox is not None:
            self.run_worker(self.inbox.quick_reply_used(reply.id), exit_on_error=False)

    # Following changes ------------------------------------------------------------------

    def apply_events(self, events: Iterable[Event]) -> None:
        """A coalesced batch of change events: redraw what they touched."""
        if self.inbox is None:
            return
        kinds: set[str] = set()
        opened = self.opened.id if self.opened is not None else None
        new_in_opened = False
        opened_changed = False
        for event in events:
            kinds.add(event.kind)
            if opened is None or event.conversation_id != opened:
                continue
            if event.kind == "message.new":
                new_in_opened = True
            elif event.kind in ("message.state", "message.retrying") and event.message_id:
                error = event.data.get("error") if event.kind == "message.retrying" else None
                self.thread.update_message(event.message_id, retry_error=error)
            elif event.kind == "conversation.status":
                opened_changed = True
        if kinds & LIST_EVENTS:
            self.conversation_list.reload()
        if kinds & WAITING_EVENTS or "channel.health" in kinds:
            self.status_bar.reload()
        if new_in_opened:
            self.thread.fetch_new()
            # The operator is looking at it: it is read.
            self.run_worker(self.inbox.mark_read(opened), exit_on_error=False)
        if opened_changed:
            self.run_worker(self._refresh_opened(opened), exit_on_error=False)

    async def _refresh_opened(self, conversation_id: int) -> None:
        assert self.inbox is not None
        conversation = await self.inbox.conversation(conversation_id)
        if conversation is not None and self.opened is not None \
                and self.opened.id == conversation_id:
            self.opened = conversation
            self.thread.conversation = conversation
            self._show_title(conversation)
