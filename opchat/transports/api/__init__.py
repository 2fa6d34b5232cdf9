"""The API channel (kind ``api``): a system of the business's own speaks for its customers.

An outside system (a site's form, a CRM, a shop's order page, a messenger opchat
does not know) posts a customer's message to the hub's HTTP API,
``POST /api/v1/channels/NAME/messages`` (opchat/api/: stored before the answer,
once per ``id``). An operator's reply on the channel comes back here, and is POSTed
to the channel's ``webhook_url``, signed as the outgoing webhooks are (HMAC-SHA256
of ``"<timestamp>.<raw body>"`` with the channel's ``secret``). 2xx: sent. No
answer, 5xx, 408, 429: tried again by the outbox (after Retry-After, when given).
Any other answer: failed, with the receiver's first line as the reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opchat.model import Health
from opchat.transports import Capabilities, Delivery, Option, OptionSet, Rejected, Retry, Sink
from opchat.transports.common import required

if TYPE_CHECKING:
    from opchat.config import ChannelSettings
    from opchat.model import OutboundMessage

TIMEOUT = 15.0  # seconds the outside system has to answer
USER_AGENT = "opchat-api-channel/1"
RETRIED_STATUSES = frozenset({408, 429})

OPTIONS = OptionSet((
    Option("webhook_url", "url", "where operators' replies are POSTed (your system)",
           required=True),
    Option("secret", "text", "the key replies are signed with (HMAC-SHA256)", secret=True,
           required=True),
))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``"<timestamp>.<body>"``: what
    X-Opchat-Signature says (the outgoing webhooks sign the same way)."""
    import hashlib  # here: the config imports this module (OPTIONS) in every process
    import hmac

    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def retry_after(value: str | None) -> float | None:
    if value is not None and value.strip().isdigit():
        return float(value.strip())
    return None


class ApiChannelTransport:
    kind: ClassVar[str] = "api"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(max_len=20000)

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        self.name = channel.name
        self.url = str(channel.options.get("webhook_url", ""))
        self.secret = required(channel, "secret")
        self._session: Any = None

    async def run(self, sink: Sink) -> None:
        """Nothing to fetch: customers' messages arrive through the HTTP API."""
        sink.health(Health.OK)
        try:
            await asyncio.Event().wait()
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None

    def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        return self._session

    def body(self, out: OutboundMessage) -> bytes:
        return json.dumps({
            "event": "message.out", "channel": self.name, "chat_id": out.chat_id,
            "message_id": out.message_id, "text": out.body, "attempt": out.attempt,
            "attachments": [{"kind": a.kind, "filename": a.filename, "mime": a.mime,
                             "size": a.size} for a in out.attachments],
        }, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, out: OutboundMessage) -> Delivery:
        import aiohttp

        body = self.body(out)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-Opchat-Delivery": f"message-{out.message_id}",
                   "X-Opchat-Event": "message.out", "X-Opchat-Timestamp": timestamp,
                   "X-Opchat-Signature": signature(self.secret, timestamp, body)}
        try:
            async with self._client().post(self.url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                text = (await response.content.read(2000)).decode("utf-8", "replace")
                status = response.status
                wait = retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            raise Retry(f"no answer from {self.url} in {TIMEOUT:g} s") from None
        except aiohttp.ClientError as exc:
            raise Retry(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]
        if 200 <= status < 300:
            return Delivery()
        reason = f"HTTP {status}" + (f": {first}" if first else "")
        if status >= 500 or status in RETRIED_STATUSES:
            raise Retry(reason, after=wait)
        raise Rejected(reason)

