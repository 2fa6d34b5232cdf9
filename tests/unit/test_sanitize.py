import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text
from textual.content import Content

from opchat.sanitize import cap, clean, one_line, safe_content, safe_text

FORBIDDEN = {
    *map(chr, range(0x00, 0x09)),
    *map(chr, range(0x0B, 0x20)),
    *map(chr, range(0x7F, 0xA0)),
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}

FAMILY = "👨\u200d👩\u200d👧"


def assert_harmless(text: str) -> None:
    assert not FORBIDDEN & set(text), repr(text)


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        ("\x1b]0;pwned\x07", ""),  # window title
        ("\x1b]0;pwned\x1b\\after", "after"),  # OSC ended by ST
        ("\x1b]52;c;aGVsbG8=\x07", ""),  # clipboard write
        ("\x1b[2J\x1b[H", ""),  # clear screen, cursor home
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[38;2;255;0;0mrgb", "rgb"),
        ("\x9b31mred", "red"),  # 8-bit CSI
        ("\x9d0;x\x9c", ""),  # 8-bit OSC with 8-bit ST
        ("\x1bPq#0;2;0;0;0\x1b\\", ""),  # DCS (sixel)
        ("\x1b_Gf=100;AAAA\x1b\\", ""),  # APC (kitty graphics)
        ("\x1b^secret\x1b\\", ""),  # PM
        ("\x1bXsos\x1b\\", ""),  # SOS
        ("\x1bc", ""),  # full reset
        ("\x1b(0lqk", "lqk"),  # line-drawing charset switch
        ("\x1b7\x1b8", ""),  # save/restore cursor
        ("\x1b[", ""),  # truncated CSI
        ("\x1b]8;;http://evil\x07link\x1b]8;;\x07", "link"),  # hyperlink
        ("\x00\x07\x08\x7f", ""),
        ("a\x0bb\x0cc", "abc"),
        ("\x1b", ""),
    ],
)
def test_escape_sequences_and_controls_are_removed(attack: str, expected: str) -> None:
    assert clean(attack) == expected


