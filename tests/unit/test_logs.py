"""The log never carries escape sequences from platforms to an admin's terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from opchat.logs import LogUnavailable, setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    logger = logging.getLogger("opchat")
    before = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in logger.handlers:
        handler.close()
    logger.handlers, logger.level, logger.propagate = before[0], before[1], before[2]


def test_log_lines_are_sanitised(tmp_path: Path) -> None:
    path = setup_logging(tmp_path)
    logging.getLogger("opchat.hub").warning("channel %s is down: %s", "shop",
                                            "bad \x1b]0;pwned\x07 gateway\x1b[2J")
    for handler in logging.getLogger("opchat").handlers:
        handler.flush()
    text = path.read_text()
    assert "bad  gateway" in text
    assert "\x1b" not in text and "\x07" not in text


def test_an_unopenable_log_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "opchat.log").mkdir()
    with pytest.raises(LogUnavailable, match="cannot open the log"):
        setup_logging(tmp_path)
