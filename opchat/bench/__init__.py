"""`opchat bench`: how fast opchat is on a big synthetic store, beside a baseline.

Builds (or re-uses, with ``--keep``) a store of 100,000 conversations and
1,000,000 messages in opchat's real schema, then measures, each beside a
baseline taken in the same run on the same machine:

- start-up to the first frame, in a fresh interpreter (imports count), beside
  a minimal Textual app with one Static;
- opening a 10,000-message conversation and paging the conversation list,
  in the store and in the running app;
- full-text search of a two-word query that matches many messages and one
  that matches few; then the search screen's whole query (messages, contacts
  by name, phone and e-mail, labels) for both and for a common first name;
- the ingest rate through the hub's ``ChannelSink.ingest``, beside raw
  ``executemany`` into a plain table;
- the delay from ``ingest`` to the row on screen, in the app's own process
  and from a second process;
- peak RSS of the app after the work above, beside the minimal app's.

Numbers are printed, never asserted: machines are noisy. ``--scale`` shrinks
everything (0.005 runs in seconds, for CI); the full size is for people.

The UI is driven headless. Each app runs in its own subprocess, so that its
start-up includes the imports a user pays for and its peak RSS is its own.

The parts: ``fixture`` builds the store, ``measure_store`` times the store and
the hub in this process, ``children`` starts the apps and ``ui`` drives them
(``sql_counts`` counts what they ask of SQLite), ``report`` prints the table.
Every part imports the rest of opchat inside functions: the minimal app's child
pays for this package's imports as opchat's does, and for no part of opchat (the
model alone was ~20 ms, which the minimal app's start paid until 2026-12-04 and
made the first frame's ratios look ~0.15 smaller than they are).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from opchat.bench.children import measure_ui, run_child
from opchat.bench.fixture import BenchError, StoreInfo, StoreSize, build_store, open_or_build
from opchat.bench.measure_store import measure_ingest, measure_store
from opchat.bench.report import ROW_NAMES, Row, build_rows, format_table

__all__ = [
    "ROW_NAMES",
    "BenchError",
    "Row",
    "StoreInfo",
    "StoreSize",
    "build_store",
    "main",
    "run_bench",
]


def run_bench(scale: float = 1.0, keep: str | os.PathLike[str] | None = None,
              database_url: str | None = None) -> int:
    """Build or re-use the store, measure, print the table; 0 unless the benchmark broke.

    ``database_url``: then also copy the store into that empty PostgreSQL database
    (`opchat db migrate-to`'s copy) and measure the same rows there, a second table."""
    if not scale > 0:
        print("opchat bench: --scale must be more than 0", file=sys.stderr)
        return 2
    from opchat.store.benchdata import SQLITE_VERSION

    os.environ.pop("OPCHAT_DATABASE_URL", None)  # the first table is SQLite's, whatever is set
    size = StoreSize.at(scale)
    say = _say
    say(f"opchat bench, scale {scale:g}: {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, SQLite {SQLITE_VERSION}")
    temp = None
    if keep is None:
        temp = tempfile.mkdtemp(prefix="opchat-bench-")
        data_dir = Path(temp)
    else:
        data_dir = Path(keep).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        info = open_or_build(data_dir, size, say)
        say("measuring the store (median of 7 runs each)")
        store = asyncio.run(measure_store(data_dir, info))
        minimal, starts, work = measure_ui(data_dir, say)
        say("ingest through the hub, beside raw inserts (this adds to the store)")
        store.update(asyncio.run(measure_ingest(data_dir, info, scale)))
        for part, name in ((minimal, "minimal app"), (starts, "opchat app"),
                           (work, "opchat at work")):
            if "error" in part:
                say(f"UI not available ({name}): {part['error']}")
                if os.environ.get("OPCHAT_BENCH_DEBUG") and "traceback" in part:
                    say(part["traceback"])
        print()
        print(format_table(build_rows(info, store, minimal, starts, work)))
        if database_url:
            _on_postgres(data_dir, info, scale, database_url, say)
        return 0
    except BenchError as exc:
        print(f"opchat bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _on_postgres(data_dir: Path, info: StoreInfo, scale: float, url: str,
                 say: Callable[[str], None]) -> None:
    """The same rows with the same store copied into PostgreSQL."""
    import time

    from opchat.model import redacted_url
    from opchat.store import DB_FILENAME, StoreError
    from opchat.store.copy import NotEmpty, copy_to_postgres

    say(f"copying the store into {redacted_url(url)}")
    started = time.perf_counter()
    try:
        copied = copy_to_postgres(data_dir / DB_FILENAME, url, lambda *_: None)
        say(f"copied {sum(copied.counts.values()):,} rows in "
            f"{time.perf_counter() - started:.1f} s")
    except NotEmpty:
        say("the database holds a store already: measuring that one as it is")
    except StoreError as exc:
        raise BenchError(f"cannot copy into {redacted_url(url)}: {exc}") from exc
    old = os.environ.get("OPCHAT_DATABASE_URL")
    os.environ["OPCHAT_DATABASE_URL"] = url  # this process's stores and the children's
    try:
        say("measuring the store on PostgreSQL (median of 7 runs each)")
        store = asyncio.run(measure_store(data_dir, info))
        minimal, starts, work = measure_ui(data_dir, say)
        say("ingest through the hub on PostgreSQL")
        store.update(asyncio.run(measure_ingest(data_dir, info, scale)))
    finally:
        if old is None:
            del os.environ["OPCHAT_DATABASE_URL"]
        else:
            os.environ["OPCHAT_DATABASE_URL"] = old
    print()
    print("On PostgreSQL:")
    print(format_table(build_rows(info, store, minimal, starts, work, server=True)))


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opchat.bench",
                                     description="measure opchat on a synthetic store")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (100,000 dialogs, 1,000,000 messages)")
    parser.add_argument("--keep", metavar="DIR", help="build the store here and keep it")
    # Used by the benchmark to run its own child processes.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--ops", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    return run_bench(scale=args.scale, keep=args.keep,
                     database_url=os.environ.get("OPCHAT_DATABASE_URL") or None)
