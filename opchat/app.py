"""The Textual app: opens the inbox after the first frame and keeps the screen current.

Start-up order matters: the screen is composed and drawn first, with the
list's first page when the CLI read it ahead (`first_page`: the store's rows,
read on a thread while Textual loaded); then a worker opens the store
(`open_inbox`), loads the list again through it, and starts

* the change follower: `inbox.changes()` batches are coalesced into at most
  one redraw per `REDRAW_INTERVAL` (a flood of events costs one reload);
* the hub, when the CLI gave one: `run_hub(inbox, on_role)` runs until the
  app exits and says whether this process runs the channels ("hub") or
  another one does ("follower").

Keys are handled one at a time, in the order typed. A terminal delivers a
fast typist's burst (or tmux's send-keys) all at once, and Textual would hand
every key of it to the widget focused at that instant: the text typed after
Enter in the list went to the list, a newline typed between two letters came
after both. So the app queues what the terminal sends (`on_event`) and
`_feed_keys` passes on the next key only once the screens have handled
everything the previous one set off, and the dialog it opened has its draft
(`InboxScreen.ready_for_keys`) — at most `KEY_SETTLE_LIMIT` later, so a slow
store never swallows the keyboard.

The UI never imports a transport, never runs SQL and never starts the hub
itself. Every worker's failure ends up in `on_work_failed`: logged with its
traceback to the log file, shown to the operator as one line.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message_pump import MessagePump
from textual.worker import Worker

from opchat.i18n import _
from opchat.sanitize import one_line
from opchat.screens.inbox import InboxScreen
from opchat.widgets import ReportsWorkerErrors, WorkFailed, translate_bindings
from opchat.widgets.composer import Composer, register_terminal_keys
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.thread_view import ThreadView

if TYPE_CHECKING:
    from textual.screen import Screen

    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import Conversation, Event

log = logging.getLogger("opchat.ui")

REDRAW_INTERVAL = 0.05  # seconds; change events arriving faster are drawn together
# Seconds a key waits at most for the screen to finish with the key before it.
KEY_SETTLE_LIMIT = 1.0

OpenInbox = Callable[[], Awaitable["Inbox"]]
RunHub = Callable[["Inbox", Callable[[str], None]], Awaitable[None]]
# The list's count and first rows, read before the store is open (the CLI's
# FirstPageReader), or None.
FirstPage = Callable[[], "tuple[int, list[Conversation]] | None"]


class OpchatApp(ReportsWorkerErrors, App[None]):
    TITLE = "opchat"
    CSS_PATH: ClassVar[list[str]] = [
        "app.tcss",
        "widgets/conversation_list.tcss",
        "widgets/thread_view.tcss",
        "widgets/composer.tcss",
        "widgets/status_bar.tcss",
    ]  # a screen opened later brings its own (screens/help.tcss...)
    # Ctrl+P is "previous conversation"; Textual's own command palette moves to F2.
    COMMAND_PALETTE_BINDING = "f2"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), key_display="^q", priority=True, id="opchat.quit",
                tooltip=_("Quit opchat")),
        Binding("f1", "help", _("Help"), id="opchat.help", tooltip=_("Show every key")),
        Binding("question_mark", "help", _("Help"), show=False, id="opchat.help_question",
                tooltip=_("Show every key (not while typing)")),
        Binding("f2", "command_palette", _("Commands"), show=False, id="opchat.commands",
                tooltip=_("Textual's command palette: theme, keys, screenshot")),
    ]

    def __init__(
        self,
        settings: Settings,
        open_inbox: OpenInbox,
        run_hub: RunHub | None = None,
        clock: Callable[[], float] = time.time,
        demo: bool = False,
        first_page: FirstPage | None = None,
        after_first_frame: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        translate_bindings(self)
        register_terminal_keys()
        self.settings = settings
        self.open_inbox = open_inbox
        self.run_hub = run_hub
        self.clock = clock
        self.demo = demo
        self.first_page = first_page
        self.after_first_frame = after_first_frame  # called once, when the frame is out
        self.inbox: Inbox | None = None
        self.role: str | None = None
        self._pending: list[Event] = []
        self._flush_timer = None
        self._last_flush = 0.0
        self._follower: Worker | None = None
        self._presence: Worker | None = None
        self._hub: Worker | None = None
        self._keys: asyncio.Queue[events.Key | events.Paste] | None = None

    def get_default_screen(self) -> InboxScreen:
        self.inbox_screen = InboxScreen(self.settings, self.clock, demo=self.demo,
                                        first_page=self.first_page)
        return self.inbox_screen

    def on_mount(self) -> None:
        if self.settings.keymap:  # the config's [keymap]: binding id -> keys
            self.set_keymap(self.settings.keymap)
        self._keys = asyncio.Queue()
        self.run_worker(self._feed_keys(), name="keys", group="keys", exit_on_error=False)
        # Open the store only once the first frame is on the terminal.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        if self.after_first_frame is not None:
            self.after_first_frame, after = None, self.after_first_frame
            after()
        self.run_worker(self._open(), name="open", group="startup", exit_on_error=False)

    async def _open(self) -> None:
        try:
            inbox = await self.open_inbox()
        except Exception as error:
            log.error("cannot open the inbox: %s", error, exc_info=True)
            self.report(_("Cannot open the inbox: {error}", error=str(error)))
            return
        self.inbox = inbox
        from opchat.alerts import Alerter

        self.inbox_screen.alerter = Alerter(self._write_to_terminal)
        self.inbox_screen.attach(inbox)
        self._follower = self.run_worker(self._follow(inbox), name="follow", group="follow",
                                         exit_on_error=False)
        self._presence = self.run_worker(self._follow_presence(inbox), name="presence",
                                         group="follow", exit_on_error=False)
        if self.run_hub is not None:
            self._hub = self.run_worker(self.run_hub(inbox, self.on_role), name="hub",
                                        group="hub", exit_on_error=False)

    async def on_unmount(self) -> None:
        if self.inbox is not None:
            # Colleagues should not see us "viewing" or "typing" after we have gone,
            # and what was typed stays for next time.
            try:
                await self.inbox_screen.keep_draft()
                await self.inbox.leave()
            except Exception:
                log.warning("could not say goodbye to the inbox", exc_info=True)
        workers = (self._hub, self._follower, self._presence)
        for worker in workers:
            if worker is not None:
                worker.cancel()
        for worker in workers:
            if worker is not None:
                try:
                    await asyncio.wait_for(worker.wait(), 5)
                except Exception:
                    pass
        if self.inbox is not None:
            try:
                await self.inbox.close()
            except Exception:
                log.warning("closing the inbox failed", exc_info=True)

    # Keys, one at a time ----------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if (self._keys is not None and isinstance(event, (events.Key, events.Paste))
                and not event.is_forwarded):
            self._keys.put_nowait(event)  # from the terminal: handled in turn by _feed_keys
            return
        await super().on_event(event)

    async def _feed_keys(self) -> None:
        assert self._keys is not None
        while True:
            event = await self._keys.get()
            try:
                await self._settle()
                dispatched = asyncio.Event()
                if self.call_later(self._dispatch_input, event, dispatched):
                    await asyncio.wait_for(dispatched.wait(), KEY_SETTLE_LIMIT)
            except TimeoutError:
                log.warning("a key took more than %ss to handle", KEY_SETTLE_LIMIT)
            except Exception:
                log.error("could not pass on a key", exc_info=True)

    async def _dispatch_input(self, event: events.Key | events.Paste,
                              dispatched: asyncio.Event) -> None:
        try:
            await super().on_event(event)  # Textual's own: priority bindings, then the focus
        finally:
            dispatched.set()

    def _pumps(self) -> list[MessagePump]:
        pumps: list[MessagePump] = [self]
        for screen in self.screen_stack:
            pumps.extend(screen.walk_children(with_self=True))
        return pumps

    async def _settle(self) -> None:
        """Return once the screens have handled every message the last key set off.

        A key's effects travel as messages (a key bubbling up to its bindings, `Opened`
        from the list to the screen, the focus moving), so this waits, round after
        round, for every widget with messages queued to get through them.
        """
        deadline = time.monotonic() + KEY_SETTLE_LIMIT
        while (left := deadline - time.monotonic()) > 0:
            busy = [pump for pump in self._pumps() if pump.message_queue_size]
            try:
                if busy:
                    await asyncio.wait_for(_handled(busy), left)
                elif not self.inbox_screen.ready_for_keys.is_set():  # a draft is loading
                    await asyncio.wait_for(self.inbox_screen.ready_for_keys.wait(), left)
                else:
                    await asyncio.sleep(0)  # a pump just woken has not taken its message yet
                    if not any(pump.message_queue_size for pump in self._pumps()):
                        return
            except TimeoutError:
                return

    # The hub's role ---------------------------------------------------------------------

    def on_role(self, role: str) -> None:
        """Called by the hub runner: "hub" or "follower" (from any thread)."""
        if threading.get_ident() == self._thread_id:
            self._set_role(role)
        else:
            self.call_from_thread(self._set_role, role)

    def _set_role(self, role: str) -> None:
        self.role = role
        self.inbox_screen.status_bar.set_role(role)

    # Following changes ------------------------------------------------------------------

    async def _follow(self, inbox: Inbox) -> None:
        async for batch in inbox.changes():
            self._pending.extend(batch)
            self._schedule_flush()

    async def _follow_presence(self, inbox: Inbox) -> None:
        self.inbox_screen.apply_presence(await inbox.presence())
        async for rows in inbox.presence_changes():
            self.inbox_screen.apply_presence(rows)

    def _write_to_terminal(self, data: str) -> None:
        # As Textual's own bell() and copy_to_clipboard() do; headless apps have no driver.
        if not self.is_headless and self._driver is not None:
            self._driver.write(data)

    def _schedule_flush(self) -> None:
        if self._flush_timer is not None:
            return
        # (A zero interval would divide by zero inside Textual's timer.)
        wait = max(0.001, REDRAW_INTERVAL - (time.monotonic() - self._last_flush))
        self._flush_timer = self.set_timer(wait, self._flush_events, name="redraw")

    def _flush_events(self) -> None:
        self._flush_timer = None
        self._last_flush = time.monotonic()
        events, self._pending = self._pending, []
        # A redraw timer can fire while the app closes and its panes are already gone.
        if events and self.inbox_screen.query(ConversationList):
            self.inbox_screen.apply_events(events)
            # (The statistics screen's module is imported when it first opens.)
            stats = sys.modules.get("opchat.screens.stats")
            if stats is not None and isinstance(self.screen, stats.StatsScreen):
                self.screen.changed({str(event.kind) for event in events})

    # Errors -----------------------------------------------------------------------------

    def on_work_failed(self, event: WorkFailed) -> None:
        """Where every failed worker ends up: the traceback to the log, a line to the operator."""
        error = event.error
        log.error("%s failed: %s", event.worker.name or "a task", error,
                  exc_info=(type(error), error, error.__traceback__))
        summary = str(error) or type(error).__name__
        self.report(_("Something went wrong: {error}", error=summary))

    def report(self, summary: str) -> None:
        """Show a one-line summary of a failure in the status bar and a toast."""
        summary = one_line(summary, 300)  # an exception's text may quote what a platform sent
        try:
            self.inbox_screen.status_bar.show_error(summary)
        except Exception:
            pass
        self.notify(summary, severity="error", markup=False, timeout=8)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands (theme, keys, screenshot), and opchat's screens."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, InboxScreen) and screen.inbox is not None:
            yield SystemCommand(_("Statistics"),
                                _("How fast customers are answered: response times, missed "
                                  "dialogs (Alt+S)"), screen.action_stats)

    # Help -------------------------------------------------------------------------------

    def action_help(self) -> None:
        from opchat.screens.help import HelpScreen  # screens opened later load then
        from opchat.screens.stats import StatsScreen

        if isinstance(self.screen, HelpScreen):
            return
        groups = [
            (_("Anywhere"), [*InboxScreen.BINDINGS, *self.BINDINGS]),
            (_("Conversation list"), ConversationList.BINDINGS),
            (_("Messages (after Alt+2, or Up from the reply box)"), ThreadView.BINDINGS),
            (_("Reply box"), Composer.BINDINGS),
            (_("Statistics (Alt+S)"), StatsScreen.BINDINGS),
        ]
        extra = [(_("Editing the reply"), [
            (_("arrows, Home, End"), _("move the cursor")),
            ("Ctrl+Z, Ctrl+Y", _("undo, redo")),
            ("Ctrl+W, Ctrl+U, Ctrl+K", _("delete a word, to the line start, to the line end")),
            ("Up", _("on the first line: go to the messages")),
            ("Alt+B", _("a word left")),
            (_("a letter in the list"),
             _("goes to the open dialog's reply box, and so does everything typed after it "
               "(j and k too)")),
            ("Tab, Shift+Tab", _("next, previous pane")),
            (_("/ and a shortcut"), _("quick replies as you type; Tab or Enter inserts")),
            (_("1–9 in the palette (nothing typed)"),
             _("insert one of the nine most used replies")),
        ])]
        if self.settings.reply_keys:
            extra.append((_("Quick replies on keys (config [reply_keys])"), [
                (keys, f"/{shortcut}") for shortcut, keys in self.settings.reply_keys.items()]))
        self.push_screen(HelpScreen(groups, extra))  # type: ignore[arg-type]


async def _handled(pumps: list[MessagePump]) -> None:
    """Wait until each of `pumps` has handled the messages it has queued now."""
    waits = []
    for pump in pumps:
        done = asyncio.Event()
        if pump.call_later(done.set):
            waits.append(done.wait())
    await asyncio.gather(*waits)
