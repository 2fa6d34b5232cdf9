"""One conversation's messages, oldest at the top, newest at the bottom.

A Line-API `ScrollView`: each message is a block of lines (header, body
wrapped to the width, notes). Laying the thread out counts every block's
lines, most without drawing them (a header and a text: the text's wrap is
counted on its plain characters), and `render_line` draws a block into
strips only when one of its lines is first on screen, once per width.
Opening a long dialog so draws the dozen messages the view shows, not the
hundred of the page. Opening a conversation fetches its newest page;
scrolling near the top fetches the page before and prepends it without
moving what is on screen.

Messages can be selected (when the thread has focus) and acted on: retry a
failed reply, open the whole text in the pager, copy it.

What the platform said about a message is shown with it, whatever the channel
(see `opchat.model.MESSAGE_META`): the message it replies to as a dim quote
under its header, where it was forwarded from, and edits. An edit is stored as
a message of its own (`edit_of_id`); the thread shows the original with the
newest text and "edited", and the edit itself only where other messages came
in between, so that a late change is not missed. `o` shows every version.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from bisect import bisect_right
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.app import SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message as TextualMessage
from textual.strip import Strip

from opchat.i18n import _, current_language, ngettext
from opchat.model import Conversation, Direction, MessageState
from opchat.sanitize import cap, clean, one_line, safe_text
from opchat.widgets import (
    InboxScrollView,
    clock_label,
    component_style,
)
from opchat.widgets.frame_hold import FrameHold, frame_hold

try:  # Text.wrap's own step, private to Rich: without it every block is drawn to count it
    from rich._wrap import divide_line
except ImportError:  # pragma: no cover
    divide_line = None

if TYPE_CHECKING:
    from opchat.config import Settings
    from opchat.inbox import Inbox
    from opchat.model import Message

PAGE = 100  # messages fetched at once
# How long opening a dialog holds the app's frame for its first page: a person takes
# 100 ms as at once, and a page read from SQLite takes a few (see `ThreadView.show`).
HOLD_FRAME = 0.1
GUTTER = 1  # the column that marks the selected message
OLDER_MARGIN = 10  # lines from the top at which the previous page is fetched

STATE_GLYPHS: dict[MessageState, str] = {
    MessageState.QUEUED: "◷",
    MessageState.SENT: "✓",
    MessageState.DELIVERED: "✓✓",
    MessageState.READ: "✓✓",
    MessageState.FAILED: "✗",
}


def state_name(state: MessageState) -> str:
    return {
        MessageState.QUEUED: _("queued"),
        MessageState.SENT: _("sent"),
        MessageState.DELIVERED: _("delivered"),
        MessageState.READ: _("read"),
        MessageState.FAILED: _("failed"),
        MessageState.RECEIVED: "",
    }[state]


class Shown(NamedTuple):  # not a dataclass: ~0.1 ms to create instead of ~0.5 at start
    """What a message's block shows besides the message itself; part of the cache key."""

    latest: Message | None = None  # its newest edit, whose text is shown instead
    quote: tuple[str, str] | None = None  # (author or "", text) of what it replies to
    edit_of: Message | None = None  # an edit shown where it arrived: the message it changed
    edit_of_unknown: bool = False  # ...which is not (yet) at hand
    folded: bool = False  # an edit shown by its original: no lines of its own


PLAIN = Shown()  # the message alone


class Block:
    """One message's lines at one width: how many, known before they are drawn.

    A plain class: a dataclass costs ~0.4 ms to create, paid before the first frame."""

    __slots__ = ("height", "retrying", "strips", "unfolded")

    def __init__(self, height: int, strips: list[Strip] | None = None,
                 retrying: str | None = None, unfolded: bool = False) -> None:
        self.height = height
        self.strips = strips  # drawn when first on screen
        # What it is drawn with besides the message and the width (see `_relayout`'s key).
        self.retrying = retrying  # why the outbox waits, when it retries
        self.unfolded = unfolded  # an e-mail shown whole


def group_digits(n: int) -> str:
    """3200 -> "3,200" (English) or "3 200" (Russian, with a no-break space)."""
    text = f"{n:,}"
    return text.replace(",", "\u00a0") if current_language() == "ru" else text


