"""The MAX channel: a MAX bot's dialogs, through the MAX Bot API.

Receiving, by long polling (the default) or a webhook subscription (``webhook``):

- Long polling: ``GET /updates`` with ``marker``, ``timeout`` and the update
  types the channel shows. The updates and the ``marker`` that follows them
  commit in ONE transaction (``sink.ingest_batch``); only then is the next poll
  asked, so killed at any moment the hub asks again from the last committed
  marker, and updates stored already come back as duplicates of their ids
  (stored once).
- Webhook: ``POST /subscriptions`` with the hub's public address and a secret;
  MAX POSTs each update to ``/max/NAME`` on the hub's server with the secret in
  ``X-Max-Bot-Api-Secret``, compared in constant time (missing 401, wrong 403,
  nothing stored). 200 only after the commit (500 if storing failed, so that
  MAX delivers again). MAX's own SDKs answer before handling; opchat does not.

Updates: ``message_created`` (text with its markup as styles, images, videos,
audio, files and stickers as files fetched when asked, contacts, locations and
shared links as remarks, replies and forwards), ``message_edited``,
``message_removed`` (kept, marked), ``message_callback`` (a button: the
customer's choice, which drives the automatic-answer menus, answered through
``POST /answers`` once stored), ``bot_started`` (with the start payload, shown
as where the customer came from), ``bot_stopped`` (the dialog shows the
customer can no longer be written to), ``user_added`` / ``user_removed`` in a
group chat the bot is in (a group chat is one dialog; shown as remarks).

Sending: ``POST /messages?chat_id=…`` in parts of 4,000 characters, files
uploaded through ``POST /uploads``, the menus as an inline keyboard, typing
through ``POST /chats/{id}/actions``. 401 shows the channel DOWN, 403 marks the
dialog unreachable and stops, 429 waits what MAX says, 5xx is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
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
    parse_listen,
    progress_list,
)
from opchat.transports.common import ChannelTasks, DownloadError, required, split
from opchat.transports.files import load_secret, safe_name, same_secret
from opchat.transports.max.api import (
    Garbled,
    MaxAPI,
    MaxError,
    Unreachable,
    send_error,
    token_words,
    trouble,
)
from opchat.transports.max.events import UPDATE_TYPES, Batch, convert
from opchat.transports.max.options import DEFAULT_API_BASE, OPTIONS, webhook_path

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["CheckFailed", "DownloadError", "MaxTransport"]

log = logging.getLogger("opchat.max")

MAX_TEXT = 4000  # characters of one message
MAX_LABEL = 64  # characters of a button's text
MAX_PAYLOAD = 1024  # characters of a button's payload
SECRET_HEADER = "X-Max-Bot-Api-Secret"


class CheckFailed(Exception):
    """``check()`` could not reach the bot; the message says exactly why."""






class MaxTransport(ChannelTasks):
    kind: ClassVar[str] = "max"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, edits=True, typing=True, buttons=True, max_len=MAX_TEXT)

    # Waits and timeouts; class attributes so that tests can make them short.
    retry_after: ClassVar[float] = 5.0  # after a failed call while receiving
    slow_retry: ClassVar[float] = 300.0  # after what only a person can fix (the token)
    check_every: ClassVar[float] = 600.0  # webhook mode: a look at the bot
    check_timeout: ClassVar[float] = 10.0
    send_timeout: ClassVar[float] = 30.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        self.token = required(channel, "token")
        self.api = MaxAPI(str(options.get("api_base") or DEFAULT_API_BASE), self.token,
                          self.send_timeout)
        self.webhook = bool(options.get("webhook"))
        self.webhook_url = str(options.get("webhook_url") or "")
        if self.webhook and not self.webhook_url:
            raise ValueError("a MAX webhook needs webhook_url")
        self._secret = channel.secret("secret") or ""
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = webhook_path(channel.name)
        self.poll_timeout = int(options.get("poll_timeout") or 30)
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self.bot_id: int | None = None
        self._subscribed = False
        self._sink: Sink | None = None
        self._health: tuple[Health, str] | None = None
        self._detail = ""
        self._failing = False
        self._background: set[asyncio.Task[Any]] = set()
        self._parts_sent: dict[int, list[str]] = {}
        if self.webhook:
            self.mount = self._mount  # only a webhook serves HTTP

    @property
    def secret(self) -> str:
        """The webhook's secret: the configured one, else one kept in the data dir."""
        if not self._secret:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._secret = load_secret(self.data_dir / f"max-{self.name}.secret",
                                       self.data_dir)
        return self._secret

    # Receiving ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health = None
        try:
            if self.webhook:
                assert self.secret  # made (or read) before MAX is told of it
                await self._subscribe(sink)
                await self._look_now_and_then(sink)
            else:
                await self._poll(sink)
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call until it works; each failure shown, then waited out."""
        failures = 0
        while True:
            try:
                return await self.api.call(method, path, timeout=self.check_timeout, **kwargs)
            except (MaxError, Unreachable, Garbled) as exc:
                failures += 1
                found = trouble(exc, self.retry_after * min(failures, 6), self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)
                await asyncio.sleep(found.wait)

    def _describe(self, me: Any) -> str:
        me = me if isinstance(me, dict) else {}
        if isinstance(me.get("user_id"), int):
            self.bot_id = me["user_id"]
        name = me.get("name") or me.get("first_name") or "?"
        how = _("webhook") if self.webhook else _("long polling")
        return f"{name} (@{me.get('username')}), {how}" if me.get("username") \
            else f"{name}, {how}"

    async def _subscribe(self, sink: Sink) -> None:
        self._detail = self._describe(await self._call("GET", "/me"))
        answer = await self._call("POST", "/subscriptions", body={
            "url": self.webhook_url, "update_types": list(UPDATE_TYPES),
            "secret": self.secret})
        self._subscribed = not (isinstance(answer, dict) and answer.get("success") is False)
        if not self._subscribed:
            self._report(Health.DOWN, _("MAX did not take the webhook: {said}",
                                        said=str(answer.get("message") or "?")))
            return
        self._report(Health.OK, self._detail)

    async def _look_now_and_then(self, sink: Sink) -> None:
        while True:
            await asyncio.sleep(self.retry_after if not self._subscribed else
                                self.check_every)
            if not self._subscribed:  # MAX refused it: ask again, the refusal stays shown
                await self._subscribe(sink)
                continue
            try:
                self._detail = self._describe(await self.api.call(
                    "GET", "/me", timeout=self.check_timeout))
                if not self._failing:
                    self._report(Health.OK, self._detail)
            except (MaxError, Unreachable, Garbled) as exc:
                found = trouble(exc, self.retry_after, self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)

    async def _poll(self, sink: Sink) -> None:
        self._detail = self._describe(await self._call("GET", "/me"))
        marker = await sink.cursor()
        failures = 0
        while True:
            try:
                answer = await self.api.call("GET", "/updates", params={
                    "marker": marker, "timeout": self.poll_timeout, "limit": 100,
                    "types": ",".join(UPDATE_TYPES)}, timeout=self.poll_timeout + 10.0)
            except (MaxError, Unreachable, Garbled) as exc:
                failures += 1
                found = trouble(exc, self.retry_after * min(failures, 6), self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)
                await asyncio.sleep(found.wait)
                continue
            failures = 0
            if not isinstance(answer, dict) or not isinstance(answer.get("updates"), list):
                self._report(Health.DEGRADED, _("MAX answered /updates with something "
                                                "unexpected"))
                await asyncio.sleep(self.retry_after)
                continue
            if not self._failing:
                self._report(Health.OK, self._detail)
            new = answer.get("marker")
            new_marker = str(new) if isinstance(new, int | str) and str(new) else marker
            updates = answer["updates"]
            if not updates and new_marker == marker:
                continue
            batch = convert(self.name, updates, Batch(), self.bot_id)
            await self._store(sink, batch, new_marker)
            marker = new_marker
            self._after_commit(batch)

    async def _store(self, sink: Sink, batch: Batch, marker: str | None) -> None:
        """Commit ``batch`` (and the poll's ``marker``), trying again while the store fails."""
        await self._keep_storing(sink, lambda: self._commit(sink, batch, marker),
                                 len(batch.messages), log)

    async def _commit(self, sink: Sink, batch: Batch, marker: str | None) -> None:
        after = batch.after
        if batch.messages or (marker is not None and not after):
            # With nothing after them, the messages and the marker in one transaction;
            # else the marker waits for the rest (each of which is done once if again).
            await sink.ingest_batch(batch.messages, cursor=None if after else marker)
        for chat_id, reachable in batch.reachable:
            await sink.reachable(chat_id, reachable)
        for mid in batch.deleted:
            await sink.deleted(mid)
        if after and marker is not None:
            await sink.ingest_batch([], cursor=marker)

    def _after_commit(self, batch: Batch) -> None:
        for press in batch.presses:
            self._spawn(self._answer(press.callback_id))

    async def _answer(self, callback_id: str) -> None:
        # Without an answer the customer's button keeps spinning. Best effort.
        try:
            await self.api.call("POST", "/answers", params={"callback_id": callback_id},
                                body={"notification": "✓"}, timeout=self.check_timeout)
        except (MaxError, Unreachable, Garbled) as exc:
            log.info("channel %s: could not answer button press %s: %s", self.name,
                     callback_id, exc)




    # Webhook ------------------------------------------------------------------------------

    def _mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._delivery)

    async def _delivery(self, request: web.Request) -> web.Response:
        from aiohttp import web

        given = request.headers.get(SECRET_HEADER)
        if not given:
            return web.Response(status=401, text="no secret\n")
        if not same_secret(given, self.secret):
            return web.Response(status=403, text="wrong secret\n")
        body = await request.read()  # over the server's limit: 413 from aiohttp itself
        try:
            update = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="the body is not JSON\n")
        if not isinstance(update, dict) or not isinstance(update.get("update_type"), str):
            return web.Response(status=400, text="the body is not a MAX update\n")
        sink = self._sink
        if sink is None:  # the channel is still starting: MAX will try again
            return web.Response(status=503, text="not ready\n")
        batch = convert(self.name, [update], Batch(), self.bot_id)
        try:
            await self._commit(sink, batch, None)
        except UnstorableMessage:
            return web.json_response({"success": True})  # logged by the store
        except Exception as exc:
            log.exception("channel %s: could not store a webhook update", self.name)
            self._store_failed(sink, exc)
            return web.Response(status=500, text="could not store the update\n")
        if self._failing:
            self._failing = False
            self._report(Health.OK, self._detail)
        self._after_commit(batch)
        return web.json_response({"success": True})  # committed: now MAX may forget it

    # Sending ------------------------------------------------------------------------------

    async def send(self, out: Outbound) -> Delivery:
        text = out.body.strip()
        files = [a for a in out.attachments if a.local_path]
        if not text and not files:
            raise Rejected(_("nothing to send: the message has no text and no file"))
        parts = split(text, MAX_TEXT) if text else [""]
        sent = self._parts_sent.setdefault(out.message_id, [
            part for part in progress_list(out.progress) if isinstance(part, str)])
        try:
            while len(sent) < len(parts):
                index = len(sent)
                body: dict[str, Any] = {"text": parts[index]}
                attachments: list[dict[str, Any]] = []
                if index == 0:
                    attachments.extend([await self._upload(a) for a in files])
                    if out.reply_to_external_id and out.reply_to_external_id.startswith(
                            "mid."):
                        body["link"] = {"type": "reply", "mid": out.reply_to_external_id}
                if index == len(parts) - 1 and out.buttons:
                    attachments.append(keyboard(out.buttons))
                if attachments:
                    body["attachments"] = attachments
                answer = await self.api.call("POST", "/messages",
                                             params={"chat_id": out.chat_id}, body=body)
                message = answer.get("message") if isinstance(answer, dict) else None
                mid = (message.get("body") or {}).get("mid") if isinstance(message, dict) \
                    else None
                if not isinstance(mid, str) or not mid:
                    raise Garbled(_("MAX did not say which message it sent"))
                sent.append(mid)
        except Exception as exc:
            error = exc if isinstance(exc, Rejected | Retry) else send_error(exc, out.attempt)
            if error is None:
                raise
            if isinstance(exc, MaxError) and exc.token_refused:
                self._report(Health.DOWN, token_words())
            if isinstance(error, Rejected):  # nothing more of it will go: forget it
                self._parts_sent.pop(out.message_id, None)
            error = await self._failed_partway(out.chat_id, error, sent, len(parts))
            if error is exc:
                raise
            raise error from exc
        del self._parts_sent[out.message_id]
        return Delivery(external_id=sent[0])

    async def _upload(self, attachment: Attachment) -> dict[str, Any]:
        """A file from this computer, uploaded through ``/uploads``, as an attachment."""
        path = Path(attachment.local_path or "")
        if not path.is_file():
            raise Rejected(_("cannot send {name}: the file is not there any more",
                             name=path.name))
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        kind = ("image" if attachment.kind == "photo" or mime.startswith("image/") else
                "video" if mime.startswith("video/") else
                "audio" if mime.startswith("audio/") else "file")
        slot = await self.api.call("POST", "/uploads", params={"type": kind})
        url = slot.get("url") if isinstance(slot, dict) else None
        if not isinstance(url, str) or not url:
            raise Garbled(_("MAX gave no address to upload the file to"))
        uploaded = await self.api.upload(url, path, attachment.filename or path.name, mime)
        if kind in ("video", "audio") and isinstance(slot, dict) and slot.get("token"):
            payload: Any = {"token": slot["token"]}
        elif kind == "image":
            payload = uploaded
        else:
            token = uploaded.get("token") if isinstance(uploaded, dict) else None
            if not token:
                raise Garbled(_("MAX's upload server did not take the file"))
            payload = {"token": token}
        return {"type": kind, "payload": payload}

    # Optional abilities -------------------------------------------------------------------

    async def typing(self, chat_id: str, active: bool) -> None:
        # MAX shows "typing…" for a few seconds; there is no "stop".
        if active:
            await self.api.call("POST", f"/chats/{chat_id}/actions",
                                body={"action": "typing_on"}, timeout=self.check_timeout)

    async def download(self, attachment: Attachment, dest_dir: Path | None = None) -> Path:
        """Fetch a file a customer sent into ``dest_dir`` (default: the data dir's
        attachments/NAME); a file fetched before is not fetched again."""
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file():
            return target
        if not attachment.ref.startswith(("https://", "http://")):
            raise DownloadError(_("MAX gave no address for this file"))
        try:
            await self.api.fetch(attachment.ref, target, private_modes(self.data_dir))
        except (MaxError, Unreachable, Garbled) as exc:
            raise DownloadError(_("MAX cannot give this file: {reason}",
                                  reason=str(exc))) from exc
        return target

    async def check(self) -> str:
        """Which bot the token reaches, and how the channel receives; or
        :class:`CheckFailed` saying exactly why not."""
        try:
            me = await self.api.call("GET", "/me", timeout=self.check_timeout)
            if not isinstance(me, dict) or not me.get("user_id"):
                raise Garbled(_("MAX answered /me without the bot"))
            how = _("long polling")
            if self.webhook:
                found = await self.api.call("GET", "/subscriptions",
                                            timeout=self.check_timeout)
                urls = [str(s.get("url")) for s in (found.get("subscriptions") or [])
                        if isinstance(s, dict)] if isinstance(found, dict) else []
                how = (_("webhook at {url}", url=self.webhook_url) if self.webhook_url in urls
                       else _("webhook at {url}, not subscribed yet (opchat serve "
                              "subscribes it)", url=self.webhook_url))
        except MaxError as exc:
            raise CheckFailed(token_words() if exc.token_refused else
                              _("MAX says: {said}", said=str(exc))) from exc
        except (Unreachable, Garbled) as exc:
            raise CheckFailed(str(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await self.api.close()
        name = me.get("name") or me.get("first_name") or "?"
        return _("reached {name} (@{username}, id {id}); {how}", name=name,
                 username=me.get("username") or "?", id=me.get("user_id"), how=how)


def keyboard(buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The menu's choices as an inline keyboard of callback buttons: a press comes back
    as ``message_callback`` with the choice as its payload."""
    made = [{"type": "callback", "text": label[:MAX_LABEL], "payload": data[:MAX_PAYLOAD]}
            for label, data in buttons[:30]]
    return {"type": "inline_keyboard", "payload": {"buttons": [[b] for b in made]}}
