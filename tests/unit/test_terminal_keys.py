"""How the app reads what a plain terminal sends for Alt+key: ESC and the key."""

from __future__ import annotations

import string

import pytest
from textual._xterm_parser import XTermParser

from opchat.widgets.composer import register_terminal_keys


@pytest.fixture(autouse=True, scope="module")
def _registered() -> None:
    register_terminal_keys()


def keys(data: str) -> list[str]:
    parser = XTermParser()
    return [event.key for event in [*parser.feed(data), *parser.feed("")]
            if hasattr(event, "key")]


@pytest.mark.parametrize("char", string.ascii_lowercase + string.digits)
def test_esc_and_a_letter_or_digit_is_alt_and_that_key(char: str) -> None:
    assert keys(f"\x1b{char}") == [f"alt+{char}"]


def test_alt_f_and_alt_b_are_not_read_as_ctrl_arrows() -> None:
    # Textual's own table has ESC f / ESC b as Ctrl+Right / Ctrl+Left.
    assert keys("\x1bf\x1bb") == ["alt+f", "alt+b"]


def test_alt_keys_in_a_burst_keep_their_place_among_the_letters() -> None:
    # Without the table entries Textual waits for a pause after ESC; in a burst of
    # more than 32 keys, or before the next ESC, it gave up and typed "^" instead.
    burst = "\x1b1" + "x" * 40 + "\x1b3" + "\x1bf" + "y"
    assert keys(burst) == ["alt+1", *["x"] * 40, "alt+3", "alt+f", "y"]


def test_alt_enter_is_a_new_line_and_the_rest_is_untouched() -> None:
    assert keys("\x1b\r") == ["ctrl+j"]
    assert keys("\r") == ["enter"]
    assert keys("\x1b[A") == ["up"]
    assert keys("\x1b[1;3A") == ["alt+up"]  # Alt+↑ as xterm and tmux send it
    assert keys("\x1bOP") == ["f1"]
    assert keys("\x1b") == ["escape"]
