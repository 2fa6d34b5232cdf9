"""`opchat search` as a script runs it: a real process on a real store."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import InboundMessage
from tests.functional.test_cli import cli_env, run

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # tab and newline are ours


def seed(data_dir: Path) -> dict[str, int]:
    async def go() -> dict[str, int]:
        inbox = await Inbox.open(data_dir, "anna")
        ids = {}
        for key, chat, name, body, extra in (
            ("order", "ivan", "Иван Петров", "Где мой ЗАКАЗ номер 4411?", {}),
            ("late", "john", "John Smith", "My delivery is late\nagain", {"phone": "+44 20 7946 0958"}),  # noqa: E501
            ("evil", "mal", "Mal\x1b[2J", "refund \x1b]52;c;cHduZWQ=\x07now \x9b31m\x02x\x03",
             {"labels": ("refund-risk",)}),
        ):
            got = await inbox.store.inbound.ingest(InboundMessage(
                "shop", chat, f"{chat}-1", f"u-{chat}", name, body, sent_at=1_741_953_600.0,
                **extra))
            ids[key] = got.message_id
            ids[f"{key}-conversation"] = got.conversation_id
        await inbox.close()
        return ids

    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(go())


@pytest.fixture
def store(tmp_path: Path) -> dict[str, int]:
    return seed(tmp_path / "data")


def test_hits_print_one_line_each_and_exit_0(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "заказ", env={"TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    date, conversation, contact, channel, snippet = line.split("\t")
    assert date == "2025-03-14 12:00"
    assert conversation == str(store["order-conversation"])
    assert (contact, channel) == ("Иван Петров", "shop")
    assert snippet == "Где мой «ЗАКАЗ» номер 4411?"  # not a terminal: guillemets


def test_several_words_and_prefixes(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "DELIV", "lat")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.endswith("My «delivery» is «late» again")  # the newline is a space


def test_no_hits_exit_1_with_nothing_printed(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "pizza")
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr == ""


def test_what_a_killed_hub_left_unindexed_is_found(tmp_path: Path,
                                                   store: dict[str, int]) -> None:
    """A process that stored a message and was killed before its search index caught up
    (a quarter of a second later): `opchat search` opens the store read-only, cannot
    index it, and finds the message and its new customer all the same."""
    data = tmp_path / "data"
    script = (
        "import asyncio, os, signal, sys\n"
        "from pathlib import Path\n"
        "import opchat.store.later as later\n"
        "from opchat.inbox import Inbox\n"
        "from opchat.model import InboundMessage\n"
        "later.DELAY = later.ALONE = 3600.0\n"
        "async def go():\n"
        "    inbox = await Inbox.open(Path(sys.argv[1]), 'anna')\n"
        "    got = await inbox.store.inbound.ingest(InboundMessage(\n"
        "        'shop', 'olga', 'olga-1', 'u-olga', 'Ольга Сидорова', 'Промокод не работает'))\n"
        "    print(got.message_id, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(go())\n")
    killed = subprocess.run([sys.executable, "-c", script, str(data)], capture_output=True,
                            text=True, timeout=60, env=cli_env(tmp_path))
    assert killed.returncode == -9, killed.stderr
    stored = int(killed.stdout)
    result = run(tmp_path, "search", "промокод", "--json")
    assert result.returncode == 0, result.stderr
    [found] = [json.loads(line) for line in result.stdout.splitlines()]
    assert found["message_id"] == stored
    result = run(tmp_path, "search", "Сидоров")
    assert result.returncode == 0, result.stderr
    assert "«Сидоров»" in result.stdout and "Ольга" in result.stdout


@pytest.mark.parametrize("query", ['"', "*", "NEAR(", "AND", "OR", "a:b", "(((", '"x" *'])
def test_fts_syntax_is_searched_literally(tmp_path: Path, store: dict[str, int],
                                          query: str) -> None:
    result = run(tmp_path, "search", "--", query)
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""


def test_json_lines_for_scripts(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "refund", "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["label", "message"]
    label, message = records
    assert label["label"] == "refund-risk" and label["snippet"] == "label: #«refund»-risk"
    assert message["message_id"] == store["evil"]
    assert message["conversation_id"] == store["evil-conversation"]
    # Its text carries the marker characters itself: no highlight rather than a forged one.
    assert message["snippet"] == message["text"] == "refund now x"
    assert message["date"].startswith("2025-03-14T")
    for record in records:
        for value in record.values():
            assert not (isinstance(value, str) and CONTROL.search(value)), record


def test_contacts_by_phone(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "7946 0958", "--json")
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["kind"] == "contact" and record["contact"] == "John Smith"
    assert record["phone"] == "+44 20 7946 0958"
    assert "«7946 0958»" in record["snippet"]


def test_limit(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "refund", "--limit", "1")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1
    for bad in ("0", "-3", "many"):
        result = run(tmp_path, "search", "refund", "--limit", bad)
        assert result.returncode == 2 and "--limit" in result.stderr


def test_customer_control_characters_never_reach_stdout(tmp_path: Path,
                                                        store: dict[str, int]) -> None:
    result = run(tmp_path, "search", "mal")  # the contact, by name
    assert result.returncode == 0, result.stderr
    result = run(tmp_path, "search", "now")
    assert result.returncode == 0, result.stderr
    for text in (result.stdout, run(tmp_path, "search", "mal").stdout):
        assert not CONTROL.search(text.replace("\t", "").replace("\n", "")), text
    # A marker character the customer sent marks nothing.
    assert "«x»" not in result.stdout


def test_bold_on_a_terminal(tmp_path: Path, store: dict[str, int]) -> None:
    leader, follower = pty.openpty()
    try:
        env = {**cli_env(tmp_path), "TERM": "xterm-256color"}
        env.pop("NO_COLOR", None)
        proc = subprocess.run([sys.executable, "-m", "opchat", "search", "заказ"],
                              stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60)
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode == 0, proc.stderr
    text = output.decode()
    assert "\x1b[1mЗАКАЗ\x1b[22m" in text and "«" not in text


def test_usage_errors_exit_2(tmp_path: Path, store: dict[str, int]) -> None:
    result = run(tmp_path, "search")
    assert result.returncode == 2 and "QUERY" in result.stderr
    result = run(tmp_path, "search", "  ")
    assert result.returncode == 2 and "empty" in result.stderr


def test_no_database_or_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, "search", "x")
    assert result.returncode == 2
    assert "no database" in result.stderr and "Traceback" not in result.stderr
    data = tmp_path / "data"
    data.mkdir()
    (data / "opchat.db").write_bytes(b"this is not SQLite, just garbage " * 100)
    result = run(tmp_path, "search", "x")
    assert result.returncode == 2
    assert "opchat.db" in result.stderr and "not a database" in result.stderr
    assert "Traceback" not in result.stderr
