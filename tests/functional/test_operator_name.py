"""The name customers see is one the operator chose, never their login name by default."""

from __future__ import annotations

import asyncio
import io
import os
import select
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from opchat.cli import ask_operator_name, build_parser, open_inbox, settings_from
from opchat.config import load_settings, save_operator_name
from opchat.placeholders import reply_values, unfilled_slots
from tests.functional.test_cli import cli_env

CONFIG = """\
# my settings, with comments that must stay
language = "ru"   # Russian, please

[ui]
mouse = false     # over SSH

[channels.web]
kind = "webchat"
"""


def test_the_name_is_saved_keeping_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    save_operator_name(path, "Анна \"Аня\"")
    text = path.read_text(encoding="utf-8")
    for line in CONFIG.splitlines():
        assert line in text
    document = tomllib.loads(text)
    assert document["operator_name"] == "Анна \"Аня\""
    assert document["ui"] == {"mouse": False}
    save_operator_name(path, "Анна")  # changed: replaced in place, not added twice
    assert text.count("operator_name") == 1
    assert load_settings(path, tmp_path).operator_name == "Анна"
    assert (path.stat().st_mode & 0o777) == 0o600


def test_a_new_config_file_gets_the_name(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    save_operator_name(path, "")
    assert load_settings(path, tmp_path).operator_name == ""


def test_no_login_name_in_front_of_a_customer() -> None:
    values = reply_values(operator_name="", operator_login="root")
    assert not values.get("operator.name")
    assert [s.name for s in unfilled_slots("I'm {operator.name}.", values)] == ["operator.name"]


def _settings(tmp_path: Path, *args: str):
    env = {"OPCHAT_CONFIG": str(tmp_path / "config.toml"),
           "OPCHAT_DATA_DIR": str(tmp_path / "data")}
    return settings_from(build_parser().parse_args(list(args)), env)


@pytest.mark.parametrize(("config", "expected"), [
    ("", ""), ('operator_name = "Анна"\n', "Анна")])
def test_the_inbox_operator_carries_the_chosen_name(tmp_path: Path, config: str,
                                                    expected: str) -> None:
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    settings = _settings(tmp_path, "--operator", "root")
    (tmp_path / "data").mkdir()

    async def go() -> tuple[str, str]:
        inbox = await open_inbox(settings)
        try:
            return inbox.operator.login, inbox.operator.name
        finally:
            await inbox.close()

    assert asyncio.run(go()) == ("root", expected)


def test_asked_once_with_what_to_do_next(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    out = io.StringIO()
    ask_operator_name(settings, io.StringIO("Анна\n"), out)
    shown = out.getvalue()
    assert "http://127.0.0.1:8765/" in shown and "opchat channel add" in shown
    assert "README" in shown
    assert load_settings(settings.config_path, tmp_path).operator_name == "Анна"
    assert settings.operator_name == "Анна"


def test_skipping_is_remembered_as_no_name(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ask_operator_name(settings, io.StringIO("\n"), io.StringIO())
    assert load_settings(settings.config_path, tmp_path).operator_name == ""


def test_first_start_on_a_terminal_asks_before_the_app(tmp_path: Path) -> None:
    """A real terminal (tmux): the question, an answer, the file, then the app."""
    session = f"opchat-name-{os.getpid()}"
    env = cli_env(tmp_path)
    # A demo channel: the app's hub then listens on no port another test may want.
    Path(env["OPCHAT_CONFIG"]).write_text('[channels.demo]\nkind = "demo"\n')
    command = " ".join([f"{k}={v}" for k, v in (("OPCHAT_CONFIG", env["OPCHAT_CONFIG"]),
                                                ("OPCHAT_DATA_DIR", env["OPCHAT_DATA_DIR"]),
                                                ("LANG", "ru_RU.UTF-8"))]
                       + [sys.executable, "-m", "opchat"])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    command], check=True)
    try:
        screen = _wait_for_screen(session, "Ваше имя")
        assert "opchat channel add" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "Анна"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        deadline = time.monotonic() + 30
        config = Path(env["OPCHAT_CONFIG"])
        while not (config.exists() and "Анна" in config.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline, _capture(session)
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True).stdout


def _wait_for_screen(session: str, text: str) -> str:
    deadline = time.monotonic() + 30
    while text not in (screen := _capture(session)):
        assert time.monotonic() < deadline, screen
        time.sleep(0.1)
    return screen


def test_serve_on_the_first_start_says_what_to_do_next(tmp_path: Path) -> None:
    env = {**cli_env(tmp_path), "LANG": "C.UTF-8", "LC_ALL": ""}
    server = subprocess.Popen([sys.executable, "-m", "opchat", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        received = b""
        deadline = time.monotonic() + 30
        while b"README" not in received:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([server.stdout], [], [], max(left, 0))
            assert ready, f"no next steps on stdout in 30 s: {received!r}"
            chunk = os.read(server.stdout.fileno(), 4096)
            assert chunk, f"serve ended without saying what to do next: {received!r}"
            received += chunk
        shown = received.decode()
        assert "http://127.0.0.1:8765/" in shown and "opchat channel add" in shown
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()  # type: ignore[union-attr]


def test_a_config_that_cannot_be_written_does_not_stop_the_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opchat import config

    def refuse(path: Path, name: str) -> None:  # as a config in /etc that root owns
        raise config.ConfigError(path, None, "cannot write the file: Permission denied")

    monkeypatch.setattr(config, "save_operator_name", refuse)
    settings = _settings(tmp_path)
    out = io.StringIO()
    ask_operator_name(settings, io.StringIO("Анна\n"), out)
    assert settings.operator_name == "Анна"  # for this session
    assert "Not saved" in out.getvalue() and "Permission denied" in out.getvalue()
