"""Outgoing webhooks: the hub queues events for each `[webhooks.NAME]` and posts them.

The queue is `Store.webhooks`; this module follows the events log into it and
runs one sender per endpoint. Each POST carries the JSON payload, the delivery
id (the receiver dedupes on it: a delivery whose answer was lost is sent again)
and a signature: ``sha256=`` HMAC-SHA256, with the endpoint's secret, of
``"<timestamp>.<raw body>"``. 2xx: delivered. No answer, 5xx, 408, 429: tried
again with backoff (doubling, at most ``MAX_BACKOFF`` apart) for ``GIVE_UP``
seconds. Any other answer: failed at once, with why. An endpoint's trouble shows
as the health of a pseudo-channel ``webhook:NAME`` (the status bar).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from opchat.config import WebhookSettings
from opchat.i18n import _
from opchat.inbox import Inbox
from opchat.model import Health
from opchat.sanitize import redact
from opchat.store.webhooks import Delivery

log = logging.getLogger("opchat.webhooks")

TIMEOUT = 10.0  # seconds a receiver has to answer
BACKOFF_BASE = 10.0  # seconds before the first retry; doubles each attempt
MAX_BACKOFF = 3600.0  # at most this long between tries
GIVE_UP = 86400.0  # a delivery still failing this long after it was queued has failed
KEEP = 30 * 86400.0  # seconds delivered and failed deliveries are kept for `webhooks list`
IDLE = 5.0  # seconds a sender with nothing due sleeps before it looks again anyway
RETRIED_STATUSES = frozenset({408, 429})
USER_AGENT = "opchat-webhooks/1"
CHANNEL_PREFIX = "webhook:"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Opchat-Signature header's value for ``body`` sent at ``timestamp``."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    """What came of one POST: ``ok``; else ``retry`` (or not) and why."""

    ok: bool
    retry: bool = False
    status: int | None = None
    reason: str = ""


async def post(session: object, endpoint: WebhookSettings, secret: str, delivery: Delivery,
               clock: float | None = None) -> Answer:
    """POST one delivery, signed; never raises for the receiver's trouble."""
    import aiohttp

    assert isinstance(session, aiohttp.ClientSession)
    body = delivery.body()
    timestamp = str(int(time.time() if clock is None else clock))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Opchat-Delivery": str(delivery.id), "X-Opchat-Event": delivery.kind,
               "X-Opchat-Timestamp": timestamp,
               "X-Opchat-Signature": signature(secret, timestamp, body)}
    try:
        async with session.post(endpoint.url, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                                allow_redirects=False) as response:
            text = (await response.content.read(2000)).decode("utf-8", "replace")
            status = response.status
    except TimeoutError:
        return Answer(False, True, None, _("no answer in {seconds} s", seconds=f"{TIMEOUT:g}"))
    except aiohttp.ClientError as exc:
        return Answer(False, True, None, _("cannot connect: {error}",
                                           error=str(exc) or type(exc).__name__))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]
    if 200 <= status < 300:
        return Answer(True, status=status, reason=first)
    reason = f"HTTP {status}" + (f": {first}" if first else "")
    return Answer(False, status >= 500 or status in RETRIED_STATUSES, status, reason)


