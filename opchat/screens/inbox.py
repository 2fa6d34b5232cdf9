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

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from opchat.alerts import Alerter
from opchat.i18n import _
from opchat.model import Attachment, Conversation, Event, Presence, PresenceKind, Status
from opchat.sanitize import one_line, safe_content
from opchat.screens.confirm import ConfirmScreen
from opchat.screens.pick import Choice, Picked, PickScreen
from opchat.screens.replies import QuickReplyActions
from opchat.screens.search import SearchScreen, SearchTarget
from opchat.store import ConversationFilter
from opchat.viewer import open_in_viewer
from opchat.when import in_an_hour, next_week, parse_moment, tomorrow_morning
from opchat.widgets import ReportsWorkerErrors, clock_label, translate_bindings
from opchat.widgets.composer import Composer
from opchat.widgets.contact_panel import ContactPanel
from opchat.widgets.conversation_list import ConversationList, channel_tag, wait_label
from opchat.widgets.reply_completion import ReplyCompletion
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView
from opchat.widgets.view_tabs import VIEWS, ViewTabs, label_colour, view_filter

if TYPE_CHECKING:
    from opchat.config import Settings
    from opchat.inbox import Inbox

# Events after which the list's rows, order or count may differ.
LIST_EVENTS = frozenset({
    "conversation.new", "message.new", "conversation.read", "conversation.status",
    "conversation.assign", "conversation.label",
    "conversation.hidden", "conversation.unhidden", "message.hidden", "message.unhidden",
    "contact.merged",
})
# Events that change what the open conversation's title shows.
OPENED_EVENTS = frozenset({"conversation.status", "conversation.assign", "conversation.label"})
HEARTBEAT = 15.0  # seconds between "I am here (viewing this)" (see inbox.ONLINE_TTL)
RED_CHECK = 5.0  # seconds between looks for dialogs whose wait turned red
DRAFT_SAVE_AFTER = 1.0  # seconds of no typing before the draft is saved
TYPING_EVERY = 2.0  # seconds between "still typing" while keys keep coming
WAITING_EVENTS = frozenset({"conversation.new", "message.new", "conversation.status",
                            "conversation.hidden", "conversation.unhidden"})
CONTACT_BESIDE_WIDTH = 140  # columns from which the contact panel fits beside the thread