class ThreadView(InboxScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "select_previous", _("Previous message"), show=False,
                id="opchat.thread.previous"),
        Binding("down,j", "select_next", _("Next message"), show=False,
                id="opchat.thread.next"),
        Binding("home", "select_first", _("First message"), show=False,
                id="opchat.thread.first"),
        Binding("end", "select_last", _("Last message"), show=False, id="opchat.thread.last"),
        Binding("pageup", "page_up", _("Page up"), show=False, id="opchat.thread.page_up"),
        Binding("pagedown", "page_down", _("Page down"), show=False,
                id="opchat.thread.page_down"),
        Binding("r", "retry", _("Retry"), id="opchat.thread.retry",
                tooltip=_("Send a failed message again")),
        Binding("o", "open_message", _("Open"), id="opchat.thread.open",
                tooltip=_("Open the whole message in $PAGER")),
        Binding("y", "copy_message", _("To clipboard"), id="opchat.thread.copy",
                tooltip=_("Copy the message text to the clipboard")),
        # Not in the footer: it would not fit 80 columns in Russian. F1 and the README list it.
        Binding("f", "open_file", _("File"), show=False, id="opchat.thread.file",
                tooltip=_("Open the file sent with the message (fetched first if needed); "
                          "over SSH, its path")),
        Binding("h", "hide_message", _("Hide"), show=False, id="opchat.thread.hide",
                tooltip=_("Hide the message (asks first; opchat audit keeps the trace)")),
        Binding("z", "unfold", _("Unfold"), show=False, id="opchat.thread.unfold",
                tooltip=_("Show an e-mail's folded quoted history and signature (again: "
                          "fold them)")),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "thread-view--time",
        "thread-view--author-in",
        "thread-view--author-out",
        "thread-view--author-note",
        "thread-view--author-auto",
        "thread-view--note-body",
        "thread-view--state",
        "thread-view--state-read",
        "thread-view--state-failed",
        "thread-view--error",
        "thread-view--more",
        "thread-view--attachment",
        "thread-view--selected",
        "thread-view--marker",
        "thread-view--empty",
        "thread-view--quote",
        "thread-view--forwarded",
        "thread-view--edited",
    }

    class RetryRequested(TextualMessage):
        """The operator asked to send a failed message again."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    class FileRequested(TextualMessage):
        """The operator wants the file(s) sent with a message."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    class HideRequested(TextualMessage):
        """The operator asked to hide a message (the screen asks to confirm)."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    class LeaveBottom(TextualMessage):
        """Down was pressed on the newest message: the composer is next."""

    class Typed(TextualMessage):
        """A character that is no command here was typed: it starts (or goes on with)
        the reply, in the reply box."""

        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    def on_key(self, event: events.Key) -> None:
        if (event.is_printable and event.character is not None
                and event.key not in self.screen.active_bindings):
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(event.character))

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
        self.conversation: Conversation | None = None
        self.messages: list[Message] = []
        self.has_older = False
        self.has_newer = False  # opened at an older message: the pages after it come on scrolling
        self._fetching = False
        self.selected_id: int | None = None
        self._loading_older = False
        self._loading_newer = False
        self._retrying: dict[int, str] = {}  # message id -> why the outbox waits
        self._unfolded: set[int] = set()  # e-mails shown whole, quoted history and all
        self._stale: set[int] = set()  # changed while the first page was loading
        # Each message's block per (message, width, ...): its height, and its strips
        # once drawn. Cleared, every message is measured and drawn again.
        self._blocks: LRUCache[tuple, Block] = LRUCache(4096)
        self._laid: list[Block] = []  # the block of each message, in order
        self._starts: list[int] = []  # first line of each message
        self._total = 0  # lines of all the blocks
        self._width = 0
        self._height = 0  # of the view when last laid out: was it at the end before a resize?
        self._shown: list[Shown] = []
        self._edits: dict[int, list[Message]] = {}  # original id -> its edits, oldest first
        # Messages that others refer to (a reply's target, an edit's original) but
        # that are not among the loaded pages; None: not found.
        self._referenced: dict[int, Message | None] = {}
        self._referencing = False
        # The app's frames, held until the page of the dialog opened is laid out.
        self._holding: FrameHold | None = None
        self._parts: dict[str, Style] = {}  # component styles, until the styles change
        self._frame: tuple[int, Style, int] | None = None  # see render_lines

    # Data in ----------------------------------------------------------------------------

    def show(self, inbox: Inbox, conversation: Conversation) -> None:
        """Open `conversation`: fetch its newest messages.

        The app draws its next frame once they are laid out (or after HOLD_FRAME,
        with "Loading…"): the operator sees the dialog come whole, with the list's
        cursor, the title and the reply box that changed with it, in one frame
        instead of two (see `FrameHold`).
        """
        self.inbox = inbox
        same = self.conversation is not None and self.conversation.id == conversation.id
        self.conversation = conversation
        if same:
            return
        self.messages = []
        self.has_older = self.has_newer = False
        self.selected_id = None
        self._retrying.clear()
        self._stale.clear()
        self._referenced.clear()
        self._fetching = True
        self._relayout()
        self._hold_frame()
        self._load(conversation.id)

    def _hold_frame(self) -> None:
        if self.is_attached:
            self._holding = frame_hold(self.app)
            self._holding.hold(HOLD_FRAME)

    def _release_frame(self) -> None:
        holding, self._holding = self._holding, None
        if holding is not None:
            holding.release()

    def on_unmount(self) -> None:
        self._release_frame()

    @work(group="thread-load", exclusive=True, exit_on_error=False)
    async def _load(self, conversation_id: int, select_newest: bool = False) -> None:
        assert self.inbox is not None
        try:
            messages = await self.inbox.messages(conversation_id, limit=PAGE)
        except Exception:  # cancelled, it leaves the hold to the dialog opened since
            self._release_frame()
            raise
        if self.conversation is None or self.conversation.id != conversation_id:
            return  # the dialog opened since holds the frame on
        self.messages = messages
        self.has_older = len(messages) == PAGE
        self.has_newer = False
        self._fetching = False
        self._relayout()
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        if select_newest:
            self.select_newest()
        self._release_frame()
        # Whatever changed while the page was on its way.
        self.fetch_new()
        for message_id in self._stale:
            self.update_message(message_id)
        self._stale.clear()
        self._maybe_load_older()

    def fetch_new(self) -> None:
        """New messages were stored in the open conversation: append them."""
        if (self.conversation is not None and self.inbox is not None and not self._fetching
                and not self.has_newer):  # else they come with the pages below
            self._fetch_new(self.conversation.id)

    @work(group="thread-new", exit_on_error=False)
    async def _fetch_new(self, conversation_id: int) -> None:
        assert self.inbox is not None
        last = self.messages[-1].id if self.messages else 0
        new = await self.inbox.messages_after(conversation_id, last)
        if self.conversation is not None and self.conversation.id == conversation_id:
            self.append(new)

    def append(self, new: list[Message]) -> None:
        """Add messages at the bottom (those already shown are skipped)."""
        if self.has_newer:  # the bottom is not loaded: go there, the new ones included
            self._jump_to_newest()
            return
        last = self.messages[-1].id if self.messages else 0
        new = [m for m in new if m.id > last and self.conversation is not None
               and m.conversation_id == self.conversation.id]
        if not new:
            return
        at_end = self.is_vertical_scroll_end
        self.messages.extend(new)
        self._relayout()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def update_message(self, message_id: int, retry_error: str | None = None) -> None:
        """A message's state changed: fetch it again and redraw it in place."""
        if retry_error is not None:
            self._retrying[message_id] = retry_error
        if self._fetching:
            self._stale.add(message_id)
        elif self.inbox is not None and any(m.id == message_id for m in self.messages):
            self._update(message_id)

    @work(group="thread-update", exit_on_error=False)
    async def _update(self, message_id: int) -> None:
        assert self.inbox is not None
        message = await self.inbox.message(message_id)
        if message is None:
            return
        if message.state is not MessageState.QUEUED:
            self._retrying.pop(message_id, None)
        for index, old in enumerate(self.messages):
            if old.id == message_id:
                at_end = self.is_vertical_scroll_end
                self.messages[index] = message
                self._relayout()
                if at_end:
                    self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
                return

    def _maybe_load_older(self) -> None:
        if (self.has_older and not self._loading_older and self.messages
                and self.conversation is not None and self.scroll_y <= OLDER_MARGIN):
            self._loading_older = True
            self._load_older(self.conversation.id, self.messages[0].id)

    @work(group="thread-older", exit_on_error=False)
    async def _load_older(self, conversation_id: int, before_id: int) -> None:
        assert self.inbox is not None
        try:
            older = await self.inbox.messages(conversation_id, before_id=before_id, limit=PAGE)
        finally:
            self._loading_older = False
        if self.conversation is None or self.conversation.id != conversation_id:
            return
        if not self.messages or self.messages[0].id != before_id:
            return
        self.has_older = len(older) == PAGE
        if not older:
            return
        before = self._total
        self.messages[:0] = older
        self._relayout()
        # Keep what is on screen where it is: the new lines are above it.
        self.scroll_to(y=self.scroll_y + self._total - before, animate=False,
                       immediate=True, force=True)
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= OLDER_MARGIN:
            self.call_later(self._maybe_load_older)
        if self.has_newer and new_value >= self.max_scroll_y - OLDER_MARGIN:
            self.call_later(self._maybe_load_newer)

    # Opening at a message (a search hit) ------------------------------------------------

    def show_message(self, message_id: int) -> None:
        """Scroll to a message of the open conversation and select it.

        A message outside the loaded pages (search finds old ones) is shown with
        the page around it; the newer pages load as the operator scrolls down,
        the older ones as they scroll up.
        """
        if self.conversation is None or self.inbox is None:
            return
        index = None if self._fetching else self._index_of(message_id)
        if index is not None:
            self._select_centred(index)
            return
        self.messages = []
        self.has_older = self.has_newer = False
        self.selected_id = message_id
        self._fetching = True
        self._relayout()
        self._load_around(self.conversation.id, message_id)

    @work(group="thread-load", exclusive=True, exit_on_error=False)
    async def _load_around(self, conversation_id: int, message_id: int) -> None:
        assert self.inbox is not None
        half = PAGE // 2
        try:
            older = await self.inbox.messages(conversation_id, before_id=message_id + 1,
                                              limit=half)
            newer = await self.inbox.messages_newer(conversation_id, message_id, limit=half)
        except Exception:  # cancelled, it leaves the hold to the dialog opened since
            self._release_frame()
            raise
        if self.conversation is None or self.conversation.id != conversation_id:
            return
        self.messages = older + newer
        self.has_older = len(older) == half
        self.has_newer = len(newer) == half
        self._fetching = False
        self._relayout()
        index = self._index_of(message_id)  # None if it was hidden meanwhile: the one before
        self._select_centred(max(len(older) - 1, 0) if index is None else index)
        self._release_frame()  # opened at a search hit: its frame was held too
        self.fetch_new()
        for stale_id in self._stale:
            self.update_message(stale_id)
        self._stale.clear()
        self._maybe_load_older()

    def _select_centred(self, index: int) -> None:
        """Select a message and scroll it to the upper third of the view."""
        if not self.messages:
            return
        index = self._shown_index(index)  # a search hit on an edit: the message it changed
        self.selected_id = self.messages[index].id
        top = self._starts[index] - self.scrollable_content_region.height // 3
        self.scroll_to(y=max(0, top), animate=False, immediate=True, force=True)
        self.refresh()

    def _index_of(self, message_id: int) -> int | None:
        for index, message in enumerate(self.messages):
            if message.id == message_id:
                return index
        return None

    def _maybe_load_newer(self, select_next: bool = False) -> None:
        if (self.has_newer and not self._loading_newer and self.messages
                and self.conversation is not None):
            self._loading_newer = True
            self._load_newer(self.conversation.id, self.messages[-1].id,
                                             select_next)

    @work(group="thread-newer", exit_on_error=False)
    async def _load_newer(self, conversation_id: int, after_id: int, select_next: bool) -> None:
        assert self.inbox is not None
        try:
            newer = await self.inbox.messages_newer(conversation_id, after_id, limit=PAGE)
        finally:
            self._loading_newer = False
        if self.conversation is None or self.conversation.id != conversation_id:
            return
        if not self.messages or self.messages[-1].id != after_id:
            return
        self.has_newer = len(newer) == PAGE
        self.messages.extend(newer)
        self._relayout()
        if select_next and newer and self.selected_id == after_id:
            self.select(len(self.messages) - len(newer))
        self.fetch_new()  # what arrived while the bottom was not loaded

    def _jump_to_newest(self, select: bool = False) -> None:
        if self.conversation is None or self.inbox is None:
            return
        self.messages = []
        self.has_older = self.has_newer = False
        self.selected_id = None
        self._fetching = True
        self._relayout()
        self._load(self.conversation.id, select_newest=select)

    # Selection and actions --------------------------------------------------------------

    @property
    def selected(self) -> Message | None:
        for message in self.messages:
            if message.id == self.selected_id:
                return message
        return None

    def _selected_index(self) -> int | None:
        for index, message in enumerate(self.messages):
            if message.id == self.selected_id:
                return index
        return None

    def select(self, index: int) -> None:
        if not self.messages:
            return
        index = self._shown_index(max(0, min(index, len(self.messages) - 1)))
        self.selected_id = self.messages[index].id
        self._show_message(index)
        self.refresh()

    def _folded(self, index: int) -> bool:
        return index < len(self._shown) and self._shown[index].folded

    def _shown_index(self, index: int) -> int:
        """The message that shows messages[index]: an edit folded into its original is
        shown by the original."""
        if self._folded(index):
            original = self._index_of(self.messages[index].edit_of_id or 0)
            if original is not None:
                return original
        return index

    def _step(self, index: int, delta: int) -> int | None:
        """The next message with lines of its own, from `index` towards `delta`."""
        index += delta
        while 0 <= index < len(self.messages):
            if not self._folded(index):
                return index
            index += delta
        return None

    def select_newest(self) -> None:
        newest = len(self.messages) - 1
        self.select(newest if not self._folded(newest) else (self._step(newest, -1) or 0))

    def action_select_previous(self) -> None:
        index = self._selected_index()
        previous = None if index is None else self._step(index, -1)
        if index is None:
            self.select_newest()
        elif previous is None:
            self.scroll_home(animate=False, immediate=True, force=True)
            self._maybe_load_older()
        else:
            self.select(previous)

    def action_select_next(self) -> None:
        index = self._selected_index()
        following = None if index is None else self._step(index, 1)
        if index is None:
            self.select_newest()
        elif following is None and self.has_newer:
            self._maybe_load_newer(select_next=True)
        elif following is None:
            self.post_message(self.LeaveBottom())
        else:
            self.select(following)

    def action_select_first(self) -> None:
        self.select(0)

    def action_select_last(self) -> None:
        if self.has_newer:
            self._jump_to_newest(select=True)
        else:
            self.select_newest()

    def _target(self) -> Message | None:
        """The message an action applies to: the selected one, else the newest."""
        if self.selected is not None:
            return self.selected
        if not self.messages:
            return None
        return self.messages[self._shown_index(len(self.messages) - 1)]

    def versions(self, message: Message) -> list[Message]:
        """Every version of `message` at hand, oldest first: the original, then its edits."""
        original = message
        if message.edit_of_id is not None:
            found = self._index_of(message.edit_of_id)
            original = (self.messages[found] if found is not None
                        else self._referenced.get(message.edit_of_id)) or message
        if original is message and message.edit_of_id is not None:
            return [message]
        return [original, *self._edits.get(original.id, [])]

    def action_retry(self) -> None:
        message = self._target()
        if message is None or message.state is not MessageState.FAILED:
            self.notify(_("Only a message that failed can be sent again."), markup=False)
            return
        self.post_message(self.RetryRequested(message))

    def action_copy_message(self) -> None:
        message = self._target()
        if message is None:
            return
        self.app.copy_to_clipboard(clean(self.versions(message)[-1].body))
        self.notify(_("Copied the message."), markup=False, timeout=2)

    def action_open_file(self) -> None:
        message = self._target()
        if message is None:
            return
        if not message.attachments:
            self.notify(_("This message has no file."), markup=False, timeout=3)
            return
        self.post_message(self.FileRequested(message))

    def action_hide_message(self) -> None:
        message = self._target()
        if message is not None:
            self.post_message(self.HideRequested(message))

    def _key_of(self, binding_id: str, default: str) -> str:
        """The key the operator presses for ``binding_id`` (their keymap applied)."""
        keys = getattr(self.app, "_keymap", {}).get(binding_id, default)
        return self.app.get_key_display(Binding(keys.split(",")[0].strip() or default, ""))

    def action_unfold(self) -> None:
        message = self._target()
        if message is None:
            return
        if not folded_text(message):
            self.notify(_("Nothing is folded away in this message."), markup=False, timeout=3)
            return
        if message.id in self._unfolded:
            self._unfolded.discard(message.id)
        else:
            self._unfolded.add(message.id)
        self._relayout()

    def drop(self, message_id: int) -> None:
        """A message was hidden: take it off the thread."""
        for index, message in enumerate(self.messages):
            if message.id == message_id:
                del self.messages[index]
                self._relayout()
                if self.selected_id == message_id:
                    self.selected_id = None
                    if self.messages:
                        self.select(min(index, len(self.messages) - 1))
                return

    def action_open_message(self) -> None:
        message = self._target()
        if message is None:
            return
        pager = _find_pager()
        if pager is None:
            self.notify(_("No pager found: set $PAGER or install less."), markup=False,
                        severity="warning")
            return
        text = self.pager_text(message)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt",
                                         prefix="opchat-", delete=False) as file:
            file.write(text)
            path = file.name
        try:
            with self.app.suspend():
                subprocess.call([*pager, path])
        except SuspendNotSupported:
            self.notify(_("This terminal cannot hand over to a pager."), markup=False,
                        severity="warning")
        except OSError as error:
            self.notify(_("The pager failed: {error}", error=str(error)), markup=False,
                        severity="error")
        finally:
            os.unlink(path)
        self.refresh()

    def pager_text(self, message: Message) -> str:
        """The whole message as `o` shows it: what it answers, where it was forwarded
        from, its newest text, then its earlier versions, newest first."""
        versions = self.versions(message)
        first, current = versions[0], versions[-1]
        parts = [self._plain_header(first)]
        if len(versions) > 1:
            parts[0] += "  (" + _("edited {time}", time=self._when(current)) + ")"
        index = self._index_of(first.id)
        about = self._shown[index] if index is not None and index < len(self._shown) else None
        if about is not None and about.quote is not None:
            author, quoted = about.quote
            parts.append("> " + clean(f"{author}: {quoted}" if author else quoted)
                         .replace("\n", "\n> "))
        parts.extend(clean(one_line(remark)) for remark in remarks(first))
        text = "\n".join(parts) + f"\n\n{clean(folded_text(current) or current.body)}\n"
        earlier = versions[:-1]
        if earlier:
            text += "\n— " + ngettext("{n} earlier version", "{n} earlier versions",
                                        len(earlier)) + " —\n"
            for version in reversed(earlier):
                text += f"\n{self._when(version)}\n{clean(version.body)}\n"
        return text

    def _plain_header(self, message: Message) -> str:
        return f"{self._when(message)}  {one_line(self._author(message))}"

    def _when(self, message: Message) -> str:
        """ "14:05" today; "12.03 14:05" on another day."""
        label = clock_label(message.created_at, self.clock())
        if ":" in label:
            return label
        return f"{label} {time.strftime('%H:%M', time.localtime(message.created_at))}"

    # Layout -----------------------------------------------------------------------------

    def _show_message(self, index: int) -> None:
        start = self._starts[index]
        end = self._starts[index + 1] - 1 if index + 1 < len(self._starts) else self._total
        height = self.scrollable_content_region.height
        if start < self.scroll_y:
            self.scroll_to(y=start, animate=False, immediate=True, force=True)
        elif end > self.scroll_y + height:
            self.scroll_to(y=min(start, end - height), animate=False, immediate=True, force=True)

    def on_resize(self) -> None:
        # Whether the view was at the end is decided with the height it had: the
        # composer growing by a line must not leave the newest message below the view.
        at_end = self.scroll_y >= self._total - self._height
        if self._content_width() != self._width:
            self._relayout()
        self._height = self.scrollable_content_region.height
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if hasattr(self, "_blocks"):
            self._parts.clear()
            self._blocks.clear()
            self._relayout()

    def on_focus(self) -> None:
        self.refresh()

    async def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        line = offset.y + int(self.scroll_y) - self._top_padding()
        if 0 <= line < self._total:
            self.focus()
            self.select(self._owner(line))

    def on_blur(self) -> None:
        self.refresh()

    def _content_width(self) -> int:
        # The scrollbar's column is kept free whether it shows or not: it comes and
        # goes with the number of lines, which would otherwise change the width.
        scrollbar = self.styles.scrollbar_size_vertical
        return max(self.size.width - scrollbar - GUTTER, 10)

    def _relayout(self) -> None:
        """Lay the messages' blocks out one under the other: each block's height, from
        the cache or counted now; its lines are drawn when shown (`render_line`)."""
        width = self._width = self._content_width()
        self._height = self.scrollable_content_region.height
        today = time.localtime(self.clock())[:3]  # labels say "today" differently
        laid: list[Block] = []
        starts: list[int] = []
        total = 0
        shown_all = self._what_is_shown()
        blocks = self._blocks
        base: Style | None = None  # found when a block is drawn now
        for index, message in enumerate(self.messages):
            shown = shown_all[index]
            retrying = self._retrying.get(message.id)
            unfolded = message.id in self._unfolded
            key = (message, width, retrying, today, shown, unfolded)
            block = blocks.get(key)
            if block is None:
                if shown.folded:
                    block = Block(0, [])
                else:
                    height = self._height_of(message, width, shown, retrying)
                    if height is None:  # only drawing it tells
                        base = self.rich_style if base is None else base
                        strips = self._render_block(message, width, shown, retrying, unfolded,
                                                    base)
                        block = Block(len(strips), strips)
                    else:
                        block = Block(height, None, retrying, unfolded)
                blocks[key] = block
            starts.append(total)
            laid.append(block)
            total += block.height
        self._laid, self._starts, self._total = laid, starts, total
        self._shown = shown_all
        self.virtual_size = Size(0, total)
        self.refresh()
        self._fetch_referenced()

    @property
    def line_count(self) -> int:
        """Lines of all the loaded messages' blocks (the view's virtual height)."""
        return self._total

    def _owner(self, line: int) -> int:
        """The index in `messages` of the message whose block holds `line`."""
        # A folded edit's empty block starts where the next one does: the last wins.
        return bisect_right(self._starts, line) - 1

    def _strips_of(self, index: int, base: Style) -> list[Strip]:
        """The lines of messages[index]'s block, drawn now (on `base`) if they were not."""
        block = self._laid[index]
        if block.strips is None:
            strips = self._render_block(self.messages[index], self._width, self._shown[index],
                                        block.retrying, block.unfolded, base)
            block.strips = strips
            if len(strips) != block.height:
                # Counted wrong (see `_height_of`): lay out again with what was drawn.
                block.height = len(strips)
                self.call_later(self._laid_out_wrong)
        return block.strips

    def _laid_out_wrong(self) -> None:
        at_end = self.is_vertical_scroll_end
        self._relayout()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def _height_of(self, message: Message, width: int, about: Shown,
                   retrying: str | None) -> int | None:
        """The number of lines `_render_block` draws for a message that is only a
        header and a text, counted on the text's characters; None for any other.

        Most messages are: laying out a page of them costs a few percent of drawing
        it. Keep in step with `_render_block` (tests/unit/test_thread_heights.py).
        """
        current = about.latest or message  # the text shown is the newest version's
        if (about.edit_of is not None or about.edit_of_unknown or about.quote is not None
                or current.attachments or message.attachments):
            return None
        if message.meta and (remarks(message) or folded_text(message)):
            return None
        reactions = current.meta.get("reactions") or message.meta.get("reactions")
        if isinstance(reactions, dict) and reactions:
            return None
        if message.direction in (Direction.OUT, Direction.AUTO) and (
                message.state is MessageState.FAILED
                or (message.state is MessageState.QUEUED and retrying is not None)):
            return None
        body, was_cut = cap(clean(current.body), self.settings.display_cap)
        if was_cut or divide_line is None:
            return None
        return 2 + (wrapped_rows(clean(body), width) if body else 0)  # header, text, blank

    def _what_is_shown(self) -> list[Shown]:
        """Fold edits into their originals and find what replies quote."""
        by_id = {message.id: message for message in self.messages}
        edits: dict[int, list[Message]] = {}
        for message in self.messages:
            if message.edit_of_id is not None and message.edit_of_id in by_id:
                edits.setdefault(message.edit_of_id, []).append(message)
        self._edits = edits
        shown_all: list[Shown] = []
        last_block: int | None = None  # the message whose block is just above
        for message in self.messages:
            original_id = message.edit_of_id
            if original_id is not None and original_id in by_id and last_block == original_id:
                # Nothing came between: the original, just above, shows it.
                shown_all.append(Shown(folded=True))
                continue
            latest = edits[message.id][-1] if message.id in edits else None
            if original_id is not None:
                original = by_id.get(original_id) or self._referenced.get(original_id)
                shown = Shown(quote=self._quote(message, by_id, edits), edit_of=original,
                              edit_of_unknown=original is None)
            else:
                shown = Shown(latest=latest, quote=self._quote(message, by_id, edits))
            shown_all.append(shown)
            last_block = message.id
        return shown_all

    def _quote(self, message: Message, by_id: dict[int, Message],
               edits: dict[int, list[Message]]) -> tuple[str, str] | None:
        """(author, text) of what `message` replies to: the part the customer quoted if
        the platform sent it, else the stored message's newest text."""
        quoted = message.meta.get("quote")
        quoted = quoted if isinstance(quoted, str) and quoted.strip() else None
        target_id = message.reply_to_id
        target = None
        if target_id is not None:
            target = by_id.get(target_id) or self._referenced.get(target_id)
        if target is None:
            return ("", quoted) if quoted else None
        text = quoted or (edits[target.id][-1].body if target.id in edits else target.body)
        return self._author(target), text

    def _fetch_referenced(self) -> None:
        """Fetch the replied-to messages and edited originals not in the loaded pages."""
        if self._referencing or self.inbox is None or self.conversation is None:
            return
        loaded = {message.id for message in self.messages}
        wanted = {ref for message in self.messages
                  for ref in (message.reply_to_id, message.edit_of_id)
                  if ref is not None and ref not in loaded and ref not in self._referenced}
        if wanted:
            self._referencing = True
            self._load_referenced(self.conversation.id, sorted(wanted))

    @work(group="thread-referenced", exit_on_error=False)
    async def _load_referenced(self, conversation_id: int, ids: list[int]) -> None:
        assert self.inbox is not None
        try:
            found = {message_id: await self.inbox.message(message_id) for message_id in ids}
        finally:
            self._referencing = False
        if self.conversation is None or self.conversation.id != conversation_id:
            return
        for message_id, message in found.items():
            # Only this dialog's own messages are quoted.
            self._referenced[message_id] = (
                message if message is not None and message.conversation_id == conversation_id
                else None)
        at_end = self.is_vertical_scroll_end
        self._relayout()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def _part(self, component: str) -> Style:
        # Kept until the styles change, as Textual keeps its component styles.
        style = self._parts.get(component)
        if style is None:
            style = self._parts[component] = component_style(self, component)
        return style

    def _top_padding(self) -> int:
        """Blank lines above a short thread, so that it sits on the composer, as chats do."""
        return max(0, self.scrollable_content_region.height - self._total)

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line of this frame is drawn with, found once for all of them.
        self._frame = (self.scrollable_content_region.width, self.rich_style,
                       self._top_padding())
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def render_line(self, y: int) -> Strip:
        width, base, padding = self._frame or (
            self.scrollable_content_region.width, self.rich_style, self._top_padding())
        if not self._total:
            return self._empty_line(y, width, base)
        index = int(self.scroll_y) + y - padding
        if not 0 <= index < self._total:
            return Strip.blank(width, base)
        owner = self._owner(index)
        strips = self._strips_of(owner, base)
        offset = index - self._starts[owner]
        if offset >= len(strips):  # counted more than drawn: laid out again soon
            return Strip.blank(width, base)
        strip = strips[offset]
        message = self.messages[owner]
        selected = message.id == self.selected_id and self.has_focus
        last_of_block = offset + 1 == len(strips)
        if selected and not last_of_block:
            marker_style = base + self._part("thread-view--marker")
            selected_style = self.get_component_rich_style("thread-view--selected")
            strip = Strip(Segment.apply_style(list(strip), post_style=Style(
                bgcolor=selected_style.bgcolor)), strip.cell_length)
            gutter = Strip([Segment("▌", marker_style)], 1)
        else:
            gutter = Strip.blank(GUTTER, base)
        return Strip.join([gutter, strip]).crop_extend(0, width, base)

    def _empty_line(self, y: int, width: int, base: Style) -> Strip:
        if y != 1:
            return Strip.blank(width, base)
        if self.conversation is None:
            message = _("Select a conversation")
        elif self._fetching:
            message = _("Loading…")
        else:
            message = _("No messages yet")
        text = Text(" " + message, style=self._part("thread-view--empty"))
        text.truncate(width, overflow="ellipsis", pad=True)
        text.stylize_before(base)
        return Strip(list(text.render(self.app.console)), width)

    # Rendering one message --------------------------------------------------------------

    def _author(self, message: Message) -> str:
        if message.direction is Direction.OUT:
            own = self.inbox is not None and message.author == self.inbox.operator.login
            return _("You") if own or not message.author else one_line(message.author, 60)
        if message.direction is Direction.NOTE:
            return _("note") + " · " + one_line(message.author, 60)
        if message.direction is Direction.AUTO:
            return _("auto")
        name = message.author or (self.conversation.contact_name if self.conversation else "")
        return one_line(name, 100) or "—"

    def _render_block(self, message: Message, width: int, about: Shown = PLAIN,
                      retrying: str | None = None, unfolded: bool = False,
                      base: Style | None = None) -> list[Strip]:
        style = self._part
        base = self.rich_style if base is None else base
        console = self.app.console
        lines: list[Text] = []
        current = about.latest or message  # the text shown is the newest version's

        header = Text()
        header.append(self._when(message), style=style("thread-view--time"))
        header.append(" ")
        author_style = style(f"thread-view--author-{message.direction.value}")
        header.append_text(safe_text(self._author(message), style=author_style))
        outgoing = message.direction in (Direction.OUT, Direction.AUTO)
        if outgoing and message.state in STATE_GLYPHS:
            state_style = {
                MessageState.READ: style("thread-view--state-read"),
                MessageState.FAILED: style("thread-view--state-failed"),
            }.get(message.state, style("thread-view--state"))
            header.append(f"  {STATE_GLYPHS[message.state]} {state_name(message.state)}",
                          style=state_style)
        if about.latest is not None:
            header.append("  ✎ " + _("edited {time}", time=self._when(about.latest)),
                          style=style("thread-view--edited"))
        header.truncate(width, overflow="ellipsis")
        lines.append(header)
        if about.edit_of is not None or about.edit_of_unknown:
            edited = (_("edited a message of {time}", time=self._when(about.edit_of))
                      if about.edit_of is not None else _("edited an earlier message"))
            lines.extend(_wrap(Text("✎ " + edited, style=style("thread-view--edited")),
                               width, console))

        if about.quote is not None:
            author, quoted = about.quote
            quote = f"▏{author}: {quoted}" if author else f"▏{quoted}"
            lines.append(_one_row(quote, width, style("thread-view--quote")))
        for remark in remarks(message):
            lines.extend(_wrap(safe_text(one_line(remark), style=style("thread-view--forwarded")),
                               width, console))

        whole = folded_text(message)
        unfolded = bool(whole) and unfolded
        body = clean(whole if unfolded else current.body)
        shown, was_cut = cap(body, self.settings.display_cap)
        body_style = style("thread-view--note-body") if message.direction is Direction.NOTE else ""
        if shown:
            lines.extend(_wrap(safe_text(shown, style=body_style), width, console))
        for attachment in current.attachments or message.attachments:
            label = f"⎘ {attachment.kind}"
            if attachment.filename:
                label += f" · {attachment.filename}"
            lines.append(safe_text(one_line(label, width), style=style("thread-view--attachment")))
        reactions = current.meta.get("reactions") or message.meta.get("reactions")
        if isinstance(reactions, dict) and reactions:
            shown_reactions = " ".join(str(emoji) for emoji in reactions.values())
            lines.append(safe_text(one_line(shown_reactions, width),
                                   style=style("thread-view--forwarded")))
        if was_cut:
            more = _("… {count} more characters — o opens the whole message",
                     count=group_digits(len(body) - len(shown)))
            lines.extend(_wrap(Text(more, style=style("thread-view--more")), width, console))
        if whole:
            key = self._key_of("opchat.thread.unfold", "z")
            fold = (_("{key} folds the quoted history and signature again", key=key)
                    if unfolded else
                    _("… quoted history or signature folded away — {key} shows them",
                      key=key))
            lines.extend(_wrap(Text(fold, style=style("thread-view--more")), width, console))
        # Why a reply is not (yet) delivered, under its text.
        if outgoing and message.state is MessageState.FAILED:
            reason = safe_text(message.error or _("unknown error"),
                               style=style("thread-view--error"))
            hint = Text(" — " + _("r retries, Alt+X dismisses"), style=style("thread-view--more"))
            lines.extend(_wrap(Text.assemble(reason, hint), width, console))
        elif outgoing and message.state is MessageState.QUEUED and retrying is not None:
            waiting = Text(_("retrying: "), style=style("thread-view--more"))
            waiting.append_text(safe_text(retrying, style=style("thread-view--more")))
            lines.extend(_wrap(waiting, width, console))
        lines.append(Text(""))

        strips = []
        for line in lines:
            line.truncate(width, pad=True)
            line.stylize_before(base)
            line.end = ""
            strips.append(Strip(list(line.render(console)), width))
        return strips


