"""The list of dialogs: two lines per conversation, any number of them.

A Line-API `ScrollView` (like Textual's `Log`, and toolong's log view):
only the rows on screen are ever turned into strips, and only a window of
rows around them is held in memory. Rows are fetched from the inbox by
page; `render_line` never waits — a row not fetched yet is drawn as a dim
placeholder and its page is requested once.

::

    ▌TG Ivan Petrov             3m      <- icon, name, status, wait (✗ 3m: reply failed)
    ▌   You: I've sent the invoice  2   <- preview, unread count
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from opchat.i18n import _
from opchat.model import Conversation, ConversationFilter, Direction, Status
from opchat.sanitize import one_line, safe_text
from opchat.when import short_duration
from opchat.widgets import (
    InboxScrollView,
    clock_label,
    component_style,
)
from opchat.window import list_mark, time_left

if TYPE_CHECKING:
    from opchat.config import Settings
    from opchat.hours import WorkClock
    from opchat.inbox import Inbox

ROW_HEIGHT = 2
PAGE_ROWS = 40  # rows fetched at once; a screen shows about 10-25
MAX_PAGES = 12  # pages kept; the rest are fetched again when scrolled back to

# Per channel kind: a tag two cells wide, the same in every terminal font (emoji
# widths are not), and its colour.
CHANNEL_TAGS: dict[str, tuple[str, str]] = {
    "telegram": ("TG", "#2aabee"),
    "whatsapp": ("WA", "#25d366"),
    "viber": ("VB", "#7f6cf2"),
    "vk": ("VK", "#5181b8"),
    "max": ("MX", "#6b4dff"),
    "messenger": ("FB", "#0a7cff"),
    "instagram": ("IG", "#e1306c"),
    "email": ("@ ", "#c8a45c"),
    "webchat": ("WB", "#3fb7a4"),
    "demo": ("DE", "#a0a0a0"),
}

STATUS_MARKS: dict[Status, str] = {
    Status.PENDING: "…",
    Status.SNOOZED: "z",
    Status.RESOLVED: "✓",
}


def channel_tag(kind: str) -> tuple[str, str]:
    """The two-cell tag and colour of a channel kind; unknown kinds show their first letter."""
    known = CHANNEL_TAGS.get(kind)
    if known is not None:
        return known
    letter = one_line(kind)[:1].upper() or "?"
    return f"{letter} ", "#a0a0a0"


class Counted(NamedTuple):
    """What the screen's one counts read found for the list (see `ConversationList.reload`)."""

    filter: ConversationFilter
    count: int
    cursor_id: int | None  # the dialog whose place was asked for
    position: int | None  # its index in the list (None: no such dialog)


def wait_label(seconds: float) -> str:
    """ "45s", "3m", "2h", "1d" ("45с"... in Russian): how long a customer has waited."""
    return short_duration(seconds)


