"""Configuration mistakes are loud, a channel that cannot start says why, and
`opchat doctor` says only true things: real processes, real files, a real store."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import SavedReply

TERMINAL = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}


def opchat(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **TERMINAL, "OPCHAT_DATA_DIR": str(tmp_path / "data"),
               "OPCHAT_CONFIG": str(tmp_path / "config.toml"), **(env or {})}
    environ.pop("LC_ALL", None)
    return subprocess.run([sys.executable, "-m", "opchat", *args], capture_output=True,
                          text=True, env=environ, timeout=timeout, stdin=subprocess.DEVNULL)


BROKEN = {
    "keymap": ('[keymap]\n"opchat.quit" = "ctrl+zz+q"\n', 2, "opchat.quit"),
    "channel key": ('[channels.shop]\nkind = "telegram"\ntokn = "123:abc"\n', 3,
                    "channels.shop.tokn"),
    "unknown kind": ('[channels.shop]\nkind = "nosuch"\n', 2, "channels.shop.kind"),
    "colours": ('[ui]\nwait_amber = 90\nwait_red = 60\n', 3, "ui.wait_red"),
    "api_base": ('[channels.shop]\nkind = "telegram"\ntoken_env = "T"\n'
                 'api_base = "ftp://api.example"\n', 4, "channels.shop.api_base"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", [(), ("serve",)])
def test_a_broken_config_stops_the_app_and_serve_before_anything_starts(
        tmp_path: Path, case: str, command: tuple[str, ...]) -> None:
    text, line, key = BROKEN[case]
    config = tmp_path / "broken.toml"
    config.write_text(text)
    result = opchat(tmp_path, "--config", str(config), *command)
    assert result.returncode == 2, (result.stdout, result.stderr)
    first = result.stderr.splitlines()[0]
    assert f"{config}:{line}:" in first and key in first, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "data").exists()  # nothing started, nothing created


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_doctor_names_the_broken_setting_and_checks_the_rest(tmp_path: Path,
                                                              case: str) -> None:
    text, line, key = BROKEN[case]
    config = tmp_path / "broken.toml"
    config.write_text(text)
    result = opchat(tmp_path, "--config", str(config), "doctor")
    assert result.returncode == 1, result.stdout
    failed = [row for row in result.stdout.splitlines() if row.startswith("[FAIL]")]
    assert len(failed) == 1 and f"{config}:{line}:" in failed[0] and key in failed[0]
    assert "data dir" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [(), ("serve",), ("doctor",), ("export",)])
def test_a_config_file_named_but_missing_is_an_error(tmp_path: Path,
                                                     command: tuple[str, ...]) -> None:
    missing = tmp_path / "opchta.toml"
    result = opchat(tmp_path, "--config", str(missing), *command)
    output = result.stdout + result.stderr
    assert f"{missing}: no such file" in output, output
    assert result.returncode == (1 if command == ("doctor",) else 2)
    assert not missing.exists()


def test_channel_add_still_creates_the_named_config(tmp_path: Path) -> None:
    new = tmp_path / "new.toml"
    result = opchat(tmp_path, "--config", str(new), "channel", "add", "webchat")
    assert result.returncode == 0, result.stderr
    assert 'kind = "webchat"' in new.read_text()


def test_config_errors_in_russian(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(BROKEN["channel key"][0])
    result = opchat(tmp_path, "--config", str(config), "serve", env={"LANG": "ru_RU.UTF-8"})
    assert result.returncode == 2
    assert "ошибка в настройках" in result.stderr and "неизвестная настройка" in result.stderr
    result = opchat(tmp_path, "--config", str(config), "doctor", "--lang", "ru")
    assert "неизвестная настройка" in result.stdout and "каталог данных" in result.stdout


# doctor on a fresh machine, and on one where opchat cannot work ---------------------------


def test_doctor_on_a_fresh_install_with_a_web_chat(tmp_path: Path) -> None:
    """The web chat's secret and the data dir are made by the first start: no problem."""
    (tmp_path / "config.toml").write_text('[channels.site]\nkind = "webchat"\n')
    result = opchat(tmp_path, "doctor")
    assert result.returncode == 0, result.stdout
    assert "[FAIL]" not in result.stdout
    assert "will be created on the first start" in result.stdout
    assert "channel site" in result.stdout
    assert not (tmp_path / "data").exists()  # doctor only looks


