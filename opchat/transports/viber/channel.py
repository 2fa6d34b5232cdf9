"""The Viber channel: a Viber bot's dialogs, through the Viber REST bot API.

Receiving is by webhook only (Viber has no polling): ``set_webhook`` points Viber
at ``{public_url}/viber/NAME`` (done by ``opchat channel add`` and whenever the
hub starts with ``public_url`` set), and the hub's web server takes each
callback there:

- ``X-Viber-Content-Signature``, the HMAC-SHA256 of the raw body under the
  token, is checked in constant time before the body is parsed: missing, 401;
  wrong, 403; nothing stored.
- A body that is not JSON or not a Viber callback, 400; over the server's
  limit, 413 (aiohttp itself).
- 200 only after the commit (500 if storing failed, so that Viber delivers
  again); a redelivered message is recognised by its ``message_token`` and
  stored once.
- ``conversation_started``: nothing is stored (a dialog appears once the
  customer writes); the answer's body is the channel's greeting, when its
  automatic answers have one, which Viber shows as the bot's welcome message.

Sending: ``send_message`` with the sender's name and avatar from the settings,
text in parts of 7,000 characters, pictures and files by an address on the hub's
server (so ``public_url`` is needed), the automatic-answer menus as a keyboard
whose choices come back as the customer's reply (recognised through
``tracking_data``). Status 12 is retried with backoff; 5, 6 and 11 mark the
dialog unreachable and stop; the others are put into words.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import mimetypes
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opchat.config import ChannelSettings, private_modes
from opchat.i18n import _
from opchat.model import Attachment, Health, UnstorableMessage
from opchat.model import OutboundMessage as Outbound
from opchat.transports import (
    DEFAULT_LISTEN,
    Capabilities,
    Delivery,
    OptionSet,
    Rejected,
    Retry,
    Sink,
    error_summary,
    parse_listen,
    progress_list,
)
from opchat.transports.common import ChannelTasks, DownloadError, split
from opchat.transports.files import safe_name, same_secret
from opchat.transports.viber.api import (
    ACCOUNT,
    Garbled,
    Unreachable,
    ViberAPI,
    ViberError,
    send_error,
    token_words,
)
from opchat.transports.viber.events import EVENT_TYPES, Batch, NotViber, convert
from opchat.transports.viber.options import (
    DEFAULT_API_BASE,
    OPTIONS,
    webhook_path,
    webhook_url,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["CheckFailed", "DownloadError", "ViberTransport"]

log = logging.getLogger("opchat.viber")

MAX_TEXT = 7000  # characters of one message
MAX_GREETED = 10_000  # customers remembered as greeted before their first message
SIGNATURE_HEADER = "X-Viber-Content-Signature"
SENDER_NAME = 28  # characters Viber shows of the sender's name


class CheckFailed(Exception):
    """``check()`` could not reach the bot; the message says exactly why."""





# How long an address of a file sent to Viber stays good: Viber fetches the file when
# the message is sent; a week leaves room for a late fetch and no address for ever.
FILE_URL_LIFETIME = 7 * 86400


def signature(token: str, body: bytes) -> str:
    """What Viber puts in X-Viber-Content-Signature for ``body``."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class ViberTransport(ChannelTasks):
    kind: ClassVar[str] = "viber"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, buttons=True, max_len=MAX_TEXT)

    retry_after: ClassVar[float] = 5.0
    slow_retry: ClassVar[float] = 300.0
    check_timeout: ClassVar[float] = 10.0
    send_timeout: ClassVar[float] = 30.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        token = channel.secret("token")
        if not token:
            variable = options.get("token_env")
            raise ValueError(f"environment variable {variable} is empty or unset"
                             if variable else "no token: set token, or token_env naming "
                             "the variable that holds it")
        self.token = token.strip()
        self.api = ViberAPI(str(options.get("api_base") or DEFAULT_API_BASE), self.token,
                            self.send_timeout)
        self.public_url = str(options.get("public_url") or "").rstrip("/")
        self.webhook_url = webhook_url(self.public_url, self.name) if self.public_url \
            else ""
        self.sender_name = str(options.get("sender_name") or "")[:SENDER_NAME]
        self.sender_avatar = str(options.get("sender_avatar") or "")
        self.greeting = channel.auto.greeting_message if channel.auto else ""
        # Customers greeted by the welcome message who have not written yet (in memory:
        # after a restart their first message may be greeted once more).
        self._greeted: dict[str, float] = {}
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = webhook_path(channel.name)
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self._sink: Sink | None = None
        self._health: tuple[Health, str] | None = None
        self._detail = ""
        self._failing = False
        self._parts_sent: dict[int, list[str]] = {}
        # Customers who unsubscribed since the hub started: nothing is sent to them until
        # they subscribe or write again (after a restart Viber's status 6 says the same).
        self._unsubscribed: set[str] = set()

    # Receiving ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health = None
        try:
            self._detail = await self._account()
            if self.webhook_url:
                await self._set_webhook()
            else:
                self._report(Health.DEGRADED, _(
                    "no public_url: Viber cannot call the hub; set it and run opchat "
                    "channel test {name}", name=self.name))
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()

    async def _account(self) -> str:
        failures = 0
        while True:
            try:
                info = await self.api.call("get_account_info", timeout=self.check_timeout)
                return str(info.get("name") or "?")
            except (ViberError, Unreachable, Garbled) as exc:
                failures += 1
                self._trouble(exc)
                await asyncio.sleep(self.slow_retry if isinstance(exc, ViberError) and
                                    exc.status in ACCOUNT else
                                    self.retry_after * min(failures, 6))

    async def _set_webhook(self) -> None:
        failures = 0
        while True:
            try:
                await self.api.call("set_webhook", self.webhook_body(),
                                    timeout=self.check_timeout)
                self._report(Health.OK, self._detail)
                return
            except (ViberError, Unreachable, Garbled) as exc:
                failures += 1
                self._trouble(exc, _("Viber did not take the webhook: {said}"))
                await asyncio.sleep(self.retry_after * min(failures, 6))

    def webhook_body(self) -> dict[str, Any]:
        return {"url": self.webhook_url, "event_types": list(EVENT_TYPES),
                "send_name": True, "send_photo": True}

    def _trouble(self, exc: Exception, words: str = "") -> None:
        if isinstance(exc, ViberError) and exc.token_refused:
            self._report(Health.DOWN, token_words())
            return
        said = str(exc)
        text = words.format(said=said) if words else _("Viber says: {said}", said=said)
        down = isinstance(exc, ViberError) and exc.status != 12
        self._report(Health.DOWN if down else Health.DEGRADED, text)


    # Webhook ------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._callback)
        app.router.add_get(self.path + "/file/{key}/{name}", self._file)

    async def _callback(self, request: web.Request) -> web.Response:
        from aiohttp import web

        body = await request.read()  # over the server's limit: 413 from aiohttp itself
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            return web.Response(status=401, text=f"no {SIGNATURE_HEADER} header\n")
        if not same_secret(given.strip().lower(), signature(self.token, body)):
            return web.Response(status=403, text="the signature does not match the body\n")
        try:
            event = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="the body is not JSON\n")
        if not isinstance(event, dict):
            return web.Response(status=400, text="the body is not a Viber callback\n")
        try:
            batch = convert(self.name, event)
        except NotViber as exc:
            return web.Response(status=400, text=f"not a Viber callback: {exc}\n")
        if event.get("event") == "webhook":
            return web.Response(status=200)
        sink = self._sink
        if sink is None:
            return web.Response(status=503, text="not ready\n")
        for message in batch.messages:  # writing again is subscribing again
            if message.chat_id in self._unsubscribed:
                batch.reachable.append((message.chat_id, True))
        # Greeted already as Viber's welcome message: the automatic answers do not
        # greet the first message again.
        batch.messages = [
            replace(m, meta={**m.meta, "greeted": True}) if m.chat_id in self._greeted else m
            for m in batch.messages]
        try:
            await self._commit(sink, batch)
        except UnstorableMessage:
            return web.Response(status=200)  # logged by the store
        except Exception as exc:
            log.exception("channel %s: could not store a Viber callback", self.name)
            self._failing = True
            self._report(Health.DEGRADED, _("cannot store: {reason}").format(
                reason=error_summary(exc)))
            return web.Response(status=500, text="could not store the callback\n")
        for chat_id, reachable in batch.reachable:
            if reachable:
                self._unsubscribed.discard(chat_id)
            else:
                self._unsubscribed.add(chat_id)
        if self._failing:
            self._failing = False
            self._report(Health.OK, self._detail)
        for m in batch.messages:
            self._greeted.pop(m.chat_id, None)
        if batch.started and self.greeting:
            # Viber shows this as the bot's welcome message; no dialog is made for it.
            if len(self._greeted) >= MAX_GREETED:  # the oldest greeting is forgotten
                self._greeted.pop(next(iter(self._greeted)))
            self._greeted[batch.started] = time.time()
            return web.json_response({**self._sender(), "type": "text",
                                      "text": self.greeting[:MAX_TEXT]})
        return web.Response(status=200)

    async def _commit(self, sink: Sink, batch: Batch) -> None:
        if batch.messages:
            await sink.ingest_batch(batch.messages)
        for chat_id, reachable in batch.reachable:
            await sink.reachable(chat_id, reachable)
        for token, state, reason in batch.receipts:
            await sink.report(token, state, reason)

    # Files the hub serves to Viber -------------------------------------------------------

    def _mac(self, expires: bytes, path: bytes) -> bytes:
        return hmac.new(self.token.encode(), b"opchat viber file " + expires + path,
                        hashlib.sha256).digest()[:16]

    def _key(self, path: str) -> str:
        raw = path.encode()
        expires = int(time.time() + FILE_URL_LIFETIME).to_bytes(8, "big")
        return base64.urlsafe_b64encode(self._mac(expires, raw) + expires + raw
                                        ).decode().rstrip("=")

    def file_url(self, path: Path) -> str:
        """An address Viber can fetch the file from, signed, for `FILE_URL_LIFETIME`."""
        return (f"{self.webhook_url}/file/{self._key(str(path))}/"
                f"{safe_name(Attachment('document', filename=path.name))}")

    async def _file(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        key = request.match_info["key"]
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except ValueError:
            return web.Response(status=404)
        mac, expires, path = raw[:16], raw[16:24], raw[24:]
        if len(expires) < 8 or not hmac.compare_digest(mac, self._mac(expires, path)):
            return web.Response(status=404)
        if int.from_bytes(expires, "big") < time.time():
            log.warning("channel %s: Viber asked for a file by an address that has expired "
                        "(good for %d days): refused", self.name, FILE_URL_LIFETIME // 86400)
            return web.Response(status=404)
        try:
            found = Path(path.decode())
        except UnicodeDecodeError:
            return web.Response(status=404)
        if not found.is_file():
            return web.Response(status=404)
        return web.FileResponse(found)

    # Sending ------------------------------------------------------------------------------

    def _sender(self) -> dict[str, Any]:
        sender: dict[str, Any] = {"name": self.sender_name or self._detail or self.name}
        if self.sender_avatar:
            sender["avatar"] = self.sender_avatar
        return {"sender": sender}

    async def send(self, out: Outbound) -> Delivery:
        text = out.body.strip()
        files = [a for a in out.attachments if a.local_path]
        if not text and not files:
            raise Rejected(_("nothing to send: the message has no text and no file"))
        if out.chat_id in self._unsubscribed:
            raise Rejected(_("the customer unsubscribed from the bot: Viber takes nothing "
                             "for them until they subscribe or write again"),
                           unreachable=True)
        if files and not self.public_url:
            raise Rejected(_("Viber takes files only by an address it can fetch: set the "
                             "channel's public_url to the hub's https:// address"))
        bodies: list[dict[str, Any]] = [self._file_body(a) for a in files]
        bodies.extend({"type": "text", "text": part} for part in
                      (split(text, MAX_TEXT) if text else []))
        if out.buttons:
            bodies[-1]["keyboard"] = keyboard(out.buttons)
            bodies[-1]["tracking_data"] = json.dumps(
                {"opchat_menu": {data: label for label, data in out.buttons}})
        sent = self._parts_sent.setdefault(out.message_id, [
            part for part in progress_list(out.progress) if isinstance(part, str)])
        try:
            while len(sent) < len(bodies):
                answer = await self.api.call("send_message", {
                    "receiver": out.chat_id, "min_api_version": 1, **self._sender(),
                    **bodies[len(sent)]})
                token = answer.get("message_token")
                if not isinstance(token, int | str) or not str(token):
                    raise Garbled(_("Viber did not say which message it sent"))
                sent.append(str(token))
        except Exception as exc:
            error = exc if isinstance(exc, Rejected | Retry) else send_error(exc, out.attempt)
            if error is None:
                raise
            if isinstance(exc, ViberError) and exc.status in ACCOUNT:
                self._trouble(exc)
            if isinstance(error, Rejected):  # nothing more of it will go: forget it
                self._parts_sent.pop(out.message_id, None)
            error = await self._failed_partway(out.chat_id, error, sent, len(bodies))
            if error is exc:
                raise
            raise error from exc
        del self._parts_sent[out.message_id]
        return Delivery(external_id=sent[0])

    def _file_body(self, attachment: Attachment) -> dict[str, Any]:
        path = Path(attachment.local_path or "")
        if not path.is_file():
            raise Rejected(_("cannot send {name}: the file is not there any more",
                             name=path.name))
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] or ""
        url = self.file_url(path)
        if mime in ("image/jpeg", "image/png", "image/gif") or attachment.kind == "photo":
            return {"type": "picture", "media": url, "text": ""}
        return {"type": "file", "media": url, "size": path.stat().st_size,
                "file_name": (attachment.filename or path.name)[:256]}

    # Optional abilities -------------------------------------------------------------------

    async def download(self, attachment: Attachment, dest_dir: Path | None = None) -> Path:
        """Fetch a file a customer sent (Viber's media address) into ``dest_dir``."""
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file():
            return target
        if not attachment.ref.startswith(("https://", "http://")):
            raise DownloadError(_("Viber gave no address for this file"))
        try:
            await self.api.fetch(attachment.ref, target, private_modes(self.data_dir))
        except (Unreachable, Garbled) as exc:
            raise DownloadError(_("Viber cannot give this file: {reason}",
                                  reason=str(exc))) from exc
        return target

    async def check(self) -> str:
        """Which bot the token reaches and where its webhook points; or
        :class:`CheckFailed` saying exactly why not."""
        try:
            info = await self.api.call("get_account_info", timeout=self.check_timeout)
        except ViberError as exc:
            raise CheckFailed(token_words() if exc.token_refused else
                              _("Viber says: {said}", said=str(exc))) from exc
        except (Unreachable, Garbled) as exc:
            raise CheckFailed(str(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()
        hook = str(info.get("webhook") or "")
        if not hook:
            how = _("no webhook set (opchat serve sets it when public_url is given)")
        elif self.webhook_url and hook != self.webhook_url:
            how = _("the webhook points at {url}, not {ours} (opchat serve sets it)",
                    url=hook, ours=self.webhook_url)
        else:
            how = _("webhook at {url}", url=hook)
        return _("reached {name} ({uri}, {count} subscribers); {how}",
                 name=info.get("name") or "?", uri=info.get("uri") or "?",
                 count=info.get("subscribers_count", "?"), how=how)

    async def set_webhook(self) -> str:
        """Point Viber at the hub (``channel add``); what Viber said, or CheckFailed."""
        if not self.webhook_url:
            raise CheckFailed(_("no public_url: Viber needs the hub's https:// address"))
        try:
            await self.api.call("set_webhook", self.webhook_body(),
                                timeout=self.check_timeout)
        except ViberError as exc:
            raise CheckFailed(token_words() if exc.token_refused else
                              _("Viber did not take the webhook: {said}",
                                said=str(exc))) from exc
        except (Unreachable, Garbled) as exc:
            raise CheckFailed(str(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()
        return _("webhook set to {url}", url=self.webhook_url)


def keyboard(buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The menu's choices as a Viber keyboard of reply buttons: a press comes back as the
    customer's text message ``ActionBody``."""
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": [
        {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": data[:250],
         "Text": label[:250]} for label, data in buttons[:24]]}