class WebhookSender:
    """Run by the hub: queue events for the endpoints, and send them."""

    def __init__(self, inbox: Inbox, endpoints: Sequence[WebhookSettings],
                 set_health: Callable[[str, Health, str], None]) -> None:
        self.inbox = inbox
        self.endpoints = list(endpoints)
        self.set_health = set_health  # Hub.set_health
        self._wake = {e.name: asyncio.Event() for e in self.endpoints}
        self.backoff_base = BACKOFF_BASE
        self.max_backoff = MAX_BACKOFF
        self.give_up = GIVE_UP
        self.idle = IDLE

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try of a delivery tried ``attempts`` times already."""
        return min(self.max_backoff, self.backoff_base * 2.0 ** min(attempts, 40))

    def _health(self, endpoint: str, state: Health, detail: str = "") -> None:
        self.set_health(CHANNEL_PREFIX + endpoint, state, detail)

    async def run(self) -> None:
        import aiohttp

        store = self.inbox.store
        for endpoint in self.endpoints:
            await store.channels.ensure(CHANNEL_PREFIX + endpoint.name, "webhook")
            await store.channels.set_health(CHANNEL_PREFIX + endpoint.name, Health.STARTING)
        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.create_task(self._follow(), name="webhooks-queue")]
            tasks += [asyncio.create_task(self._keep_sending(session, endpoint),
                                          name=f"webhook-{endpoint.name}")
                      for endpoint in self.endpoints]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self) -> None:
        """Queue every event after the stored place, for as long as the hub runs."""
        store = self.inbox.store
        pruned = await store.webhooks.prune(store.clock() - KEEP)
        if pruned:
            log.info("webhooks: %d deliveries over %d days old forgotten", pruned,
                     KEEP // 86400)
        cursor = await store.webhooks.cursor()
        if cursor is None:  # the first start: from now on
            await store.webhooks.start_at(await store.events.last_event_id())
        else:
            # Webhooks were off a while (no hub, or a config without them): what is
            # older than a delivery is retried for would only fail; skip it.
            horizon = await store.events.event_id_before(store.clock() - self.give_up)
            if horizon > cursor:
                log.warning("webhooks: events %d to %d are over %.0f hours old; not sent",
                            cursor + 1, horizon, self.give_up / 3600)
                await store.webhooks.move_to(horizon)
        wants = {e.name: frozenset(e.events) for e in self.endpoints}
        while True:
            try:
                after = await store.webhooks.cursor() or 0
                async for events in self.inbox.changes(after_id=after):
                    if await store.webhooks.enqueue(events, wants):
                        for wake in self._wake.values():
                            wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was busy or away: follow again shortly
                log.exception("webhooks lost the change feed; following again")
                await asyncio.sleep(1.0)

    async def _keep_sending(self, session: object, endpoint: WebhookSettings) -> None:
        while True:
            try:
                await self._send_due(session, endpoint)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store failed: never a dead sender
                log.exception("webhook %s: the queue failed", endpoint.name)
                self._health(endpoint.name, Health.DEGRADED, f"queue: {exc}")
                await asyncio.sleep(5.0)

    async def _send_due(self, session: object, endpoint: WebhookSettings) -> None:
        store = self.inbox.store
        wake = self._wake[endpoint.name]
        wake.clear()
        delivery, due = await store.webhooks.next_due(endpoint.name)
        if delivery is not None:
            await self.send(session, endpoint, delivery)
            return
        timeout = self.idle if due is None else max(0.05, min(self.idle, due - store.clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def send(self, session: object, endpoint: WebhookSettings,
                   delivery: Delivery) -> Answer:
        store = self.inbox.store
        secret = endpoint.key()
        if secret is None:
            reason = _("the environment variable {variable} (secret_env) is not set",
                       variable=endpoint.secret_env)
            self._health(endpoint.name, Health.DOWN, reason)
            await store.webhooks.retry_later(delivery.id, self.max_backoff, reason)
            return Answer(False, True, None, reason)
        answer = await post(session, endpoint, secret, delivery, store.clock())
        answer = replace(answer, reason=redact(answer.reason, endpoint.secrets()))
        if answer.ok:
            await store.webhooks.delivered(delivery.id)
            # A delivery that failed for good stays in the status bar until it is
            # retried (`opchat webhooks retry`) and goes through.
            failed = await store.webhooks.recent(endpoint.name, limit=1, state="failed")
            if failed:
                self._health(endpoint.name, Health.DEGRADED, _(
                    "delivery {id} failed: {reason}", id=failed[0].id,
                    reason=failed[0].last_error))
            else:
                self._health(endpoint.name, Health.OK)
        elif not answer.retry:
            log.warning("webhook %s: delivery %d failed: %s", endpoint.name, delivery.id,
                        answer.reason)
            await store.webhooks.failed(delivery.id, answer.reason)
            self._health(endpoint.name, Health.DEGRADED, _(
                "delivery {id} failed: {reason}", id=delivery.id, reason=answer.reason))
        elif store.clock() - delivery.created_at >= self.give_up:
            reason = _("gave up after {attempts} attempts: {reason}",
                       attempts=delivery.attempts + 1, reason=answer.reason)
            await store.webhooks.failed(delivery.id, reason)
            self._health(endpoint.name, Health.DOWN, reason)
        else:
            after = self.backoff(delivery.attempts) * random.uniform(0.9, 1.1)
            after = min(self.max_backoff, after)
            log.info("webhook %s: delivery %d again in %.0f s (%s)", endpoint.name,
                     delivery.id, after, answer.reason)
            await store.webhooks.retry_later(delivery.id, after, answer.reason)
            self._health(endpoint.name, Health.DEGRADED, answer.reason)
        return answer