def test_doctor_does_not_make_the_secret_of_an_existing_data_dir(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[channels.site]\nkind = "webchat"\n')
    (tmp_path / "data").mkdir(mode=0o700)
    result = opchat(tmp_path, "doctor")
    assert result.returncode == 0, result.stdout
    assert not (tmp_path / "data" / "webchat.secret").exists()


def test_doctor_on_a_data_dir_that_can_never_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = opchat(tmp_path, "doctor", "--data-dir", str(blocker / "opchat"))
    assert result.returncode == 1, result.stdout
    line = next(row for row in result.stdout.splitlines() if "data dir" in row)
    assert line.startswith("[FAIL]") and "cannot be created" in line and str(blocker) in line
    assert "created on" not in result.stdout.replace("cannot be created", "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_doctor_on_a_data_dir_under_a_read_only_parent(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        result = opchat(tmp_path, "doctor", "--data-dir", str(parent / "opchat"))
    finally:
        parent.chmod(0o700)
    assert result.returncode == 1
    assert "cannot be created" in result.stdout and "not writable" in result.stdout


def test_doctor_warns_of_a_token_in_a_config_others_can_read(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[channels.shop]\nkind = "telegram"\ntoken = "123456:AAE-x1y2"\n'
                      'api_base = "http://127.0.0.1:9"\n')
    config.chmod(0o644)
    result = opchat(tmp_path, "doctor")
    line = next(row for row in result.stdout.splitlines()
                if row.startswith("[warn]") and "channels.shop.token" in row)
    assert f"chmod 600 {config}" in line
    config.chmod(0o600)
    assert "channels.shop.token" not in opchat(tmp_path, "doctor").stdout
    config.write_text('[channels.shop]\nkind = "telegram"\ntoken_env = "SHOP_TOKEN"\n')
    config.chmod(0o644)
    assert "chmod 600" not in opchat(tmp_path, "doctor").stdout


MENU = """\
[menus.main]
text = "Choose a topic:"
options = [
  { label = "Delivery", reply = "delivery" },
  { label = "Prices", reply = "prices" },
]
[channels.bot]
kind = "demo"
interval = 3600
menu = "main"
"""


def test_doctor_finds_a_menu_option_with_no_reply(tmp_path: Path) -> None:
    async def replies() -> None:
        inbox = await Inbox.open(tmp_path / "data", "anna")
        await inbox.store.replies.save_all([SavedReply(0, "delivery", "Delivery", "3 days")])
        await inbox.close()

    (tmp_path / "data").mkdir(mode=0o700)
    asyncio.run(replies())
    (tmp_path / "config.toml").write_text(MENU)
    result = opchat(tmp_path, "doctor")
    assert result.returncode == 1, result.stdout
    line = next(row for row in result.stdout.splitlines() if row.startswith("[FAIL]"))
    assert f"{tmp_path / 'config.toml'}:3:" in line and '"prices"' in line


# A channel that cannot start ------------------------------------------------------------


def test_a_channel_that_cannot_start_says_why_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[channels.shop]\nkind = "telegram"\ntoken_env = "OPCHAT_TEST_NO_SUCH_TOKEN"\n'
        + MENU.replace("[channels.bot]", "[channels.bot]"))
    environ = {**os.environ, "OPCHAT_DATA_DIR": str(tmp_path / "data"),
               "OPCHAT_CONFIG": str(tmp_path / "config.toml"), "LANG": "C.UTF-8"}
    environ.pop("OPCHAT_TEST_NO_SUCH_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "opchat", "serve"], env=environ,
                              stderr=subprocess.PIPE, text=True)
    # Should the words never come, the test fails rather than hangs.
    watchdog = threading.Timer(60, server.kill)
    watchdog.start()
    try:
        assert server.stderr is not None
        lines = []
        for line in server.stderr:  # a positive signal: both problems said
            lines.append(line)
            if "OPCHAT_TEST_NO_SUCH_TOKEN" in "".join(lines) and '"prices"' in "".join(lines):
                break
    finally:
        watchdog.cancel()
        server.terminate()
        server.wait(timeout=30)
    told = "".join(lines)
    assert "Traceback" not in told and "ValueError" not in told, told
    shop = [line for line in lines if "channel shop" in line]
    assert len(shop) == 1 and "cannot start: Environment variable OPCHAT_TEST_NO_SUCH_TOKEN " \
        "is empty or unset" in shop[0], shop
    assert any(f"{tmp_path / 'config.toml'}:" in line and '"prices"' in line for line in lines)
    with sqlite3.connect(tmp_path / "data" / "opchat.db") as db:
        health, detail = db.execute(
            "SELECT health, health_detail FROM channels WHERE name = 'shop'").fetchone()
    assert health == "down" and "OPCHAT_TEST_NO_SUCH_TOKEN" in detail
    assert "Error" not in detail and detail[0].isupper(), detail


def damage_pages(path: Path) -> None:
    """Bytes overwritten inside pages, as a failing disk or a bad copy leaves them:
    quick_check's report then quotes bytes that are not UTF-8."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        for page in range(2, size // 4096, 3):
            file.seek(page * 4096 + 200)
            file.write(b"\xab" * 300)


def test_a_database_with_garbage_in_its_pages_is_said_to_be_damaged(tmp_path: Path) -> None:
    async def fill() -> None:
        (tmp_path / "data").mkdir(mode=0o700)
        inbox = await Inbox.open(tmp_path / "data", "anna")
        from opchat.model import InboundMessage
        await inbox.store.inbound.ingest_batch([InboundMessage(
            channel="site", chat_id=f"c{n}", external_id=f"m{n}", sender_id=f"u{n}",
            sender_name=f"Гость {n}", body="слово " * 80) for n in range(300)])
        await inbox.close()

    asyncio.run(fill())
    db = tmp_path / "data" / "opchat.db"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    damage_pages(db)
    served = opchat(tmp_path, "serve")
    assert served.returncode == 1, served.stderr
    assert "is damaged" in served.stderr and "sqlite3" in served.stderr, served.stderr
    doctor = opchat(tmp_path, "doctor")
    assert "[FAIL] database" in doctor.stdout, doctor.stdout + doctor.stderr
    assert "UTF-8" not in doctor.stdout + doctor.stderr


@pytest.mark.parametrize(("free", "level", "words"), [
    (512 * 1024, "FAIL", "0.5 MiB free: opchat cannot store messages"),
    (50 * 2**20, "WARN", "only 50.0 MiB free"),
    (10 * 2**30, None, ""),  # plenty: not worth a line
])
def test_doctor_says_when_the_data_dirs_disk_is_nearly_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int, level: str | None,
        words: str) -> None:
    from collections import namedtuple

    from opchat import doctor

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(doctor.shutil, "disk_usage",
                        lambda path: usage(20 * 2**30, 20 * 2**30 - free, free))
    findings = doctor.check_disk(tmp_path)
    if level is None:
        assert findings == []
    else:
        [finding] = findings
        assert finding.level == getattr(doctor, level) and words in finding.text, finding
