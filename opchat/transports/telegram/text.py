"""Lengths as Telegram counts them, and splitting a long reply into messages.

Telegram measures text in UTF-16 code units (an emoji outside the Basic
Multilingual Plane counts two), so a reply of 4,096 Python characters can be
too long for one message.
"""

from __future__ import annotations

MAX_TEXT = 4096  # one sendMessage
MAX_CAPTION = 1024  # the text under a photo or a document


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fit(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-16 units, cut between words.

    A cut prefers a line break in the second half of the part, then any
    whitespace; a "word" longer than a whole part (a long URL) is cut where it
    must be. The whitespace at a cut is dropped; nothing else is changed.
    """
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        end = _fit(rest, limit)
        cut = rest.rfind("\n", end // 2, end + 1)
        if cut <= 0:
            cut = max((rest.rfind(space, 0, end + 1) for space in (" ", "\t", "\n")),
                      default=-1)
        if cut <= 0:
            cut = end  # no whitespace at all: cut the word
        part = rest[:cut].rstrip()
        if not part:  # only whitespace before the cut
            part, cut = rest[:end], end
        parts.append(part)
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
