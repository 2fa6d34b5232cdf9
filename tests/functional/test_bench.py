"""`opchat bench` runs end to end at a tiny scale and reports every row.

A smoke test of the benchmark itself: timings are never asserted here
(machines are noisy); docs/PERFORMANCE.md holds the numbers of a full run.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from opchat.bench import ROW_NAMES, StoreInfo, StoreSize, build_store


def test_bench_runs_and_prints_every_row(tmp_path: Path) -> None:
    env = dict(os.environ, OPCHAT_CONFIG=str(tmp_path / "none.toml"))
    proc = subprocess.run(
        [sys.executable, "-m", "opchat.bench", "--scale", "0.005", "--keep",
         str(tmp_path / "store")],
        capture_output=True, text=True, timeout=180, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    for name in ROW_NAMES:
        assert name in proc.stdout, f"row {name!r} missing from:\n{proc.stdout}"
    assert "what" in proc.stdout and "baseline" in proc.stdout
    # The benchmark drives the real UI through its widgets: if they change shape,
    # the rows say so here rather than silently measuring nothing.
    assert "UI not available" not in proc.stdout, proc.stdout
    assert "not measured" not in proc.stdout, proc.stdout
    # --keep leaves the store behind, with what the benchmark knows about it.
    info = StoreInfo.load(tmp_path / "store")
    assert info is not None and info.scale == 0.005


def test_built_store_agrees_with_itself(tmp_path: Path) -> None:
    """Each dialog's summary columns match its messages, as the store would write them."""
    size = StoreSize.at(0.002)
    info = build_store(tmp_path, size, progress=lambda _: None)
    conn = sqlite3.connect(tmp_path / "opchat.db")
    try:
        assert conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 200
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == size.messages
        assert conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?",
                            (info.big_id,)).fetchone()[0] == size.big
        # The big conversation is the most recent: first in the list.
        top = conn.execute("SELECT id FROM conversations "
                           "ORDER BY last_message_at DESC, id DESC LIMIT 1").fetchone()[0]
        assert top == info.big_id
        wrong = conn.execute(
            "SELECT count(*) FROM conversations c JOIN messages m ON m.id = "
            "(SELECT max(id) FROM messages WHERE conversation_id = c.id) "
            "WHERE m.created_at != c.last_message_at OR m.direction != c.last_direction "
            "OR substr(m.body, 1, 200) != c.last_preview").fetchone()[0]
        assert wrong == 0
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # The schema's own trigger filled the full-text index.
        assert conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH "
                            "'заказ*'").fetchone()[0] > 0
    finally:
        conn.close()
