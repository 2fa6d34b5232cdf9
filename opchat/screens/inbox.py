"""The main screen: the list pane on the left, the thread pane on the right.

The screen is where the panes meet the inbox: it opens what the list chose
(in the thread pane, whose `opened` follows the screen's), sends what the
composer submits and keeps its drafts, and turns batches of change events
into "reload this, append that". Each pane does what acts on it
(`screens/list_pane.py`, `screens/thread_pane.py`); the keys of every action
work whatever has focus, so the screen binds them all.

    ┌ListPane──────────┬ThreadPane─────────────────────┐┌ContactPanel┐
    │ViewTabs          │thread title                   ││ (Alt+I)    │
    │ConversationList  │ThreadView                     ││            │
    │TG Ivan        3m │                               ││            │
    │   Hello…       1 │activity line, / drop-down     ││            │
    │                  │Composer                       ││            │
    └──────────────────┴───────────────────────────────┘└────────────┘
    StatusBar
    Footer
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from opchat.i18n import _
from opchat.model import Conversation, Direction, EventKind
from opchat.sanitize import one_line, safe_content
from opchat.screens.list_pane import ListPane
from opchat.screens.team import TeamAwareness
from opchat.screens.thread_pane import ThreadPane, outgoing_attachment
from opchat.screens.workflow import WorkflowActions
from opchat.widgets import ReportsWorkerErrors, translate_bindings
from opchat.widgets.composer import Composer
from opchat.widgets.contact_panel import ContactPanel
from opchat.widgets.conversation_list import ConversationList, channel_tag
from opchat.widgets.footer import InboxFooter
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView
from opchat.widgets.view_tabs import ViewTabs

if TYPE_CHECKING:
    from opchat.alerts import Alerter
    from opchat.app import FirstPage
    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import (
        Channel,
        Event,
        Presence,
        TemplateUse,
    )
    from opchat.screens.host import InboxHost

# Events after which the list's rows, order or count may differ.
LIST_EVENTS = frozenset({
    EventKind.CONVERSATION_NEW, EventKind.MESSAGE_NEW, EventKind.CONVERSATION_READ,
    EventKind.CONVERSATION_STATUS, EventKind.CONVERSATION_ASSIGN, EventKind.CONVERSATION_LABEL,
    EventKind.CONVERSATION_HIDDEN, EventKind.CONVERSATION_UNHIDDEN, EventKind.MESSAGE_HIDDEN,
    EventKind.MESSAGE_UNHIDDEN, EventKind.CONTACT_MERGED, EventKind.CONVERSATION_FAILED,
    EventKind.CONVERSATION_FAILURE_CLEARED,
})
# Events that change what the open conversation's title shows.
OPENED_EVENTS = frozenset({EventKind.CONVERSATION_STATUS, EventKind.CONVERSATION_ASSIGN,
                           EventKind.CONVERSATION_LABEL})
DRAFT_SAVE_AFTER = 1.0  # seconds of no typing before the draft is saved
TYPING_EVERY = 2.0  # seconds between "still typing" while keys keep coming
# Events after which the status bar's channels may differ: their health, or one that
# ingest created with its first dialog. (Its counts are read with the list's.)
CHANNEL_EVENTS = frozenset({EventKind.CHANNEL_HEALTH, EventKind.CONVERSATION_NEW})
CONTACT_BESIDE_WIDTH = 140  # columns from which the contact panel fits beside the thread


_LIST = ListPane.SCREEN_BINDINGS
_PANE = ThreadPane.SCREEN_BINDINGS
_WORK = WorkflowActions.SCREEN_BINDINGS


class InboxScreen(WorkflowActions, TeamAwareness, ReportsWorkerErrors, Screen):
    # Every key here works whatever has focus. Those of the panes' actions and of the
    # workflow's are declared beside them; Textual runs a widget's bindings only while
    # it or a widget in it has focus, so the screen binds them, in the order F1's help
    # shows, and passes the panes' on (below, "The panes' keys").
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n,alt+down", "next_conversation", _("Next"), key_display="^n",
                priority=True, id="opchat.next_conversation",
                tooltip=_("Open the next conversation in the list")),
        Binding("ctrl+p,alt+up", "previous_conversation", _("Prev"), key_display="^p",
                priority=True, id="opchat.previous_conversation",
                tooltip=_("Open the previous conversation in the list")),
        _PANE["quick_replies"], _PANE["manage_replies"],
        # Priority: in the reply box Alt+digit would otherwise type a character.
        Binding("alt+1", "focus_list", _("List"), show=False, priority=True,
                id="opchat.focus_list", tooltip=_("Go to the conversation list")),
        Binding("alt+2", "focus_thread", _("Thread"), show=False, priority=True,
                id="opchat.focus_thread",
                tooltip=_("Go to the messages (select one to act on it)")),
        Binding("alt+3", "focus_composer", _("Composer"), show=False, priority=True,
                id="opchat.focus_composer", tooltip=_("Go to the reply box")),
        Binding("escape", "focus_list", _("To the list"), show=False,
                id="opchat.escape_to_list", tooltip=_("Go to the conversation list")),
        _LIST["cycle_view"],
        *(_WORK[action] for action in ("longest_waiting", "next_unread", "resolve_and_next",
                                       "reopen", "pending", "snooze", "assign_me", "assign")),
        _PANE["note_mode"], _WORK["labels"], _PANE["attach_file"], _LIST["filter_label"],
        _PANE["dismiss_failure"], _PANE["template"],
        Binding("alt+i", "toggle_contact", _("Contact"), show=False, priority=True,
                id="opchat.contact_panel",
                tooltip=_("Show or hide who the customer is: every channel, notes, history")),
        Binding("alt+h", "hide_conversation", _("Hide"), show=False, priority=True,
                id="opchat.hide_conversation",
                tooltip=_("Hide the conversation (asks first; opchat audit keeps the trace)")),
        # Replaces the reply box's delete-word-right on Ctrl+F (Ctrl+Delete still does it).
        Binding("ctrl+f", "search", _("Search"), key_display="^f", show=False, priority=True,
                id="opchat.search", tooltip=_("Search every message, contact and label")),
        Binding("alt+m", "transcript", _("Transcript"), show=False, priority=True,
                id="opchat.transcript",
                tooltip=_("E-mail the customer a transcript of the conversation")),
        Binding("alt+s", "stats", _("Statistics"), show=False, priority=True,
                id="opchat.stats",
                tooltip=_("How fast customers are answered: response times, missed dialogs")),
    ]

    opened: var[Conversation | None] = var(None)  # flows down to the thread pane
    inbox: var[Inbox | None] = var(None)  # set once the store is open; down to both panes

    def __init__(self, settings: Settings, clock: Callable[[], float], *,
                 demo: bool = False, first_page: FirstPage | None = None) -> None:
        super().__init__(id="inbox")
        translate_bindings(self)
        self.settings = settings
        self.clock = clock
        self.demo = demo
        self._first_page = first_page
        self._shown_once = False
        self._drafts: dict[int, str] = {}
        self.presence: dict[tuple[str, str, int], Presence] = {}
        self.alerter: Alerter | None = None
        self._red_alerted: set[tuple[int, float]] = set()
        self._red_looked = False
        self._sla_work = None
        self._draft_timer: Timer | None = None
        self._typed: tuple[int, str] | None = None  # (dialog, text) the composer last had
        self._loaded_text: str | None = None  # what opening a dialog put in the composer
        self._typing_sent = 0.0  # when this operator last said "typing" (monotonic)
        self._emptied_by_send: int | None = None  # the dialog whose box a send emptied
        # Cleared while an opened dialog reads its stored draft: the app holds the keys
        # typed meanwhile, so they land after the draft, in that dialog's box.
        self.ready_for_keys = asyncio.Event()
        self.ready_for_keys.set()
        self._draft_loading: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ListPane(self.settings, self.clock, id="list-pane").data_bind(
                InboxScreen.inbox)
            yield ThreadPane(self.settings, self.clock, id="thread-pane").data_bind(
                InboxScreen.opened, InboxScreen.inbox)
            yield ContactPanel(self.clock, id="contact")
        yield StatusBar(demo=self.demo, id="status")
        yield InboxFooter(compact=True, show_command_palette=False)

    @property
    def list_pane(self) -> ListPane:
        return self.query_one(ListPane)

    @property
    def thread_pane(self) -> ThreadPane:
        return self.query_one(ThreadPane)

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

    @property
    def view_tabs(self) -> ViewTabs:
        return self.query_one(ViewTabs)

    @property
    def activity_line(self) -> Static:
        """Under the thread: who else is here, who is typing."""
        return self.thread_pane.activity_line

    @property
    def note_mode(self) -> bool:
        """The reply box holds a private note."""
        return self.thread_pane.note_mode

    @property
    def outgoing_files(self) -> dict[int, list[Path]]:
        """Per dialog, the files for its next reply."""
        return self.thread_pane.outgoing_files

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual applies every widget's styles as it mounts, then again for the whole
        # screen when the screen is first shown: for this tree (20 widgets, 180 virtual
        # nodes of component classes) the second pass cost ~4 ms before the first frame
        # and changed nothing. Later resumes (a dialog closed) refresh as Textual does.
        # Private Textual API: see docs/ARCHITECTURE.md.
        if not self._shown_once:
            self._shown_once = True
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.conversation_list.focus()
        # The rows read while the app loaded, for the first frame; `attach` reads the
        # list again through the store once it is open.
        page = self._first_page() if self._first_page is not None else None
        if page is not None:
            self.conversation_list.show_first(*page)
        # What each channel's hub found its transport can do: the reply windows (Meta's
        # 24 hours) show in the list and the thread's title.
        self.watch(self.status_bar, "channels", self._channels_changed, init=False)

    def _channels_changed(self, channels: list[Channel]) -> None:
        windows = {channel.name: channel.reply_window for channel in channels
                   if channel.reply_window}
        self.conversation_list.set_windows(windows)
        self.thread_pane.templated = frozenset(c.name for c in channels if c.has_templates)
        self.thread_pane.windows = windows

    def attach(self, inbox: Inbox) -> None:
        """The inbox is open: load everything."""
        self.inbox = inbox
        if self.settings.sla is not None:  # the SLA view judges by them
            from opchat.hours import WorkClock

            inbox.use_targets(self.settings.sla, WorkClock.of(self.settings.channels))
        # The rows first; the views' and the status bar's counts once they are in.
        self.conversation_list.attach(inbox, after=self._reload_counts)
        self.status_bar.attach(inbox)
        for shortcut, keys in getattr(self.settings, "reply_keys", {}).items():
            # Priority: a reply's key works while typing, as Ctrl+R does.
            self._bindings.bind(keys, f"reply_key({shortcut!r})", f"/{shortcut}",
                                show=False, priority=True)
        self.refresh_bindings()
        self.thread_pane.attach_replies()
        self.start_presence()
        self.start_sla_watch()

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
            self._leave_opened()
        switching = self.opened is None or self.opened.id != conversation.id
        self.opened = conversation
        self.conversation_list.set_opened(conversation.id)
        self.thread.show(self.inbox, conversation)  # the title follows `opened`
        self.contact_panel.follow(self.inbox, conversation.id)
        composer.set_open(True)
        if switching:
            self.thread_pane.replies_for(conversation)
            self.thread_pane.set_note_mode(False)
            remembered = self._drafts.pop(conversation.id, None)
            self._loaded_text = remembered or ""
            composer.load_text(self._loaded_text)
            composer.conversation_id = conversation.id
            composer.set_files(self.outgoing_files.get(conversation.id, []))
            composer.move_cursor(composer.document.end)
            if remembered is None:  # not typed in this session: maybe in an earlier one
                self._draft_loading = conversation.id
                self.ready_for_keys.clear()
                self._load_draft(conversation.id)
            self.run_worker(self.inbox.set_viewing(conversation.id), group="viewing",
                            exclusive=True, exit_on_error=False)
            self._show_activity()
        if conversation.unread:
            self.run_worker(self.inbox.mark_read(conversation.id), exit_on_error=False)

    def _leave_opened(self) -> None:
        """Switching away: keep the draft (here and in the store), stop "typing"."""
        assert self.opened is not None and self.inbox is not None
        text = self.composer.text
        self._drafts[self.opened.id] = text
        self._save_draft_now(self.opened.id, text)
        if self._typing_sent:
            self._typing_sent = 0.0
            self.run_worker(self.inbox.set_typing(None), group="typing", exclusive=True,
                            exit_on_error=False)

    @work(exit_on_error=False)
    async def _load_draft(self, conversation_id: int) -> None:
        assert self.inbox is not None
        try:
            text = await self.inbox.draft(conversation_id)
            composer = self.composer
            if not text or self.opened is None or self.opened.id != conversation_id:
                return
            if not composer.text:
                self._loaded_text = text
                composer.load_text(text)
                composer.move_cursor(composer.document.end)
            elif not composer.text.startswith(text):
                # Keys outran a slow store (see the app's KEY_SETTLE_LIMIT): they
                # follow the draft rather than replace it.
                composer.insert(text, (0, 0))
        finally:
            if self._draft_loading == conversation_id:
                self._draft_loading = None
                self.ready_for_keys.set()

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

    def action_search(self) -> None:
        # Screens opened later are imported when opened, not before the first frame.
        from opchat.screens.search import SearchScreen, SearchTarget

        if self.inbox is None or isinstance(self.app.screen, SearchScreen):
            return

        def chosen(target: SearchTarget | None) -> None:
            if target is not None:
                self.open_at_message(target.conversation_id, target.message_id)

        self.app.push_screen(SearchScreen(self.inbox, self.clock), chosen)

    def action_stats(self) -> None:
        from opchat.screens.stats import StatsScreen

        if self.inbox is None or isinstance(self.app.screen, StatsScreen):
            return
        from opchat.hours import WorkClock

        self.app.push_screen(StatsScreen(self.inbox, self.clock,
                                         WorkClock.of(self.settings.channels),
                                         self.settings.sla))

    @work(group="jump", exclusive=True, exit_on_error=False)
    async def open_at_message(self, conversation_id: int, message_id: int | None) -> None:
        """Open a conversation scrolled to one message, selected (None: at its newest)."""
        assert self.inbox is not None
        conversation = await self.inbox.conversation(conversation_id)
        if conversation is None:
            self.notify(_("That conversation is no longer there."), markup=False, timeout=3)
            return
        await self.show_conversation(conversation)
        if message_id is not None:
            self.thread.show_message(message_id)
            self.thread.focus()

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

    @on(ThreadView.Typed)
    def _typed_in_thread(self, event: ThreadView.Typed) -> None:
        """Typing in the thread writes the reply, where it goes on."""
        if not self.composer.disabled:
            self.composer.focus()
            self.composer.insert(event.character)

    # Acting -----------------------------------------------------------------------------

    @on(Composer.Submitted)
    def _send(self, event: Composer.Submitted) -> None:
        # The composer has emptied itself already: keys typed after Enter are the next
        # message's. The dialog is the one whose box was sent, whatever is open now.
        conversation_id = event.conversation_id or (self.opened.id if self.opened else None)
        if self.inbox is None or conversation_id is None:
            if not event.composer.text:
                event.composer.load_text(event.text)  # nowhere to send it: keep it
            return
        here = self.opened is not None and conversation_id == self.opened.id
        note = event.note
        if here:
            # A note is one message; the next is a reply again.
            self.thread_pane.set_note_mode(False)
            self._typing_sent = 0.0
            if self._draft_timer is not None:  # the message takes its draft with it
                self._draft_timer.stop()
                self._draft_timer = None
            self._emptied_by_send = conversation_id
        template = None
        if here and not note:
            # Past the reply window only an approved template goes: never queue a reply
            # bound to fail; give the text back and say what the platform allows.
            verdict = self.thread_pane.check_reply(event.text)
            if verdict.refused:
                if not event.composer.text:
                    event.composer.load_text(event.text)
                self.notify(verdict.refused, severity="warning", markup=False, timeout=8)
                return
            template = verdict.template
        files = [] if note else self.outgoing_files.pop(conversation_id, [])
        if here and not note:
            event.composer.set_files([])
        self._deliver(conversation_id, event.text, note, files, template)

    @work(group="send", exit_on_error=False)
    async def _deliver(self, conversation_id: int, text: str, note: bool = False,
                       files: list[Path] | None = None,
                       template: TemplateUse | None = None) -> None:
        assert self.inbox is not None
        try:
            if note:
                message = await self.inbox.note(conversation_id, text)
            else:
                message = await self.inbox.send(
                    conversation_id, text,
                    attachments=[outgoing_attachment(path) for path in files or ()],
                    template=template)
        except Exception:
            # Nothing was stored: give the text back rather than lose it.
            if self.opened is not None and self.opened.id == conversation_id:
                composer = self.composer
                if not composer.text.strip():
                    composer.load_text(text)
                if files:
                    self.thread_pane.set_outgoing_files(conversation_id, files)
            elif not self._drafts.get(conversation_id):
                # Another dialog is open by now: the text waits as this one's draft.
                self._drafts[conversation_id] = text
            raise
        # Stored and queued; its transaction took the draft and ended "typing" too.
        if self.opened is not None and self.opened.id == conversation_id:
            self.thread.append([message])

    # Drafts and "typing…" ----------------------------------------------------------------

    @on(Composer.Changed)
    def _composing(self, event: Composer.Changed) -> None:
        if self.inbox is None or self.opened is None:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
        conversation_id, text = self.opened.id, event.text_area.text
        self._typed = (conversation_id, text)
        sent, self._emptied_by_send = self._emptied_by_send, None
        if not text and sent == conversation_id:
            return  # emptied by sending: the message took the draft and ended "typing"
        if text == self._loaded_text:
            return  # the draft put back on opening the dialog: nobody is typing yet
        self._loaded_text = None
        self._draft_timer = self.set_timer(
            DRAFT_SAVE_AFTER, lambda: self._save_draft_now(conversation_id, text))
        # Colleagues (and the customer, where the channel shows it) see "typing…";
        # a private note is nobody's business but the operators'.
        now = time.monotonic()
        if text.strip() and not self.note_mode:
            if now - self._typing_sent >= TYPING_EVERY:
                self._typing_sent = now
                self.run_worker(self.inbox.set_typing(conversation_id), group="typing",
                                exclusive=True, exit_on_error=False)
        elif self._typing_sent:
            self._typing_sent = 0.0
            self.run_worker(self.inbox.set_typing(None), group="typing", exclusive=True,
                            exit_on_error=False)

    def _save_draft_now(self, conversation_id: int, text: str) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        if self.inbox is not None:
            self.run_worker(self.inbox.save_draft(conversation_id, text),
                            group=f"draft-{conversation_id}", exclusive=True,
                            exit_on_error=False)

    async def keep_draft(self) -> None:
        """The app is closing: store what is typed in the open conversation.

        Called when the widgets may be gone already, so it uses the text the
        composer last reported rather than asking the composer."""
        if self.inbox is not None and self.opened is not None and self._typed is not None:
            await self.inbox.save_draft(*self._typed)

    # Following changes ------------------------------------------------------------------

    def apply_events(self, events: Iterable[Event]) -> None:
        """A coalesced batch of change events: redraw what they touched."""
        if self.inbox is None:
            return
        from opchat.model import MessageNewData, MessageRetryingData  # loaded with the events

        self.thread_pane.apply_events(events)  # replies saved, files fetched
        kinds: set[str] = set()
        opened = self.opened.id if self.opened is not None else None
        new_in_opened = inbound_in_opened = False
        opened_changed = False
        new_dialogs: set[int] = set()
        new_messages: set[int] = set()
        read: set[int] = set()
        for event in events:
            kinds.add(event.kind)
            if event.kind == EventKind.CONVERSATION_READ and event.conversation_id is not None:
                read.add(event.conversation_id)
            if event.conversation_id is not None:
                if event.kind == EventKind.CONVERSATION_NEW:
                    new_dialogs.add(event.conversation_id)
                elif (isinstance(data := event.payload, MessageNewData)
                      and data.direction == Direction.IN):
                    new_messages.add(event.conversation_id)
            if opened is None or event.conversation_id != opened:
                continue
            if event.kind == EventKind.MESSAGE_NEW:
                new_in_opened = True
                data = event.payload
                if isinstance(data, MessageNewData) and data.direction == Direction.IN:
                    inbound_in_opened = True  # a reply or a note leaves nothing unread
            elif (event.kind in (EventKind.MESSAGE_STATE, EventKind.MESSAGE_RETRYING,
                                 EventKind.MESSAGE_REACTION, EventKind.MESSAGE_DELETED)
                  and event.message_id):
                data = event.payload
                error = data.error if isinstance(data, MessageRetryingData) else None
                self.thread.update_message(event.message_id, retry_error=error)
            elif event.kind in OPENED_EVENTS:
                opened_changed = True
        listed = kinds & LIST_EVENTS
        if read and not self.conversation_list.filter.unread_only:
            # A read mark takes a badge away and changes no place and no count.
            listed.discard(EventKind.CONVERSATION_READ)
            for conversation_id in read:
                self.conversation_list.mark_read(conversation_id)
        channels = bool(kinds & CHANNEL_EVENTS)
        if listed:
            self._reload_counts(rows=True, channels=channels)  # and the status bar's counts
        elif channels:
            self.status_bar.reload_channels()
        if new_dialogs or new_messages:
            self.alert_for(new_dialogs, new_messages)
        if new_in_opened:
            self.thread.fetch_new()
        if inbound_in_opened:
            # The operator is looking at it: it is read.
            self.run_worker(self.inbox.mark_read(opened), exit_on_error=False)
        if opened_changed:
            self._refresh_opened(opened)
        self._apply_contact_events(events)

    @work(exit_on_error=False)
    async def _refresh_opened(self, conversation_id: int) -> None:
        assert self.inbox is not None
        conversation = await self.inbox.conversation(conversation_id)
        if conversation is not None and self.opened is not None \
                and self.opened.id == conversation_id:
            self.opened = conversation
            self.thread.conversation = conversation

    # The contact panel, merging, hiding with a trace ------------------------------------

    @property
    def contact_panel(self) -> ContactPanel:
        return self.query_one(ContactPanel)

    def action_toggle_contact(self) -> None:
        panel = self.contact_panel
        if panel.shown:
            self._close_contact_panel()
            return
        if self.inbox is None:
            return
        panel.follow(self.inbox, self.opened.id if self.opened is not None else None)
        panel.show()
        self._place_contact_panel()
        panel.focus()

    @on(ContactPanel.Closed)
    def _close_contact_panel(self) -> None:
        panel = self.contact_panel
        had_focus = panel.has_focus
        panel.hide()
        self._place_contact_panel()
        if had_focus:
            if self.opened is not None and not self.composer.disabled:
                self.composer.focus()
            else:
                self.conversation_list.focus()

    def _place_contact_panel(self) -> None:
        """Beside the thread when there is room, instead of it when there is not."""
        panel = self.contact_panel
        replaces = panel.shown and self.size.width < CONTACT_BESIDE_WIDTH
        panel.set_class(replaces, "-replaces-thread")
        self.query_one("#thread-pane").display = not replaces

    @on(events.Resize)
    def _resized_for_contact(self) -> None:
        self._place_contact_panel()

    @on(ConversationList.Opened)
    def _make_room_for_the_thread(self) -> None:
        # Opened from the list (which then focuses the reply box): the thread needs the room.
        if self.contact_panel.has_class("-replaces-thread"):
            self._close_contact_panel()

    @on(ContactPanel.MergeAsked)
    def _confirm_merge(self, event: ContactPanel.MergeAsked) -> None:
        from opchat.screens.merge import merge_confirmation

        panel, plan = self.contact_panel, event.plan

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                panel.merge(plan)

        self.app.push_screen(merge_confirmation(plan), answered)

    @on(ContactPanel.NotesAsked)
    def _edit_notes(self, event: ContactPanel.NotesAsked) -> None:
        from opchat.screens.notes import NotesScreen

        panel = self.contact_panel

        def answered(text: str | None) -> None:
            if text is not None and text != event.notes:
                panel.save_notes(event.contact_id, text)

        self.app.push_screen(NotesScreen(event.name, event.notes), answered)

    @on(ContactPanel.OpenConversation)
    def _contact_conversation(self, event: ContactPanel.OpenConversation) -> None:
        self.open_conversation(event.conversation)
        if self.contact_panel.has_class("-replaces-thread"):
            self._close_contact_panel()  # the thread needs the room
            self.action_focus_composer()

    def _apply_contact_events(self, events: Iterable[Event]) -> None:
        batch = list(events)
        self.contact_panel.apply_events(batch)
        if self.opened is None:
            return
        for event in batch:
            if event.conversation_id != self.opened.id:
                continue
            if event.kind == EventKind.MESSAGE_HIDDEN and event.message_id is not None:
                self.thread.drop(event.message_id)
            elif event.kind == EventKind.MESSAGE_UNHIDDEN and self.inbox is not None:
                self.thread.conversation = None  # show it again from the start
                self.thread.show(self.inbox, self.opened)

    def action_transcript(self) -> None:
        if self.inbox is None or self.opened is None:
            return
        if self.settings.transcripts is None:
            self.notify(_("Transcripts are not set up: add [transcripts] with channel = "
                          "\"NAME\" (an email channel) to the config"),
                        severity="warning", markup=False)
            return
        self._ask_transcript(self.opened)

    @work(exit_on_error=False)
    async def _ask_transcript(self, conversation: Conversation) -> None:
        assert self.inbox is not None
        card = await self.inbox.contact_card(conversation.contact_id)
        to = card.contact.email if card is not None else None
        name = one_line(conversation.contact_name, 100) or "—"
        if not to:
            self.notify(_("{name} has no e-mail address: nowhere to send the transcript",
                          name=name), severity="warning", markup=False)
            return
        body = Content.assemble(
            safe_content(name, "bold"), ("  ", ""), safe_content(one_line(to, 200)),
            ("\n\n", ""),
            (_("The whole conversation as the customer saw it, without notes; the hub "
               "sends it and says in the thread that it went."), "dim"))

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._request_transcript(conversation.id, to)

        from opchat.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(_("E-mail the transcript?"), body, _("send")),
                             answered)

    @work(exit_on_error=False)
    async def _request_transcript(self, conversation_id: int, to: str) -> None:
        assert self.inbox is not None
        await self.inbox.request_transcript(conversation_id, to)
        self.notify(_("Transcript asked for: it is noted in the thread once sent."),
                    markup=False, timeout=4)

    def action_hide_conversation(self) -> None:
        if self.inbox is None or self.opened is None:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
            return
        conversation = self.opened
        tag, colour = channel_tag(conversation.channel_kind)
        body = Content.assemble(
            (f"{tag} ", f"bold {colour}"),
            safe_content(one_line(conversation.contact_name, 100) or "—", "bold"),
            ("  ", ""), safe_content(one_line(conversation.channel_name, 40), "dim"),
            ("\n\n", ""),
            (_("It leaves the list but stays stored; it comes back if the customer writes "
               "again. opchat audit shows who hid it and `opchat unhide conversation {id}` "
               "brings it back.", id=conversation.id), "dim"))

        def answered(confirmed: bool | None) -> None:
            if confirmed and self.inbox is not None:
                self._hide_conversation(conversation.id)

        from opchat.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(_("Hide this conversation?"), body, _("hide")),
                             answered)

    @work(exit_on_error=False)
    async def _hide_conversation(self, conversation_id: int) -> None:
        assert self.inbox is not None
        if not await self.inbox.hide_conversation(conversation_id):
            return
        self.notify(_("Conversation hidden."), markup=False, timeout=3)
        self.conversation_list.reload()
        if self.opened is None or self.opened.id != conversation_id:
            return
        # Like archiving mail: the next conversation of the list opens in its place.
        flt = self.conversation_list.filter
        index = await self.inbox.position(conversation_id, flt)
        rows = await self.inbox.conversations(flt, index, 1) if index is not None else []
        if rows and self.opened is not None and self.opened.id == conversation_id:
            self.open_conversation(rows[0])

    # The panes' keys (bound here: they work whatever has focus) --------------------------

    def action_cycle_view(self) -> None:
        self.list_pane.action_cycle_view()

    def action_filter_label(self) -> None:
        self.list_pane.action_filter_label()

    @on(ListPane.FilterChanged)
    def _filter_changed(self) -> None:
        self._reload_counts()

    def action_quick_replies(self) -> None:
        self.thread_pane.action_quick_replies()

    def action_manage_replies(self) -> None:
        self.thread_pane.action_manage_replies()

    def action_reply_key(self, shortcut: str) -> None:
        self.thread_pane.action_reply_key(shortcut)

    def action_note_mode(self) -> None:
        self.thread_pane.action_note_mode()

    def action_attach_file(self) -> None:
        self.thread_pane.action_attach_file()

    def action_dismiss_failure(self) -> None:
        self.thread_pane.action_dismiss_failure()

    def action_template(self) -> None:
        self.thread_pane.action_template()


if TYPE_CHECKING:
    def _is_a_host(screen: InboxScreen) -> InboxHost:
        return screen  # the type checker holds the screen to what its parts use of it
