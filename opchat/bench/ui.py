"""opchat's app driven headless on the big store, timed up to the frame the operator sees.

Runs in a child process of the benchmark (see ``children``), so that the app's
start-up includes the imports a user pays for and its peak RSS is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opchat.bench.fixture import BenchError, StoreInfo
from opchat.bench.sql_counts import SqlCounts

TERMINAL_SIZE = (120, 40)
BENCH_REPLIES = 5_000  # quick replies stored for the reply-insert measurement
UI_TIMEOUT = 60.0  # seconds one UI step may take before the benchmark gives up on it

# What a child process of the benchmark runs (see children.spawn_child).
CHILD_MAIN = "import sys; from opchat.bench import main; sys.exit(main())"


def peak_rss_mib() -> float:
    """This process's peak resident set size, in MiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child started from a big parent
    would report the parent's peak. ``VmHWM`` belongs to the new program only.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class FrameWatch:
    """Notes each frame an app sends to the terminal, and what held when it was sent.

    Headless, Textual skips turning a frame into escape sequences; we do that
    work ourselves (and throw the text away) so that every app pays for it, as
    it would in a terminal. Patched onto the instance, so the app's class (and
    its CSS) stays its own.

    ``when(condition)`` gives the wall-clock time of the first frame sent while
    ``condition()`` held: the moment the operator could have seen it.
    """

    def __init__(self, app: Any) -> None:
        self.first_at: float | None = None
        self._waiters: list[Waiter] = []
        display = app._display

        def _display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            from textual._compositor import CompositorUpdate

            if not isinstance(renderable, CompositorUpdate):
                return
            renderable.render_segments(app.console)
            at = time.time()
            for waiter in self._waiters:
                if waiter.at is None and _holds(waiter.condition):
                    waiter.at = at
                    waiter.seen.set()
            if self.first_at is None:
                self.first_at = at

        app._display = _display

    def when(self, condition: Callable[[], bool]) -> Waiter:
        waiter = Waiter(condition)
        self._waiters.append(waiter)
        return waiter

    async def seen(self, waiter: Waiter, what: str, timeout: float = UI_TIMEOUT) -> float:
        """The time of the frame `waiter` waits for, once it has been sent."""
        try:
            await asyncio.wait_for(waiter.seen.wait(), timeout)
        except TimeoutError:
            raise BenchError(f"gave up waiting for {what} after {timeout:.0f} s") from None
        finally:
            self._waiters.remove(waiter)
        assert waiter.at is not None
        return waiter.at


@dataclass
class Waiter:
    condition: Callable[[], bool]
    at: float | None = None  # time.time() of the first frame sent while condition() held
    seen: asyncio.Event = field(default_factory=asyncio.Event)


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return bool(condition())
    except Exception:  # the widget is not there yet, or is being rebuilt
        return False


