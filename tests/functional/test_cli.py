"""The `opchat` command as a user runs it: a real process, real files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an opchat whose config and data live in tmp_path."""
    return {**os.environ, "OPCHAT_DATA_DIR": str(tmp_path / "data"),
            "OPCHAT_CONFIG": str(tmp_path / "config.toml")}


def run(tmp_path: Path, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**cli_env(tmp_path), **(env or {})}
    return subprocess.run([sys.executable, "-m", "opchat", *args], input=stdin,
                          capture_output=True, text=True, env=environ, timeout=60)


def seed(data_dir: Path, count: int = 2) -> None:
    async def go() -> None:
        inbox = await Inbox.open(data_dir, "anna")
        for n in range(count):
            got = await inbox.store.inbound.ingest(InboundMessage(
                "demo", f"chat{n}", f"m{n}", f"u{n}", f"Клиент {n}", f"Вопрос {n}"))
        await inbox.send(got.conversation_id, "Ответ")
        await inbox.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(go())


def test_broken_config_names_file_and_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('language = "ru"\nmouse = \n')
    result = run(tmp_path, "export")
    assert result.returncode == 2
    assert f"{tmp_path / 'config.toml'}:2" in result.stderr
    assert "Traceback" not in result.stderr


def test_options_work_after_the_subcommand_too(tmp_path: Path) -> None:
    seed(tmp_path / "elsewhere")
    result = run(tmp_path, "export", "--data-dir", str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()]
    assert (types.count("conversation"), types.count("message")) == (2, 3)


def test_export_jsonl_writes_every_conversation_and_message(tmp_path: Path) -> None:
    seed(tmp_path / "data", count=3)
    out = tmp_path / "dump.jsonl"
    result = run(tmp_path, "export", "--format", "jsonl", "-o", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["type"] for r in records].count("conversation") == 3
    bodies = [r["body"] for r in records if r["type"] == "message"]
    assert bodies == ["Вопрос 0", "Вопрос 1", "Вопрос 2", "Ответ"]


def test_export_without_a_database_says_so(tmp_path: Path) -> None:
    result = run(tmp_path, "export")
    assert result.returncode == 1
    assert "no database" in result.stderr and "Traceback" not in result.stderr


def test_replies_import_list_export_round_trip(tmp_path: Path) -> None:
    yaml_text = ("- shortcut: delivery\n  title: Доставка\n  body: |\n"
                 "    Доставляем за 1-2 дня.\n    Бесплатно от 3000 ₽.\n"
                 "- shortcut: hi\n  title: Greeting\n  body: Hello!\n")
    assert run(tmp_path, "replies", "import", "-", stdin=yaml_text).returncode == 0
    listed = run(tmp_path, "replies", "list")
    assert "/delivery" in listed.stdout and "Доставка" in listed.stdout
    exported = run(tmp_path, "replies", "export")
    assert exported.returncode == 0
    again = run(tmp_path, "replies", "import", "-", stdin=exported.stdout)
    assert again.returncode == 0
    assert run(tmp_path, "replies", "export").stdout == exported.stdout
    assert "Бесплатно от 3000 ₽." in exported.stdout


@pytest.mark.parametrize(("text", "message"), [
    ("- shortcut: a\n  title: x\n  body: [unclosed\n", "not valid YAML"),
    ("shortcut: a\n", "expected a list"),
    ("- shortcut: 'has space'\n  title: t\n  body: b\n", "reply #1: shortcut"),
    ("- shortcut: a\n  title: t\n", "reply #1: body"),
    ("- shortcut: a\n  title: t\n  body: b\n  colour: red\n", "unknown field(s) colour"),
])
def test_bad_replies_file_is_refused_and_nothing_changes(tmp_path: Path, text: str,
                                                         message: str) -> None:
    assert run(tmp_path, "replies", "add", "keep", "--title", "Kept",
               "--body", "still here").returncode == 0
    result = run(tmp_path, "replies", "import", "-", stdin=text)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "/keep" in run(tmp_path, "replies", "list").stdout


def test_doctor_on_a_fresh_machine_and_with_problems(tmp_path: Path) -> None:
    fresh = run(tmp_path, "doctor", env={"TERM": "xterm-256color", "COLORTERM": ""})
    assert fresh.returncode == 0, fresh.stdout
    assert "does not exist yet" in fresh.stdout
    (tmp_path / "config.toml").write_text('[channels.shop]\nkind = "nosuch"\n')
    seed(tmp_path / "data")
    broken = run(tmp_path, "doctor", env={"TERM": "xterm-256color", "COLORTERM": "",
                                          "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"})
    assert broken.returncode == 1
    assert "unknown kind 'nosuch'" in broken.stdout
    assert "SendEnv COLORTERM" in broken.stdout
    assert "2 dialogs, 3 messages" in broken.stdout


