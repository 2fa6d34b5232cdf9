"""Opening a file the customer sent: with the desktop's viewer when there is one.

Over SSH there is no desktop to open it on, so the operator gets the path
(and it goes to the clipboard through the terminal) instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def readable_file(path: str | Path) -> bool:
    """Whether ``path`` is a file this process can read (False, not an error, when a
    folder on the way is another operator's private one)."""
    try:
        return Path(path).is_file() and os.access(path, os.R_OK)
    except OSError:
        return False


def viewer_command(path: Path, environ: Mapping[str, str] | None = None,
                   platform: str = sys.platform) -> list[str] | None:
    """The command that shows ``path`` on this machine's desktop, or None (over SSH,
    on a server without a desktop, or with no opener installed)."""
    env = os.environ if environ is None else environ
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return None  # a viewer would open on the server's screen, not the operator's
    if platform == "darwin":
        return ["open", str(path)]
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    opener = shutil.which("xdg-open")
    return [opener, str(path)] if opener else None


def open_in_viewer(path: Path) -> bool:
    """Start the desktop's viewer for ``path`` (not waiting for it); False if none."""
    command = viewer_command(path)
    if command is None:
        return False
    try:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return False
    return True