class AppDriver(SqlCounts):
    """Runs OpchatApp headless on the big store and times what the operator does.

    Every time is taken up to the first frame sent while the widgets held what
    the operator waits for (see FrameWatch), from the key press or the ingest.
    """

    def __init__(self, data_dir: Path, info: StoreInfo, t0: float) -> None:
        self.data_dir = data_dir
        self.info = info
        self.t0 = t0
        self.result: dict[str, Any] = {}

    def run(self, ops: bool) -> dict[str, Any]:
        # What `opchat` does before its first frame (cli.cmd_app, cli.run.build_app: the
        # list's first page read on a thread while the app is imported); the hub is
        # imported and run only after it, and not at all here (the bench's second process
        # plays it).
        from opchat.cli import build_parser, runs_the_app
        from opchat.cli.run import build_app
        from opchat.config import load_settings
        from opchat.i18n import set_language
        from opchat.logs import setup_logging

        # The command line parsed as `opchat --data-dir DIR` has it parsed (cli.main).
        argv = ["--data-dir", str(self.data_dir)]
        build_parser(argv, commands=not runs_the_app(argv)).parse_args(argv)
        # The config the benchmark wrote (children.BENCH_CONFIG: two channels, every
        # other setting at its default); the data dir is the big store.
        config = os.environ.get("OPCHAT_CONFIG")
        settings = load_settings(Path(config) if config else
                                 self.data_dir / "no-such-config.toml", self.data_dir)
        settings.operator = "bench"
        set_language(settings.language)
        setup_logging(settings.data_dir, settings.log_level)
        app = build_app(settings)
        return asyncio.run(self._drive(app, ops))

    async def _drive(self, app: Any, ops: bool) -> dict[str, Any]:
        from opchat.widgets.conversation_list import ConversationList
        from opchat.widgets.thread_view import ThreadView

        frames = FrameWatch(app)
        self.app, self.frames = app, frames
        self.list = lambda: app.screen.query_one(ConversationList)
        self.thread = lambda: app.screen.query_one(ThreadView)
        listed = frames.when(lambda: self.list().row(0) is not None)
        async with app.run_test(headless=True, size=TERMINAL_SIZE) as pilot:
            self.pilot = pilot
            await frames.seen(listed, "the conversation list")
            assert frames.first_at is not None
            self.result["first_frame_ms"] = (frames.first_at - self.t0) * 1000
            assert listed.at is not None
            self.result["first_list_frame_ms"] = (listed.at - self.t0) * 1000
            if ops:
                for step, note in ((self.open_big, "open_note"), (self.page_down, "page_note"),
                                   (self.ingest_here, "local_note"),
                                   (self.ingest_there, "remote_note"),
                                   (self.reply_insert, "reply_note"),
                                   (self.stats_open, "stats_note"),
                                   (self.sql_per_message, "sql_note"),
                                   (self.sql_per_reply, "reply_sql_note"),
                                   (self.idle, "idle_note")):
                    try:
                        await step()
                    except Exception as exc:  # one broken step must not hide the others
                        self.result[note] = f"not measured: {type(exc).__name__}: {exc}"
            self.result["rss_mib"] = peak_rss_mib()
            self.result["rss_note"] = ("VmHWM of the app's process after the work above"
                                       if ops else "VmHWM at the first frame")
            app.exit()
        return self.result

    async def _focus_list(self) -> Any:
        lst = self.list()
        lst.focus()
        await self.pilot.pause()
        return lst

    async def open_big(self) -> None:
        """Enter on the big conversation, coming from its neighbour in the list."""
        big = self.info.big_id
        lst = await self._focus_list()
        at = await lst.inbox.position(big)
        if at is None:
            raise BenchError("the big conversation is not in the list")
        other = at + 1 if at + 1 < lst.row_count else at - 1
        cold, warm = [], []
        for n in range(8):
            await self._open_row(other)
            if n < 7:
                # Forget the rendered messages, as if it had never been opened: the
                # blocks' heights and lines (drawn when first on screen) both.
                self.thread()._blocks.clear()
            await self._focus_list()
            await self._put_cursor(at)
            shown = self.frames.when(lambda: self._thread_shows(big))
            t0 = time.time()
            await self.pilot.press("enter")
            ms = (await self.frames.seen(shown, "the big conversation") - t0) * 1000
            (cold if n < 7 else warm).append(ms)
        self.result["open_ms"] = statistics.median(cold)
        self.result["open_note"] = (
            f"Enter to the frame showing its newest 100 of {self.info.big_messages:,} messages, "
            f"not rendered before: median of 7, {min(cold):.0f}–{max(cold):.0f} ms; "
            f"rendered before: {warm[0]:.1f} ms")

    async def _put_cursor(self, index: int) -> None:
        lst = self.list()
        lst.move_cursor(index)
        await self.frames.seen(self.frames.when(lambda: self._list_drawn(index)),
                               f"row {index} of the list")

    async def _open_row(self, index: int) -> None:
        lst = await self._focus_list()
        await self._put_cursor(index)
        wanted = lst.row(index).id
        shown = self.frames.when(lambda: self._thread_shows(wanted))
        await self.pilot.press("enter")
        await self.frames.seen(shown, f"conversation {wanted}")

    def _thread_shows(self, conversation_id: int) -> bool:
        thread = self.thread()
        return (thread.conversation is not None and thread.conversation.id == conversation_id
                and not thread._fetching and bool(thread.messages))

    def _list_drawn(self, cursor: int | None = None, below: int | None = None) -> bool:
        """The cursor is on `cursor` (or below `below`) and every row on screen is in memory."""
        from opchat.widgets.conversation_list import ROW_HEIGHT

        lst = self.list()
        if cursor is not None and lst.cursor != cursor:
            return False
        if below is not None and lst.cursor <= below:
            return False
        first = int(lst.scroll_y) // ROW_HEIGHT
        # Rows with at least one line on screen: the last one may be cut by the edge.
        last = min(lst.row_count, -(-(int(lst.scroll_y) + lst.size.height) // ROW_HEIGHT))
        return all(lst.row(i) is not None for i in range(first, last))

    async def page_down(self) -> None:
        lst = await self._focus_list()
        await self.pilot.press("home")
        await self.pilot.pause()
        samples = []
        for _ in range(10):
            drawn = self.frames.when(lambda was=lst.cursor: self._list_drawn(below=was))
            t0 = time.time()
            await self.pilot.press("pagedown")
            samples.append((await self.frames.seen(drawn, "the next page") - t0) * 1000)
        drawn = self.frames.when(lambda: self._list_drawn(lst.row_count - 1))
        t0 = time.time()
        await self.pilot.press("end")
        end_ms = (await self.frames.seen(drawn, "the last page") - t0) * 1000
        await self.pilot.press("home")
        await self.frames.seen(self.frames.when(lambda: self._list_drawn(0)), "the first page")
        self.result["page_ms"] = statistics.median(samples)
        self.result["page_note"] = (
            f"PageDown to the frame with every row on screen loaded; median of 10, "
            f"max {max(samples):.1f} ms")
        self.result["end_ms"] = end_ms
        self.result["end_note"] = f"End to the frame with row {lst.row_count:,} drawn"

    async def stats_open(self) -> None:
        """Alt+S to the frame with the last 7 days' figures drawn; Esc between tries."""
        from opchat.screens.stats import StatsScreen

        def drawn() -> bool:
            screen = self.app.screen
            return isinstance(screen, StatsScreen) and screen.report is not None

        await self._focus_list()
        samples = []
        for _ in range(5):
            shown = self.frames.when(drawn)
            t0 = time.time()
            await self.pilot.press("alt+s")
            samples.append((await self.frames.seen(shown, "the stats screen") - t0) * 1000)
            await self.pilot.press("escape")
            await self.frames.seen(self.frames.when(lambda: not drawn()), "the inbox again")
        self.result["stats_ms"] = statistics.median(samples)
        self.result["stats_note"] = (f"Alt+S to the frame with the last 7 days' figures; "
                                     f"median of 5, {min(samples):.0f}–{max(samples):.0f} ms")

    def _listed_first(self, name: str) -> bool:
        lst = self.list()
        row = lst.row(0)
        return row is not None and row.contact_name == name and int(lst.scroll_y) == 0

    async def ingest_here(self) -> None:
        from opchat.model import InboundMessage

        await self._focus_list()
        await self._put_cursor(0)
        store = self.list().inbox.store
        samples = []
        for k in range(5):
            name = f"Same Process {k} {os.getpid()}"
            chat = f"here-{os.getpid()}-{k}-{time.time_ns()}"
            shown = self.frames.when(lambda name=name: self._listed_first(name))
            t0 = time.time()
            await store.inbound.ingest(InboundMessage(
                channel="telegram", chat_id=chat, external_id=chat, sender_id=chat,
                sender_name=name, body="Здравствуйте! Заказ ещё не пришёл"))
            samples.append((await self.frames.seen(shown, "the new conversation") - t0) * 1000)
            await self.pilot.pause(0.05)
        self.result["local_delay_ms"] = statistics.median(samples)
        self.result["local_note"] = (
            f"store.inbound.ingest() to the frame with the new dialog on top; median of 5, "
            f"min {min(samples):.1f}, max {max(samples):.1f} ms")

    async def ingest_there(self) -> None:
        await self._focus_list()
        await self._put_cursor(0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD_MAIN, "--child", "ingest",
            "--data-dir", str(self.data_dir),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        samples, commits = [], []
        try:
            ready = await asyncio.wait_for(proc.stdout.readline(), UI_TIMEOUT)
            if not ready:
                raise BenchError("the second process did not start")
            for k in range(5):
                chat = f"there-{proc.pid}-{k}-{time.time_ns()}"
                name = f"Second Process {k} {proc.pid}"
                shown = self.frames.when(lambda name=name: self._listed_first(name))
                proc.stdin.write(f"{chat}\t{name}\n".encode())
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), UI_TIMEOUT)
                report = json.loads(line)
                seen = await self.frames.seen(shown, "the other process's dialog")
                samples.append((seen - report["started"]) * 1000)
                commits.append((report["committed"] - report["started"]) * 1000)
                await self.pilot.pause(0.05)
        finally:
            proc.stdin.close()
            await proc.wait()
        self.result["remote_delay_ms"] = statistics.median(samples)
        self.result["remote_note"] = (
            f"ingest() in another process to the frame here; median of 5, "
            f"min {min(samples):.1f}, max {max(samples):.1f} ms "
            f"(the commit itself: median {statistics.median(commits):.1f} ms)")

    async def reply_insert(self) -> None:
        """`/bench-NNNN` then Tab in the reply box, with BENCH_REPLIES replies stored."""
        from opchat.replies import ReplyDraft
        from opchat.screens.thread_pane import ThreadPane
        from opchat.widgets.composer import Composer
        from opchat.widgets.reply_completion import ReplyCompletion

        store = self.list().inbox.store
        have = await store.replies.all()
        if sum(r.shortcut.startswith("bench-") for r in have) < BENCH_REPLIES:
            await store.replies.save_all([
                ReplyDraft(f"bench-{n:04d}", f"Bench reply {n}",
                           f"Hello {{contact.first_name}}, this is saved reply number {n}.")
                for n in range(BENCH_REPLIES)])
        pane = self.app.screen.query_one(ThreadPane)
        pane.reload_replies()
        deadline = time.monotonic() + UI_TIMEOUT
        while len(pane.replies) < BENCH_REPLIES:
            if time.monotonic() > deadline:
                raise BenchError("the replies did not load")
            await self.pilot.pause(0.05)
        await self._open_row(1)
        composer = self.app.screen.query_one(Composer)
        completion = self.app.screen.query_one(ReplyCompletion)
        composer.focus()
        typed, inserted = [], []
        for k in range(7):
            number = 1000 + 500 * k
            composer.load_text("")
            await self.pilot.press(*f"/bench-{number:04d}"[:-1])
            listed = self.frames.when(lambda n=number: completion.is_open and bool(
                completion.matches) and completion.matches[0].shortcut == f"bench-{n:04d}")
            t0 = time.time()
            await self.pilot.press(f"{number:04d}"[-1])
            typed.append((await self.frames.seen(listed, "the drop-down") - t0) * 1000)
            shown = self.frames.when(
                lambda n=number: f"saved reply number {n}." in composer.text)
            t0 = time.time()
            await self.pilot.press("tab")
            inserted.append((await self.frames.seen(shown, "the inserted reply") - t0) * 1000)
        composer.load_text("")
        self.result["reply_ms"] = statistics.median(inserted)
        self.result["reply_note"] = (
            f"{BENCH_REPLIES:,} replies stored: Tab on /bench-NNNN to the frame showing the "
            f"reply, variables filled; median of 7, max {max(inserted):.1f} ms; the last key "
            f"of the shortcut to the frame with the drop-down narrowed: median "
            f"{statistics.median(typed):.1f} ms")