class InboxScreen(QuickReplyActions, ReportsWorkerErrors, Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n,alt+down", "next_conversation", _("Next"), key_display="^n",
                priority=True, id="opchat.next_conversation",
                tooltip=_("Open the next conversation in the list")),
        Binding("ctrl+p,alt+up", "previous_conversation", _("Prev"), key_display="^p",
                priority=True, id="opchat.previous_conversation",
                tooltip=_("Open the previous conversation in the list")),
        Binding("ctrl+r", "quick_replies", _("Replies"), key_display="^r", priority=True,
                id="opchat.quick_replies", tooltip=_("Insert a saved reply (fuzzy search)")),
        Binding("f3", "manage_replies", _("Edit replies"), show=False,
                id="opchat.manage_replies",
                tooltip=_("Add, change, delete and preview quick replies")),
        Binding("alt+1", "focus_list", _("List"), show=False, id="opchat.focus_list",
                tooltip=_("Go to the conversation list")),
        Binding("alt+2", "focus_thread", _("Thread"), show=False, id="opchat.focus_thread",
                tooltip=_("Go to the messages (select one to act on it)")),
        Binding("alt+3", "focus_composer", _("Composer"), show=False,
                id="opchat.focus_composer", tooltip=_("Go to the reply box")),
        Binding("escape", "focus_list", _("To the list"), show=False,
                id="opchat.escape_to_list", tooltip=_("Go to the conversation list")),
        # The operator's workflow: Alt+letter works in the list and while typing.
        Binding("alt+v", "cycle_view", _("Views"), show=False, priority=True,
                id="opchat.cycle_view", tooltip=_("Next view: Mine, Unassigned, All, Waiting")),
        Binding("alt+w", "longest_waiting", _("Longest waiting"), show=False, priority=True,
                id="opchat.longest_waiting",
                tooltip=_("Open the conversation that has waited longest")),
        Binding("alt+u", "next_unread", _("Next unread"), show=False, priority=True,
                id="opchat.next_unread", tooltip=_("Open the next conversation with unread "
                                                   "messages")),
        Binding("alt+e", "resolve_and_next", _("Resolve"), show=False, priority=True,
                id="opchat.resolve", tooltip=_("Resolve the conversation and open the next")),
        Binding("alt+o", "reopen", _("Reopen"), show=False, priority=True, id="opchat.reopen",
                tooltip=_("Set the conversation open again")),
        Binding("alt+p", "pending", _("Pending"), show=False, priority=True,
                id="opchat.pending", tooltip=_("Set the conversation pending (waiting on "
                                               "something else)")),
        Binding("alt+z", "snooze", _("Snooze"), show=False, priority=True, id="opchat.snooze",
                tooltip=_("Snooze until a time: 1 hour, tomorrow, next week, or typed")),
        Binding("alt+a", "assign_me", _("Take"), show=False, priority=True,
                id="opchat.assign_me", tooltip=_("Assign the conversation to me")),
        Binding("alt+g", "assign", _("Assign"), show=False, priority=True, id="opchat.assign",
                tooltip=_("Assign the conversation to someone, or to nobody")),
        Binding("alt+n", "note_mode", _("Note"), show=False, priority=True,
                id="opchat.note_mode", tooltip=_("Write a private note instead of a reply "
                                                 "(only operators see it)")),
        Binding("alt+l", "labels", _("Labels"), show=False, priority=True, id="opchat.labels",
                tooltip=_("Add or remove a label on the conversation")),
        Binding("alt+f", "filter_label", _("Filter"), show=False, priority=True,
                id="opchat.filter_label", tooltip=_("Show only conversations with a label")),
        Binding("alt+i", "toggle_contact", _("Contact"), show=False, priority=True,
                id="opchat.contact_panel",
                tooltip=_("Show or hide who the customer is: every channel, notes, history")),
        Binding("alt+h", "hide_conversation", _("Hide"), show=False, priority=True,
                id="opchat.hide_conversation",
                tooltip=_("Hide the conversation (asks first; opchat audit keeps the trace)")),
        # Replaces the reply box's delete-word-right on Ctrl+F (Ctrl+Delete still does it).
        Binding("ctrl+f", "search", _("Search"), key_display="^f", show=False, priority=True,
                id="opchat.search", tooltip=_("Search every message, contact and label")),
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
        self.view = "all"
        self.label_filter: str | None = None
        self.note_mode = False
        self.presence: dict[tuple[str, str, int], Presence] = {}
        self.alerter: Alerter | None = None
        self._red_alerted: set[tuple[int, float]] = set()
        self._red_looked = False
        self._files_wanted: set[int] = set()  # attachments this operator asked the hub for
        self._draft_timer: Timer | None = None
        self._typed: tuple[int, str] | None = None  # (dialog, text) the composer last had
        self._typing_sent = 0.0  # when this operator last said "typing" (monotonic)

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield ViewTabs(id="views")
                yield ConversationList(self.settings, self.clock, id="conversations")
            with Vertical(id="thread-pane"):
                yield Static(Content(""), id="thread-title")
                yield ThreadView(self.settings, self.clock, id="thread")
                yield Static(Content(""), id="thread-activity")
                yield ReplyCompletion(id="reply-completion")
                yield Composer(id="composer")
            yield ContactPanel(self.clock, id="contact")
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
        self.query_one("#thread-activity").display = False

    def attach(self, inbox: Inbox) -> None:
        """The inbox is open: load everything."""
        self.inbox = inbox
        self.conversation_list.attach(inbox)
        self.status_bar.attach(inbox)
        self.attach_replies()
        self._reload_counts()
        self._heartbeat()
        self.set_interval(HEARTBEAT, self._heartbeat, name="presence-heartbeat")
        self.set_interval(RED_CHECK, self._check_red_waits, name="red-waits")
        self.set_interval(1.0, self._expire_presence, name="presence-expiry")

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
        self.thread.show(self.inbox, conversation)
        self._show_title(conversation)
        self.contact_panel.follow(self.inbox, conversation.id)
        composer.set_open(True)
        if switching:
            self.replies_for(conversation)
            self._set_note_mode(False)
            remembered = self._drafts.pop(conversation.id, None)
            composer.load_text(remembered or "")
            composer.move_cursor(composer.document.end)
            if remembered is None:  # not typed in this session: maybe in an earlier one
                self.run_worker(self._load_draft(conversation.id), exit_on_error=False)
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

    async def _load_draft(self, conversation_id: int) -> None:
        assert self.inbox is not None
        text = await self.inbox.draft(conversation_id)
        composer = self.composer
        if (text and self.opened is not None and self.opened.id == conversation_id
                and not composer.text):
            composer.load_text(text)
            composer.move_cursor(composer.document.end)

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
        if conversation.assignee:
            parts += [("  → ", "dim"), safe_content(one_line(conversation.assignee, 40))]
        for label in conversation.labels:
            parts += [("  ", ""), safe_content(f"#{one_line(label, 40)}",
                                               f"bold {label_colour(label)}")]
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

    def action_search(self) -> None:
        if self.inbox is None or isinstance(self.app.screen, SearchScreen):
            return

        def chosen(target: SearchTarget | None) -> None:
            if target is not None:
                self.run_worker(self.open_at_message(target.conversation_id, target.message_id),
                                group="jump", exclusive=True, exit_on_error=False)

        self.app.push_screen(SearchScreen(self.inbox, self.clock), chosen)

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

    # Acting -----------------------------------------------------------------------------

    @on(Composer.Submitted)
    def _send(self, event: Composer.Submitted) -> None:
        if self.inbox is None or self.opened is None:
            return
        event.composer.clear()
        note = self.note_mode
        self._set_note_mode(False)  # a note is one message; the next is a reply again
        self._typing_sent = 0.0
        self.run_worker(self._deliver(self.opened.id, event.text, note), group="send",
                        exit_on_error=False)

    async def _deliver(self, conversation_id: int, text: str, note: bool = False) -> None:
        assert self.inbox is not None
        try:
            if note:
                message = await self.inbox.note(conversation_id, text)
            else:
                message = await self.inbox.send(conversation_id, text)
                await self.inbox.set_typing(None)
            await self.inbox.save_draft(conversation_id, "")
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

    # Drafts and "typing…" ----------------------------------------------------------------

    @on(Composer.Changed)
    def _composing(self, event: Composer.Changed) -> None:
        if self.inbox is None or self.opened is None:
            return
        if self._draft_timer is not None:
            self._draft_timer.stop()
        conversation_id, text = self.opened.id, event.text_area.text
        self._typed = (conversation_id, text)
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

    # The operator's workflow ------------------------------------------------------------

    def _reload_list(self) -> None:
        if self.inbox is None:
            return
        flt = view_filter(self.view, self.inbox.operator.login)
        if self.label_filter is not None:
            flt = replace(flt, label=self.label_filter)
        self.conversation_list.set_filter(flt)
        self._reload_counts()

    def _reload_counts(self) -> None:
        if self.inbox is not None:
            self.run_worker(self._count_views(), group="view-counts", exclusive=True,
                            exit_on_error=False)

    async def _count_views(self) -> None:
        assert self.inbox is not None
        login = self.inbox.operator.login
        counts = {}
        for view in VIEWS:
            flt = view_filter(view, login)
            if self.label_filter is not None:
                flt = replace(flt, label=self.label_filter)
            counts[view] = await self.inbox.count(flt)
        self.query_one(ViewTabs).show(self.view, counts, self.label_filter)

    def action_cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.query_one(ViewTabs).show(self.view)
        self._reload_list()

    def action_longest_waiting(self) -> None:
        self._open_first(ConversationFilter(waiting_only=True, order="waiting"),
                         _("Nobody is waiting."))

    def action_next_unread(self) -> None:
        self._open_first(ConversationFilter(unread_only=True), _("No unread messages."),
                         skip_opened=True)

    def _open_first(self, flt: ConversationFilter, none_left: str,
                    skip_opened: bool = False) -> None:
        if self.inbox is not None:
            self.run_worker(self._open_first_of(flt, none_left, skip_opened),
                            group="jump", exclusive=True, exit_on_error=False)

    async def _open_first_of(self, flt: ConversationFilter, none_left: str,
                             skip_opened: bool) -> None:
        assert self.inbox is not None
        found = await self.inbox.conversations(flt, 0, 2)
        if skip_opened and self.opened is not None:
            found = [c for c in found if c.id != self.opened.id]
        if not found:
            self.notify(none_left, markup=False, timeout=3)
            return
        await self.show_conversation(found[0])

    async def show_conversation(self, conversation: Conversation) -> None:
        """Open a conversation and put the list's cursor on it (if the view has it)."""
        assert self.inbox is not None
        self.open_conversation(conversation)
        position = await self.inbox.position(conversation.id,
                                             self.conversation_list.filter)
        if position is not None:
            self.conversation_list.move_cursor(position)
            self.conversation_list.cursor_id = conversation.id
        self.composer.focus()

    def _need_opened(self) -> Conversation | None:
        if self.inbox is None:
            return None
        if self.opened is None:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
        return self.opened

    def action_resolve_and_next(self) -> None:
        opened = self._need_opened()
        if opened is None:
            return
        following = self.conversation_list.step(+1)
        if following is not None and following.id == opened.id:
            following = None  # the last row: nothing after it
        self.run_worker(self._resolve(opened.id, following), exit_on_error=False)

    async def _resolve(self, conversation_id: int, following: Conversation | None) -> None:
        assert self.inbox is not None
        await self.inbox.set_status(conversation_id, Status.RESOLVED)
        self.notify(_("Resolved."), markup=False, timeout=2)
        if following is not None:
            self.open_conversation(following)

    def action_reopen(self) -> None:
        self._set_status(Status.OPEN)

    def action_pending(self) -> None:
        self._set_status(Status.PENDING)

    def _set_status(self, status: Status) -> None:
        opened = self._need_opened()
        if opened is not None and self.inbox is not None:
            self.run_worker(self.inbox.set_status(opened.id, status), exit_on_error=False)

    def action_snooze(self) -> None:
        opened = self._need_opened()
        if opened is None:
            return
        now = self.clock()
        choices = [
            Choice("hour", _("1 hour"), clock_label(in_an_hour(now), now)),
            Choice("tomorrow", _("Tomorrow 9:00"), clock_label(tomorrow_morning(now), now)),
            Choice("week", _("Next week (Monday 9:00)"), clock_label(next_week(now), now)),
        ]

        def check(text: str) -> str | None:
            try:
                parse_moment(text, self.clock())
            except ValueError as exc:
                return str(exc)
            return None

        def picked(answer: Picked | None) -> None:
            if answer is None or self.inbox is None:
                return
            now = self.clock()
            until = {"hour": in_an_hour, "tomorrow": tomorrow_morning,
                     "week": next_week}[answer.key](now) if answer.key \
                else parse_moment(answer.text, now)
            self.run_worker(self.inbox.snooze(opened.id, until), exit_on_error=False)

        self.app.push_screen(PickScreen(_("Snooze until"), choices,
                                        typed=_("or type: 2h, 18:30, 2026-12-01 10:00"),
                                        check=check), picked)

    def action_assign_me(self) -> None:
        opened = self._need_opened()
        if opened is not None and self.inbox is not None:
            self.run_worker(self._assign(opened.id, self.inbox.operator.login),
                            exit_on_error=False)

    async def _assign(self, conversation_id: int, login: str | None) -> None:
        assert self.inbox is not None
        if await self.inbox.assign(conversation_id, login):
            self.notify(_("Assigned to {who}.", who=login) if login else _("Unassigned."),
                        markup=False, timeout=2)

    def action_assign(self) -> None:
        if self._need_opened() is not None:
            self.run_worker(self._pick_assignee(), exit_on_error=False)

    async def _pick_assignee(self) -> None:
        assert self.inbox is not None and self.opened is not None
        conversation_id = self.opened.id
        operators = await self.inbox.operators()
        load = await self.inbox.store.open_load()
        online = {p.who for p in self.presence.values()
                  if p.kind is PresenceKind.ONLINE and p.active(self.clock())}
        choices = [Choice(f"op:{op.login}", op.login,
                          _("{count} open", count=load.get(op.login, 0))
                          + (" · " + _("online") if op.login in online else ""))
                   for op in operators]
        choices.append(Choice("nobody", _("Nobody (unassign)")))

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                login = answer.key[3:] if answer.key.startswith("op:") else None
                self.run_worker(self._assign(conversation_id, login), exit_on_error=False)

        await self.app.push_screen(PickScreen(_("Assign to"), choices), picked)

    def action_note_mode(self) -> None:
        if self._need_opened() is not None:
            self._set_note_mode(not self.note_mode)
            self.composer.focus()

    def _set_note_mode(self, on: bool) -> None:
        self.note_mode = on
        composer = self.composer
        composer.set_class(on, "note")
        composer.border_title = _("Private note: only operators see it") if on else None

    def action_labels(self) -> None:
        if self._need_opened() is not None:
            self.run_worker(self._pick_label(), exit_on_error=False)

    async def _pick_label(self) -> None:
        assert self.inbox is not None and self.opened is not None
        conversation = self.opened
        on = set(conversation.labels)
        choices = [Choice(label.name, label.name, _("on: Enter removes it")
                          if label.name in on else "")
                   for label in await self.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is None or self.inbox is None:
                return
            name = answer.key if answer.key is not None else answer.text
            change = self.inbox.unlabel if name in on else self.inbox.label
            self.run_worker(change(conversation.id, name), exit_on_error=False)

        await self.app.push_screen(PickScreen(_("Label"), choices,
                                              typed=_("type to find, or a new label"),
                                              check=lambda text: None), picked)

    def action_filter_label(self) -> None:
        if self.inbox is not None:
            self.run_worker(self._pick_filter(), exit_on_error=False)

    async def _pick_filter(self) -> None:
        assert self.inbox is not None
        choices = [Choice("", _("Every conversation (no label filter)"))]
        choices += [Choice(f"l:{label.name}", label.name) for label in await self.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                self.label_filter = answer.key[2:] or None
                self._reload_list()

        await self.app.push_screen(PickScreen(_("Show conversations labelled"), choices),
                                   picked)

    # Presence: colleagues and customers at work -------------------------------------------

    def _heartbeat(self) -> None:
        if self.inbox is not None:
            viewing = self.opened.id if self.opened is not None else None
            self.run_worker(self.inbox.heartbeat(viewing), group="heartbeat", exclusive=True,
                            exit_on_error=False)

    def apply_presence(self, rows: Iterable[Presence]) -> None:
        """Presence rows changed (from any process): redraw who is where."""
        for row in rows:
            self.presence[(row.kind.value, row.who, row.conversation_id)] = row
        self._expire_presence(force=True)

    def _expire_presence(self, force: bool = False) -> None:
        now = self.clock()
        expired = [key for key, row in self.presence.items() if not row.active(now)]
        for key in expired:
            del self.presence[key]
        if not (expired or force) or self.inbox is None:
            return
        me = self.inbox.operator.login
        around: dict[int, list[str]] = {}
        for row in self.presence.values():
            if row.kind in (PresenceKind.VIEWING, PresenceKind.TYPING) and row.who != me:
                names = around.setdefault(row.conversation_id, [])
                if row.who not in names:
                    names.append(row.who)
        self.conversation_list.set_viewers(around)
        self._show_activity()

    def _show_activity(self) -> None:
        """The line under the thread: who else is here, who is typing, what (sneak peek)."""
        line = self.query_one("#thread-activity", Static)
        if self.opened is None or self.inbox is None:
            line.display = False
            return
        me, conversation = self.inbox.operator.login, self.opened
        parts: list[Content | tuple[str, str]] = []
        typing = sorted(p.who for p in self.presence.values()
                        if p.kind is PresenceKind.TYPING and p.who != me
                        and p.conversation_id == conversation.id)
        viewing = sorted(p.who for p in self.presence.values()
                         if p.kind is PresenceKind.VIEWING and p.who != me
                         and p.conversation_id == conversation.id and p.who not in typing)
        customer = next((p for p in self.presence.values()
                         if p.kind is PresenceKind.CUSTOMER_TYPING
                         and p.conversation_id == conversation.id), None)
        if typing:
            names = safe_content(one_line(", ".join(typing), 60), "bold")
            parts += [("⚠ " if self._typing_sent else "", "$warning"), names,
                      (" " + _("is typing…") if len(typing) == 1 else " " + _("are typing…"),
                       "$warning" if self._typing_sent else "")]
        elif viewing:
            parts += [(_("Also here: "), ""), safe_content(one_line(", ".join(viewing), 60))]
        if customer is not None:
            if parts:
                parts.append(("   ", ""))
            name = safe_content(one_line(conversation.contact_name, 40) or "—", "italic")
            if customer.text:
                # The end of the draft is what they are typing now.
                draft = one_line(customer.text, 2000)[-200:]
                parts += [name, (" " + _("is typing:") + " ", "italic"),
                          safe_content(draft, "italic")]
            else:
                parts += [name, (" " + _("is typing…"), "italic")]
        line.display = bool(parts)
        if parts:
            line.update(Content.assemble(*parts))

    # Files sent with messages -----------------------------------------------------------

    @on(ThreadView.FileRequested)
    def _file_requested(self, event: ThreadView.FileRequested) -> None:
        attachments = [a for a in event.message.attachments if a.id is not None]
        if len(attachments) == 1:
            self._want_file(attachments[0])
            return
        choices = [Choice(str(a.id), a.filename or a.kind, a.kind) for a in attachments]

        def picked(answer: Picked | None) -> None:
            chosen = [a for a in attachments if answer is not None and str(a.id) == answer.key]
            if chosen:
                self._want_file(chosen[0])

        self.app.push_screen(PickScreen(_("Which file?"), choices), picked)

    def _want_file(self, attachment: Attachment) -> None:
        assert attachment.id is not None
        if attachment.local_path and Path(attachment.local_path).is_file():
            self._show_file(Path(attachment.local_path))
        elif self.inbox is not None:
            self._files_wanted.add(attachment.id)
            self.notify(_("Fetching the file…"), markup=False, timeout=3)
            self.run_worker(self.inbox.store.request_attachment(attachment.id,
                                                                self.inbox.operator),
                            exit_on_error=False)

    def _file_event(self, event: Event) -> None:
        attachment_id = event.data.get("attachment")
        if attachment_id not in self._files_wanted:
            return  # another operator's request
        self._files_wanted.discard(attachment_id)
        if event.kind == "attachment.failed":
            self.app.report(_("Cannot fetch the file: {error}",
                              error=str(event.data.get("error", ""))))
        elif self.inbox is not None:
            self.run_worker(self._show_fetched(int(attachment_id)), exit_on_error=False)

    async def _show_fetched(self, attachment_id: int) -> None:
        assert self.inbox is not None
        found = await self.inbox.store.attachment(attachment_id)
        if found is not None and found.attachment.local_path:
            self._show_file(Path(found.attachment.local_path))

    def _show_file(self, path: Path) -> None:
        if open_in_viewer(path):
            self.notify(_("Opened {name}.", name=one_line(path.name, 80)), markup=False,
                        timeout=3)
            return
        # No desktop here (over SSH): the path, and the same on the clipboard (OSC 52).
        self.app.copy_to_clipboard(str(path))
        self.notify(_("Saved at {path} (copied)", path=one_line(str(path), 300)),
                    markup=False, timeout=10)

    # Alerts ---------------------------------------------------------------------------

    def _alert(self, way: str, title: str, body: str = "", loud: bool = False) -> None:
        if self.alerter is not None:
            self.alerter.alert(way, title, body, loud)

    def _mine_or_nobodys(self, conversation: Conversation) -> bool:
        assert self.inbox is not None
        return conversation.assignee in (None, self.inbox.operator.login)

    async def _alert_for(self, new_dialogs: set[int], new_messages: set[int]) -> None:
        assert self.inbox is not None
        settings = self.settings
        for conversation_id in sorted(new_dialogs | new_messages):
            conversation = await self.inbox.conversation(conversation_id)
            if conversation is None or not self._mine_or_nobodys(conversation):
                continue
            if conversation_id in new_dialogs:
                self._alert(settings.alert_new_dialog, _("New conversation"),
                            f"{conversation.contact_name}: {conversation.preview}")
            else:
                self._alert(settings.alert_new_message, conversation.contact_name,
                            conversation.preview)

    def _check_red_waits(self) -> None:
        if self.inbox is not None and self.settings.alert_red_wait != "off":
            self.run_worker(self._red_waits(), group="red-waits", exclusive=True,
                            exit_on_error=False)

    async def _red_waits(self) -> None:
        assert self.inbox is not None
        now = self.clock()
        waiting = await self.inbox.conversations(
            ConversationFilter(waiting_only=True, order="waiting"), 0, 50)
        first_look, self._red_looked = not self._red_looked, True
        for conversation in waiting:
            since = conversation.waiting_since
            if since is None or now - since < self.settings.wait_red:
                break  # longest first: the rest waited less
            key = (conversation.id, since)
            if key in self._red_alerted or not self._mine_or_nobodys(conversation):
                continue
            self._red_alerted.add(key)
            if not first_look:  # those red at start-up turned red before we were here
                self._alert(self.settings.alert_red_wait,
                            _("{name} is waiting", name=conversation.contact_name),
                            wait_label(now - since), loud=True)

    # Following changes ------------------------------------------------------------------

    def apply_events(self, events: Iterable[Event]) -> None:
        """A coalesced batch of change events: redraw what they touched."""
        if self.inbox is None:
            return
        self.replies_events(events)
        kinds: set[str] = set()
        opened = self.opened.id if self.opened is not None else None
        new_in_opened = False
        opened_changed = False
        new_dialogs: set[int] = set()
        new_messages: set[int] = set()
        for event in events:
            kinds.add(event.kind)
            if event.kind in ("attachment.ready", "attachment.failed"):
                self._file_event(event)
            if event.conversation_id is not None:
                if event.kind == "conversation.new":
                    new_dialogs.add(event.conversation_id)
                elif event.kind == "message.new" and event.data.get("direction") == "in":
                    new_messages.add(event.conversation_id)
            if opened is None or event.conversation_id != opened:
                continue
            if event.kind == "message.new":
                new_in_opened = True
            elif event.kind in ("message.state", "message.retrying") and event.message_id:
                error = event.data.get("error") if event.kind == "message.retrying" else None
                self.thread.update_message(event.message_id, retry_error=error)
            elif event.kind in OPENED_EVENTS:
                opened_changed = True
        if kinds & LIST_EVENTS:
            self.conversation_list.reload()
            self._reload_counts()
        if new_dialogs or new_messages:
            self.run_worker(self._alert_for(new_dialogs, new_messages), exit_on_error=False)
        if kinds & WAITING_EVENTS or "channel.health" in kinds:
            self.status_bar.reload()
        if new_in_opened:
            self.thread.fetch_new()
            # The operator is looking at it: it is read.
            self.run_worker(self.inbox.mark_read(opened), exit_on_error=False)
        if opened_changed:
            self.run_worker(self._refresh_opened(opened), exit_on_error=False)
        self._apply_contact_events(events)

    async def _refresh_opened(self, conversation_id: int) -> None:
        assert self.inbox is not None
        conversation = await self.inbox.conversation(conversation_id)
        if conversation is not None and self.opened is not None \
                and self.opened.id == conversation_id:
            self.opened = conversation
            self.thread.conversation = conversation
            self._show_title(conversation)

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
            if event.kind == "message.hidden" and event.message_id is not None:
                self.thread.drop(event.message_id)
            elif event.kind == "message.unhidden" and self.inbox is not None:
                self.thread.conversation = None  # show it again from the start
                self.thread.show(self.inbox, self.opened)

    @on(ThreadView.HideRequested)
    def _ask_hide_message(self, event: ThreadView.HideRequested) -> None:
        message = event.message
        body = Content.assemble(
            safe_content(one_line(message.body, 300) or "—", "italic"), ("\n\n", ""),
            (_("It leaves the thread but stays stored; opchat audit shows who hid it "
               "and `opchat unhide message {id}` brings it back.", id=message.id), "dim"))

        def answered(confirmed: bool | None) -> None:
            if confirmed and self.inbox is not None:
                self.run_worker(self._hide_message(message.id), exit_on_error=False)

        self.app.push_screen(ConfirmScreen(_("Hide this message?"), body, _("hide")), answered)

    async def _hide_message(self, message_id: int) -> None:
        assert self.inbox is not None
        if await self.inbox.hide_message(message_id):
            self.thread.drop(message_id)
            self.notify(_("Message hidden."), markup=False, timeout=3)

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
                self.run_worker(self._hide_conversation(conversation.id), exit_on_error=False)

        self.app.push_screen(ConfirmScreen(_("Hide this conversation?"), body, _("hide")),
                             answered)

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
