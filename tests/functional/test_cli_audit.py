"""`opchat audit` and `opchat unhide` as a user runs them: real processes, real files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from opchat.inbox import Inbox
from opchat.model import InboundMessage, Status
from tests.functional.test_cli import run

T0 = 1_741_953_600.0  # 2025-03-14 12:00:00 UTC
UTC = {"TZ": "UTC"}
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 60  # each look at the clock a minute later: distinct, ordered times
        return self.now


def seed(data_dir: Path) -> dict[str, int]:
    """Two people (one hostile), a reply, a status change, a label, a merge, hiding."""

    async def go() -> dict[str, int]:
        inbox = await Inbox.open(data_dir, "anna", clock=Clock())
        try:
            a = await inbox.store.inbound.ingest(InboundMessage(
                "tg", "c1", "m1", "u1", "Ivan", "Where is my order?", phone="+7 912 345 67 89"))
            b = await inbox.store.inbound.ingest(InboundMessage(
                "wa", "c2", "m2", "u2", "[bold]Evil[/]\x1b]0;pwned\x07\u202e", "spam spam",
                phone="79123456789"))
            await inbox.send(a.conversation_id, "Tomorrow")
            await inbox.set_status(a.conversation_id, Status.RESOLVED)
            await inbox.store.workflow.label(a.conversation_id, "vip\x1b[31m", inbox.operator)
            await inbox.hide_message(b.message_id)
            await inbox.hide_conversation(b.conversation_id)
            first = await inbox.conversation(a.conversation_id)
            second = await inbox.conversation(b.conversation_id)
            assert first is not None and second is not None
            await inbox.merge_contacts(await inbox.merge_plan(first.contact_id,
                                                              second.contact_id))
            return {"a": a.conversation_id, "b": b.conversation_id, "spam": b.message_id}
        finally:
            await inbox.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(go())


def test_audit_of_one_conversation_tells_who_did_what_when(tmp_path: Path) -> None:
    ids = seed(tmp_path / "data")
    result = run(tmp_path, "audit", str(ids["a"]), env=UTC)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2025-03-14T12:02:00+00:00  customer")
    assert "conversation.new" in lines[0]
    text = result.stdout
    assert "customer wrote message #1" in text
    assert re.search(r"anna .*message\.new +reply message #3 queued", text)
    assert re.search(r"anna .*conversation\.status +status open → resolved", text)
    assert "label added: vip" in text
    assert re.search(r"anna +- +contact\.merged +contact #2 \(\[bold\]Evil\[/\]⟪RLO⟫\) "
                     r"merged into #1 \(Ivan\); moved identities: wa/\[bold\]Evil\[/\]⟪RLO⟫; "
                     rf"conversations: #{ids['b']}", text)
    # Only this dialog: the other one's hiding is not in it.
    assert "conversation hidden" not in text and "message #2 hidden" not in text
    assert not CONTROL.search(text)


def test_audit_of_everything_since_a_date_and_as_json(tmp_path: Path) -> None:
    ids = seed(tmp_path / "data")
    everything = run(tmp_path, "audit", env=UTC)
    assert everything.returncode == 0, everything.stderr
    assert "message #2 hidden" in everything.stdout
    assert "conversation hidden" in everything.stdout
    assert not CONTROL.search(everything.stdout)

    late = run(tmp_path, "audit", "--since", "2025-03-14 12:07", env=UTC)
    assert late.returncode == 0, late.stderr
    kinds = [line.split()[3] for line in late.stdout.splitlines()]
    assert kinds == ["message.hidden", "conversation.hidden", "contact.merged"]

    as_json = run(tmp_path, "audit", "--json", env=UTC)
    assert as_json.returncode == 0, as_json.stderr
    assert not CONTROL.search(as_json.stdout)
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(records) == len(everything.stdout.splitlines())
    merged = next(r for r in records if r["kind"] == "contact.merged")
    assert merged["who"] == "anna" and merged["conversation_id"] is None
    assert merged["data"]["conversations"] == [ids["b"]]
    # The JSON keeps the exact data: the RLO is escaped for the terminal, not lost.
    assert merged["data"]["merged_name"] == "[bold]Evil[/]\x1b]0;pwned\x07\u202e"
    assert "\\u202e" in as_json.stdout
    hidden = next(r for r in records if r["kind"] == "message.hidden")
    assert (hidden["message_id"], hidden["operator"], hidden["time"]) == (
        ids["spam"], "anna", "2025-03-14T12:07:00+00:00")


def test_hidden_things_are_listed_and_can_be_shown_again(tmp_path: Path) -> None:
    ids = seed(tmp_path / "data")
    listed = run(tmp_path, "audit", "--hidden", env=UTC)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"conversation #{ids['b']}") and "anna" in lines[0]
    assert lines[1].startswith(f"message #{ids['spam']} in #{ids['b']}")
    assert "spam spam" in lines[1]
    assert not CONTROL.search(listed.stdout)

    shown = run(tmp_path, "unhide", "conversation", str(ids["b"]), "--operator", "boris")
    assert shown.returncode == 0, shown.stderr
    assert "shown again" in shown.stdout
    again = run(tmp_path, "unhide", "conversation", str(ids["b"]))
    assert again.returncode == 0 and "was not hidden" in again.stdout
    assert run(tmp_path, "unhide", "message", str(ids["spam"])).returncode == 0
    assert run(tmp_path, "audit", "--hidden").stdout == ""
    history = run(tmp_path, "audit", str(ids["b"]), env=UTC).stdout
    assert re.search(r"boris .*conversation\.unhidden +conversation shown again", history)
    assert "message #2 shown again" in history


def test_bad_input_gets_a_clear_message_and_the_right_exit_code(tmp_path: Path) -> None:
    missing = run(tmp_path, "audit")
    assert missing.returncode == 1 and "no database" in missing.stderr
    nothing = run(tmp_path, "unhide", "message", "1")
    assert nothing.returncode == 1 and "no database" in nothing.stderr
    assert not (tmp_path / "data" / "opchat.db").exists()  # and none was made up
    seed(tmp_path / "data")
    unknown = run(tmp_path, "audit", "999")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "opchat: no conversation #999"
    assert run(tmp_path, "unhide", "message", "999").returncode == 1
    for args in (["audit", "abc"], ["audit", "--since", "yesterday"],
                 ["unhide", "everything", "1"], ["unhide", "message"]):
        bad = run(tmp_path, *args)
        assert bad.returncode == 2, args
        assert "Traceback" not in bad.stderr and "usage:" in bad.stderr


def test_a_closed_pipe_ends_audit_quietly(tmp_path: Path) -> None:
    async def go() -> None:
        inbox = await Inbox.open(tmp_path / "data", "anna")
        await inbox.store.inbound.ingest_batch([
            InboundMessage("tg", f"c{n % 40}", f"m{n}", f"u{n % 40}", "N", "hi")
            for n in range(6000)])
        await inbox.close()

    (tmp_path / "data").mkdir()
    asyncio.run(go())
    env = {**os.environ, "OPCHAT_DATA_DIR": str(tmp_path / "data"),
           "OPCHAT_CONFIG": str(tmp_path / "config.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "opchat", "audit"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert b"conversation.new" in first
    assert "Traceback" not in stderr and "Exception" not in stderr
    assert proc.returncode in (0, 141)
