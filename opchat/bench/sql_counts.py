"""What the open app asks of SQLite: statements per arriving message, looks when idle.

Counted through ``Database.trace`` and by wrapping ``Database.data_version``,
never by reading the database: what the app runs is what is counted.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opchat.bench.fixture import BenchError, StoreInfo

if TYPE_CHECKING:
    from opchat.bench.ui import FrameWatch


class SqlCounts:
    """Mixed into `AppDriver` (which provides the app, its pilot, the frame watch, the
    widgets and the moves between them)."""

    info: StoreInfo
    frames: FrameWatch
    pilot: Any
    result: dict[str, Any]
    list: Any
    thread: Any
    _focus_list: Any
    _put_cursor: Any
    _thread_shows: Any

    async def sql_per_message(self) -> None:
        """The SQL one customer's message costs when it arrives in the dialog the operator
        has open: from the ingest until it is drawn and the app has done what follows
        (read marks, the list, the counts)."""
        from opchat.model import InboundMessage

        big = self.info.big_id
        await self._focus_list()
        await self._put_cursor(await self.list().inbox.position(big) or 0)
        shown = self.frames.when(lambda: self._thread_shows(big))
        await self.pilot.press("enter")
        await self.frames.seen(shown, "the big conversation")
        store = self.list().inbox.store
        address = await store.conversations.address(big)
        if address is None:
            raise BenchError("the big conversation has no address")
        body = f"Ещё вопрос про заказ {time.time_ns()}"
        drawn = self.frames.when(
            lambda: any(m.body == body for m in self.thread().messages[-5:]))
        statements: list[tuple[str, str]] = []
        store.db.trace(lambda connection, sql: statements.append((connection, sql)))
        try:
            await store.inbound.ingest(InboundMessage(
                channel=address[0], chat_id=address[1], external_id=f"sql-{time.time_ns()}",
                sender_id=address[1], sender_name="Bench", body=body))
            await self.frames.seen(drawn, "the message in the open dialog")
            await self.pilot.pause(0.5)  # what the app does after drawing it
        finally:
            store.db.trace(None)

        def count(connection: str, *starts: str) -> int:
            return sum(1 for on, sql in statements
                       if on == connection and sql.lstrip().upper().startswith(starts))

        if os.environ.get("OPCHAT_BENCH_SQL"):  # a file to list them in, to see which
            Path(os.environ["OPCHAT_BENCH_SQL"]).write_text("".join(
                f"{connection} {' '.join(sql.split())[:160]}\n"
                for connection, sql in statements))
        self.result["sql_reads"] = count("reader", "SELECT")
        self.result["sql_writes"] = count("writer", "INSERT", "UPDATE", "DELETE")
        self.result["sql_transactions"] = count("writer", "BEGIN")
        self.result["sql_note"] = (
            f"one message into the open dialog, until drawn + 0.5 s: "
            f"{self.result['sql_reads']} reads on the reader connection, "
            f"{self.result['sql_writes']} writes in {self.result['sql_transactions']} write "
            f"transactions (the ingest's own included)")

    async def sql_per_reply(self) -> None:
        """The SQL one reply costs the operator's app: from its first key in the reply box
        (drafts and "typing" shared as it is written) until it is drawn queued and the app
        has done what follows. The hub's part (claim, send, mark sent) is not in it."""
        from opchat.screens.inbox import DRAFT_SAVE_AFTER
        from opchat.widgets.composer import Composer

        big = self.info.big_id
        if not self._thread_shows(big):
            await self._focus_list()
            await self._put_cursor(await self.list().inbox.position(big) or 0)
            shown = self.frames.when(lambda: self._thread_shows(big))
            await self.pilot.press("enter")
            await self.frames.seen(shown, "the big conversation")
        composer = self.pilot.app.screen.query_one(Composer)
        composer.focus()
        composer.load_text("")
        await self.pilot.pause(0.3)
        body = f"Thanks, on its way {time.time_ns() % 10_000:04d}"
        drawn = self.frames.when(
            lambda: any(m.body == body for m in self.thread().messages[-5:]))
        store = self.list().inbox.store
        statements: list[tuple[str, str]] = []
        store.db.trace(lambda connection, sql: statements.append((connection, sql)))
        try:
            await self.pilot.press(*body, "enter")
            await self.frames.seen(drawn, "the reply in the thread")
            await self.pilot.pause(DRAFT_SAVE_AFTER + 0.5)  # a draft saved late counts too
        finally:
            store.db.trace(None)
        if os.environ.get("OPCHAT_BENCH_SQL"):  # as above, beside it
            Path(os.environ["OPCHAT_BENCH_SQL"] + ".reply").write_text("".join(
                f"{connection} {' '.join(sql.split())[:160]}\n"
                for connection, sql in statements))
        self.result["reply_transactions"] = sum(
            1 for on, sql in statements
            if on == "writer" and sql.lstrip().upper().startswith("BEGIN"))
        self.result["reply_reads"] = sum(
            1 for on, sql in statements
            if on == "reader" and sql.lstrip().upper().startswith("SELECT"))
        self.result["reply_sql_note"] = (
            f"a {len(body)}-character reply typed in one burst and Enter, until drawn + "
            f"{DRAFT_SAVE_AFTER + 0.5:.1f} s: {self.result['reply_transactions']} write "
            "transactions, "
            f"{self.result['reply_reads']} reads (drafts and typing shared while it is "
            "written; the hub's claim and mark-as-sent come on top)")

    async def idle(self, seconds: float = 2.0) -> None:
        """How often the open app, doing nothing, asks SQLite whether another process
        committed: every follower of the change feed shares one look."""
        db = self.list().inbox.store.db
        looks = 0
        real = db.data_version

        async def counted() -> int:
            nonlocal looks
            looks += 1
            return await real()

        db.data_version = counted
        try:
            await self.pilot.pause(0.2)
            looks, t0 = 0, time.monotonic()
            await asyncio.sleep(seconds)
            self.result["idle_checks"] = looks / (time.monotonic() - t0)
        finally:
            del db.data_version  # the method again
        self.result["idle_note"] = (f"PRAGMA data_version per second over {seconds:.0f} s, "
                                    "the app open on a dialog, nothing happening")