def test_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    result = run(tmp_path, "replies", "list", "--data-dir", str(blocker / "sub"))
    assert result.returncode == 1
    assert "cannot use data dir" in result.stderr and "Traceback" not in result.stderr


FOLLOWER = """
import asyncio, sys, time
from pathlib import Path
from opchat.inbox import Inbox

async def main():
    inbox = await Inbox.open(Path(sys.argv[1]), "boris")
    feed = inbox.changes(after_id=await inbox.store.events.last_event_id())
    print("ready", flush=True)
    async for events in feed:
        for e in events:
            if e.kind == "message.new":
                m = await inbox.message(e.message_id)
                print("seen", m.body, time.time(), flush=True)
                await inbox.send(m.conversation_id, "answer from boris")
                await inbox.close()
                return

asyncio.run(main())
"""


async def test_two_processes_on_one_data_dir_see_each_other(tmp_path: Path) -> None:
    anna = await Inbox.open(tmp_path, "anna")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FOLLOWER, str(tmp_path), stdout=asyncio.subprocess.PIPE)
    try:
        await _converse(anna, child)
    finally:
        if child.returncode is None:
            child.kill()
        await anna.close()


async def _converse(anna: Inbox, child: asyncio.subprocess.Process) -> None:
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 20)).strip() == b"ready"
    got = await anna.store.inbound.ingest(InboundMessage("demo", "c1", "m1", "u1", "Ivan", "hello"))
    seen = (await asyncio.wait_for(child.stdout.readline(), 5)).decode().split()
    assert seen[:2] == ["seen", "hello"]
    await asyncio.wait_for(child.wait(), 10)
    # And the other way round: boris's answer reaches anna's process through the feed.
    async for events in anna.changes(after_id=0):
        bodies = [(await anna.message(e.message_id)).body for e in events  # type: ignore[union-attr]
                  if e.kind == "message.new"]
        if "answer from boris" in bodies:
            break
    messages = await anna.messages(got.conversation_id)
    assert [(m.author, m.body) for m in messages] == [("Ivan", "hello"),
                                                      ("boris", "answer from boris")]


def test_files_follow_the_data_dir_privacy(tmp_path: Path) -> None:
    private = tmp_path / "data"
    assert run(tmp_path, "replies", "list").returncode == 0
    assert (private.stat().st_mode & 0o777) == 0o700
    assert ((private / "opchat.db").stat().st_mode & 0o777) == 0o600
    team = tmp_path / "team"
    team.mkdir()
    team.chmod(0o2770)
    assert run(tmp_path, "replies", "list", "--data-dir", str(team)).returncode == 0
    assert ((team / "opchat.db").stat().st_mode & 0o777) == 0o660


