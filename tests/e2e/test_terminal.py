"""opchat --demo in a real terminal (tmux, 80×24), driven with keys like an operator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Terminal, last_line
from tests.tools import require_tmux

require_tmux()

__all__ = ["Terminal", "last_line"]  # tests/e2e/test_team.py takes them from here


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    session = f"opchat-test-{os.getpid()}"
    env = {"OPCHAT_DATA_DIR": str(tmp_path / "data"), "OPCHAT_CONFIG": str(tmp_path / "c.toml"),
           "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    command = " ".join([f"{k}={v}" for k, v in env.items()] +
                       [sys.executable, "-m", "opchat", "--demo", "--operator", "tester"])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    command], check=True)
    try:
        yield Terminal(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_demo_answers_three_customers_with_the_keyboard(terminal: Terminal) -> None:
    screen = terminal.wait_for(lambda s: "Анна Смирнова" in s and "waiting" in s)
    assert "[bold]" in screen  # a customer's markup is shown as typed
    assert "^r Replies" in screen.splitlines()[-1]

    terminal.keys("Enter")  # open the newest dialog: Анна
    terminal.wait_for(lambda s: "DE Анна Смирнова  demo" in s)
    terminal.type("Здравствуйте! Да, доставим в субботу.")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "You" in s and "Здравствуйте! Да, доставим" in s)
    terminal.wait_for(lambda s: "А доставка в Химки есть?" in s)  # she answers

    terminal.keys("C-r")  # a saved reply answers her question
    terminal.type("delivery")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "Доставляем по городу" in s)
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "Отлично, спасибо" in s, timeout=20)

    terminal.keys("Escape")  # back to the list; alone, or it reads as Alt+<next key>
    time.sleep(0.3)
    terminal.keys("End")  # the last dialog: the customer who blocked us
    time.sleep(0.3)  # the highlight has no text mark to wait for; ▌ marks the open dialog
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "DE Blocked Bob  demo" in s)
    terminal.type("Sorry to see you go")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "failed" in s and "blocked the bot" in s)
    terminal.keys("Up")
    # The thread has the focus once its keys are in the footer (as an operator sees).
    terminal.wait_for(lambda s: "Retry" in last_line(s))
    terminal.keys("r")
    terminal.wait_for(lambda s: "queued again" in s)

    terminal.keys("C-q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = subprocess.run(["tmux", "has-session", "-t", terminal.session],
                               capture_output=True).returncode == 0
        if not alive:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"Ctrl+Q did not quit:\n{terminal.screen()}")
