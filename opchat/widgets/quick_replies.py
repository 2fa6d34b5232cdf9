"""The quick replies palette: saved phrases, found by a few fuzzy keystrokes.

Textual's `CommandPalette` with one provider. Each hit shows the reply's
shortcut and title, and under it the start of its body on one line; typing
matches the shortcut, the title and the body. Choosing a reply hands it to
`on_choose` (the screen inserts the body at the composer's cursor).

Replies are the operators' own text, but they are stored data like any
other and are drawn through `opchat.sanitize` all the same. Textual's
`Matcher.highlight()` parses its candidate as markup, so the highlighting
is done here on safe `Content` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from opchat.i18n import _
from opchat.model import QuickReply
from opchat.sanitize import one_line, safe_content

PREVIEW_CHARS = 120


class QuickReplyProvider(Provider):
    """Hits for a fixed list of replies (set on a subclass by `quick_reply_palette`)."""

    replies: Sequence[QuickReply] = ()

    def choose(self, reply: QuickReply) -> None:
        raise NotImplementedError

    def _label(self, reply: QuickReply) -> str:
        shortcut = one_line(reply.shortcut, 30)
        title = one_line(reply.title, 60)
        return f"{shortcut}  {title}" if title else shortcut

    def _preview(self, reply: QuickReply) -> Content:
        return safe_content(one_line(reply.body, PREVIEW_CHARS))

    def _command(self, reply: QuickReply) -> Callable[[], None]:
        return lambda: self.choose(reply)

    async def discover(self) -> Hits:
        for reply in self.replies:
            label = self._label(reply)
            yield DiscoveryHit(
                safe_content(label),
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


def quick_reply_palette(
    replies: Sequence[QuickReply], on_choose: Callable[[QuickReply], None]
) -> CommandPalette:
    """A command palette listing `replies`; choosing one calls `on_choose`."""

    class BoundQuickReplyProvider(QuickReplyProvider):
        def choose(self, reply: QuickReply) -> None:
            on_choose(reply)

    BoundQuickReplyProvider.replies = tuple(replies)
    return CommandPalette(
        providers=[BoundQuickReplyProvider],
        placeholder=_("Search quick replies…"),
        id="quick-replies",
    )
