"""Which files open in a desktop viewer and which are given as a path."""

from __future__ import annotations

from pathlib import Path

from opchat.viewer import viewer_command

FILE = Path("/data/attachments/shop/photo.jpg")


def test_over_ssh_the_path_is_given_instead() -> None:
    env = {"SSH_CONNECTION": "10.0.0.2 5555 10.0.0.1 22", "DISPLAY": ":0"}
    assert viewer_command(FILE, env, "linux") is None
    assert viewer_command(FILE, {"SSH_TTY": "/dev/pts/3"}, "darwin") is None


def test_a_server_without_a_desktop_gives_the_path() -> None:
    assert viewer_command(FILE, {}, "linux") is None


def test_macos_uses_open() -> None:
    assert viewer_command(FILE, {}, "darwin") == ["open", str(FILE)]
