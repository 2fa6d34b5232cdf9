"""Two operators on one data dir, each in their own terminal (two real processes).

The first `opchat --demo` runs the hub; the second follows. Each sees the
other at work: who has a dialog open, who is typing, who took it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_terminal import Terminal, last_line


def start(session: str, tmp_path: Path, login: str, size: str = "120x30") -> Terminal:
    env = {"OPCHAT_DATA_DIR": str(tmp_path / "data"), "OPCHAT_CONFIG": str(tmp_path / "c.toml"),
           "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    command = " ".join([f"{k}={v}" for k, v in env.items()] +
                       [sys.executable, "-m", "opchat", "--demo", "--operator", login])
    width, height = size.split("x")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", width, "-y", height,
                    command], check=True)
    return Terminal(session)


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[Terminal, Terminal]]:
    sessions = [f"opchat-team-{os.getpid()}-{n}" for n in (1, 2)]
    try:
        anna = start(sessions[0], tmp_path, "anna")
        anna.wait_for(lambda s: "Анна Смирнова" in s and "hub" in s)
        boris = start(sessions[1], tmp_path, "boris")
        boris.wait_for(lambda s: "Анна Смирнова" in s and "follower" in s)
        yield anna, boris
    finally:
        for session in sessions:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_two_operators_see_each_other_at_work(team: tuple[Terminal, Terminal]) -> None:
    anna, boris = team
    boris.keys("Home", "Enter")  # boris opens the newest dialog
    title = boris.wait_for(lambda s: "demo" in s.splitlines()[0]).splitlines()[0]
    name = title.split("▕")[-1].split("demo")[0].replace("DE", "").strip()
    assert name
    # anna sees boris on that dialog's row in her list
    anna.wait_for(lambda s: any(name in line and "◉boris" in line for line in s.splitlines()))
    # anna opens the same dialog: boris sees her there
    anna.keys("Home", "Enter")
    boris.wait_for(lambda s: "Also here: anna" in s)
    # anna types: boris is warned before he answers too
    anna.type("Одну минуту, проверяю")
    boris.wait_for(lambda s: "anna is typing…" in s)
    # boris takes the dialog: anna's title shows it
    boris.keys("M-a")
    anna.wait_for(lambda s: "→ boris" in s.splitlines()[0])
    # anna sends; the reply shows in boris's thread with her name
    anna.keys("Enter")
    boris.wait_for(lambda s: "anna" in s and "Одну минуту, проверяю" in s)
    boris.wait_for(lambda s: "anna is typing…" not in s)


def test_alt_digits_move_focus_from_the_reply_box(team: tuple[Terminal, Terminal]) -> None:
    anna, _ = team
    anna.keys("Home", "Enter")
    anna.wait_for(lambda s: "Send" in last_line(s))  # the reply box has the focus
    anna.keys("M-2")  # a terminal sends ESC 2: it must move the focus, not type "™"
    anna.wait_for(lambda s: "To clipboard" in last_line(s))
    anna.keys("M-3")
    anna.wait_for(lambda s: "Send" in last_line(s))
    anna.keys("M-1")
    screen = anna.wait_for(lambda s: "Open" in last_line(s))
    assert "™" not in screen and "¡" not in screen
