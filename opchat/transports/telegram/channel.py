"""The Telegram channel: a bot made with @BotFather, through aiogram.

Receiving, by long polling (the default) or a webhook (``webhook_url``):

- Polling is our own loop, not aiogram's (which confirms updates before a
  handler has stored them): getUpdates, then the batch and the next offset
  commit in ONE transaction (``sink.ingest_batch``), and only then is the next
  offset asked for — which is what confirms the batch to Telegram. Killed at
  any instant, the hub asks again from the last committed offset; updates
  already stored come back as duplicates of their external ids and are
  stored once.
- A webhook answers 200 only after the update is committed, 500 if storing
  failed (Telegram then redelivers), 401 without the channel's secret token.

Sending: text in parts of at most 4,096 characters cut between words, files
from a path (or by file_id), the reply to a customer's message. 403 (blocked)
fails the message and labels the dialog; 429 waits ``retry_after``; a send
that may have arrived is never repeated behind the operator's back.

Options (``[channels.NAME]``): ``token`` or ``token_env``, ``api_base`` (a
self-hosted Bot API server), ``webhook_url``, ``listen`` (webhook mode),
``download_limit`` (bytes; attachments up to it are fetched at once, default
0 = on demand), ``poll_timeout`` (seconds, default 25). See docs/TELEGRAM.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import aiohttp
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    User,
)

from opchat.config import ChannelSettings, private_modes
from opchat.model import Attachment, Health, OutboundMessage, UnstorableMessage
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
from opchat.transports.files import load_secret, safe_name, same_secret, write_private
from opchat.transports.net import host_of
from opchat.transports.telegram.api import (
    DEFAULT_API_BASE,
    CheckFailed,
    RawGetUpdates,
    check_failure,
    is_api_error,
    make_bot,
    receive_trouble,
    send_error,
)
from opchat.transports.telegram.options import OPTIONS, TOKEN_SHAPE, webhook_path
from opchat.transports.telegram.text import MAX_CAPTION, MAX_TEXT, split_text, utf16_len
from opchat.transports.telegram.updates import ALLOWED_UPDATES, Batch, convert_updates

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["CheckFailed", "DownloadError", "TelegramTransport"]

log = logging.getLogger("opchat.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
T = TypeVar("T")


class DownloadError(Exception):
    """An attachment could not be fetched; the message says why."""


def _whole_number(options: dict[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number of "
                         f"{'bytes' if key == 'download_limit' else 'seconds'}, not {value!r}")
    return value


class TelegramTransport:
    kind: ClassVar[str] = "telegram"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, edits=True, typing=True, buttons=True, max_len=MAX_TEXT)

    # Waits between tries after an error while receiving (the last one repeats), the
    # wait after the token was refused, how much longer than the long poll a
    # getUpdates may take before it counts as hung, and how often a webhook's
    # delivery errors are looked at. Class attributes so tests can make them short.
    backoff: ClassVar[tuple[float, ...]] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    slow_retry: ClassVar[float] = 60.0
    poll_margin: ClassVar[float] = 10.0
    send_timeout: ClassVar[float] = 30.0  # under the hub's 60 s for the whole send
    check_timeout: ClassVar[float] = 10.0
    webhook_check: ClassVar[float] = 300.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        token = channel.secret("token")
        if not token:
            variable = options.get("token_env")
            raise ValueError(f"environment variable {variable} is empty or unset" if variable
                             else "no token: set token, or token_env naming the variable "
                                  "that holds it")
        if not TOKEN_SHAPE.fullmatch(token):
            raise ValueError("the token is not like 123456789:AAE-x1y2… as @BotFather gives it")
        self.api_base = str(options.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        self.host = host_of(self.api_base, "the Bot API")
        self.webhook_url = str(options.get("webhook_url") or "")
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = webhook_path(channel.name)
        self.download_limit = _whole_number(options, "download_limit", 0)
        self.poll_timeout = _whole_number(options, "poll_timeout", 25)
        if self.poll_timeout < 1:
            raise ValueError("poll_timeout must be at least 1 second")
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self.bot = make_bot(token, self.api_base)
        self._sink: Sink | None = None
        self._secret: str | None = None
        self._health: tuple[Health, str] | None = None
        self._store_failing = False  # the last commit failed: DEGRADED says so
        self._webhook_detail = "webhook"
        self._background: set[asyncio.Task[Any]] = set()
        # message id -> Telegram ids of the parts already sent, so that a retry after
        # a 429 in the middle of a long reply goes on where it stopped.
        self._parts_sent: dict[int, list[int]] = {}
        if self.webhook_url:
            # Only a webhook channel serves HTTP: the hub opens its web server for any
            # transport that has ``mount``, and a polling bot needs no port.
            self.mount = self._mount

    # Receiving ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health = None  # after a restart the hub shows DOWN: say OK again
        try:
            me = await self._call(sink, lambda: self.bot.get_me(
                request_timeout=self.check_timeout))
            if self.webhook_url:
                await self._serve_webhook(sink, me)
            else:
                await self._poll(sink, me)
        except asyncio.CancelledError:
            # The hub is stopping (the outbox stops with it): let go of the connections.
            with contextlib.suppress(Exception):
                await self.bot.session.close()
            raise

    async def _poll(self, sink: Sink, me: User) -> None:
        info = await self._call(sink, lambda: self.bot.get_webhook_info(
            request_timeout=self.check_timeout))
        if info.url:
            # getUpdates refuses to work while a webhook is set (409). This channel is
            # configured to poll, so the webhook is left over from webhook mode.
            log.warning("channel %s: removing the webhook %s to poll instead", self.name,
                        info.url)
            await self._call(sink, lambda: self.bot.delete_webhook(
                drop_pending_updates=False, request_timeout=self.check_timeout))
        offset = _offset(await sink.cursor())
        while True:
            ask = RawGetUpdates(offset=offset, timeout=self.poll_timeout,
                                allowed_updates=list(ALLOWED_UPDATES))
            updates = await self._call(sink, functools.partial(
                self.bot, ask, request_timeout=self.poll_timeout + self.poll_margin))
            self._healthy(sink, f"@{me.username}, polling")
            if not updates:
                continue
            batch = convert_updates(self.name, updates)
            if batch.next_offset is None or batch.next_offset <= offset:
                log.warning("channel %s: getUpdates gave %d update(s) without a usable "
                            "update_id; asking again", self.name, len(updates))
                await asyncio.sleep(self.backoff[0])
                continue
            # The batch and the offset that confirms it, in one transaction. Only after
            # this returns is the next getUpdates (which confirms them) sent.
            await self._store_batch(sink, batch, f"@{me.username}, polling")
            offset = batch.next_offset
            self._after_commit(batch, sink)

    async def _store_batch(self, sink: Sink, batch: Batch, healthy: str) -> None:
        """Commit ``batch`` with its offset, trying again while the store fails.

        A full disk or a locked or damaged database is the store's trouble, not
        Telegram's: the channel shows DEGRADED with the reason and keeps the same
        batch (asking Telegram again would only fetch it again) until it is stored.
        A message the store refuses for its own data is skipped by the store itself.
        """
        failures = 0
        while True:
            try:
                await sink.ingest_batch(batch.messages, cursor=str(batch.next_offset))
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.error("channel %s: could not store %d update(s): %s; trying again",
                              self.name, len(batch.messages), error_summary(exc))
                self._store_failed(sink, exc)
                await asyncio.sleep(self.backoff[min(failures, len(self.backoff)) - 1])
                continue
            if failures:
                log.info("channel %s: the updates are stored after %d failed attempt(s)",
                         self.name, failures)
                self._store_failing = False
                self._healthy(sink, healthy)
            return

    async def _serve_webhook(self, sink: Sink, me: User) -> None:
        secret = self._webhook_secret()
        await self._call(sink, lambda: self.bot.set_webhook(
            url=self.webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False, request_timeout=self.check_timeout))
        detail = self._webhook_detail = f"@{me.username}, webhook"
        self._healthy(sink, detail)
        checked = time.time()
        while True:
            await asyncio.sleep(self.webhook_check)
            info = await self._call(sink, lambda: self.bot.get_webhook_info(
                request_timeout=self.check_timeout))
            failed_at = info.last_error_date.timestamp() if info.last_error_date else 0.0
            if failed_at > checked:
                # Telegram could not deliver to us (proxy down, bad certificate...).
                from opchat.i18n import _

                self._report(sink, Health.DEGRADED, _(
                    "Telegram cannot deliver to the webhook: {reason}",
                    reason=info.last_error_message or _("no reason given")))
            elif not self._store_failing:  # that one ends with the next stored update
                self._healthy(sink, detail)
            checked = time.time()

    async def _call(self, sink: Sink, request: Callable[[], Awaitable[T]]) -> T:
        """``request()`` until it works; each failure is shown, then waited out."""
        failures = 0
        while True:
            try:
                return await request()
            except Exception as exc:
                if not is_api_error(exc):
                    raise
                failures += 1
                trouble = receive_trouble(exc, self.host, failures, self.backoff,
                                          self.slow_retry)
                self._report(sink, trouble.health, trouble.detail)
                await asyncio.sleep(trouble.wait)

    def _healthy(self, sink: Sink, detail: str) -> None:
        self._report(sink, Health.OK, detail)

    def _report(self, sink: Sink, state: Health, detail: str) -> None:
        # Every getUpdates returns; tell the hub only when something changed.
        if self._health != (state, detail):
            self._health = (state, detail)
            sink.health(state, detail)

    def _after_commit(self, batch: Batch, sink: Sink) -> None:
        """Acknowledge pressed buttons and fetch small attachments, once stored."""
        if batch.callback_ids:
            self._spawn(self._answer_callbacks(batch.callback_ids))
        if self.download_limit:
            for message in batch.messages:
                for attachment in message.attachments:
                    if attachment.size is not None and attachment.size <= self.download_limit:
                        self._spawn(self._download_quietly(attachment, sink))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer_callbacks(self, ids: list[str]) -> None:
        # Without an answer the customer's button keeps spinning for a while. Best
        # effort: an old query (the hub was down) can no longer be answered.
        for query_id in ids:
            try:
                await self.bot.answer_callback_query(callback_query_id=query_id,
                                                     request_timeout=self.check_timeout)
            except Exception as exc:
                log.info("channel %s: could not answer button press %s: %s", self.name,
                         query_id, exc)

    async def _download_quietly(self, attachment: Attachment, sink: Sink) -> None:
        try:
            path = await self.download(attachment)
            await sink.attachment_saved(attachment.ref, path)  # the operators can open it
        except Exception as exc:
            log.warning("channel %s: downloading %s failed: %s", self.name,
                        attachment.filename or attachment.kind, exc)

    # Webhook ------------------------------------------------------------------------------

    def _webhook_secret(self) -> str:
        if self._secret is None:
            self._secret = load_secret(self.data_dir / f"telegram-{self.name}.secret",
                                       self.data_dir)
        return self._secret

    def _mount(self, app: web.Application) -> None:
        self._webhook_secret()
        app.router.add_post(self.path, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        from aiohttp import web

        if not same_secret(request.headers.get(SECRET_HEADER, ""), self._webhook_secret()):
            return web.Response(status=401, text="wrong or missing secret token\n")
        sink = self._sink
        if sink is None:  # the channel is still starting: Telegram will try again
            return web.Response(status=503, text="not ready\n")
        try:
            update = json.loads(await request.read())
        except ValueError:  # also bytes that are not UTF-8
            return web.Response(status=400, text="the body is not JSON\n")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="the body is not a Telegram update\n")
        batch = convert_updates(self.name, [update])
        try:
            # ingest, not ingest_batch: Telegram delivers on up to 40 connections at
            # once, and concurrent ingests share one commit.
            for message in batch.messages:
                try:
                    await sink.ingest(message)
                except UnstorableMessage:
                    # Logged by the store. Answering 500 would have Telegram deliver
                    # it (and hold back what follows) for ever.
                    continue
        except Exception as exc:
            log.exception("channel %s: could not store update %s", self.name,
                          update["update_id"])
            self._store_failed(sink, exc)
            return web.Response(status=500, text="could not store the update\n")
        # Committed: now, and only now, Telegram may forget it.
        if self._store_failing:
            self._store_failing = False
            self._healthy(sink, self._webhook_detail)
        self._after_commit(batch, sink)
        return web.Response(status=200)

    def _store_failed(self, sink: Sink, exc: Exception) -> None:
        """The store refused a commit (disk full, locked, damaged): DEGRADED, saying so."""
        from opchat.i18n import _

        self._store_failing = True
        self._report(sink, Health.DEGRADED,
                     _("cannot store: {reason}").format(reason=error_summary(exc)))

    # Sending ------------------------------------------------------------------------------

    async def send(self, out: OutboundMessage) -> Delivery:
        steps = self._steps(out)
        # The parts that went before a 429 or an outage: in memory, and in the outbox
        # (Retry.progress) for when the hub restarted meanwhile.
        sent = self._parts_sent.setdefault(out.message_id, [
            part for part in progress_list(out.progress) if isinstance(part, int)])
        try:
            for step in steps[len(sent):]:
                reply = _reply_to(out) if not sent else None
                message = await step(reply)
                sent.append(message.message_id)
        except Exception as exc:
            error = send_error(exc, self.host, len(sent), len(steps))
            if error is None:
                raise  # not Telegram's: the hub logs it and retries
            if isinstance(error, Rejected):
                self._parts_sent.pop(out.message_id, None)
            elif isinstance(error, Retry) and sent:
                error.progress = json.dumps(sent)
            raise error from exc
        del self._parts_sent[out.message_id]
        return Delivery(external_id=f"{out.chat_id}:{sent[0]}")

    def _steps(self, out: OutboundMessage) -> list[Callable[[ReplyParameters | None],
                                                            Awaitable[Any]]]:
        """One call per Telegram message: files first (the first one captioned), then text."""
        steps = []
        caption_fits = bool(out.body.strip()) and utf16_len(out.body) <= MAX_CAPTION
        files = [a for a in out.attachments if a.local_path or a.ref]
        for index, attachment in enumerate(files):
            caption = out.body if index == 0 and caption_fits else None
            steps.append(self._file_step(out.chat_id, attachment, caption))
        if out.body.strip() and not (files and caption_fits):
            parts = split_text(out.body)
            for n, part in enumerate(parts):
                # The buttons go under the last part, where the options are read.
                buttons = out.buttons if n == len(parts) - 1 else ()
                steps.append(self._text_step(out.chat_id, part, buttons))
        if not steps:
            raise Rejected("nothing to send: the message has no text and no file")
        return steps

    def _text_step(self, chat_id: str, text: str, buttons: tuple[tuple[str, str], ...] = ()
                   ) -> Callable[[ReplyParameters | None], Awaitable[Any]]:
        markup = None
        if buttons:
            # One button a row; callback_data is at most 64 bytes on Telegram.
            markup = InlineKeyboardMarkup(inline_keyboard=[
                [InlineKeyboardButton(text=label[:64],
                                      callback_data=payload.encode()[:64].decode(errors="ignore"))]
                for label, payload in buttons])

        def step(reply: ReplyParameters | None) -> Awaitable[Any]:
            return self.bot.send_message(chat_id=chat_id, text=text, reply_parameters=reply,
                                         reply_markup=markup, request_timeout=self.send_timeout)
        return step

    def _file_step(self, chat_id: str, attachment: Attachment, caption: str | None
                   ) -> Callable[[ReplyParameters | None], Awaitable[Any]]:
        if attachment.local_path:
            path = Path(attachment.local_path)
            if not path.is_file():
                raise Rejected(f"cannot send {path.name}: the file is not there any more")
            file: Any = FSInputFile(path, filename=attachment.filename or path.name)
        else:
            file = attachment.ref  # a file_id Telegram already has: sent without upload
        send = self.bot.send_photo if attachment.kind == "photo" else self.bot.send_document
        field = "photo" if attachment.kind == "photo" else "document"

        def step(reply: ReplyParameters | None) -> Awaitable[Any]:
            return send(chat_id=chat_id, caption=caption, reply_parameters=reply,
                        request_timeout=2 * self.send_timeout, **{field: file})
        return step

    async def typing(self, chat_id: str, active: bool) -> None:
        # Telegram shows "typing…" for 5 s or until a message arrives; there is no "stop".
        if active:
            await self.bot.send_chat_action(chat_id=chat_id, action="typing",
                                            request_timeout=self.check_timeout)

    # Files and checks ---------------------------------------------------------------------

    async def download(self, attachment: Attachment, dest_dir: Path | None = None) -> Path:
        """Fetch an attachment into ``dest_dir`` (default: the data dir's attachments/NAME).

        Returns the file's path; a file fetched before (e.g. eagerly) is not fetched
        again. Raises :class:`DownloadError` saying why it could not be fetched.
        """
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file() and attachment.size in (None, target.stat().st_size):
            return target
        if not attachment.ref:
            raise DownloadError("this attachment has no Telegram file id")
        try:
            info = await self.bot.get_file(file_id=attachment.ref,
                                           request_timeout=self.check_timeout)
        except Exception as exc:
            if not is_api_error(exc):
                raise
            raise DownloadError(f"Telegram cannot give this file: "
                                f"{getattr(exc, 'message', '') or exc}") from exc
        if not info.file_path:
            raise DownloadError("Telegram gave no path for this file (bots cannot download "
                                "files over 20 MB)")
        url = self.bot.session.api.file_url(self.bot.token, info.file_path)
        try:
            await write_private(target, self.bot.session.stream_content(
                url, timeout=int(2 * self.send_timeout), raise_for_status=True),
                private_modes(self.data_dir))
        except Exception as exc:
            if isinstance(exc, aiohttp.ClientResponseError):
                raise DownloadError(f"{self.host} answered {exc.status} for the file") from exc
            if isinstance(exc, aiohttp.ClientError | TimeoutError):
                raise DownloadError(f"cannot fetch the file from {self.host}: "
                                    f"{exc or type(exc).__name__}") from exc
            raise
        return target

    async def check(self) -> str:
        """getMe: whom the token reaches, or :class:`CheckFailed` saying exactly why not."""
        try:
            me = await self.bot.get_me(request_timeout=self.check_timeout)
        except Exception as exc:
            failure = check_failure(exc, self.host, self.check_timeout)
            if failure is None:
                raise
            raise failure from exc
        finally:
            with contextlib.suppress(Exception):
                await self.bot.session.close()
        from opchat.i18n import _

        how = (_("webhook {url}", url=self.webhook_url) if self.webhook_url
               else _("long polling"))
        return _("reached @{username} (id {id}, {name}); {how}", username=me.username,
                 id=me.id, name=me.first_name, how=how)


def _offset(cursor: str | None) -> int:
    try:
        return max(0, int(cursor or 0))
    except ValueError:
        log.warning("the stored Telegram offset %r is not a number; starting from 0", cursor)
        return 0


def _reply_to(out: OutboundMessage) -> ReplyParameters | None:
    """Reply to the customer's message, if it was one of this chat ("chat:message[:edit]")."""
    chat, _, rest = (out.reply_to_external_id or "").partition(":")
    number = rest.partition(":")[0]
    if chat != out.chat_id or not number.isdigit():
        return None
    # If the message is gone meanwhile, the reply still goes out, just not as a reply.
    return ReplyParameters(message_id=int(number), allow_sending_without_reply=True)
