"""What channels' transports share beyond the contract (``opchat.transports``): a secret
that must be set, text cut into the parts a platform takes, a file that could not be
fetched, their health and background work. Light: no aiohttp, no SDK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from opchat.model import Health

if TYPE_CHECKING:
    from opchat.config import ChannelSettings
    from opchat.transports import Sink


class DownloadError(Exception):
    """A file could not be fetched; the message says why, for the operator."""


def required(channel: ChannelSettings, key: str) -> str:
    """A secret the channel cannot run without, from the file or its variable."""
    value = channel.secret(key)
    if not value:
        variable = channel.options.get(f"{key}_env")
        raise ValueError(f"environment variable {variable} is empty or unset" if variable
                         else f"no {key}: set {key}, or {key}_env naming the variable "
                              "that holds it")
    return value.strip()


def split(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut between words where it can."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts


class ChannelTasks:
    """Mixed into a transport: its status-bar health, said once per change, and the
    background work it starts (answering a button, fetching a file) kept until done.

    The transport sets ``_sink`` (None until ``run``), ``_health`` (None) and
    ``_background`` (an empty set) in its ``__init__``."""

    name: str
    _sink: Sink | None
    _health: tuple[Health, str] | None
    _failing: bool
    _background: set[asyncio.Task[Any]]
    _detail: str  # what the status bar says while all is well
    retry_after: float  # seconds before storing again, times the failures so far (up to 6)

    def _report(self, state: Health, detail: str) -> None:
        if self._sink is not None and self._health != (state, detail):
            self._health = (state, detail)
            self._sink.health(state, detail)

    def _store_failed(self, sink: Sink, exc: Exception) -> None:
        """The hub could not store what arrived: DEGRADED, saying why, until it can."""
        from opchat.i18n import _
        from opchat.transports import error_summary

        self._failing = True
        self._report(Health.DEGRADED, _("cannot store: {reason}").format(
            reason=error_summary(exc)))

    async def _keep_storing(self, sink: Sink, commit: Callable[[], Awaitable[None]],
                            count: int, log: logging.Logger) -> None:
        """Run ``commit`` (what arrived, and the cursor that covers it) until it is
        stored: a store that fails shows the channel DEGRADED with the reason meanwhile,
        and nothing is acknowledged to the platform before it works."""
        from opchat.transports import error_summary

        failures = 0
        while True:
            try:
                await commit()
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.error("channel %s: could not store %d update(s): %s; trying again",
                              self.name, count, error_summary(exc))
                self._store_failed(sink, exc)
                await asyncio.sleep(self.retry_after * min(failures, 6))
                continue
            if self._failing:
                self._failing = False
                self._report(Health.OK, self._detail)
            return

    async def _failed_partway(self, chat_id: str, error: Exception, sent: list[str],
                              total: int) -> Exception:
        """What a send of ``total`` parts that failed with ``error`` after the ``sent``
        ones says: a refusal names how many had arrived (and, when it says the customer
        cannot be written to, marks the dialog so); a retry keeps the parts sent, so the
        next attempt goes on after them and nothing reaches the customer twice."""
        from opchat.i18n import _
        from opchat.transports import Rejected, Retry

        if isinstance(error, Rejected):
            if sent:
                error = Rejected(_("{reason}; {done} of {total} parts had arrived",
                                   reason=error.reason, done=len(sent), total=total),
                                 unreachable=error.unreachable)
            if error.unreachable and self._sink is not None:
                with contextlib.suppress(Exception):
                    await self._sink.reachable(chat_id, False)
        elif isinstance(error, Retry) and sent:
            error.progress = json.dumps(sent)
        return error

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