class ConversationList(InboxScrollView, can_focus=True):
    """Every conversation the filter lets through, newest activity first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", _("Down"), show=False, id="opchat.list.down"),
        Binding("up,k", "cursor_up", _("Up"), show=False, id="opchat.list.up"),
        Binding("pagedown", "cursor_page_down", _("Page down"), show=False,
                id="opchat.list.page_down"),
        Binding("pageup", "cursor_page_up", _("Page up"), show=False, id="opchat.list.page_up"),
        Binding("home", "cursor_first", _("First"), show=False, id="opchat.list.first"),
        Binding("end", "cursor_last", _("Last"), show=False, id="opchat.list.last"),
        Binding("enter", "open", _("Open"), key_display="⏎", id="opchat.list.open",
                tooltip=_("Open the conversation and answer it")),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation-list--cursor",
        "conversation-list--cursor-blurred",
        "conversation-list--opened",
        "conversation-list--placeholder",
        "conversation-list--unread-name",
        "conversation-list--status",
        "conversation-list--time",
        "conversation-list--wait",
        "conversation-list--wait-amber",
        "conversation-list--wait-red",
        "conversation-list--wait-alert",
        "conversation-list--failed",
        "conversation-list--prefix",
        "conversation-list--preview",
        "conversation-list--badge",
        "conversation-list--empty",
        "conversation-list--viewer",
        "conversation-list--window",
    }

    class Opened(Message):
        """The operator chose a conversation (Enter or a click)."""

        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    class TypedAhead(Message):
        """Text typed or pasted in the list while a conversation is open: it is meant
        for the reply, and the screen moves the focus there with it.

        The app hands keys on one at a time (see `OpchatApp._feed_keys`), so once
        the first letter has gone to the reply box, the rest of the burst — j and
        k included — is typed there too.
        """

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self,
        settings: Settings,
        clock,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(settings, clock, name=name, id=id, classes=classes)
        self.inbox: Inbox | None = None
        self.filter = ConversationFilter()
        self.row_count = 0
        self.loaded = False
        self.cursor = 0
        self.cursor_id: int | None = None
        self.opened_id: int | None = None
        self.viewers: dict[int, list[str]] = {}
        self.windows: dict[str, int] = {}  # channel name -> reply window (seconds)
        # Each channel's working hours, for service-level targets counted in them.
        self._work: WorkClock | None = None
        if settings.sla is not None:  # hours and zoneinfo load only with targets set
            from opchat.hours import WorkClock

            self._work = WorkClock.of(settings.channels)
        # Keys the list acts on itself; any other letter is typed ahead into the reply.
        self._bound_keys = frozenset(
            key for b in self.BINDINGS if isinstance(b, Binding) for key in b.key.split(","))
        self._pages: OrderedDict[int, list[Conversation]] = OrderedDict()
        self._requested: set[int] = set()
        self._generation = 0  # bumped by every reload; older page fetches are dropped
        # Dialogs read while rows were being fetched: their fetched badges may be stale.
        self._read_marks: list[int] = []
        self._fetching = 0
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)
        # The widget's base style ("") and its components' (see `_part`), as the styles
        # stand: Textual works each out anew when asked (~30 µs for the base, walking the
        # ancestors), and every line asks. Cleared with the strips when the styles change.
        self._styles: dict[str, Style] = {}

    # Data in ----------------------------------------------------------------------------

    def attach(self, inbox: Inbox, after: Callable[[], None] | None = None) -> None:
        """Start showing what `inbox` holds (``after``: as `reload`'s)."""
        self.inbox = inbox
        self.reload(after=after)

    def reload(self, counted: Counted | None = None,
               after: Callable[[], None] | None = None) -> None:
        """Fetch the count and the rows on screen again (after a change event).

        The cursor stays on the same conversation, wherever it moved to. Rows
        stay on screen until their new version arrives, so a reload never
        flickers placeholders. ``counted``: the count and the cursor's place,
        read already; only the rows are fetched then. ``after`` is called once
        the rows are in (or as soon as they will not come): reads that can wait
        for the rows, so as not to delay their frame.
        """
        if self.inbox is None:
            return
        self.run_worker(self._reload(counted, after), group="list-reload", exclusive=True,
                        exit_on_error=False)

    async def _reload(self, counted: Counted | None = None,
                      after: Callable[[], None] | None = None) -> None:
        inbox = self.inbox
        assert inbox is not None
        flt = self.filter
        if counted is not None and counted.filter != flt:
            counted = None  # counted for the view shown before
        since = self._fetch_started()
        try:
            count = await inbox.count(flt) if counted is None else counted.count
            position = (counted.position if counted is not None
                        and counted.cursor_id == self.cursor_id else None)
            first_row = int(self.scroll_y) // ROW_HEIGHT
            if position is not None and self._row_visible(self.cursor):
                # The cursor will follow its dialog: fetch the rows shown then.
                first_row = self._first_row_showing(position, count)
            last_row = first_row + max(self.size.height, 1) // ROW_HEIGHT + 1
            wanted = set(range(first_row // PAGE_ROWS, last_row // PAGE_ROWS + 1))
            cursor_row = self.cursor if position is None else position
            wanted.add(min(cursor_row, max(count - 1, 0)) // PAGE_ROWS)
            pages: dict[int, list[Conversation]] = {}
            for page in sorted(wanted):
                if page * PAGE_ROWS < count or page == 0:
                    pages[page] = await inbox.conversations(flt, page * PAGE_ROWS, PAGE_ROWS)
            cursor, cursor_id = min(self.cursor, max(count - 1, 0)), None
            if self.cursor_id is not None:
                found = _find(pages, self.cursor_id)
                if found is None:
                    if counted is not None and counted.cursor_id == self.cursor_id:
                        found = counted.position
                    else:
                        found = await inbox.position(self.cursor_id, flt)
                if found is not None:
                    cursor, cursor_id = found, self.cursor_id
            pages = {page: self._read_since(since, rows) for page, rows in pages.items()}
        except BaseException:
            if after is not None:
                after()  # replaced by a newer reload, or failed
            raise
        finally:
            self._fetch_ended()
        was_visible = self._row_visible(self.cursor)
        self._generation += 1
        self._pages = OrderedDict(sorted(pages.items()))
        self._requested.clear()
        self.row_count = count
        self.loaded = True
        self.virtual_size = Size(0, count * ROW_HEIGHT)
        for page, rows in pages.items():
            self._end_at(page, rows)
        cursor = min(cursor, max(self.row_count - 1, 0))
        self.cursor = cursor
        if cursor_id is None:
            row = _row_at(self._pages, cursor)
            cursor_id = row.id if row is not None else None
        self.cursor_id = cursor_id
        if was_visible:
            self._show_row(cursor)
        self.refresh()
        if after is not None:
            after()

    def show_first(self, count: int, rows: list[Conversation]) -> None:
        """The count and the first page, read before the store was open (the CLI's
        FirstPageReader) with the filter the list starts with: drawn in the first frame.
        Ignored once the list has loaded, or if they do not fit together."""
        if (self.loaded or self.inbox is not None or self.filter != ConversationFilter()
                or len(rows) > min(count, PAGE_ROWS)
                or (len(rows) < PAGE_ROWS and len(rows) != count)):
            return
        self._pages = OrderedDict({0: list(rows)})
        self.row_count = count
        self.loaded = True
        self.virtual_size = Size(0, count * ROW_HEIGHT)
        self.cursor = 0
        self.cursor_id = rows[0].id if rows else None
        self.refresh()

    def _first_row_showing(self, index: int, count: int) -> int:
        """The first row on screen once row ``index`` is scrolled into view."""
        height = max(self.size.height, 1)
        top, scroll = index * ROW_HEIGHT, int(self.scroll_y)
        if top < scroll:
            scroll = top
        elif top + ROW_HEIGHT > scroll + height:
            scroll = top + ROW_HEIGHT - height
        return max(0, min(scroll, count * ROW_HEIGHT - height)) // ROW_HEIGHT

    def mark_read(self, conversation_id: int) -> None:
        """The dialog was read: its badge goes. Its place, the count and every view's
        count stay (a read mark changes only ``unread``), so nothing is fetched."""
        if self._fetching:
            self._read_marks.append(conversation_id)
        for rows in self._pages.values():
            for offset, row in enumerate(rows):
                if row.id == conversation_id and row.unread:
                    rows[offset] = replace(row, unread=0)
        self.refresh()

    def _fetch_started(self) -> int:
        self._fetching += 1
        return len(self._read_marks)

    def _fetch_ended(self) -> None:
        self._fetching -= 1
        if not self._fetching:
            self._read_marks.clear()

    def _read_since(self, since: int, rows: list[Conversation]) -> list[Conversation]:
        """``rows`` as fetched, without the badges read since the fetch began."""
        read = set(self._read_marks[since:])
        if not read:
            return rows
        return [replace(row, unread=0) if row.id in read else row for row in rows]

    def _request_page(self, page: int) -> None:
        if page in self._requested or self.inbox is None:
            return
        self._requested.add(page)
        self.run_worker(self._fetch_page(page, self._generation), group="list-page",
                        exit_on_error=False)

    async def _fetch_page(self, page: int, generation: int) -> None:
        assert self.inbox is not None
        since = self._fetch_started()
        try:
            rows = await self.inbox.conversations(self.filter, page * PAGE_ROWS, PAGE_ROWS)
            rows = self._read_since(since, rows)
        finally:
            self._fetch_ended()
        if generation != self._generation:
            return
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        self._requested.discard(page)
        self._end_at(page, rows)
        if self.cursor_id is None:
            row = _row_at(self._pages, self.cursor)
            self.cursor_id = row.id if row else None
        self.refresh()

    def _end_at(self, page: int, rows: list[Conversation]) -> None:
        """A short page is the end of the list, whatever the count said.

        The count and the pages are read at different moments (and a row the
        listing cannot join is counted all the same); trusting the count would
        ask for the missing rows again and again.
        """
        if len(rows) < PAGE_ROWS and page * PAGE_ROWS + len(rows) < self.row_count:
            self.row_count = page * PAGE_ROWS + len(rows)
            self.virtual_size = Size(0, self.row_count * ROW_HEIGHT)
            if self.cursor >= self.row_count:
                self.move_cursor(self.row_count - 1)

    def set_filter(self, flt: ConversationFilter) -> None:
        """Show another view of the conversations (the cursor stays on its dialog if
        the new view has it)."""
        if flt != self.filter:
            self.filter = flt
            self._pages.clear()
            self._requested.clear()
            self.reload()

    def set_windows(self, windows: dict[str, int]) -> None:
        """Each channel's reply window in seconds (see ``Channel.reply_window``): dialogs
        whose window closes soon, or has closed, are marked ⌛."""
        if windows != self.windows:
            self.windows = windows
            self.refresh()

    def _window_mark(self, row: Conversation, now: float) -> str:
        if row.status not in (Status.OPEN, Status.PENDING):
            return ""
        return list_mark(time_left(row, self.windows.get(row.channel_name, 0), now))

    def set_viewers(self, viewers: dict[int, list[str]]) -> None:
        """Other operators who have each dialog open (they show after its name)."""
        if viewers != self.viewers:
            self.viewers = viewers
            self.refresh()

    def row(self, index: int) -> Conversation | None:
        """The conversation at `index` if its page is in memory."""
        return _row_at(self._pages, index)

    def set_opened(self, conversation_id: int | None) -> None:
        self.opened_id = conversation_id
        self.refresh()

    # Cursor -----------------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        if self.row_count == 0:
            return
        index = max(0, min(index, self.row_count - 1))
        self.cursor = index
        row = self.row(index)
        self.cursor_id = row.id if row else None
        self._show_row(index)
        self.refresh()

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.size.height // ROW_HEIGHT - 1))

    def action_cursor_page_up(self) -> None:
        self.move_cursor(self.cursor - max(1, self.size.height // ROW_HEIGHT - 1))

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_open(self) -> None:
        row = self.row(self.cursor)
        if row is not None:
            self.opened_id = row.id
            self.post_message(self.Opened(row))

    def on_key(self, event: events.Key) -> None:
        bound = self._bound_keys
        if (self.opened_id is not None and event.is_printable and event.character
                and event.key not in bound and event.character not in bound
                and event.character != "?"):  # "?" opens the help from the list
            event.stop()
            event.prevent_default()
            self.post_message(self.TypedAhead(event.character))

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        if self.opened_id is None:
            self.notify(_("Open a conversation first."), markup=False, timeout=3)
        elif event.text:
            self.post_message(self.TypedAhead(event.text))

    def step(self, delta: int) -> Conversation | None:
        """Move the cursor by `delta` and return the conversation now under it."""
        self.move_cursor(self.cursor + delta)
        return self.row(self.cursor)

    def _row_visible(self, index: int) -> bool:
        top = index * ROW_HEIGHT
        return self.scroll_y <= top and top + ROW_HEIGHT <= self.scroll_y + self.size.height

    def _show_row(self, index: int) -> None:
        region = Region(0, index * ROW_HEIGHT, max(self.size.width, 1), ROW_HEIGHT)
        self.scroll_to_region(region, animate=False, immediate=True, force=True)

    async def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = (offset.y + int(self.scroll_y)) // ROW_HEIGHT
        if 0 <= index < self.row_count:
            self.focus()
            self.move_cursor(index)
            self.action_open()

    # Drawing ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        # Waiting times move on their own; the rows are redrawn from memory.
        self.set_interval(1.0, self.refresh, name="list-tick")

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _part(self, component: str) -> Style:
        found = self._styles.get(component)
        if found is None:
            found = self._styles[component] = component_style(self, component)
        return found

    def _base_style(self) -> Style:
        found = self._styles.get("")
        if found is None:
            found = self._styles[""] = self.rich_style
        return found

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_y) + y
        index, part = divmod(line, ROW_HEIGHT)
        base = self._base_style()
        if self.row_count == 0:
            return self._empty_line(y, width, base)
        if index >= self.row_count:
            return Strip.blank(width, base)
        row = self.row(index)
        if row is None:
            self._request_page(index // PAGE_ROWS)
            style = base + self._part("conversation-list--placeholder")
            text = "  ···" if part == 0 else ""
            return Strip([Segment(text.ljust(width), style)], width)
        now = self.clock()
        sla, sla_state = self._sla_mark(row, now)
        label, level = self._right_label(row, now, sla_state)
        # The focus is in the key rather than in a :focus rule: a pseudo-class change
        # does not reliably reach the component styles before the next paint.
        cursor = index == self.cursor
        focused = cursor and self.has_focus
        viewers = tuple(self.viewers.get(row.id, ()))
        window = self._window_mark(row, now) if part else ""
        key = (row, width, part, cursor, focused, row.id == self.opened_id, label, level,
               viewers, window, sla)
        strip = self._strips.get(key)
        if strip is None:
            text = (self._first_line(row, width, label, level) if part == 0
                    else self._second_line(row, width, window, (sla, sla_state)))
            if cursor:
                component = ("conversation-list--cursor" if focused
                             else "conversation-list--cursor-blurred")
                text.stylize_before(self.get_component_rich_style(component))
            text.stylize_before(base)
            strip = Strip(list(text.render(self.app.console)), width)
            self._strips[key] = strip
        return strip

    def _empty_line(self, y: int, width: int, base: Style) -> Strip:
        lines = self._empty_lines(width)
        if not 1 <= y <= len(lines):
            return Strip.blank(width, base)
        text = Text(lines[y - 1], style=self._part("conversation-list--empty"))
        text.truncate(width - 1, overflow="ellipsis")
        text = Text(" ") + text
        text.truncate(width, pad=True)
        text.stylize_before(base)
        return Strip(list(text.render(self.app.console)), width)

    def _empty_lines(self, width: int) -> list[str]:
        """An empty inbox (the All view) says what to do next: a first start."""
        if not self.loaded:
            return [_("Loading…")]
        if self.filter.at_risk:
            return [_("Nobody is near a target")]
        if self.filter != ConversationFilter():
            return [_("No conversations yet")]
        import textwrap

        from opchat.first_start import next_steps

        lines = [_("No conversations yet")]
        for step in next_steps(self.settings.channels):
            lines += ["", *textwrap.wrap(step, max(width - 2, 10), break_long_words=False,
                                         break_on_hyphens=False)]
        return lines

    def _sla_mark(self, row: Conversation, now: float) -> tuple[str, str]:
        """The dialog's service-level mark ("SLA 45s" about to breach, "SLA ✗" breached)
        and its state ("" when no target applies)."""
        sla = self.settings.sla
        if sla is None:
            return "", ""
        from opchat.sla import BREACHED, SOON

        state, due = sla.state(row, now, self._work)
        if due is None:
            return "", ""
        if state == BREACHED:
            return _("SLA ✗"), state
        if state == SOON:
            return _("SLA {left}", left=short_duration(due.at - now)), state
        return "", state

    def _right_label(self, row: Conversation, now: float,
                     sla: str = "") -> tuple[str, str]:
        """The right-hand text of line 1 and the component style it takes; a dialog
        under a service-level target (``sla``: its state) is coloured by it."""
        if row.waiting_since is None:
            return clock_label(row.last_message_at, now), "time"
        waited = now - row.waiting_since
        settings = self.settings
        if sla:
            from opchat.sla import BREACHED, SOON

            level = {BREACHED: "wait-alert", SOON: "wait-red"}.get(sla, "wait")
        elif waited >= settings.wait_alert:
            level = "wait-alert"
        elif waited >= settings.wait_red:
            level = "wait-red"
        elif waited >= settings.wait_amber:
            level = "wait-amber"
        else:
            level = "wait"
        return wait_label(waited), level

    def _gutter(self, row: Conversation) -> Text:
        gutter = Text()  # not Text(..., style=): a base style would cover the whole line
        if row.id == self.opened_id:
            gutter.append("▌", style=self._part("conversation-list--opened"))
        else:
            gutter.append(" ")
        return gutter

    def _first_line(self, row: Conversation, width: int, label: str, level: str) -> Text:
        tag, colour = channel_tag(row.channel_kind)
        left = self._gutter(row)
        left.append(tag, style=Style(color=colour, bold=True))
        left.append(" ")
        name_style = (self._part("conversation-list--unread-name")
                      if row.unread else "")
        left.append_text(safe_text(one_line(row.contact_name, 200) or "—", style=name_style))
        mark = STATUS_MARKS.get(row.status)
        if mark:
            left.append(" " + mark, style=self._part("conversation-list--status"))
        right = Text(f" {label} ", style=self._part(f"conversation-list--{level}"))
        if row.failed_message_id is not None:
            # The last reply failed: the customer still waits. On the right, with the
            # wait, so a long name never cuts it off.
            right = Text(f" ✗ {label} ", style=self._part("conversation-list--failed"))
        viewers = self.viewers.get(row.id)
        if viewers:
            # Someone else has it open: shown before the time, so it is never cut off.
            more = f"+{len(viewers) - 1}" if len(viewers) > 1 else ""
            right = Text.assemble(
                (f" ◉{one_line(viewers[0], 12)}{more}",
                 self._part("conversation-list--viewer")), right)
        return _fit(left, right, width)

    def _second_line(self, row: Conversation, width: int, window: str = "",
                     sla: tuple[str, str] = ("", "")) -> Text:
        left = self._gutter(row)
        left.append("   ")
        own = self.inbox is None or row.preview_author in ("", self.inbox.operator.login)
        prefix = {
            Direction.OUT: _("You: ") if own else f"{one_line(row.preview_author, 20)}: ",
            Direction.NOTE: _("Note: "),
            Direction.AUTO: _("Auto: "),
        }.get(row.preview_direction)
        if prefix:
            left.append(prefix, style=self._part("conversation-list--prefix"))
        preview_style = self._part("conversation-list--preview")
        left.append_text(safe_text(one_line(row.preview, max(width, 1)), style=preview_style))
        right = Text()
        if sla[0]:  # a service-level target about to be breached, or breached
            from opchat.sla import BREACHED

            right = Text(f" {sla[0]}", style=self._part(
                "conversation-list--wait-alert" if sla[1] == BREACHED
                else "conversation-list--wait-red"))
        if window:  # the reply window closes soon: say so before the unread count
            right += Text(f" {window}", style=self._part("conversation-list--window"))
        if row.unread:
            badge = str(row.unread) if row.unread < 1000 else "999+"
            right += Text(" ") + Text(f" {badge} ",
                                      style=self._part("conversation-list--badge"))
        return _fit(left, right, width)


def _fit(left: Text, right: Text, width: int) -> Text:
    """`left` cut with an ellipsis where needed, then `right` flush against the edge."""
    room = max(width - right.cell_len, 0)
    left.truncate(room, overflow="ellipsis", pad=True)
    line = left + right
    line.truncate(width, pad=True)
    line.no_wrap = True
    line.end = ""
    return line


def _row_at(pages: dict[int, list[Conversation]], index: int) -> Conversation | None:
    page = pages.get(index // PAGE_ROWS)
    if page is None:
        return None
    offset = index % PAGE_ROWS
    return page[offset] if offset < len(page) else None


def _find(pages: dict[int, list[Conversation]], conversation_id: int) -> int | None:
    for page, rows in pages.items():
        for offset, row in enumerate(rows):
            if row.id == conversation_id:
                return page * PAGE_ROWS + offset
    return None
