"""The benchmark's child processes: each app starts in a fresh interpreter.

So that an app's start-up includes the imports a user pays for, and its peak
RSS is its own. The parent runs ``spawn_child``; the child ``run_child``,
which writes its result to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opchat.bench.fixture import BenchError, StoreInfo
from opchat.bench.ui import CHILD_MAIN, TERMINAL_SIZE, AppDriver, FrameWatch, peak_rss_mib

BENCH_CONFIG = """\
[channels.site]
kind = "webchat"
listen = "127.0.0.1:8765"

[channels.shop]
kind = "telegram"
token = "123456789:AAE-bench-token-not-a-real-one"
"""


def run_child(args: argparse.Namespace) -> int:
    """Entry of a child process (see spawn_child); its result goes to ``--out`` as JSON."""
    result: dict[str, Any]
    try:
        if args.child == "minimal":
            result = child_minimal(args.t0)
        elif args.child == "app":
            result = child_app(args.t0, Path(args.data_dir), args.ops)
        elif args.child == "ingest":
            return child_ingest(Path(args.data_dir))
        else:
            raise BenchError(f"unknown child {args.child!r}")
    except Exception as exc:  # reported by the parent, which carries on
        import traceback

        result = {"error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()}
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


def child_minimal(t0: float) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Hello")

    async def drive(app: Minimal) -> dict[str, Any]:
        frames = FrameWatch(app)
        # The same harness as opchat's app below: run_test, headless, same size.
        async with app.run_test(headless=True, size=TERMINAL_SIZE):
            drawn = frames.when(lambda: True)
            await frames.seen(drawn, "the first frame")
            assert frames.first_at is not None
            result = {"first_frame_ms": (frames.first_at - t0) * 1000, "rss_mib": peak_rss_mib()}
            app.exit()
        return result

    return asyncio.run(drive(Minimal()))


def child_ingest(data_dir: Path) -> int:
    """For each "chat id TAB name" line on stdin, ingest one message; print when."""
    from opchat.model import InboundMessage
    from opchat.store import Store

    async def go() -> None:
        store = await Store.open(data_dir)
        try:
            print(json.dumps({"ready": time.time()}), flush=True)
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line.strip():
                    return
                chat, name = line.rstrip("\n").split("\t")
                started = time.time()
                await store.inbound.ingest(InboundMessage(
                    channel="telegram", chat_id=chat, external_id=chat, sender_id=chat,
                    sender_name=name, body="Привет из другого процесса"))
                print(json.dumps({"started": started, "committed": time.time()}), flush=True)
        finally:
            await store.close()

    asyncio.run(go())
    return 0


def child_app(t0: float, data_dir: Path, ops: bool) -> dict[str, Any]:
    info = StoreInfo.load(data_dir)
    if info is None:
        raise BenchError(f"no benchmark store in {data_dir}")
    driver = AppDriver(data_dir, info, t0)
    return driver.run(ops)


def spawn_child(kind: str, out: Path, data_dir: Path | None = None, ops: bool = False,
                env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, Any]:
    # Imported, not run as __main__: runpy would compile the module on every start.
    cmd = [sys.executable, "-c", CHILD_MAIN, "--child", kind, "--out", str(out)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if ops:
        cmd.append("--ops")
    t0 = time.time()
    proc = subprocess.run([*cmd, "--t0", repr(t0)], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"child {kind} exited with {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(out.read_text(encoding="utf-8"))


def measure_ui(data_dir: Path, say: Callable[[str], None],
               starts: int = 7) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Start-ups of both apps, taken in turns; then opchat doing the operator's work."""
    say(f"first frame: a minimal Textual app and opchat on the big store, {starts} starts each "
        "(fresh interpreters)")
    minimal_runs, app_runs = [], []
    with tempfile.TemporaryDirectory(prefix="opchat-bench-out-") as tmp:
        # Both apps start from compiled bytecode, as an installed opchat does (an
        # editable install under PYTHONDONTWRITEBYTECODE would compile opchat's
        # sources at every start, but not Textual's): one unmeasured start each
        # fills a private cache.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        # opchat reads a config as an operator's would have it: a web chat and a
        # Telegram bot (the app checks their tables before its first frame; the hub,
        # which would run them, is not started here).
        config = Path(tmp) / "config.toml"
        config.write_text(BENCH_CONFIG, encoding="utf-8")
        env.update(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), TEXTUAL="",
                   OPCHAT_CONFIG=str(config))
        spawn_child("minimal", Path(tmp) / "warm-minimal.json", env=env)
        spawn_child("app", Path(tmp) / "warm-app.json", data_dir, env=env)
        for n in range(starts):
            minimal_runs.append(spawn_child("minimal", Path(tmp) / f"minimal{n}.json", env=env))
            app_runs.append(spawn_child("app", Path(tmp) / f"app{n}.json", data_dir, env=env))
        say("opchat: open the big conversation, page the list, ingest to screen")
        work = spawn_child("app", Path(tmp) / "work.json", data_dir, ops=True, env=env)
    return (_medians(minimal_runs, ("first_frame_ms", "rss_mib")),
            _medians(app_runs, ("first_frame_ms", "first_list_frame_ms")), work)


def _medians(runs: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[0]
    out: dict[str, Any] = {}
    for key in keys:
        values = [run[key] for run in good if key in run]
        if values:
            out[key] = statistics.median(values)
            out[key + "_range"] = (min(values), max(values))
    return out
