"""Meta's webhooks on the hub's web server, as every Meta channel receives them.

- ``GET``: the subscription check. Meta sends ``hub.mode=subscribe``,
  ``hub.verify_token`` (compared with ours in constant time) and
  ``hub.challenge``, which is echoed back; anything else gets 403.
- ``POST``: the body's ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw bytes
  under the app secret) is checked before the body is read as JSON: missing,
  401; wrong, 403; nothing stored. Then the platform's converter turns the
  payload into what it carries (messages, receipts, reactions, read marks,
  deletions, echoes of what the business sent from elsewhere); the channel may
  complete it (the customers' names) before the messages are committed in one
  transaction, the rest after them, and only then does Meta get its 200.
  A failure to store answers 500, so that Meta delivers again; a redelivery
  is recognised by the platform's message id and stored once.

Bodies over aiohttp's limit (1 MiB; Meta's are far smaller) get 413 from the
server itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opchat.model import Health, InboundMessage, MessageState
from opchat.transports import Sink, error_summary
from opchat.transports.files import same_secret, signed_by

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("opchat.meta")

SIGNATURE_HEADER = "X-Hub-Signature-256"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The platform's word on a message a channel sent: its new state, and for a
    failure, why."""

    external_id: str
    state: MessageState
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    """A customer's emoji on a message (``emoji`` "": taken away)."""

    external_id: str
    by: str
    emoji: str


@dataclass(frozen=True, slots=True)
class ReadMark:
    """The customer at ``chat_id`` has read what the business sent up to ``at`` (epoch
    seconds): Messenger's watermark, Instagram's "seen"."""

    chat_id: str
    at: float


@dataclass
class Delivery:
    """What one webhook POST carries, converted."""

    messages: list[InboundMessage] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    reads: list[ReadMark] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # ids of messages the customer unsent
    # What the business sent from another tool (Meta's inbox...), to be shown as sent.
    echoes: list[InboundMessage] = field(default_factory=list)


class NotOurs(ValueError):
    """The payload is not for this channel (another object or account)."""


Converter = Callable[[dict[str, Any]], Delivery]


def made_up_verify_token(app_secret: str, channel: str) -> str:
    """The verify token of a channel that sets none: derived from the app secret, so the
    hub, `channel test` and `doctor` give the same one with nothing to keep, and nobody
    without the secret can work it out."""
    digest = hmac.new(app_secret.encode(), f"opchat verify token {channel}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


class MetaWebhook:
    """The two routes of one channel's webhook at ``path``."""

    def __init__(self, channel: str, path: str, verify_token: str, app_secret: str,
                 convert: Converter, ready: Callable[[], Sink | None],
                 detail: Callable[[], str],
                 stored: Callable[[Delivery, Sink], None] | None = None,
                 prepare: Callable[[Delivery, Sink], Awaitable[None]] | None = None) -> None:
        self.channel = channel
        self.path = path
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.convert = convert
        self.ready = ready  # the channel's sink once it runs, else None
        self.detail = detail  # what the status bar says of the channel when all is well
        self.stored = stored  # called once a delivery is committed
        self.prepare = prepare  # completes a delivery before it is stored (never fails it)
        self.failing = False  # the last commit failed: the channel shows DEGRADED

    def mount(self, app: web.Application) -> None:
        app.router.add_get(self.path, self.subscribe)
        app.router.add_post(self.path, self.receive)

    async def subscribe(self, request: web.Request) -> web.Response:
        from aiohttp import web

        query = request.query
        if (query.get("hub.mode") == "subscribe"
                and same_secret(query.get("hub.verify_token", ""), self.verify_token)):
            return web.Response(text=query.get("hub.challenge", ""))
        return web.Response(status=403, text="wrong verify token or mode\n")

    async def receive(self, request: web.Request) -> web.Response:
        from aiohttp import web

        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return web.Response(status=401, text=f"no {SIGNATURE_HEADER} header\n")
        if not signed_by(self.app_secret, body, signature):
            return web.Response(status=403, text="the signature does not match the body\n")
        sink = self.ready()
        if sink is None:  # the channel is still starting: Meta will try again
            return web.Response(status=503, text="not ready\n")
        try:
            payload = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="the body is not JSON\n")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="the body is not a webhook payload\n")
        try:
            delivery = self.convert(payload)
        except NotOurs as exc:
            return web.Response(status=400, text=f"{exc}\n")
        if self.prepare is not None:
            try:
                await self.prepare(delivery, sink)
            except Exception:  # what it adds is a nicety: the delivery is stored without
                log.exception("channel %s: could not complete a webhook delivery",
                              self.channel)
        try:
            if delivery.messages:
                await sink.ingest_batch(delivery.messages)
            for echo in delivery.echoes:
                await sink.sent_elsewhere(echo)
            for receipt in delivery.receipts:
                await sink.report(receipt.external_id, receipt.state, receipt.error)
            for reaction in delivery.reactions:
                await sink.react(reaction.external_id, reaction.by, reaction.emoji)
            for mark in delivery.reads:
                await sink.read_until(mark.chat_id, mark.at)
            for external_id in delivery.deletions:
                await sink.deleted(external_id)
        except Exception as exc:
            log.exception("channel %s: could not store a webhook delivery", self.channel)
            self.store_failed(sink, exc)
            return web.Response(status=500, text="could not store the delivery\n")
        # Committed: now, and only now, Meta may forget it.
        if self.failing:
            self.failing = False
            sink.health(Health.OK, self.detail())
        if self.stored is not None:
            self.stored(delivery, sink)
        return web.Response(text="EVENT_RECEIVED")

    def store_failed(self, sink: Sink, exc: Exception) -> None:
        from opchat.i18n import _

        self.failing = True
        sink.health(Health.DEGRADED, _("cannot store: {reason}").format(
            reason=error_summary(exc)))
