"""What an operator does to dialogs besides answering them, on the inbox screen.

Counting the list's views (with the status bar's counts, in one read),
jumping to who waits longest or has unread messages, statuses and snoozing,
assignment and labels. Mixed into :class:`~opchat.screens.inbox.InboxScreen`;
the key bindings are declared here beside their actions, and the screen lists
them in its own BINDINGS (Textual collects bindings from DOM classes only, and
a mixin is none). Choosing the view and the label filter is the list pane's
(`screens/list_pane.py`), notes and files the thread pane's
(`screens/thread_pane.py`). Every change goes through the inbox, so other
operators' apps see it through the change feed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual import work
from textual.binding import Binding

from opchat.i18n import _
from opchat.model import (
    Conversation,
    ConversationFilter,
    PresenceKind,
    Status,
)
from opchat.screens.host import InboxScreenPart
from opchat.when import in_an_hour, next_week, parse_moment, tomorrow_morning
from opchat.widgets import clock_label
from opchat.widgets.conversation_list import Counted


class WorkflowActions(InboxScreenPart):
    """Mixed into `InboxScreen`; what it uses of the screen is `host.InboxHost`."""

    # Bound by the screen, so that they work whatever has focus (see `InboxScreen.BINDINGS`).
    # Priority: Alt+letter works in the list and while typing.
    SCREEN_BINDINGS: ClassVar[dict[str, Binding]] = {
        "longest_waiting": Binding(
            "alt+w", "longest_waiting", _("Longest waiting"), show=False, priority=True,
            id="opchat.longest_waiting",
            tooltip=_("Open the conversation that has waited longest")),
        "next_unread": Binding(
            "alt+u", "next_unread", _("Next unread"), show=False, priority=True,
            id="opchat.next_unread",
            tooltip=_("Open the next conversation with unread messages")),
        "resolve_and_next": Binding(
            "alt+e", "resolve_and_next", _("Resolve"), show=False, priority=True,
            id="opchat.resolve", tooltip=_("Resolve the conversation and open the next")),
        "reopen": Binding(
            "alt+o", "reopen", _("Reopen"), show=False, priority=True, id="opchat.reopen",
            tooltip=_("Set the conversation open again")),
        "pending": Binding(
            "alt+p", "pending", _("Pending"), show=False, priority=True, id="opchat.pending",
            tooltip=_("Set the conversation pending (waiting on something else)")),
        "snooze": Binding(
            "alt+z", "snooze", _("Snooze"), show=False, priority=True, id="opchat.snooze",
            tooltip=_("Snooze until a time: 1 hour, tomorrow, next week, or typed")),
        "assign_me": Binding(
            "alt+a", "assign_me", _("Take"), show=False, priority=True, id="opchat.assign_me",
            tooltip=_("Assign the conversation to me")),
        "assign": Binding(
            "alt+g", "assign", _("Assign"), show=False, priority=True, id="opchat.assign",
            tooltip=_("Assign the conversation to someone, or to nobody")),
        "labels": Binding(
            "alt+l", "labels", _("Labels"), show=False, priority=True, id="opchat.labels",
            tooltip=_("Add or remove a label on the conversation")),
    }

    # The operator's workflow ------------------------------------------------------------

    def _reload_counts(self, rows: bool = False, channels: bool = False) -> None:
        """Count the views and what the status bar shows, in one read; with ``rows``, the
        list is refreshed first (its count and the cursor's place in one read, then the
        rows), and these counts follow once its rows are in: a batch of changes costs
        one list reload and one counts read, and the rows wait for no other count."""
        screen = self._host
        if screen.inbox is None:
            return
        if rows:
            self._refresh_list(channels)
        else:
            self._count_views()

    @work(group="list-refresh", exclusive=True, exit_on_error=False)
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

    @work(group="view-counts", exclusive=True, exit_on_error=False)
    async def _count_views(self) -> None:
        screen = self._host
        assert screen.inbox is not None
        pane = screen.list_pane
        views = pane.view_filters(screen.inbox.operator.login)
        wanted = [*views, ConversationFilter(waiting_only=True),
                  ConversationFilter(failed_only=True)]
        # The same count twice is counted once (the order of a list changes no count).
        unique = list(dict.fromkeys(replace(flt, order="recent") for flt in wanted))
        found, _ = await screen.inbox.counts(unique)
        counts = [found[unique.index(replace(flt, order="recent"))] for flt in wanted]
        screen.view_tabs.show(pane.view,
                              dict(zip(pane.views, counts[:len(pane.views)], strict=True)),
                              pane.label_filter,
                              frozenset({"sla"} if screen.inbox.at_risk_capped else ()))
        screen.status_bar.show_counts(counts[-2], counts[-1])

    def start_sla_watch(self) -> None:
        """With targets set, the SLA view changes as time passes: look every second
        whether the inbox's next change (a dialog reaching its warning) has come."""
        screen = self._host
        if screen.settings.sla is not None:
            screen.set_interval(1.0, self._sla_tick, name="sla-view")

    def _sla_tick(self) -> None:
        screen = self._host
        inbox = screen.inbox
        if inbox is None or inbox.at_risk_changes_at is None:
            return
        if screen.clock() >= inbox.at_risk_changes_at:
            inbox.at_risk_changes_at = None  # the next read sets it again
            self._reload_counts(rows=screen.list_pane.view == "sla")

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
            self._open_first_of(flt, none_left, skip_opened)

    @work(group="jump", exclusive=True, exit_on_error=False)
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
        self._resolve(opened.id, following)

    @work(exit_on_error=False)
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
            self._store_status(opened.id, status)

    @work(exit_on_error=False)
    async def _store_status(self, conversation_id: int, status: Status) -> None:
        screen = self._host
        assert screen.inbox is not None
        await screen.inbox.set_status(conversation_id, status)

    def action_snooze(self) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is None:
            return
        now = screen.clock()
        from opchat.screens.pick import Choice, Picked, PickScreen

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
            self._snooze(opened.id, until)

        screen.app.push_screen(PickScreen(_("Snooze until"), choices,
                                          typed=_("or type: 2h, 18:30, 2026-12-01 10:00"),
                                          check=check), picked)

    @work(exit_on_error=False)
    async def _snooze(self, conversation_id: int, until: float) -> None:
        screen = self._host
        assert screen.inbox is not None
        await screen.inbox.snooze(conversation_id, until)

    def action_assign_me(self) -> None:
        screen = self._host
        opened = self._need_opened()
        if opened is not None and screen.inbox is not None:
            self._assign(opened.id, screen.inbox.operator.login)

    @work(exit_on_error=False)
    async def _assign(self, conversation_id: int, login: str | None) -> None:
        screen = self._host
        assert screen.inbox is not None
        if await screen.inbox.assign(conversation_id, login):
            screen.notify(_("Assigned to {who}.", who=login) if login else _("Unassigned."),
                          markup=False, timeout=2)

    def action_assign(self) -> None:
        if self._need_opened() is not None:
            self._pick_assignee()

    @work(exit_on_error=False)
    async def _pick_assignee(self) -> None:
        screen = self._host
        assert screen.inbox is not None and screen.opened is not None
        conversation_id = screen.opened.id
        operators = await screen.inbox.operators()
        load = await screen.inbox.open_load()
        online = {p.who for p in screen.presence.values()
                  if p.kind is PresenceKind.ONLINE and p.active(screen.clock())}
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice(f"op:{op.login}", op.login,
                          _("{count} open", count=load.get(op.login, 0))
                          + (" · " + _("online") if op.login in online else ""))
                   for op in operators]
        choices.append(Choice("nobody", _("Nobody (unassign)")))

        def picked(answer: Picked | None) -> None:
            if answer is not None and answer.key is not None:
                login = answer.key[3:] if answer.key.startswith("op:") else None
                self._assign(conversation_id, login)

        await screen.app.push_screen(PickScreen(_("Assign to"), choices), picked)

    def action_labels(self) -> None:
        if self._need_opened() is not None:
            self._pick_label()

    @work(exit_on_error=False)
    async def _pick_label(self) -> None:
        screen = self._host
        assert screen.inbox is not None and screen.opened is not None
        conversation = screen.opened
        on = set(conversation.labels)
        from opchat.screens.pick import Choice, Picked, PickScreen

        choices = [Choice(label.name, label.name, _("on: Enter removes it")
                          if label.name in on else "")
                   for label in await screen.inbox.labels()]

        def picked(answer: Picked | None) -> None:
            if answer is None or screen.inbox is None:
                return
            name = answer.key if answer.key is not None else answer.text
            self._store_label(conversation.id, name, name not in on)

        await screen.app.push_screen(PickScreen(_("Label"), choices,
                                                typed=_("type to find, or a new label"),
                                                check=lambda text: None), picked)

    @work(exit_on_error=False)
    async def _store_label(self, conversation_id: int, name: str, on: bool) -> None:
        screen = self._host
        assert screen.inbox is not None
        if on:
            await screen.inbox.label(conversation_id, name)
        else:
            await screen.inbox.unlabel(conversation_id, name)
