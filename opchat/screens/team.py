"""A team on one server, on the inbox screen: who else is here, who types, and alerts.

Presence arrives from every process through `Inbox.presence_changes()`; this
keeps the live rows, shows other operators on the list rows they have open
and under the thread ("boris is typing…", the customer's draft where the
channel shares it), and says this operator is here every HEARTBEAT seconds.
Alerts ring the bell and send desktop notifications for new dialogs and
messages that are this operator's or nobody's, and louder for waits that
turn red. Mixed into :class:`~opchat.screens.inbox.InboxScreen`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content

from opchat.i18n import _
from opchat.model import Conversation, ConversationFilter, PresenceKind
from opchat.sanitize import one_line, safe_content
from opchat.screens.host import InboxScreenPart
from opchat.when import short_duration
from opchat.widgets.conversation_list import wait_label

if TYPE_CHECKING:
    from opchat.model import Presence

HEARTBEAT = 15.0  # seconds between "I am here (viewing this)" (see inbox.ONLINE_TTL)
RED_CHECK = 5.0  # seconds between looks for dialogs whose wait turned red


class TeamAwareness(InboxScreenPart):
    """Mixed into `InboxScreen`; what it uses of the screen is `host.InboxHost`."""

    def start_presence(self) -> None:
        """The inbox is open: say we are here, and keep saying it."""
        screen = self._host
        self._heartbeat()
        screen.set_interval(HEARTBEAT, self._heartbeat, name="presence-heartbeat")
        screen.set_interval(RED_CHECK, self._check_red_waits, name="red-waits")
        screen.set_interval(1.0, self._expire_presence, name="presence-expiry")

    # Presence: colleagues and customers at work -------------------------------------------

    def _heartbeat(self) -> None:
        screen = self._host
        if screen.inbox is not None:
            self._say_here(screen.opened.id if screen.opened is not None else None)

    @work(group="heartbeat", exclusive=True, exit_on_error=False)
    async def _say_here(self, viewing: int | None) -> None:
        screen = self._host
        assert screen.inbox is not None
        await screen.inbox.heartbeat(viewing)

    def apply_presence(self, rows: Iterable[Presence]) -> None:
        """Presence rows changed (from any process): redraw who is where."""
        screen = self._host
        for row in rows:
            screen.presence[(row.kind.value, row.who, row.conversation_id)] = row
        self._expire_presence(force=True)

    def _expire_presence(self, force: bool = False) -> None:
        screen = self._host
        now = screen.clock()
        expired = [key for key, row in screen.presence.items() if not row.active(now)]
        for key in expired:
            del screen.presence[key]
        if not (expired or force) or screen.inbox is None:
            return
        me = screen.inbox.operator.login
        around: dict[int, list[str]] = {}
        for row in screen.presence.values():
            if row.kind in (PresenceKind.VIEWING, PresenceKind.TYPING) and row.who != me:
                names = around.setdefault(row.conversation_id, [])
                if row.who not in names:
                    names.append(row.who)
        screen.conversation_list.set_viewers(around)
        self._show_activity()

    def _show_activity(self) -> None:
        """The line under the thread: who else is here, who is typing, what (sneak peek)."""
        screen = self._host
        line = screen.activity_line
        if screen.opened is None or screen.inbox is None:
            line.display = False
            return
        me, conversation = screen.inbox.operator.login, screen.opened
        parts: list[Content | tuple[str, str]] = []
        typing = sorted(p.who for p in screen.presence.values()
                        if p.kind is PresenceKind.TYPING and p.who != me
                        and p.conversation_id == conversation.id)
        viewing = sorted(p.who for p in screen.presence.values()
                         if p.kind is PresenceKind.VIEWING and p.who != me
                         and p.conversation_id == conversation.id and p.who not in typing)
        customer = next((p for p in screen.presence.values()
                         if p.kind is PresenceKind.CUSTOMER_TYPING
                         and p.conversation_id == conversation.id), None)
        if typing:
            names = safe_content(one_line(", ".join(typing), 60), "bold")
            parts += [("⚠ " if screen._typing_sent else "", "$warning"), names,
                      (" " + _("is typing…") if len(typing) == 1 else " " + _("are typing…"),
                       "$warning" if screen._typing_sent else "")]
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

    # Alerts ---------------------------------------------------------------------------

    def _alert(self, way: str, title: str, body: str = "", loud: bool = False) -> None:
        screen = self._host
        if screen.alerter is not None:
            screen.alerter.alert(way, title, body, loud)

    def _mine_or_nobodys(self, conversation: Conversation) -> bool:
        screen = self._host
        assert screen.inbox is not None
        return conversation.assignee in (None, screen.inbox.operator.login)

    @work(exit_on_error=False)
    async def alert_for(self, new_dialogs: set[int], new_messages: set[int]) -> None:
        screen = self._host
        assert screen.inbox is not None
        settings = screen.settings
        for conversation_id in sorted(new_dialogs | new_messages):
            conversation = await screen.inbox.conversation(conversation_id)
            if conversation is None or not self._mine_or_nobodys(conversation):
                continue
            if conversation_id in new_dialogs:
                self._alert(settings.alert_new_dialog, _("New conversation"),
                            f"{conversation.contact_name}: {conversation.preview}")
            else:
                self._alert(settings.alert_new_message, conversation.contact_name,
                            conversation.preview)

    def _sla_alert(self, conversation: Conversation, now: float, first_look: bool) -> bool:
        """Alert once when a dialog is about to breach its target, and once when it has;
        False if no target applies to it (the plain red-wait rule does then)."""
        from opchat.hours import WorkClock  # only with [sla] targets set
        from opchat.sla import BREACHED, OK

        screen = self._host
        if screen._sla_work is None:
            screen._sla_work = WorkClock.of(screen.settings.channels)
        state, due = screen.settings.sla.state(conversation, now, screen._sla_work)
        if due is None:
            return False
        if state == OK:
            return True
        key = (conversation.id, due.at if state == BREACHED else -due.at)
        if key in screen._red_alerted or not self._mine_or_nobodys(conversation):
            return True
        screen._red_alerted.add(key)
        if not first_look:
            what = {"first_response": _("first response"), "next_response": _("answer"),
                    "resolution": _("resolution")}[due.kind]
            body = (_("{what} target missed", what=what) if state == BREACHED
                    else _("{what} due in {left}", what=what,
                           left=short_duration(due.at - now)))
            self._alert(screen.settings.alert_red_wait,
                        _("{name} is waiting", name=conversation.contact_name), body,
                        loud=True)
        return True

    def _check_red_waits(self) -> None:
        screen = self._host
        if screen.inbox is not None and screen.settings.alert_red_wait != "off":
            self._red_waits()

    @work(group="red-waits", exclusive=True, exit_on_error=False)
    async def _red_waits(self) -> None:
        screen = self._host
        assert screen.inbox is not None
        now = screen.clock()
        waiting = await screen.inbox.conversations(
            ConversationFilter(waiting_only=True, order="waiting"), 0, 50)
        first_look, screen._red_looked = not screen._red_looked, True
        sla = screen.settings.sla
        for conversation in waiting:
            since = conversation.waiting_since
            if sla is not None and self._sla_alert(conversation, now, first_look):
                continue
            if since is None or now - since < screen.settings.wait_red:
                if sla is not None:
                    continue  # under targets of their own, the shorter waits may be due
                break  # longest first: the rest waited less
            key = (conversation.id, since)
            if key in screen._red_alerted or not self._mine_or_nobodys(conversation):
                continue
            screen._red_alerted.add(key)
            if not first_look:  # those red at start-up turned red before we were here
                self._alert(screen.settings.alert_red_wait,
                            _("{name} is waiting", name=conversation.contact_name),
                            wait_label(now - since), loud=True)
