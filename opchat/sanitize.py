"""Make untrusted text safe to put on the operator's terminal.

Everything a customer or a platform sends passes through `clean()` (or one of
the helpers built on it) at render time; the store keeps the original bytes.

The threats, and what we do about each:

* Escape sequences (CSI, OSC, DCS, ... in 7-bit and 8-bit form) could clear
  the screen, retitle the window, write the operator's clipboard (OSC 52) or
  worse. They are removed whole, payload included, so no fragment of them
  shows up as garbage either.
* Other control characters (C0 except newline and tab, DEL, C1) are dropped.
* Bidi controls could make a line read differently from what it contains
  ("Trojan Source"), zero-width characters could hide text or make two
  different names look the same. Both are replaced with a short visible
  marker such as ``⟪RLO⟫`` so the operator sees that they are there.
* Markup: `safe_text()` and `safe_content()` build Rich `Text` and Textual
  `Content` objects directly, so ``[bold]`` or ``[@click=app.quit]`` typed by
  a customer stays literal text.

Speed: this runs for every message on every redraw, so the common case (text
with nothing suspicious in it) costs one precompiled regex search and returns
the input unchanged. Otherwise there are at most three regex substitutions
(escape sequences, carriage returns, zero width joiners) and one
`str.translate` that drops or replaces every remaining character in a single
C-level pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.style import Style
    from rich.text import Text
    from textual.content import Content

__all__ = ["cap", "clean", "one_line", "safe_content", "safe_text"]

# Style of the visible markers, so that they read as annotations rather than
# as the customer's words.
MARKER_STYLE = "dim"

# Characters that cannot render as what they are; each becomes ⟪NAME⟫.
_MARKED: dict[str, str] = {
    # Bidi embeddings, overrides, isolates and marks.
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
    # Zero-width and invisible formatting characters.
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u180e": "MVS",
    "\u00ad": "SHY",
    # Invisible maths operators, deprecated format controls and interlinear
    # annotation marks: as invisible as the above, and never typed on purpose.
    **{chr(c): f"U+{c:04X}" for c in range(0x2061, 0x2065)},
    **{chr(c): f"U+{c:04X}" for c in range(0x206A, 0x2070)},
    **{chr(c): f"U+{c:04X}" for c in range(0xFFF9, 0xFFFC)},
    # Characters that draw as nothing: Hangul fillers (a "blank" name is a classic
    # impersonation trick) and the combining grapheme joiner.
    "\u115f": "HCF", "\u1160": "HJF", "\u3164": "HF", "\uffa0": "HWHF", "\u034f": "CGJ",
}
_ZWJ = "\u200d"
_ZWJ_MARKER = "⟪ZWJ⟫"

_MARKER = re.compile(r"⟪[A-Z0-9+]{1,8}⟫")


def _build_translation() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)):
        if chr(code) not in "\n\t":
            table[code] = None
    # Line and paragraph separators would split lines where no "\n" is.
    table[0x2028] = "\n"
    table[0x2029] = "\n"
    for char, name in _MARKED.items():
        table[ord(char)] = f"⟪{name}⟫"
    # A lone surrogate (from broken JSON, say) cannot be encoded for the
    # terminal at all and would crash the redraw.
    for code in range(0xD800, 0xE000):
        table[code] = "\ufffd"
    return table


_TRANSLATION = _build_translation()

# Anything that `clean()` would change; text without it is returned as is.
_SUSPECT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200d\ud800-\udfff"
    + "".join(re.escape(char) for char in _MARKED)
    + "]"
)

# Whole escape sequences, ECMA-48 shapes. The final byte of a CSI and the
# terminator of a string sequence are optional so that a truncated sequence
# is still removed up to where it was cut off.
_ESCAPE_SEQUENCE = (  # compiled when first met (`re` keeps it): a rare text has one
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?          # CSI
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]*        # OSC DCS SOS PM APC
      (?:\x07|\x1b\\|\x9c)?
    | \x1b [\x20-\x2f]* [\x30-\x7e]                                   # two-char and nF
    """
)
_ESCAPE_INTRODUCER = re.compile("[\x1b\x90\x98\x9b\x9d\x9e\x9f]")

_CARRIAGE_RETURN = re.compile("\r\n?")

