"""What every Meta channel is besides its payloads: one class for WhatsApp, Messenger and
Instagram to build on.

``MetaChannel`` reads the settings they share (the token, the app secret, the
verify token, where the webhook is served), looks at the account now and then
while the channel runs (its name for the status bar, an expired token as DOWN),
fetches small files at once under ``download_limit``, and sends a message as
one or more platform messages: if a rate limit or an outage stops it half-way,
the parts that went are kept (in memory and as ``Retry.progress``) so that the
next attempt goes on from there instead of sending them twice. A platform adds
its ``_convert`` (webhook payloads), ``_account`` (who the token reaches),
``_steps`` and ``_message`` (what one reply is on the wire), and its own errors.

Reading payloads: ``dicts``, ``dig``, ``is_number``, ``seconds``; splitting long
text: ``split``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opchat.i18n import _
from opchat.model import Attachment, Health
from opchat.model import OutboundMessage as Outbound
from opchat.transports import (
    DEFAULT_LISTEN,
    Delivery,
    Rejected,
    Retry,
    Sink,
    parse_listen,
    progress_list,
)
from opchat.transports.common import ChannelTasks, required
from opchat.transports.meta.graph import (
    DEFAULT_API_BASE,
    DEFAULT_API_VERSION,
    Garbled,
    Graph,
    GraphError,
    Unreachable,
    send_error,
    token_words,
    trouble,
)
from opchat.transports.meta.options import webhook_path
from opchat.transports.meta.webhook import Delivery as Received
from opchat.transports.meta.webhook import MetaWebhook, made_up_verify_token

if TYPE_CHECKING:
    from aiohttp import web

    from opchat.config import ChannelSettings

log = logging.getLogger("opchat.meta")

# One platform message of a reply, made when its turn comes (an upload happens then).
Step = Callable[[], Awaitable[dict[str, Any]]]


class CheckFailed(Exception):
    """``check()`` could not reach the account; the message says exactly why."""



class MetaChannel(ChannelTasks):
    """The part of a Meta channel that does not depend on the platform."""

    kind: ClassVar[str]
    platform: ClassVar[str]  # the platform's name in what the operator reads

    # How often the account is looked at while the channel runs (an expired token shows
    # DOWN), the wait after a failed look, and the timeouts. Class attributes so that
    # tests can make them short.
    check_every: ClassVar[float] = 600.0
    retry_after: ClassVar[float] = 30.0
    slow_retry: ClassVar[float] = 300.0  # after what only a person can fix (the token)
    check_timeout: ClassVar[float] = 10.0
    send_timeout: ClassVar[float] = 30.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        self.token = required(channel, "access_token")
        self.app_secret = required(channel, "app_secret")
        self.graph = Graph(str(options.get("api_base") or DEFAULT_API_BASE),
                           str(options.get("api_version") or DEFAULT_API_VERSION),
                           self.token, self.send_timeout)
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.webhook_url = str(options.get("webhook_url") or "")
        self.path = webhook_path(self.kind, channel.name)
        self.download_limit = int(options.get("download_limit") or 0)
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self.verify_token = channel.secret("verify_token") or made_up_verify_token(
            self.app_secret, channel.name)
        self._sink: Sink | None = None
        self._detail = "webhook"
        self._health: tuple[Health, str] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # message id -> ids of the parts already sent (see send)
        self._parts_sent: dict[int, list[str]] = {}
        self.webhook = MetaWebhook(channel.name, self.path, self.verify_token, self.app_secret,
                                   self._convert, lambda: self._sink, lambda: self._detail,
                                   self._stored, self._prepare)

    # What a platform gives ------------------------------------------------------------------

    def _convert(self, payload: dict[str, Any]) -> Received:
        raise NotImplementedError

    async def _prepare(self, received: Received, sink: Sink) -> None:
        """Complete a delivery before it is stored (the customers' names...)."""

    async def _account(self) -> str:
        """Who the token reaches, for the status bar (ends in ", webhook")."""
        raise NotImplementedError

    async def _looked(self, sink: Sink) -> None:
        """After each look at the account that went well (templates to offer...)."""

    def _steps(self, out: Outbound) -> list[Step]:
        raise NotImplementedError

    async def _message(self, out: Outbound, content: dict[str, Any], reply: bool) -> str:
        """Send one platform message; its id."""
        raise NotImplementedError

    def _send_error(self, exc: BaseException) -> Exception | None:
        return send_error(exc, self.platform)

    async def download(self, attachment: Attachment, dest_dir: Path | None = None, *,
                       limit: int = 100 * 1024 * 1024) -> Path:
        """Fetch a file a customer sent into ``dest_dir`` (default: the data dir's
        attachments/NAME)."""
        raise NotImplementedError

    # Receiving ------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        self.webhook.mount(app)

    async def run(self, sink: Sink) -> None:
        """Look at the account now and then (its name for the status bar, a token that
        expired); the messages themselves arrive through the webhook."""
        self._sink = sink
        self._health = None
        try:
            while True:
                wait = self.check_every
                try:
                    self._detail = await self._account()
                    self._report(Health.OK, self._detail)
                    await self._looked(sink)
                except Exception as exc:
                    found = trouble(exc, self.platform, self.retry_after, self.slow_retry)
                    if found is None:
                        raise
                    self._report(found.health, found.detail)
                    wait = found.wait
                await asyncio.sleep(wait)
        finally:
            with contextlib.suppress(Exception):
                await self.graph.close()


    def _stored(self, received: Received, sink: Sink) -> None:
        if not self.download_limit:
            return
        for message in received.messages:
            for attachment in message.attachments:
                if attachment.ref:
                    self._spawn(self._download_quietly(attachment, sink))


    async def _download_quietly(self, attachment: Attachment, sink: Sink) -> None:
        try:
            path = await self.download(attachment, limit=self.download_limit)
            await sink.attachment_saved(attachment.ref, path)
        except Exception as exc:
            log.info("channel %s: %s not fetched at once: %s", self.name,
                     attachment.filename or attachment.kind, exc)

    # Sending --------------------------------------------------------------------------------

    async def send(self, out: Outbound) -> Delivery:
        steps = self._steps(out)
        # The parts that went before a rate limit or an outage: in memory, and in the
        # outbox (Retry.progress) for when the hub restarted meanwhile.
        sent = self._parts_sent.setdefault(out.message_id, [
            part for part in progress_list(out.progress) if isinstance(part, str)])
        try:
            for step in steps[len(sent):]:
                sent.append(await self._message(out, await step(), reply=not sent))
        except Exception as exc:
            error = self._send_error(exc) if not isinstance(exc, Rejected) else exc
            if error is None:
                raise
            if isinstance(exc, GraphError) and exc.token_refused:
                self._report(Health.DOWN, str(error))
            if isinstance(error, Rejected):
                del self._parts_sent[out.message_id]
                if sent:
                    error = Rejected(_("{reason}; {done} of {total} parts had arrived",
                                       reason=error.reason, done=len(sent), total=len(steps)),
                                     unreachable=error.unreachable)
            elif isinstance(error, Retry) and sent:
                error.progress = json.dumps(sent)
            if error is exc:
                raise
            raise error from exc
        del self._parts_sent[out.message_id]
        return Delivery(external_id=sent[0])

    # Checking -------------------------------------------------------------------------------

    async def check(self) -> str:
        """Whom the token reaches, and what to paste into Meta's dashboard."""
        try:
            reached = await self._account()
        except (GraphError, Unreachable, Garbled) as exc:
            words = str(exc)
            if isinstance(exc, GraphError) and exc.token_refused:
                words = f"{token_words(self.platform)} ({words})"
            raise CheckFailed(words) from exc
        finally:
            await self.graph.close()
        where = self.webhook_url or _("your https:// address for {path}", path=self.path)
        return _("reached {number}; Meta's webhook: {url} (served at http://{listen}{path}), "
                 "verify token {token}", number=reached.removesuffix(", webhook"), url=where,
                 listen=self.listen, path=self.path, token=self.verify_token)



async def ready(content: dict[str, Any]) -> dict[str, Any]:
    """A step whose message is made already."""
    return content


# Reading payloads ----------------------------------------------------------------------------


def dicts(value: Any) -> Iterable[Mapping[str, Any]]:
    """The objects of a JSON list ([] for anything else)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(
        value, list) else []


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]…``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def seconds(value: Any, scale: float = 1.0) -> float | None:
    """A platform timestamp as epoch seconds (``scale`` 1000 for milliseconds)."""
    try:
        return float(value) / scale
    except (TypeError, ValueError):
        return None


