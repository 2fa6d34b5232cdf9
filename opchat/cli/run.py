"""`opchat` (the app), `opchat demo` and `opchat serve` (the hub alone)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from opchat.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    CliError,
    _is_terminal,
    _wrap,
    next_steps,
    open_inbox,
    prepare_data_dir,
    run_store,
    settings_from,
    team_cap,
    with_default_channel,
)
from opchat.config import ConfigError, Settings
from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN

if TYPE_CHECKING:
    from opchat.cli.common import Commands


def add_run_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    """`demo` and `serve` (the app itself is `opchat` with no command)."""
    p = sub.add_parser("demo", parents=[common], help=_("the app with simulated customers"),
                       description=_("the app with simulated customers"))
    p.set_defaults(handler=cmd_app, demo=True)

    p = sub.add_parser("serve", parents=[common],
                       help=_("run the hub alone, headless (for systemd)"),
                       description=_("run the hub alone, headless (for systemd)"))
    p.set_defaults(handler=cmd_serve)


def cmd_app(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare_data_dir(settings)
    from opchat.i18n import set_language
    from opchat.logs import setup_logging

    set_language(settings.language)
    setup_logging(settings.data_dir, settings.log_level)
    if getattr(args, "demo", False):
        _seed_demo_replies(settings)
    else:
        if settings.operator_name is None and _is_terminal(sys.stdin) and \
                _is_terminal(sys.stdout):
            ask_operator_name(settings, sys.stdin, sys.stdout)
        with_default_channel(settings)


    async def run_hub(inbox, on_role) -> None:
        from opchat.hub import run_hub_when_free  # after the first frame, like all hub work

        await run_hub_when_free(inbox, settings.channels, settings.data_dir, on_role,
                                auto_assign_cap=team_cap(settings),
                                transcripts=settings.transcripts,
                                webhooks=settings.webhooks, api=settings.api)

    app = build_app(settings, run_hub, demo=getattr(args, "demo", False))
    try:
        app.run(mouse=settings.mouse)
    finally:
        if app.after_first_frame is not None:  # it ended before its first frame
            app.after_first_frame()
    return app.return_code or EXIT_OK


def build_app(settings: Settings, run_hub=None, demo: bool = False):  # -> OpchatApp (lazy)
    """The app as `opchat` starts it (the benchmark starts it so too).

    The list's first page is read on a thread of its own, started before Textual
    and the app are imported, so that the first frame shows the rows; the store
    itself opens after that frame (see `opchat.app`).

    Python's cyclic garbage collector waits for that frame: the imports and the
    first screen create ~90,000 objects that live as long as the app, and the
    collector went through them again and again (~170 collections, ~20 ms of the
    first frame). Its first threshold is raised until the frame is out, then put
    back (see docs/PERFORMANCE.md, "The first frame (2026-12-04, session 10)";
    turning it off with `gc.disable()` instead made the statistics screen open
    ~45 ms slower for the rest of the run, for reasons not found).
    """
    import functools
    import gc

    threshold = gc.get_threshold()
    gc.set_threshold(START_GC_THRESHOLD, *threshold[1:])
    first_page = FirstPageReader(settings)
    from opchat.app import OpchatApp

    return OpchatApp(settings, lambda: open_inbox(settings), run_hub, demo=demo,
                     first_page=first_page.result,
                     after_first_frame=functools.partial(gc.set_threshold, *threshold))


# Allocations the garbage collector lets pass before its first collection while the
# app starts (Python's default is 700; start-up makes ~90,000 objects).
START_GC_THRESHOLD = 1_000_000


# Rows read ahead: the conversation list's page (its PAGE_ROWS; a test checks they agree).
FIRST_PAGE_ROWS = 40
# How long the first frame waits for a read not done yet (it started ~100 ms earlier).
FIRST_PAGE_WAIT = 0.1  # seconds


class FirstPageReader:
    """Reads the list's first page (`opchat.store.first_page`) on a thread while the
    app loads; `result()` gives it to the app's first frame, or None.

    Only for the data dir's SQLite file: with PostgreSQL the app starts as before.
    The rows are read from the store in this run, a moment before they are drawn,
    never kept from an earlier run; the app reads the list again once the store is
    open, so a change in between shows at once.
    """

    def __init__(self, settings: Settings) -> None:
        import threading

        self._page: tuple[int, list] | None = None
        self._thread: threading.Thread | None = None
        if settings.database_url:
            return
        self._thread = threading.Thread(target=self._read, args=(settings.data_dir,),
                                        name="opchat-first-page", daemon=True)
        self._thread.start()

    def _read(self, data_dir: Path) -> None:
        try:
            from opchat.store.first_page import read_first_page

            self._page = read_first_page(data_dir, FIRST_PAGE_ROWS)
        except Exception as exc:  # the store's open reports what is wrong, after the frame
            import logging

            logging.getLogger("opchat.ui").debug("no first page read ahead: %s", exc)

    def result(self, wait: float = FIRST_PAGE_WAIT) -> tuple[int, list] | None:
        """The count and the rows, or None (not read, or not yet after ``wait`` seconds)."""
        if self._thread is None:
            return None
        self._thread.join(wait)
        return None if self._thread.is_alive() else self._page


def ask_operator_name(settings: Settings, answers: IO[str], out: IO[str]) -> None:
    """The first start: what to do next, and the name customers will see (asked once).

    Asked on the terminal before the app takes the screen. An empty answer is
    kept too (as no name), so the question is not asked again; replies that use
    {operator.name} then ask for it each time instead of saying the login name.
    """
    from opchat.config import save_operator_name

    lines = [_("Welcome to opchat."), "", *next_steps(settings), "",
             _("Your name, as customers will see it (\"I'm {operator.name}\" in replies)."),
              _("Enter alone: no name; replies then ask for it. Change it later in {path} "
                "(operator_name).", path=settings.config_path)]
    out.write("\n".join(_wrap(line) for line in lines) + "\n" + _("Your name: "))
    out.flush()
    answer = answers.readline()
    from opchat.sanitize import one_line

    name = one_line(answer.strip(), 100)
    settings.operator_name = name
    try:
        save_operator_name(settings.config_path, name)
    except ConfigError as exc:  # a read-only config: the name holds for this session
        out.write(_wrap(_("Not saved ({error}); opchat will ask again next time.",
                          error=exc)) + "\n")
        out.flush()


def _seed_demo_replies(settings: Settings) -> None:
    from opchat.replies import STARTER

    async def seed(inbox) -> None:
        if not await inbox.quick_replies():
            await inbox.store.replies.save_all(STARTER)

    run_store(settings, seed)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    prepare_data_dir(settings)
    from opchat.hub import run_hub_when_free
    from opchat.logs import setup_logging

    setup_logging(settings.data_dir, settings.log_level, stderr=True)
    import logging

    log = logging.getLogger("opchat.serve")
    if not settings.database_url:
        _refuse_a_damaged_store(settings.data_dir)
    if not settings.channels:
        log.info("no channels configured in %s; running the web chat on %s",
                 settings.config_path, DEFAULT_LISTEN)
        print("\n".join(_wrap(line) for line in next_steps(settings)), flush=True)
        with_default_channel(settings)

    async def serve(inbox) -> None:
        hub = asyncio.create_task(run_hub_when_free(
            inbox, settings.channels, settings.data_dir,
            lambda role: log.info("role: %s", role), auto_assign_cap=team_cap(settings),
            transcripts=settings.transcripts, webhooks=settings.webhooks, api=settings.api))
        # systemd stops services with SIGTERM: stop the hub cleanly (channels marked
        # stopped, the lock released) as on Ctrl+C.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, hub.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        log.info("stopped")

    run_store(settings, serve)
    return EXIT_OK


def _refuse_a_damaged_store(data_dir: Path) -> None:
    """Stop ``serve`` with one line when the database is damaged (else it starts and says ok)."""
    from opchat.store import DB_FILENAME

    path = Path(data_dir) / DB_FILENAME
    if not path.exists():
        return
    from opchat.store.readonly import Unreadable, damage

    try:
        problem = damage(path)
    except Unreadable as exc:
        problem = exc.detail or _("its pages hold garbage")
    if problem:
        raise CliError(_("the database {path} is damaged ({problem}); restore it from a "
                         "backup or try: sqlite3 {path} .recover",
                         path=str(path), problem=problem), EXIT_FAIL)