# Python's re has no \p{Extended_Pictographic}; these ranges cover the
# characters that appear in emoji ZWJ sequences (people, professions, flags,
# hearts, gender and hair components, skin tones).
_PICTOGRAPHIC = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2"
    "\u25aa-\u27bf\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff"
)
# A ZWJ that does not sit between two pictographs (the left one may carry a
# variation selector, as in ❤️‍🔥); such a joiner only hides something.
_UNJOINED_ZWJ = (  # compiled when first met, as _ESCAPE_SEQUENCE
    f"(?<![{_PICTOGRAPHIC}])(?<![{_PICTOGRAPHIC}][\ufe0e\ufe0f])\u200d|\u200d(?![{_PICTOGRAPHIC}])"
)

_WHITESPACE_RUN = re.compile(r"\s+")


def clean(text: str) -> str:
    """Return `text` with nothing that could act on the terminal or mislead.

    Escape sequences are removed whole, control characters dropped ("\\n" and
    "\\t" kept; "\\r\\n" and "\\r" become "\\n"), bidi and zero-width
    characters replaced with visible ``⟪NAME⟫`` markers. Emoji joiners and
    variation selectors are kept, so 👨‍👩‍👧 stays one family.
    """
    if not _SUSPECT.search(text):
        return text
    if _ESCAPE_INTRODUCER.search(text):
        text = re.sub(_ESCAPE_SEQUENCE, "", text, flags=re.VERBOSE)
    if "\r" in text:
        text = _CARRIAGE_RETURN.sub("\n", text)
    if _ZWJ in text:
        text = re.sub(_UNJOINED_ZWJ, _ZWJ_MARKER, text)
    return text.translate(_TRANSLATION)


def _cut(text: str, length: int) -> str:
    """`text[:length]`, but never ending inside a marker or after a bare joiner."""
    length = max(length, 0)
    start = text.rfind("⟪", max(0, length - 10), length)
    if start != -1:
        marker = _MARKER.match(text, start)
        if marker and marker.end() > length:
            length = start
    return text[:length].rstrip(_ZWJ)


def one_line(text: str, limit: int | None = None) -> str:
    """Clean `text` and squeeze it onto one line, for list previews.

    Runs of whitespace (newlines and tabs included) become one space. With
    `limit`, the result is at most `limit` characters and ends with "…" when
    it was cut.
    """
    line = _WHITESPACE_RUN.sub(" ", clean(text)).strip()
    if limit is None or len(line) <= limit:
        return line
    if limit <= 0:
        return ""
    return _cut(line, limit - 1).rstrip() + "…"


def cap(text: str, limit: int) -> tuple[str, bool]:
    """Cut already cleaned `text` to at most `limit` characters.

    Returns the text and whether it was cut. A cut prefers a line break, then
    a space, within the last tenth of `limit`, so the shown part ends on a
    whole word when it can; the caller offers the rest in the pager.
    """
    if len(text) <= limit:
        return text, False
    window = text[: max(limit, 0)]
    floor = limit - limit // 10
    newline = window.rfind("\n", floor)
    if newline > 0:
        return window[:newline].rstrip(), True
    space = max(window.rfind(" ", floor), window.rfind("\t", floor))
    if space > 0:
        return window[:space].rstrip(), True
    return _cut(text, limit), True


def safe_text(text: str, style: str | Style = "") -> Text:
    """A Rich `Text` of cleaned `text`; markup in it stays literal."""
    # Imported here so that headless code (hub, transports, logs) can use
    # clean() without loading Rich and Textual.
    from rich.text import Text

    result = Text(clean(text), style=style)
    for marker in _MARKER.finditer(result.plain):
        result.stylize(MARKER_STYLE, marker.start(), marker.end())
    return result


def safe_content(text: str, style: str = "") -> Content:
    """A Textual `Content` of cleaned `text`; markup in it stays literal."""
    from textual.content import Content

    content = Content(clean(text))
    if style:
        content = content.stylize(style)
    for marker in _MARKER.finditer(content.plain):
        content = content.stylize(MARKER_STYLE, marker.start(), marker.end())
    return content


# What looks like a secret whoever's it is: a Telegram bot token (digits:35 characters).
_TOKEN_SHAPED = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with each known secret and anything shaped like a bot token replaced by …

    Errors become text for the status bar, the events table and the log; an error
    may quote a URL with a token in it (Telegram's API puts the token in the path).
    """
    for secret in secrets:
        text = text.replace(secret, "…")
    return _TOKEN_SHAPED.sub("…", text)
