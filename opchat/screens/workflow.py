"""What an operator does to dialogs besides answering them, on the inbox screen.

Views of the list, jumping to who waits longest or has unread messages,
statuses and snoozing, assignment, private notes, labels, and opening the
files customers sent. Mixed into :class:`~opchat.screens.inbox.InboxScreen`;
the key bindings are declared here beside their actions, and the screen lists
them in its own BINDINGS (Textual collects bindings from DOM classes only,
and a mixin is none). Every change goes through the inbox, so other
operators' apps see it through the change feed.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingType

from opchat.i18n import _
from opchat.model import (
    Attachment,
    AttachmentData,
    Conversation,
    ConversationFilter,
    Event,
    EventKind,
    MessageState,
    PresenceKind,
    Status,
)
from opchat.sanitize import one_line
from opchat.screens.host import InboxScreenPart
from opchat.screens.pick import Choice, Picked, PickScreen
from opchat.viewer import open_in_viewer, readable_file
from opchat.when import in_an_hour, next_week, parse_moment, tomorrow_morning
from opchat.widgets import clock_label
from opchat.widgets.conversation_list import Counted
from opchat.widgets.thread_view import ThreadView
from opchat.widgets.view_tabs import VIEWS, view_filter

if TYPE_CHECKING:
    from opchat.app import OpchatApp


class WorkflowActions(InboxScreenPart):
    """Mixed into `InboxScreen`; what it uses of the screen is `host.InboxHost`."""

    # Priority: Alt+letter works in the list and while typing.
    BINDINGS: ClassVar[list[BindingType]] = [
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
        Binding("ctrl+t", "attach_file", _("Attach"), show=False, priority=True,
                id="opchat.attach_file", tooltip=_("Send a file with the reply (a path "
                                                   "on this machine)")),
        Binding("alt+f", "filter_label", _("Filter"), show=False, priority=True,
                id="opchat.filter_label", tooltip=_("Show only conversations with a label")),
        Binding("alt+x", "dismiss_failure", _("Dismiss failure"), show=False, priority=True,
                id="opchat.dismiss_failure",
                tooltip=_("Stop waiting on the failed reply (the selected message, or the "
                          "conversation's); recorded with your name")),
    ]

    # The operator's workflow ------------------------------------------------------------

    def _reload_list(self) -> None:
        screen = self._host
        if screen.inbox is None:
            return
        flt = view_filter(screen.view, screen.inbox.operator.login)
        if screen.label_filter is not None:
            flt = replace(flt, label=screen.label_filter)
        screen.conversation_list.set_filter(flt)
        self._reload_counts()

    def _reload_counts(self, rows: bool = False, channels: bool = False) -> None:
        """Count the views and what the status bar shows, in one read; with ``rows``, the
        list is refreshed first (its count and the cursor's place in one read, then the
        rows), and these counts follow once its rows are in: a batch of changes costs
        one list reload and one counts read, and the rows wait for no other count."""
        screen = self._host
        if screen.inbox is None:
            return
        if rows:
            screen.run_worker(self._refresh_list(channels), group="list-refresh",
                              exclusive=True, exit_on_error=False)
        else:
            screen.run_worker(self._count_views(), group="view-counts", exclusive=True,
                              exit_on_error=False)

    async def _refresh_list(self, channels: bool) -> None:
        screen = self._host
        assert screen.inbox is not None
        conversations = screen.conversation_list

        def after() -> None:  # the rows are drawn first; what else changed follows
            self._reload_counts()
            if channels:
                screen.status_bar.reload_channels()

        listed, cursor_id = conversations.filter, conversations.cursor_id
        (count,), position = await screen.inbox.counts([listed], cursor_id, listed)
        conversations.reload(Counted(listed, count, cursor_id, position), after)

    async def _count_views(self) -> None:
        screen = self._host
        assert screen.inbox is not None
        login = screen.inbox.operator.login
        views = [view_filter(view, login) for view in VIEWS]
        if screen.label_filter is not None:
            views = [replace(flt, label=screen.label_filter) for flt in views]
        wanted = [*views, ConversationFilter(waiting_only=True),
                  ConversationFilter(failed_only=True)]
        # The same count twice is counted once (the order of a list changes no count).
        unique = list(dict.fromkeys(replace(flt, order="recent") for flt in wanted))
        found, _ = await screen.inbox.counts(unique)
        counts = [found[unique.index(replace(flt, order="recent"))] for flt in wanted]
        screen.view_tabs.show(screen.view, dict(zip(VIEWS, counts[:len(VIEWS)], strict=True)),
                              screen.label_filter)
        screen.status_bar.show_counts(counts[-2], counts[-1])

    def action_cycle_view(self) -> None:
        screen = self._host
        screen.view = VIEWS[(VIEWS.index(screen.view) + 1) % len(VIEWS)]
        screen.view_tabs.show(screen.view)
        self._reload_list()

    def action_longest_waiting(self) -> None:
        self._open_first(ConversationFilter(waiting_only=True, order="waiting"),
                         _("Nobody is waiting."))

    def action_next_unread(self) -> None:
        self._open_first(ConversationFilter(unread_only=True), _("No unread messages."),
                         skip_opened=True)

    def _open_first(self, flt: ConversationFilter, none_left: str,
                    skip_opened: bool = False) -> None:
        screen = self._host
        if screen.inbox is not None:
            screen.run_worker(self._open_first_of(flt, none_left, skip_opened),
                              group="jump", exclusive=True, exit_on_error=False)

    async def _open_first_of(self, flt: ConversationFilter, none_left: str,
                             skip_opened: bool) -> None:
        screen = self._host
        assert screen.inbox is not None
        found = await screen.inbox.conversations(flt, 0, 2)
        if skip_opened and screen.opened is not None:
            found = [c for c in found if c.id != screen.opened.id]
        if not found:
            screen.notify(none_left, markup=False, timeout=3)
            return
        await self.show_conversation(found[0])

    async def show_conversation(self, conversation: Conversation) -> None:
        """Open a conversation and put the list's cursor on it (if the view has it)."""
        screen = self._host
        assert screen.inbox is not None
        screen.open_conversation(conversation)
        position = await screen.inbox.position(conversation.id,
                                               screen.conversation_list.filter)
        if position is not None:
            screen.conversation_list.move_cursor(position)
            screen.conversation_list.cursor_id = conversation.id
        screen.composer.focus()

    def _need_opened(self) -> Conversation | None:
        screen = self._host
        if screen.inbox is None:
            return None
        if screen.opened is None:
            screen.notify(_("Open a conversation first."), markup=False, timeout=3)
        return screen.opened

    def action_resolve_and_next(self) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is None:
            return
        following = screen.conversation_list.step(+1)
        if following is not None and following.id == opened.id:
            following = None  # the last row: nothing after it
        screen.run_worker(self._resolve(opened.id, following), exit_on_error=False)

    async def _resolve(self, conversation_id: int, following: Conversation | None) -> None:
        screen = self._host
        assert screen.inbox is not None
        await screen.inbox.set_status(conversation_id, Status.RESOLVED)
        screen.notify(_("Resolved."), markup=False, timeout=2)
        if following is not None:
            screen.open_conversation(following)

    def action_reopen(self) -> None:
        self._set_status(Status.OPEN)

    def action_pending(self) -> None:
        self._set_status(Status.PENDING)

    def _set_status(self, status: Status) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is not None and screen.inbox is not None:
            screen.run_worker(screen.inbox.set_status(opened.id, status), exit_on_error=False)

    def action_snooze(self) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is None:
            return
        now = screen.clock()
        choices = [
            Choice("hour", _("1 hour"), clock_label(in_an_hour(now), now)),
            Choice("tomorrow", _("Tomorrow 9:00"), clock_label(tomorrow_morning(now), now)),
            Choice("week", _("Next week (Monday 9:00)"), clock_label(next_week(now), now)),
        ]

        def check(text: str) -> str | None:
            try:
                parse_moment(text, screen.clock())
            except ValueError as exc:
                return str(exc)
            return None

        def picked(answer: Picked | None) -> None:
            if answer is None or screen.inbox is None:
                return
            now = screen.clock()
            until = {"hour": in_an_hour, "tomorrow": tomorrow_morning,
                     "week": next_week}[answer.key](now) if answer.key \
                else parse_moment(answer.text, now)
            screen.run_worker(screen.inbox.snooze(opened.id, until), exit_on_error=False)

        screen.app.push_screen(PickScreen(_("Snooze until"), choices,
                                          typed=_("or type: 2h, 18:30, 2026-12-01 10:00"),
                                          check=check), picked)

    def action_assign_me(self) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is not None and screen.inbox is not None:
            screen.run_worker(self._assign(opened.id, screen.inbox.operator.login),
                              exit_on_error=False)

    async def _assign(self, conversation_id: int, login: str | None) -> None:
        screen = self._host
        assert screen.inbox is not None
        if await screen.inbox.assign(conversation_id, login):
            screen.notify(_("Assigned to {who}.", who=login) if login else _("Unassigned."),
                          markup=False, timeout=2)

    def action_assign(self) -> None:
        screen = self._host
        if self._need_opened() is not None:
            screen.run_worker(self._pick_assignee(), exit_on_error=False)

    async def _pick_assignee(self) -> None:
        screen = self._host
        assert screen.inbox is not None and screen.opened is not None
        conversation_id = screen.opened.id
        operators = await screen.inbox.operators()
        load = await screen.inbox.open_load()
        online = {p.who for p in screen.presence.values()
                  if p.kind is PresenceKind.ONLINE and p.active(screen.clock())}
        choices = [Choice(f"op:{op.login}", op.login,
                          _("{count} open", count=load.get(op.login, 0))
                          + (" · " + _("online") if op.login in online else ""))
                   for op in operators]
        choices.append(Choice("nobody", _("Nobody (unassign)")))

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                login = answer.key[3:] if answer.key.startswith("op:") else None
                screen.run_worker(self._assign(conversation_id, login), exit_on_error=False)

        await screen.app.push_screen(PickScreen(_("Assign to"), choices), picked)

    def action_dismiss_failure(self) -> None:
        """Alt+X: the last reply failed and the operator lets it be (the customer blocked
        the bot, say): the dialog stops waiting on it. A failed message selected in the
        thread is the one meant; otherwise the dialog's."""
        screen = self._host
        opened = self._need_opened()
        if opened is None:
            return
        selected = screen.thread.selected
        message_id = (selected.id if selected is not None
                      and selected.state is MessageState.FAILED else None)
        screen.run_worker(self._dismiss_failure(opened.id, message_id), exit_on_error=False)

    async def _dismiss_failure(self, conversation_id: int, message_id: int | None) -> None:
        screen = self._host
        assert screen.inbox is not None
        if await screen.inbox.dismiss_failure(conversation_id, message_id):
            text = _("Failure dismissed: the conversation no longer waits on it.")
        elif message_id is not None:
            text = _("That failure was dismissed or answered already.")
        else:
            text = _("No failed reply keeps this conversation waiting.")
        screen.notify(text, markup=False, timeout=3)

    def action_note_mode(self) -> None:
        screen = self._host
        if self._need_opened() is not None:
            self._set_note_mode(not screen.note_mode)
            screen.composer.focus()

    def _set_note_mode(self, on: bool) -> None:
        screen = self._host
        screen.note_mode = on
        composer = screen.composer
        composer.set_class(on, "note")
        composer.set_note(_("Private note: only operators see it") if on else None)

    def action_labels(self) -> None:
        screen = self._host
        if self._need_opened() is not None:
            screen.run_worker(self._pick_label(), exit_on_error=False)

    async def _pick_label(self) -> None:
        screen = self._host
        assert screen.inbox is not None and screen.opened is not None
        conversation = screen.opened
        on = set(conversation.labels)
        choices = [Choice(label.name, label.name, _("on: Enter removes it")
                          if label.name in on else "")
                   for label in await screen.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is None or screen.inbox is None:
                return
            name = answer.key if answer.key is not None else answer.text
            change = screen.inbox.unlabel if name in on else screen.inbox.label
            screen.run_worker(change(conversation.id, name), exit_on_error=False)

        await screen.app.push_screen(PickScreen(_("Label"), choices,
                                                typed=_("type to find, or a new label"),
                                                check=lambda text: None), picked)

    def action_filter_label(self) -> None:
        screen = self._host
        if screen.inbox is not None:
            screen.run_worker(self._pick_filter(), exit_on_error=False)

    async def _pick_filter(self) -> None:
        screen = self._host
        assert screen.inbox is not None
        choices = [Choice("", _("Every conversation (no label filter)"))]
        choices += [Choice(f"l:{label.name}", label.name) for label in await screen.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                screen.label_filter = answer.key[2:] or None
                self._reload_list()

        await screen.app.push_screen(PickScreen(_("Show conversations labelled"), choices),
                                     picked)

    # Files sent with messages -----------------------------------------------------------

    def action_attach_file(self) -> None:
        """Ctrl+T: choose a file (a path on this machine) to send with the next reply."""
        screen = self._host
        opened = self._need_opened()
        if opened is not None:
            screen.run_worker(self._attach_file(opened), group="attach", exclusive=True,
                              exit_on_error=False)

    async def _attach_file(self, opened: Conversation) -> None:
        screen = self._host
        assert screen.inbox is not None
        # The hub records what each channel's transport can carry; the UI reads it from
        # the store, so it can say so now rather than queue a reply bound to fail.
        channel = next((c for c in await screen.inbox.channels()
                        if c.name == opened.channel_name), None)
        if channel is not None and channel.carries_files is False:
            screen.notify(_("{channel} cannot carry files: send the text alone.",
                            channel=one_line(opened.channel_name, 40)),
                          severity="warning", markup=False, timeout=5)
            return
        pending = screen.outgoing_files.get(opened.id, [])
        choices = [Choice(f"rm:{n}", path.name, _("attached: Enter removes it"))
                   for n, path in enumerate(pending)]

        def picked(answer: Picked | None) -> None:
            files = list(screen.outgoing_files.get(opened.id, []))
            if answer is None:
                return
            if answer.key is not None and answer.key.startswith("rm:"):
                del files[int(answer.key[3:])]
            else:
                files.append(Path(answer.text).expanduser().resolve())
            self.set_outgoing_files(opened.id, files)
            screen.composer.focus()

        screen.app.push_screen(PickScreen(_("Send a file with the reply"), choices,
                                          typed=_("the file's path, e.g. ~/price-list.pdf"),
                                          check=file_problem), picked)

    def set_outgoing_files(self, conversation_id: int, files: list[Path]) -> None:
        screen = self._host
        if files:
            screen.outgoing_files[conversation_id] = files
        else:
            screen.outgoing_files.pop(conversation_id, None)
        if screen.opened is not None and screen.opened.id == conversation_id:
            screen.composer.set_files(files)


    def on_thread_view_file_requested(self, event: ThreadView.FileRequested) -> None:
        screen = self._host
        attachments = [a for a in event.message.attachments if a.id is not None]
        if len(attachments) == 1:
            self._want_file(attachments[0])
            return
        choices = [Choice(str(a.id), a.filename or a.kind, a.kind) for a in attachments]

        def picked(answer: Picked | None) -> None:
            chosen = [a for a in attachments if answer is not None and str(a.id) == answer.key]
            if chosen:
                self._want_file(chosen[0])

        screen.app.push_screen(PickScreen(_("Which file?"), choices), picked)

    def _want_file(self, attachment: Attachment) -> None:
        screen = self._host
        assert attachment.id is not None
        if attachment.local_path and readable_file(attachment.local_path):
            self._show_file(Path(attachment.local_path))
        elif screen.inbox is not None:
            screen._files_wanted.add(attachment.id)
            screen.notify(_("Fetching the file…"), markup=False, timeout=3)
            screen.run_worker(screen.inbox.request_attachment(attachment.id),
                              exit_on_error=False)

    def _file_event(self, event: Event) -> None:
        screen = self._host
        data = event.payload
        if not isinstance(data, AttachmentData):
            return
        attachment_id = data.attachment
        if attachment_id not in screen._files_wanted:
            return  # another operator's request
        screen._files_wanted.discard(attachment_id)
        if event.kind == EventKind.ATTACHMENT_FAILED:
            app = cast("OpchatApp", screen.app)  # the only app the inbox screen runs in
            app.report(_("Cannot fetch the file: {error}",
                         error=data.error or ""))
        elif screen.inbox is not None:
            screen.run_worker(self._show_fetched(attachment_id), exit_on_error=False)

    async def _show_fetched(self, attachment_id: int) -> None:
        screen = self._host
        assert screen.inbox is not None
        found = await screen.inbox.attachment(attachment_id)
        if found is not None and found.local_path:
            self._show_file(Path(found.local_path))

    def _show_file(self, path: Path) -> None:
        screen = self._host
        if open_in_viewer(path):
            screen.notify(_("Opened {name}.", name=one_line(path.name, 80)), markup=False,
                          timeout=3)
            return
        # No desktop here (over SSH): the path, and the same on the clipboard (OSC 52).
        screen.app.copy_to_clipboard(str(path))
        screen.notify(_("Saved at {path} (copied)", path=one_line(str(path), 300)),
                      markup=False, timeout=10)



MAX_FILE = 50 * 1024 * 1024  # bytes: the most a bot may send on Telegram, a sane cap for all
PICTURES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})


def outgoing_attachment(path: Path) -> Attachment:
    """What the outbox needs to send a file from this machine."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kind = "photo" if path.suffix.lower() in PICTURES else "document"
    return Attachment(kind, path.name, mime, path.stat().st_size, local_path=str(path))


def file_problem(text: str) -> str | None:
    """Why the path an operator typed cannot be sent, or None."""
    path = Path(text).expanduser()
    try:
        if not path.is_file():
            return _("No such file: {path}", path=one_line(str(path), 200))
        if not os.access(path, os.R_OK):
            return _("Cannot read {path}", path=one_line(str(path), 200))
        if path.stat().st_size > MAX_FILE:
            return _("{path} is larger than 50 MB", path=one_line(path.name, 80))
    except OSError as exc:
        return one_line(str(exc), 200)
    return None
