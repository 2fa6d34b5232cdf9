"""The quick replies palette: saved phrases, found by a few fuzzy keystrokes.

Textual's `CommandPalette` with one provider. Each hit shows the reply's
shortcut and title, and under it the start of its text as it would be
inserted in this dialog (variables filled in); typing matches the shortcut,
the title and the body. Choosing a reply hands it to `on_choose` (the screen
puts it at the reply box's cursor).

With nothing typed, replies are listed most used first and the first nine
are numbered: 1–9 takes one at once. Textual orders hits by score only, in a
stable sort, and every discovery hit scores 0, so the order they are yielded
in is the order shown.

Replies are the operators' own text, but they are stored data like any
other and are drawn through `opchat.sanitize` all the same. Textual's
`Matcher.highlight()` parses its candidate as markup, so the highlighting
is done here on safe `Content` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from textual import on
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.widgets import Input

from opchat.i18n import _
from opchat.sanitize import one_line, safe_content

if TYPE_CHECKING:
    from opchat.model import QuickReply

PREVIEW_CHARS = 120
NUMBERED = 9


class QuickReplyProvider(Provider):
    """Hits for a fixed list of replies (set on a subclass by `quick_reply_palette`)."""

    replies: Sequence[QuickReply] = ()
    variables: Mapping[str, str] = {}

    def choose(self, reply: QuickReply) -> None:
        raise NotImplementedError

    def _label(self, reply: QuickReply) -> str:
        shortcut = one_line(reply.shortcut, 30)
        title = one_line(reply.title, 60)
        label = f"{shortcut}  {title}" if title else shortcut
        folder = getattr(reply, "folder", "")
        if folder:
            label += f"  · {one_line(folder, 20)}"
        if getattr(reply, "owner", None):
            label += "  · " + _("private")
        return label

    def _preview(self, reply: QuickReply) -> Content:
        from opchat.placeholders import expand

        text = expand(reply.body, self.variables).text
        attachment = getattr(reply, "attachment", None)
        if attachment:
            text = f"📎 {attachment}  {text}"
        return safe_content(one_line(text, PREVIEW_CHARS))

    def _command(self, reply: QuickReply) -> Callable[[], None]:
        return lambda: self.choose(reply)

    async def discover(self) -> Hits:
        for n, reply in enumerate(self.replies):
            label = self._label(reply)
            number = f"{n + 1} " if n < NUMBERED else "  "
            yield DiscoveryHit(
                Content.assemble((number, "bold"), safe_content(label)),
                self._command(reply),
                text=label,
                help=self._preview(reply),  # type: ignore[arg-type]  # Content is accepted
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        words = query.lower().split()
        for reply in self.replies:
            label = self._label(reply)
            on_label = matcher.match(label)
            # Fuzzy matching costs combinations of letter positions, too many in a long
            # body; there every word typed must appear, and such a hit counts for less.
            body = one_line(reply.body).lower()
            on_body = len(query) * 0.9 if words and all(w in body for w in words) else 0.0
            score = max(on_label, on_body)
            if score <= 0:
                continue
            yield Hit(
                score,
                self._highlight(matcher, label),
                self._command(reply),
                text=label,
                help=self._preview(reply),  # type: ignore[arg-type]  # Content is accepted
            )

    def _highlight(self, matcher, label: str) -> Content:
        content = safe_content(label)
        if content.plain != label:
            return content  # sanitising changed the text: offsets would not line up
        _score, offsets = matcher.fuzzy_search.match(matcher.query, label)
        match_style = matcher.match_style
        for offset in offsets:
            if not label[offset].isspace():
                content = content.stylize(match_style, offset, offset + 1)
        return content


class QuickReplyPalette(CommandPalette):
    """The palette, with 1–9 taking the numbered replies while nothing else is typed.

    Not bindings: a screen's bindings never see a printable key while an Input
    has the focus (Textual leaves such keys to the Input), so the first
    character typed is looked at instead. A shortcut starting with a digit
    is still found by a letter of its title.
    """

    def __init__(self, replies: Sequence[QuickReply], on_choose: Callable[[QuickReply], None],
                 provider: type[Provider]) -> None:
        super().__init__(providers=[provider], placeholder=_("Search quick replies… (1–9: "
                                                               "the most used)"),
                         id="quick-replies")
        self.replies = list(replies)
        self.on_choose = on_choose
        self._typed = ""

    @on(Input.Changed)
    def _first_key(self, event: Input.Changed) -> None:
        before, self._typed = self._typed, event.value
        value = event.value
        if before or len(value) != 1 or value not in "123456789":
            return
        number = int(value)
        if number > min(NUMBERED, len(self.replies)):
            return
        reply = self.replies[number - 1]
        self.app.post_message(CommandPalette.Closed(option_selected=True))
        self.dismiss()
        self.app.call_later(self.on_choose, reply)


def quick_reply_palette(
    replies: Sequence[QuickReply],
    on_choose: Callable[[QuickReply], None],
    variables: Mapping[str, str] | None = None,
) -> CommandPalette:
    """A command palette listing `replies`; choosing one calls `on_choose`.

    `variables` fill the previews as the reply would be inserted in this dialog.
    """

    class BoundQuickReplyProvider(QuickReplyProvider):
        def choose(self, reply: QuickReply) -> None:
            on_choose(reply)

    BoundQuickReplyProvider.replies = tuple(replies)
    BoundQuickReplyProvider.variables = dict(variables or {})
    return QuickReplyPalette(replies, on_choose, BoundQuickReplyProvider)
