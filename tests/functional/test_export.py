"""`opchat export` takes an owner's data away whole, and reads a backup copy as it is."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import Attachment, InboundMessage
from opchat.replies import STARTER
from tests.functional.test_cli import cli_env, run


def rich_store(data_dir: Path) -> None:
    """A store with a row of every kind a person's data can be in."""

    async def go() -> None:
        inbox = await Inbox.open(data_dir, "anna")
        photo = Attachment("photo", "cat.jpg", "image/jpeg", 2048, ref="file-1")
        got = await inbox.store.inbound.ingest(InboundMessage(
            "shop", "chat1", "m1", "u1", "Иван", "Здравствуйте\u202e\x9b31m",
            phone="+7 916 123-45-67", username="ivan", attachments=(photo,),
            profile={"language": "ru"}, meta={"kind": "question"}, labels=("vip",)))
        conv = got.conversation_id
        await inbox.store.inbound.ingest(InboundMessage(
            "shop", "chat1", "m1-edit", "u1", "Иван", "Здравствуйте!", username="ivan",
            edit_of_external_id="m1"))
        await inbox.store.inbound.ingest(InboundMessage(
            "web", "visitor", "w1", "v1", "Ivan (web)", "hi", email="ivan@example.com"))
        await inbox.label(conv, "callback")
        await inbox.send(conv, "Добрый день")
        await inbox.note(conv, "Called him back")
        await inbox.assign(conv, "anna")
        await inbox.snooze(conv, inbox.clock() + 3600)
        await inbox.save_draft(conv, "half a thought")
        contact = (await inbox.conversation(conv)).contact_id  # type: ignore[union-attr]
        await inbox.set_contact_notes(contact, "Prefers calls")
        messages = await inbox.messages(conv)
        attachment_id = next(a.id for m in messages for a in m.attachments)
        await inbox.store.attachments.fetched(attachment_id, str(data_dir / "cat.jpg"))
        await inbox.store.replies.save_all(STARTER[:2])
        await inbox.hide_message(messages[-1].id)
        await inbox.close()

    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(go())


def records_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_is_complete_with_labels_edits_attachments_notes_events_replies(
        tmp_path: Path) -> None:
    rich_store(tmp_path / "data")
    out = tmp_path / "dump.jsonl"
    result = run(tmp_path, "export", "-o", str(out))
    assert result.returncode == 0, result.stderr
    records = records_of(out.read_text(encoding="utf-8"))
    header = records[0]
    assert header["type"] == "export" and header["format"] == "opchat-export"
    by_type: dict[str, list[dict]] = {}
    for record in records[1:]:
        by_type.setdefault(record["type"], []).append(record)
    assert {"channel", "contact", "identity", "operator", "label", "conversation", "message",
            "attachment", "event", "quick_reply", "draft"} <= set(by_type)
    conv = next(c for c in by_type["conversation"] if c["chat_id"] == "chat1")
    assert sorted(conv["labels"]) == ["callback", "vip"]
    assert conv["status"] == "snoozed" and conv["snoozed_until"]
    messages = [m for m in by_type["message"] if m["conversation_id"] == conv["id"]]
    first = messages[0]
    assert first["body"] == "Здравствуйте\u202e\x9b31m"  # the exact text, in a file
    assert first["meta"] == {"kind": "question"}
    assert any(m["edit_of_id"] == first["id"] and m["body"] == "Здравствуйте!"
               for m in messages)
    assert [m["direction"] for m in messages].count("note") == 1
    assert any(m["hidden"] for m in messages)
    [attachment] = by_type["attachment"]
    assert attachment["message_id"] == first["id"]
    assert attachment["filename"] == "cat.jpg" and attachment["size"] == 2048
    assert attachment["local_path"] == str(tmp_path / "data" / "cat.jpg")
    contact = next(c for c in by_type["contact"] if c["id"] == conv["contact_id"])
    assert contact["notes"] == "Prefers calls" and contact["phone"] == "+7 916 123-45-67"
    identity = next(i for i in by_type["identity"] if i["contact_id"] == contact["id"])
    assert identity["profile"] == {"language": "ru"} and identity["username"] == "ivan"
    kinds = {e["kind"] for e in by_type["event"]}
    assert {"conversation.new", "message.new", "conversation.status", "conversation.label",
            "conversation.assign", "message.hidden"} <= kinds
    assert all(isinstance(e["data"], dict) for e in by_type["event"])
    assert {r["shortcut"] for r in by_type["quick_reply"]} == {r.shortcut for r in STARTER[:2]}
    assert by_type["draft"][0]["body"] == "half a thought"