def remarks(message: Message) -> list[str]:
    """What the platform said about a message besides its text (see MESSAGE_META):
    forwarded, from an ad, not passed on. Untrusted: draw with ``safe_text``."""
    meta = message.meta
    found = []
    forwarded = meta.get("forwarded_from")
    if isinstance(forwarded, str) and forwarded.strip():
        found.append("↪ " + _("forwarded from {origin}", origin=forwarded))
    elif meta.get("forwarded") == "many":
        found.append("↪ " + _("forwarded many times"))
    elif meta.get("forwarded"):
        found.append("↪ " + _("forwarded"))
    referral = meta.get("referral")
    if isinstance(referral, dict):
        what = " · ".join(str(referral[key]) for key in ("headline", "source_url")
                          if isinstance(referral.get(key), str) and referral[key].strip())
        found.append("⌖ " + (_("came from an ad: {what}", what=what) if what
                             else _("came from an ad")))
    story = meta.get("story")
    if isinstance(story, dict):
        url = story.get("url") if isinstance(story.get("url"), str) else ""
        if story.get("mention"):
            found.append("◎ " + (_("mentioned you in their story: {url}", url=url) if url
                                 else _("mentioned you in their story")))
        else:
            found.append("◎ " + (_("replied to your story: {url}", url=url) if url
                                 else _("replied to your story")))
    elsewhere = meta.get("elsewhere")
    if isinstance(elsewhere, str):
        found.append("⇢ " + (_("sent from elsewhere ({tool})", tool=elsewhere)
                             if elsewhere.strip() else _("sent from elsewhere")))
    by_email = meta.get("by_email")
    if isinstance(by_email, str) and by_email.strip():
        mailed = meta.get("email")
        sender = mailed.get("from") if isinstance(mailed, dict) else ""
        found.append("✉ " + _("came by e-mail from {address} ({channel})",
                              address=sender or "?", channel=by_email))
    if meta.get("deleted") is True:
        found.append("✗ " + _("deleted by the customer"))
    rating = meta.get("rating")
    if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5:
        found.append("★" * rating + "☆" * (5 - rating) + " "
                     + _("rated the conversation {n} of 5", n=rating))
    unsupported = meta.get("unsupported")
    if meta.get("kind") == "unsupported" or isinstance(unsupported, str):
        said = unsupported if isinstance(unsupported, str) and unsupported.strip() else ""
        found.append("⚠ " + (_("a kind of message the platform does not pass on: {said}",
                              said=said) if said
                             else _("a kind of message opchat cannot show")))
    return found