def test_line_endings_are_normalised() -> None:
    assert clean("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"
    assert clean("a\u2028b\u2029c") == "a\nb\nc"


def test_plain_text_is_returned_unchanged() -> None:
    for text in ["hello", "Привет, мир!\n\tОтступ", "价格 100 ₽", "[bold]x[/]", "🙂 👍🏽"]:
        assert clean(text) == text


def test_bidi_controls_become_visible_markers() -> None:
    cleaned = clean("abc\u202edcba")
    assert cleaned == "abc⟪RLO⟫dcba"
    assert clean("\u2066x\u2069\u200f\u061c") == "⟪LRI⟫x⟪PDI⟫⟪RLM⟫⟪ALM⟫"


def test_zero_width_characters_become_visible_markers() -> None:
    assert clean("pay\u200bpal") == "pay⟪ZWSP⟫pal"
    assert clean("a\u200cb\u2060c\ufeffd\u180ee\u00adf") == ("a⟪ZWNJ⟫b⟪WJ⟫c⟪BOM⟫d⟪MVS⟫e⟪SHY⟫f")
    assert clean("ad\u200dmin") == "ad⟪ZWJ⟫min"
    assert clean("\u200d👩") == "⟪ZWJ⟫👩"
    assert clean("👩\u200d") == "👩⟪ZWJ⟫"


@pytest.mark.parametrize(
    "emoji",
    [
        FAMILY,
        "❤️\u200d🔥",  # heart on fire: VS16 before the joiner
        "🏳️\u200d🌈",
        "👩🏽\u200d💻",  # skin tone before the joiner
        "🏃\u200d♀️",
        "☺️",
        "✌︎",
    ],
)
def test_emoji_sequences_stay_intact(emoji: str) -> None:
    assert clean(emoji) == emoji


def test_lone_surrogates_cannot_break_the_terminal() -> None:
    assert clean("a\ud800b") == "a\ufffdb"
    clean("a\udfffb").encode("utf-8")


def test_mixed_message() -> None:
    message = "\x1b[1mЗаказ\x1b[0m №5\r\nитог:\t100 ₽\x07 \u202e!"
    assert clean(message) == "Заказ №5\nитог:\t100 ₽ ⟪RLO⟫!"


hostile = st.text(
    alphabet=st.sampled_from(
        [
            *map(chr, range(0x00, 0x20)),
            *map(chr, range(0x7F, 0xA1)),
            "[",
            "]",
            ";",
            "\\",
            "P",
            "X",
            "^",
            "_",
            "0",
            "m",
            "a",
            "Я",
            "👨",
            "❤",
            "\ufe0f",
            "\u200d",
            "\u200b",
            "\u202e",
            "\u2066",
            "\u00ad",
            "⟪",
            "⟫",
            " ",
        ]
    )
)


@given(st.one_of(st.text(), hostile))
def test_clean_never_lets_controls_through(text: str) -> None:
    cleaned = clean(text)
    assert_harmless(cleaned)
    assert clean(cleaned) == cleaned


@given(st.one_of(st.text(), hostile), st.integers(min_value=0, max_value=50))
def test_one_line_is_one_harmless_line_within_the_limit(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert "\n" not in line and "\t" not in line
    assert len(line) <= limit
    assert_harmless(line)


def test_one_line() -> None:
    assert one_line("  Hello,\n\n  world\t!  ") == "Hello, world !"
    assert one_line("Hello, world", 8) == "Hello,…"
    assert one_line("Hello", 5) == "Hello"
    assert one_line("Hello", 1) == "…"
    assert one_line("\x1b[2JHi\r\nthere") == "Hi there"


def test_one_line_does_not_cut_a_marker_in_half() -> None:
    assert one_line("abc\u202edef", 6) == "abc…"


def test_cap_prefers_a_line_break_then_a_space_near_the_limit() -> None:
    assert cap("short", 10) == ("short", False)
    text = "x" * 95 + "\nmore text after the break"
    assert cap(text, 100) == ("x" * 95, True)
    text = "y" * 93 + " word another"
    assert cap(text, 100) == ("y" * 93 + " word", True)
    # No break in the last tenth: a hard cut at the limit.
    assert cap("z" * 50 + " " + "z" * 100, 100) == ("z" * 50 + " " + "z" * 49, True)


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_cap_never_exceeds_the_limit(text: str, limit: int) -> None:
    capped, was_cut = cap(text, limit)
    assert len(capped) <= limit
    assert was_cut == (len(text) > limit)
    assert text.startswith(capped)


@pytest.mark.parametrize("markup", ["[bold]x[/]", "[@click=app.quit]x[/]", "[link=http://x]y"])
def test_markup_stays_literal_in_text(markup: str) -> None:
    text = safe_text(markup)
    assert isinstance(text, Text)
    assert text.plain == markup
    assert text.spans == []
    assert not text.style


@pytest.mark.parametrize("markup", ["[bold]x[/]", "[@click=app.quit]x[/]", "[link=http://x]y"])
def test_markup_stays_literal_in_content(markup: str) -> None:
    content = safe_content(markup)
    assert isinstance(content, Content)
    assert content.plain == markup
    assert list(content.spans) == []


def test_safe_text_and_content_clean_and_style() -> None:
    text = safe_text("\x1b[31mhi\u202e", style="bold")
    assert text.plain == "hi⟪RLO⟫"
    assert str(text.style) == "bold"
    assert [(span.start, span.end) for span in text.spans] == [(2, 7)]

    content = safe_content("\x1b]0;t\x07hi", style="italic")
    assert content.plain == "hi"
    assert [(span.start, span.end, span.style) for span in content.spans] == [(0, 2, "italic")]


def test_clean_does_not_load_the_ui_toolkit() -> None:
    # The hub and transports clean text for logs without paying for Textual.
    code = "import sys, opchat.sanitize; sys.exit('textual' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, check=False)
    assert result.returncode == 0


def test_blank_looking_hangul_fillers_are_shown() -> None:
    from opchat.sanitize import clean, one_line

    assert one_line("\u3164") == "⟪HF⟫"
    assert "\u115f" not in clean("a\u115fb") and "\u034f" not in clean("x\u034fy")