def test_export_leaves_out_no_table_or_column_silently(tmp_path: Path) -> None:
    """A new migration's column reaches the export, or is named as left out on purpose."""
    from opchat.store.export import LEFT_OUT, RECORDS

    rich_store(tmp_path / "data")
    conn = sqlite3.connect(tmp_path / "data" / "opchat.db")
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE '%fts%'")]
    exported = {record.table: record for record in RECORDS}
    for table in tables:
        if table in LEFT_OUT:
            continue
        assert table in exported, f"table {table} is neither exported nor left out"
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                   if not any(fnmatch.fnmatch(f"{table}.{row[1]}", left) for left in LEFT_OUT)}
        assert columns <= set(exported[table].columns), (table, columns)
    conn.close()


def test_export_to_a_terminal_escapes_controls_a_pipe_gets_the_exact_text(
        tmp_path: Path) -> None:
    rich_store(tmp_path / "data")
    piped = run(tmp_path, "export")
    assert piped.returncode == 0, piped.stderr
    assert "\u202e\x9b31m" in piped.stdout
    shown = _run_on_terminal(tmp_path, "export")
    assert "\u202e" not in shown and "\x9b" not in shown
    assert "\\u202e\\u009b31m" in shown
    body = next(r["body"] for r in records_of(shown.replace("\r\n", "\n"))
                if r["type"] == "message" and r["body"].startswith("Здрав"))
    assert body == "Здравствуйте\u202e\x9b31m"  # the same JSON value


def _run_on_terminal(tmp_path: Path, *args: str) -> str:
    main, child = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "opchat", *args],
                                   stdout=child, stderr=subprocess.PIPE, env=cli_env(tmp_path))
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other end closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0, process.stderr.read()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    finally:
        os.close(main)
    return b"".join(chunks).decode("utf-8")


@pytest.fixture
def backup_copy(tmp_path: Path) -> Iterator[Path]:
    """A chmod -R a-w copy of a used data dir, its WAL not yet checkpointed."""
    rich_store(tmp_path / "data")
    # Keep the WAL, as a copy taken while opchat runs has it.
    holder = sqlite3.connect(tmp_path / "data" / "opchat.db")
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("INSERT INTO labels (name, created_at) VALUES ('only-in-wal', 0)")
    holder.commit()
    copy = tmp_path / "backup"
    shutil.copytree(tmp_path / "data", copy)
    holder.close()
    subprocess.run(["chmod", "-R", "a-w", str(copy)], check=True)
    try:
        yield copy
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(copy)], check=True)


# Root writes anywhere; without these capabilities it meets the file modes as anyone does.
AS_A_USER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize("command", [["search", "Иван"], ["export"], ["audit"],
                                     ["audit", "--json"], ["replies", "list"],
                                     ["replies", "export"]])
def test_a_read_only_data_dir_is_read(backup_copy: Path, command: list[str]) -> None:
    before = sorted(p.name for p in backup_copy.iterdir())
    env = {**os.environ, "OPCHAT_DATA_DIR": str(backup_copy),
           "OPCHAT_CONFIG": str(backup_copy.parent / "config.toml")}
    prefix = AS_A_USER if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, sys.executable, "-m", "opchat", *command],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "Traceback" not in result.stderr
    if command == ["export"]:
        labels = [r["name"] for r in records_of(result.stdout) if r["type"] == "label"]
        assert "only-in-wal" in labels
    assert sorted(p.name for p in backup_copy.iterdir()) == before
