"""What the terminal tests share: `opchat --demo` in tmux, driven like a fast typist."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def last_line(screen: str) -> str:
    """The bottom line the app drew (a pane taller than the app ends in blank lines)."""
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Terminal:
    def __init__(self, session: str) -> None:
        self.session = session

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", text], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session],
                              capture_output=True, text=True, check=True).stdout

    def styled_screen(self) -> str:
        """The screen with its colours and attributes, as escape sequences."""
        return subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", self.session],
                              capture_output=True, text=True, check=True).stdout

    def wait_for(self, check: Callable[[str], bool], timeout: float = 15.0,
                 styled: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.styled_screen() if styled else self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never matched; it shows:\n{screen}")
            time.sleep(0.1)


class Demo(Terminal):
    """`opchat --demo --operator tester` in a tmux session of 80×24."""

    def __init__(self, session: str, data_dir: Path, config: Path) -> None:
        super().__init__(session)
        self.data_dir = data_dir
        self.config = config

    def start(self) -> None:
        env = {"OPCHAT_DATA_DIR": str(self.data_dir), "OPCHAT_CONFIG": str(self.config),
               "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        command = " ".join([f"{k}={v}" for k, v in env.items()] +
                           [sys.executable, "-m", "opchat", "--demo", "--operator", "tester"])
        subprocess.run(["tmux", "new-session", "-d", "-s", self.session, "-x", "80", "-y", "24",
                        command], check=True)

    def quit(self) -> None:
        """Ctrl+Q, and wait for the app (and its tmux session) to end."""
        self.keys("C-q")
        deadline = time.monotonic() + 10
        while subprocess.run(["tmux", "has-session", "-t", self.session],
                             capture_output=True).returncode == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"Ctrl+Q did not quit:\n{self.screen()}")
            time.sleep(0.1)

    def burst(self, *keys: str) -> None:
        """Keys and text in one send-keys call: tmux names (Enter, C-j, M-f) are keys,
        anything else is typed as it is."""
        self.keys(*keys)

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends it when the operator pastes."""
        subprocess.run(["tmux", "set-buffer", "-b", self.session, text], check=True)
        subprocess.run(["tmux", "paste-buffer", "-p", "-d", "-b", self.session,
                        "-t", self.session], check=True)

    def drafts(self) -> dict[str, str]:
        """Each customer's stored draft, by contact name."""
        uri = f"file:{self.data_dir / 'demo' / 'opchat.db'}?mode=ro"  # --demo's own dir
        db = sqlite3.connect(uri, uri=True)
        try:
            rows = db.execute(
                "SELECT c.name, d.body FROM drafts d "
                "JOIN conversations v ON v.id = d.conversation_id "
                "JOIN contacts c ON c.id = v.contact_id").fetchall()
        finally:
            db.close()
        return dict(rows)

    def wait_for_store(self, check: Callable[[dict[str, str]], bool], what: str,
                       timeout: float = 15.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                drafts = self.drafts()
            except sqlite3.OperationalError:  # not created yet, or busy for a moment
                drafts = {}
            if check(drafts):
                return drafts
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: drafts are {drafts!r}; the screen shows:\n"
                                     f"{self.screen()}")
            time.sleep(0.1)

    def in_list(self) -> None:
        """Escape, alone (with a key after it, a terminal's ESC reads as Alt+key), and
        wait until the list has the focus: its keys are in the footer."""
        self.keys("Escape")
        self.wait_for(lambda s: "Open" in last_line(s))

    def open_first(self) -> None:
        """Open the newest dialog (Анна's) with Enter and wait for it."""
        self.wait_for(lambda s: "Анна Смирнова" in s and "waiting" in s)
        self.keys("Enter")
        self.wait_for(lambda s: "DE Анна Смирнова  demo" in s and "Send" in last_line(s))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    session = f"opchat-fast-{os.getpid()}"
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    terminal = Demo(session, tmp_path / "data", tmp_path / "c.toml")
    terminal.start()
    try:
        yield terminal
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def reply_box(screen: str) -> str:
    """What the reply box holds: the lines under its top edge (▔), without the gutter."""
    lines = screen.splitlines()
    top = max(i for i, line in enumerate(lines) if "▔▔▔▔" in line)
    box = []
    for line in lines[top + 1:]:
        if "│" in line and "waiting" in line:  # the status bar: the box has ended
            break
        box.append(line.split("▕", 1)[-1].strip())
    return "\n".join(box).strip()