def _one_row(untrusted: str, width: int, style: Style) -> Text:
    """Untrusted text squeezed onto one row of `width` cells, "…" where it is cut."""
    row = safe_text(one_line(untrusted, 4 * width), style=style)
    row.truncate(width, overflow="ellipsis")
    return row


def _wrap(text: Text, width: int, console) -> list[Text]:
    return list(text.wrap(console, width, overflow="fold", tab_size=4))


def wrapped_rows(plain: str, width: int) -> int:
    """How many lines `_wrap` makes of a text whose characters are `plain`, without
    making them: Rich's own `Text.wrap` steps (split at newlines, tabs expanded, each
    line divided where `divide_line` says), minus the styled copies of each line."""
    rows = 0
    for line in plain.split("\n"):
        if "\t" in line:
            expanded = Text(line)
            expanded.expand_tabs(4)
            line = expanded.plain
        rows += len(divide_line(line, width, fold=True)) + 1
    return rows


def _find_pager() -> list[str] | None:
    """$PAGER, else less, else more; as an argument list."""
    configured = os.environ.get("PAGER", "").strip()
    if configured:
        try:
            argv = shlex.split(configured)
        except ValueError:
            argv = []
        if argv and shutil.which(argv[0]):
            return argv
    for name in ("less", "more"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def folded_text(message: Message) -> str:
    """An e-mail's whole text when its quoted history or signature was folded away
    (``meta["email"]["full"]``, kept by the email channel); "" otherwise."""
    mailed = message.meta.get("email") if isinstance(message.meta, dict) else None
    full = mailed.get("full") if isinstance(mailed, dict) else None
    return full if isinstance(full, str) and full.strip() else ""