def test_serve_runs_the_hub_headless_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[channels.demo]\nkind = "demo"\ninterval = 3600\n')
    environ = cli_env(tmp_path)
    server = subprocess.Popen([sys.executable, "-m", "opchat", "serve"], env=environ,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "role: hub" in line:
                break
        db = tmp_path / "data" / "opchat.db"

        async def health(expected: str) -> list[tuple[str, str]]:
            # The demo's dialogs come in first, then the channel says it is up.
            inbox = await Inbox.open(tmp_path / "data", "probe")
            try:
                for _ in range(200):
                    found = [(c.name, c.health.value) for c in await inbox.channels()]
                    if await inbox.count() == 8 and found == [("demo", expected)]:
                        break
                    await asyncio.sleep(0.05)
                return found
            finally:
                await inbox.close()

        assert db.exists()
        assert asyncio.run(health("ok")) == [("demo", "ok")]
        server.terminate()
        assert server.wait(timeout=10) == 0
        rest = server.stderr.read()
        assert "stopped" in rest and "Traceback" not in rest + "".join(lines)
        assert asyncio.run(health("stopped")) == [("demo", "stopped")]
    finally:
        if server.poll() is None:
            server.kill()


def test_the_demo_keeps_the_real_data_dir_private(tmp_path: Path) -> None:
    from opchat.cli import build_parser, prepare_data_dir, settings_from

    args = build_parser().parse_args(["--demo", "--data-dir", str(tmp_path / "a" / "opchat")])
    settings = settings_from(args, environ={})
    umask = os.umask(0o022)
    try:
        prepare_data_dir(settings)
    finally:
        os.umask(umask)  # prepare_data_dir sets the process umask
    assert settings.data_dir == tmp_path / "a" / "opchat" / "demo"
    for directory in (tmp_path / "a", tmp_path / "a" / "opchat", settings.data_dir):
        assert (directory.stat().st_mode & 0o777) == 0o700


# Channels and the web chat ---------------------------------------------------------------


def test_channel_add_list_and_snippet(tmp_path: Path) -> None:
    result = run(tmp_path, "channel", "add", "webchat", "--name", "shop", "--listen",
                 "0.0.0.0:8765", "--origin", "https://shop.example", "--public-url",
                 "https://chat.shop.example/")
    assert result.returncode == 0, result.stderr
    assert '<script src="https://chat.shop.example/widget.js" async></script>' in result.stdout
    config = (tmp_path / "config.toml").read_text()
    assert 'origin = ["https://shop.example"]' in config and 'listen = "0.0.0.0:8765"' in config
    assert ((tmp_path / "config.toml").stat().st_mode & 0o777) == 0o600
    listed = run(tmp_path, "channel", "list")
    assert listed.stdout.split()[:2] == ["shop", "webchat"]
    snippet = run(tmp_path, "channel", "snippet", "shop")
    assert snippet.stdout == '<script src="https://chat.shop.example/widget.js" async></script>\n'


def test_any_declared_option_goes_in_with_set_and_is_checked_as_the_config_will(
        tmp_path: Path) -> None:
    import tomllib

    result = run(tmp_path, "channel", "add", "webchat", "--name", "shop", "--set",
                 'title=Chat with Anna', "--set", "offline_form=false", "--set",
                 'origin=["https://shop.example"]', "--set", "color=#ff8800")
    assert result.returncode == 0, result.stderr
    table = tomllib.loads((tmp_path / "config.toml").read_text())["channels"]["shop"]
    assert table == {"kind": "webchat", "title": "Chat with Anna", "offline_form": False,
                     "origin": ["https://shop.example"], "color": "#ff8800"}
    for args, problem in [
            (["--set", "titel=x"], 'unknown setting "channels.bad.titel" for a webchat '
                                   'channel (did you mean "title"?)'),
            (["--set", "offline_form=maybe"], "channels.bad.offline_form must be true or "
                                              'false, not "maybe"'),
            (["--set", "nothing"], "--set 'nothing': write KEY=VALUE")]:
        refused = run(tmp_path, "channel", "add", "webchat", "--name", "bad", *args)
        assert refused.returncode == 2 and problem in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert "bad" not in tomllib.loads((tmp_path / "config.toml").read_text())["channels"]


@pytest.mark.parametrize("kind", ["webchat", "telegram", "demo"])
def test_channel_add_offers_each_declared_option_of_the_kind_as_a_flag(
        tmp_path: Path, kind: str) -> None:
    from opchat.transports import COMMON_OPTIONS, channel_options

    shown = run(tmp_path, "channel", "add", kind, "--help").stdout
    declared = channel_options(kind)
    assert declared is not None
    for option in (*declared.options, *COMMON_OPTIONS.options):
        if option.kind == "table":
            assert f"--{option.name}" not in shown  # given with --set
        elif option.kind == "flag":
            assert f"{option.flag}, --no-{option.flag[2:]}" in shown, option.name
        else:
            assert option.flag in shown, option.name
    others = {"webchat": "--token", "telegram": "--origin", "demo": "--listen"}[kind]
    assert others not in shown


def test_channel_add_flags_are_typed_by_the_declaration(tmp_path: Path) -> None:
    import tomllib

    result = run(tmp_path, "channel", "add", "telegram", "--name", "shop", "--token-env",
                 "SHOP_TOKEN", "--poll-timeout", "30", "--download-limit", "1000000")
    assert result.returncode == 0, result.stderr
    table = tomllib.loads((tmp_path / "config.toml").read_text())["channels"]["shop"]
    assert table == {"kind": "telegram", "token_env": "SHOP_TOKEN", "poll_timeout": 30,
                     "download_limit": 1000000}
    result = run(tmp_path, "channel", "add", "webchat", "--name", "site", "--no-offline-form",
                 "--origin", "https://a.example", "--origin", "https://b.example")
    assert result.returncode == 0, result.stderr
    table = tomllib.loads((tmp_path / "config.toml").read_text())["channels"]["site"]
    assert table == {"kind": "webchat", "offline_form": False,
                     "origin": ["https://a.example", "https://b.example"]}
    refused = run(tmp_path, "channel", "add", "telegram", "--name", "bad", "--token-env",
                  "T", "--poll-timeout", "soon")
    assert refused.returncode == 2
    assert refused.stderr == 'opchat: --poll-timeout must be a whole number, not "soon"\n'


def test_channel_options_lists_what_a_kind_declares(tmp_path: Path) -> None:
    listed = run(tmp_path, "channel", "options", "telegram")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines][:3] == ["token", "token_env", "api_base"]
    assert "(secret: keep it in token_env)" in lines[0]
    russian = run(tmp_path, "--lang", "ru", "channel", "options", "demo")
    assert "секунд между сообщениями клиентов" in russian.stdout
    unknown = run(tmp_path, "channel", "options", "pigeon")
    assert unknown.returncode == 2 and "unknown channel kind 'pigeon'" in unknown.stderr


