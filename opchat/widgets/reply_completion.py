"""The drop-down of quick replies under `/` in the reply box.

Typing `/del` in the reply box shows the replies whose shortcut starts with
"del", then those whose shortcut contains it, then those whose title and
body have the word (`opchat.replies.ReplyIndex`); Tab or Enter takes the one
highlighted, Up and Down move, Escape closes. The widget never takes the
focus: the reply box keeps it and drives the list, so typing goes on.

Replies are drawn through `opchat.sanitize`: they are stored text like any
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.content import Content
from textual.widget import Widget

from opchat.sanitize import one_line, safe_content

if TYPE_CHECKING:
    from opchat.model import QuickReply
    from opchat.replies import ReplyIndex

SHOWN = 6  # rows of the drop-down; it must leave the thread room at 80×24


class ReplyCompletion(Widget, can_focus=False):
    DEFAULT_CSS = """
    ReplyCompletion {
        display: none;
        height: auto;
        max-height: 6;
        background: $panel;
        &.-open { display: block; }
    }
    ReplyCompletion > .reply-completion--highlight {
        background: $accent 40%;
        text-style: bold;
    }
    ReplyCompletion > .reply-completion--body {
        color: $text-muted;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "reply-completion--highlight", "reply-completion--body",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index: ReplyIndex | None = None  # none stored yet (opchat.replies loads then)
        self.matches: list[QuickReply] = []
        self.highlighted = 0
        self.query: str | None = None

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def set_replies(self, replies: Sequence[QuickReply]) -> None:
        from opchat.replies import ReplyIndex

        self.index = ReplyIndex(replies)
        if self.query is not None:
            self.show(self.query)

    def show(self, query: str) -> bool:
        """List the replies for `query` (what follows `/`); False when none match."""
        self.query = query
        self.matches = [] if self.index is None else self.index.search(query, limit=SHOWN)
        self.highlighted = 0
        self.set_class(bool(self.matches), "-open")
        self.refresh(layout=True)
        return bool(self.matches)

    def hide(self) -> None:
        self.query = None
        self.matches = []
        self.set_class(False, "-open")

    def move(self, delta: int) -> None:
        if self.matches:
            self.highlighted = (self.highlighted + delta) % len(self.matches)
            self.refresh()

    @property
    def chosen(self) -> QuickReply | None:
        return self.matches[self.highlighted] if self.is_open and self.matches else None

    def render(self) -> Content:
        width = max(20, self.size.width)
        lines = []
        for n, reply in enumerate(self.matches):
            shortcut = one_line(reply.shortcut, 24)
            title = one_line(reply.title, 30)
            head = f" /{shortcut}  {title}"
            body = one_line(reply.body, max(0, width - len(head) - 4))
            style = "reply-completion--highlight" if n == self.highlighted else ""
            line = Content.assemble(
                safe_content(head, "bold" if n == self.highlighted else ""),
                ("  ", ""),
                safe_content(body, ""),
            )
            if style:
                line = line.stylize(self.get_visual_style(style, partial=True))
            else:
                line = line.stylize(self.get_visual_style("reply-completion--body", partial=True),
                                    len(head) + 2)
            lines.append(line)
        return Content("\n").join(lines)