def test_without_channels_the_web_chat_is_the_default(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    listed = run(tmp_path, "channel", "list")
    assert listed.stdout.split()[:2] == ["web", "webchat"]
    assert "by default" in listed.stderr
    snippet = run(tmp_path, "channel", "snippet", "web")
    assert snippet.stdout == '<script src="http://127.0.0.1:8765/widget.js" async></script>\n'
    from opchat.cli import build_parser, settings_from, with_default_channel

    # No config file yet (a first start): OPCHAT_CONFIG names where it will be made.
    monkeypatch.setenv("OPCHAT_CONFIG", str(tmp_path / "none.toml"))
    settings = with_default_channel(settings_from(build_parser().parse_args(
        ["--data-dir", str(tmp_path)])))
    assert [(c.name, c.kind, c.options) for c in settings.channels] == [("web", "webchat", {})]
    demo = settings_from(build_parser().parse_args(["--demo", "--data-dir", str(tmp_path)]))
    assert [c.kind for c in demo.channels] == ["demo"]


@pytest.mark.parametrize(("args", "problem"), [
    (["channel", "add", "carrier-pigeon"], "unknown channel kind"),
    (["channel", "add", "webchat", "--listen", "localhost"], "is not host:port"),
    (["channel", "add", "webchat", "--origin", "shop.example"],
     '--origin: "shop.example" is not a site like https://shop.example'),
    (["channel", "snippet", "nope"], "no channel named 'nope'"),
])
def test_channel_mistakes_are_one_line_errors(tmp_path: Path, args: list[str],
                                              problem: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2 and problem in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_runs_the_web_chat(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "config.toml").write_text(
        f'[channels.web]\nkind = "webchat"\nlisten = "127.0.0.1:{port}"\n')
    environ = cli_env(tmp_path)
    server = subprocess.Popen([sys.executable, "-m", "opchat", "serve"], env=environ,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "web server listening" in line:
                break
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/widget.js", timeout=5) as page:
            assert page.status == 200 and b"opchat" in page.read()
        server.terminate()
        assert server.wait(timeout=10) == 0
        assert "Traceback" not in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()


def test_export_into_a_closed_pipe_or_a_full_disk_is_no_traceback(tmp_path: Path) -> None:
    seed(tmp_path / "data", count=300)
    environ = cli_env(tmp_path)
    piped = subprocess.run(f"{sys.executable} -m opchat export | head -1", shell=True,
                           capture_output=True, text=True, env=environ, timeout=60)
    assert len(piped.stdout.splitlines()) == 1
    assert "Traceback" not in piped.stderr and "Error" not in piped.stderr
    if Path("/dev/full").exists():
        full = run(tmp_path, "export", "-o", "/dev/full")
        assert full.returncode == 1
        assert "No space left" in full.stderr and "Traceback" not in full.stderr


def test_a_reply_that_is_not_utf8_is_refused_cleanly(tmp_path: Path) -> None:
    environ = cli_env(tmp_path)
    result = subprocess.run([sys.executable, "-m", "opchat", "replies", "add", "x", "--title",
                             "t", "--body", "-"], input=b"\xff\xfe bad", capture_output=True,
                            env=environ, timeout=60)
    assert result.returncode == 2
    assert b"not valid UTF-8" in result.stderr and b"Traceback" not in result.stderr
