"""The VK channel: a VK community's messages, through the VK API (version pinned).

Receiving, by Bots Long Poll (the default) or the Callback API (``callback``):

- Long poll: ``groups.getLongPollServer``, then ``a_check`` with ``wait``. The
  events and the ``ts`` that follows them commit in ONE transaction
  (``sink.ingest_batch``); only then is the next ``a_check`` asked, so killed
  at any moment the hub asks again from the last committed ``ts``, and events
  stored already come back as duplicates of their ids (stored once).
  ``failed`` 1: go on with the ``ts`` VK gives (what was between is lost to
  every client; the log says so); 2: a new key, the same ``ts``; 3: a new key
  and ``ts``.
- Callback API: VK POSTs each event to ``/vk/NAME`` on the hub's server. A
  ``confirmation`` request gets the configured string; every other one must
  carry the ``secret`` (compared in constant time; missing 401, wrong 403,
  nothing stored), and gets ``ok`` only after it is committed (500 if storing
  failed, so that VK delivers again).

Events: ``message_new`` (text; photos, documents, voice messages, stickers and
graffiti as files fetched when asked; videos, wall posts, links, audio,
products and polls as remarks; location; forwarded messages and the message
replied to; a keyboard button's payload as the customer's choice, which drives
the automatic-answer menus), ``message_edit``, ``message_event`` (a callback
button, answered with ``messages.sendMessageEventAnswer`` once stored),
``message_reply`` (an answer written in VK itself: shown as sent from VK,
never sent again; opchat's own sends are recognised by their ``random_id``),
``message_allow`` / ``message_deny`` (the dialog shows whether the customer
may be written to), ``message_read`` and ``message_typing_state``. Names
come from ``users.get``, once per customer.

Sending: ``messages.send`` to the ``peer_id`` with a ``random_id`` made from
the outbox row (and its part), salted per data dir: VK keeps one message per
``random_id``, so a send retried after a timeout, or after a restart, never
reaches the customer twice. Text in parts of 4,096 characters (a part VK
finds too long, 914, is split again); photos and documents through the upload
servers; the menus as an inline keyboard. Errors 6/9/10 back off, 901/902
mark the dialog unreachable and stop, a refused token shows DOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import mimetypes
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from opchat.config import ChannelSettings, private_modes
from opchat.i18n import _
from opchat.model import Attachment, Direction, Health, UnstorableMessage
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
from opchat.transports.vk.api import (
    DEFAULT_API_BASE,
    TOO_LONG,
    VK,
    Garbled,
    Unreachable,
    VKError,
    send_error,
    token_words,
    trouble,
)
from opchat.transports.vk.events import Batch, convert
from opchat.transports.vk.options import API_VERSION, OPTIONS, callback_path

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["CheckFailed", "DownloadError", "VKTransport"]

log = logging.getLogger("opchat.vk")

MAX_TEXT = 4096  # characters of one message
MAX_ATTACHMENTS = 10  # of one message
MAX_LABEL = 40  # characters of a button's label
MAX_PAYLOAD = 255  # bytes of a button's payload
# random_id: the outbox row and the part, in the low 30 bits, under a per-install mask,
# with bit 30 set (never 0: VK takes 0 as "no random_id").
_PARTS_BITS = 6
_ROW_MOD = 1 << (30 - _PARTS_BITS)
_OURS_BIT = 1 << 30


class CheckFailed(Exception):
    """``check()`` could not reach the community; the message says exactly why."""






class VKTransport(ChannelTasks):
    kind: ClassVar[str] = "vk"
    options: ClassVar[OptionSet] = OPTIONS
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, edits=True, typing=True, buttons=True, max_len=MAX_TEXT)

    # Waits and timeouts; class attributes so that tests can make them short.
    retry_after: ClassVar[float] = 5.0  # after a failed call while receiving
    slow_retry: ClassVar[float] = 300.0  # after what only a person can fix (the token)
    check_every: ClassVar[float] = 600.0  # Callback API mode: a look at the community
    check_timeout: ClassVar[float] = 10.0
    send_timeout: ClassVar[float] = 30.0

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.name = channel.name
        self.token = required(channel, "token")
        group = str(options.get("group_id") or "").strip().lstrip("-")
        if not group.isdigit():
            raise ValueError("group_id must be the community's id (digits)")
        self.group_id = int(group)
        self.vk = VK(str(options.get("api_base") or DEFAULT_API_BASE), self.token,
                     self.send_timeout)
        self.callback = bool(options.get("callback"))
        self.confirmation = str(options.get("confirmation") or "")
        self.secret = channel.secret("secret") or ""
        if self.callback and not (self.confirmation and self.secret):
            raise ValueError("the Callback API needs confirmation and secret (or secret_env)")
        self.webhook_url = str(options.get("webhook_url") or "")
        self.listen = str(options.get("listen") or DEFAULT_LISTEN)
        parse_listen(self.listen)
        self.path = callback_path(channel.name)
        self.poll_timeout = int(options.get("poll_timeout") or 25)
        self.data_dir = Path(data_dir)
        self.attachments_dir = self.data_dir / "attachments" / channel.name
        self._sink: Sink | None = None
        self._health: tuple[Health, str] | None = None
        self._detail = ""
        self._failing = False
        self._mask: int | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._parts_sent: dict[int, list[str]] = {}
        self._uploaded: dict[int, list[str]] = {}
        if self.callback:
            self.mount = self._mount  # only the Callback API serves HTTP

    # random_id ----------------------------------------------------------------------------

    def _salt(self) -> int:
        if self._mask is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            salt = load_secret(self.data_dir / "vk-random-id.salt", self.data_dir)
            self._mask = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:4],
                                        "big") % _OURS_BIT
        return self._mask

    def random_id(self, message_id: int, part: int) -> int:
        """The ``random_id`` of part ``part`` of outbox row ``message_id``: the same on
        every attempt and after a restart, different for another install."""
        value = (message_id % _ROW_MOD) << _PARTS_BITS | (part + 1) % (1 << _PARTS_BITS)
        return (value ^ self._salt()) | _OURS_BIT

    def row_of(self, random_id: int) -> int | None:
        """The outbox row a ``random_id`` of ours was made from (mod 2^24), or None."""
        if not random_id & _OURS_BIT or random_id >= 2 * _OURS_BIT:
            return None
        value = (random_id & (_OURS_BIT - 1)) ^ self._salt()
        return value >> _PARTS_BITS if value & ((1 << _PARTS_BITS) - 1) else None

    # Receiving ----------------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink
        self._health = None
        try:
            self._salt()
            if self.callback:
                await self._look_now_and_then(sink)
            else:
                await self._poll(sink)
        finally:
            with contextlib.suppress(Exception):
                await self.vk.close()

    async def _call(self, sink: Sink, method: str, params: dict[str, Any]) -> Any:
        """A VK method until it works; each failure shown, then waited out."""
        failures = 0
        while True:
            try:
                return await self.vk.call(method, params, timeout=self.check_timeout)
            except (VKError, Unreachable, Garbled) as exc:
                failures += 1
                found = trouble(exc, self.retry_after * min(failures, 6), self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)
                await asyncio.sleep(found.wait)

    async def _community(self, sink: Sink | None = None) -> dict[str, Any]:
        params = {"group_id": self.group_id}
        answer = (await self._call(sink, "groups.getById", params) if sink is not None
                  else await self.vk.call("groups.getById", params, timeout=self.check_timeout))
        groups = answer.get("groups") if isinstance(answer, dict) else answer
        if isinstance(groups, list) and groups and isinstance(groups[0], dict):
            return groups[0]
        raise Garbled(_("VK gave no community for id {id}", id=self.group_id))

    async def _look_now_and_then(self, sink: Sink) -> None:
        while True:
            wait = self.check_every
            try:
                group = await self._community()
                self._detail = _("{name}, Callback API", name=group.get("name") or
                                 self.group_id)
                if not self._failing:
                    self._report(Health.OK, self._detail)
            except (VKError, Unreachable, Garbled) as exc:
                found = trouble(exc, self.retry_after, self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)
                wait = found.wait
            await asyncio.sleep(wait)

    async def _poll(self, sink: Sink) -> None:
        group = await self._community(sink)
        self._detail = _("{name}, long poll", name=group.get("name") or self.group_id)
        key, address, fresh_ts = await self._long_poll_server(sink)
        ts = await sink.cursor() or fresh_ts
        failures = 0
        while True:
            try:
                answer = await self.vk.poll(address, key, ts, self.poll_timeout)
            except (VKError, Unreachable, Garbled) as exc:
                failures += 1
                found = trouble(exc, self.retry_after * min(failures, 6), self.slow_retry)
                assert found is not None
                self._report(found.health, found.detail)
                await asyncio.sleep(found.wait)
                if failures % 3 == 0:  # the long poll's server may have moved: ask again
                    key, address, _ts = await self._long_poll_server(sink)
                continue
            failures = 0
            failed = answer.get("failed")
            if failed == 1 and answer.get("ts") is not None:
                # The history is gone from VK's side: nothing can fetch it any more.
                log.warning("channel %s: VK's long poll lost the events after ts %s; going "
                            "on from %s", self.name, ts, answer.get("ts"))
                ts = str(answer["ts"])
                await self._store(sink, Batch(), ts)
                continue
            if failed in (2, 3):
                key, address, fresh_ts = await self._long_poll_server(sink)
                if failed == 3:
                    log.warning("channel %s: VK's long poll lost its history; going on "
                                "from ts %s", self.name, fresh_ts)
                    ts = fresh_ts
                    await self._store(sink, Batch(), ts)
                continue
            if failed is not None or answer.get("ts") is None:
                self._report(Health.DEGRADED, _("the long poll answered something "
                                                "unexpected"))
                await asyncio.sleep(self.retry_after)
                continue
            if not self._failing:
                self._report(Health.OK, self._detail)
            new_ts = str(answer["ts"])
            updates = answer.get("updates") if isinstance(answer.get("updates"), list) else []
            if not updates and new_ts == ts:
                continue
            batch = convert(self.name, self.group_id, updates, Batch(), self.row_of)
            await self._names(batch, sink)
            await self._store(sink, batch, new_ts)
            ts = new_ts
            self._after_commit(batch)

    async def _long_poll_server(self, sink: Sink) -> tuple[str, str, str]:
        """(key, server, ts) of Bots Long Poll, asked until VK gives them."""
        while True:
            server = await self._call(sink, "groups.getLongPollServer",
                                      {"group_id": self.group_id})
            if isinstance(server, dict) and all(server.get(k) for k in ("key", "server")) \
                    and server.get("ts") is not None:
                return str(server["key"]), str(server["server"]), str(server["ts"])
            self._report(Health.DEGRADED, _("VK gave no long poll server"))
            await asyncio.sleep(self.retry_after)

    async def _store(self, sink: Sink, batch: Batch, ts: str | None) -> None:
        """Commit ``batch`` (and the poll's ``ts``), trying again while the store fails."""
        await self._keep_storing(sink, lambda: self._commit(sink, batch, ts),
                                 len(batch.messages), log)

    async def _commit(self, sink: Sink, batch: Batch, ts: str | None) -> None:
        after = bool(batch.echoes or batch.ours or batch.reachable or batch.reads)
        if batch.messages or (ts is not None and not after):
            # With nothing after them, the messages and the ts in one transaction; else
            # the ts waits for the rest (each of which is stored once if done again).
            await sink.ingest_batch(batch.messages, cursor=None if after else ts)
        for echo, random_id in batch.ours:
            if not await self._sent_by_us(sink, echo.chat_id, random_id):
                await sink.sent_elsewhere(echo)
        for echo in batch.echoes:
            await sink.sent_elsewhere(echo)
        for chat_id, reachable in batch.reachable:
            await sink.reachable(chat_id, reachable)
        for read in batch.reads:
            at = await self._time_of(sink, read.chat_id, read.message_id)
            if at is not None:
                await sink.read_until(read.chat_id, at)
        if after and ts is not None:
            await sink.ingest_batch([], cursor=ts)

    async def _sent_by_us(self, sink: Sink, chat_id: str, random_id: int) -> bool:
        row = self.row_of(random_id)
        if row is None:
            return False
        return any(m.id % _ROW_MOD == row and m.direction in (Direction.OUT, Direction.AUTO)
                   for m in await sink.history(chat_id, limit=200))

    async def _time_of(self, sink: Sink, chat_id: str, external_id: str) -> float | None:
        """The watermark of a read mark: now, if the message the customer read up to is
        opchat's last reply; else just before the reply that followed it (not read yet).
        None when it is not one of this dialog's (nothing to mark)."""
        history = await sink.history(chat_id, limit=200)
        for n, message in enumerate(history):
            if message.external_id == external_id:
                later = [m.created_at for m in history[n + 1:]
                         if m.direction in (Direction.OUT, Direction.AUTO)]
                return later[0] - 0.001 if later else time.time()
        return None

    async def _names(self, batch: Batch, sink: Sink) -> None:
        """The customers' names: from what the hub keeps, else ``users.get`` (once)."""
        known: dict[str, dict[str, Any]] = {}
        unknown = []
        for sender in sorted(batch.senders()):
            profile = await sink.profile(sender) or {}
            if profile.get("vk_name"):
                known[sender] = profile
            else:
                unknown.append(sender)
        if unknown:
            try:
                users = await self.vk.call("users.get", {
                    "user_ids": ",".join(unknown), "fields": "screen_name"},
                    timeout=self.check_timeout)
            except (VKError, Unreachable, Garbled) as exc:
                log.info("channel %s: no names from users.get: %s", self.name, exc)
                users = []
            for user in users if isinstance(users, list) else []:
                if not isinstance(user, dict) or not user.get("id"):
                    continue
                name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name"))
                profile = {"vk_name": name.strip() or f"id{user['id']}",
                           "vk_link": f"vk.com/{user.get('screen_name') or 'id' + str(user['id'])}"}
                if user.get("screen_name"):
                    profile["vk_screen_name"] = str(user["screen_name"])
                known[str(user["id"])] = {**profile, "new": True}
        messages = []
        for message in batch.messages:
            profile = known.get(message.sender_id)
            if profile is None:
                messages.append(message)
                continue
            fresh = profile.get("new")
            messages.append(dataclasses.replace(
                message, sender_name=str(profile["vk_name"]),
                username=profile.get("vk_screen_name") or None,
                profile={k: v for k, v in profile.items() if k != "new"} if fresh else {}))
        batch.messages = messages

    def _after_commit(self, batch: Batch) -> None:
        for chat_id in batch.typing:
            self._spawn(self._customer_typing(chat_id))
        for press in batch.presses:
            self._spawn(self._answer(press.event_id, press.user_id, press.peer_id))

    async def _customer_typing(self, chat_id: str) -> None:
        if self._sink is not None:
            try:
                await self._sink.customer_typing(chat_id)
            except Exception as exc:  # a nicety: never the channel's trouble
                log.info("channel %s: could not show typing: %s", self.name, exc)

    async def _answer(self, event_id: str, user_id: int, peer_id: int) -> None:
        # Without an answer the customer's button keeps spinning. Best effort.
        try:
            await self.vk.call("messages.sendMessageEventAnswer", {
                "event_id": event_id, "user_id": user_id, "peer_id": peer_id},
                timeout=self.check_timeout)
        except (VKError, Unreachable, Garbled) as exc:
            log.info("channel %s: could not answer button press %s: %s", self.name,
                     event_id, exc)




    # Callback API -------------------------------------------------------------------------

    def _mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._callback)

    async def _callback(self, request: web.Request) -> web.Response:
        from aiohttp import web

        body = await request.read()  # over the server's limit: 413 from aiohttp itself
        try:
            event = json.loads(body)
        except ValueError:
            return web.Response(status=400, text="the body is not JSON\n")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return web.Response(status=400, text="the body is not a VK event\n")
        group = event.get("group_id")
        if not isinstance(group, int) or isinstance(group, bool) or group != self.group_id:
            return web.Response(status=400, text="not this community's event\n")
        if event["type"] == "confirmation":
            return web.Response(text=self.confirmation)
        given = event.get("secret")
        if not isinstance(given, str) or not given:
            return web.Response(status=401, text="no secret\n")
        if not same_secret(given, self.secret):
            return web.Response(status=403, text="wrong secret\n")
        sink = self._sink
        if sink is None:  # the channel is still starting: VK will try again
            return web.Response(status=503, text="not ready\n")
        batch = convert(self.name, self.group_id, [event], Batch(), self.row_of)
        try:
            await self._names(batch, sink)
        except Exception:
            log.exception("channel %s: could not look up names", self.name)
        try:
            await self._commit(sink, batch, None)
        except UnstorableMessage:
            return web.Response(text="ok")  # logged by the store; VK would repeat it
        except Exception as exc:
            log.exception("channel %s: could not store a Callback API event", self.name)
            self._store_failed(sink, exc)
            return web.Response(status=500, text="could not store the event\n")
        if self._failing:
            self._failing = False
            self._report(Health.OK, self._detail)
        self._after_commit(batch)
        return web.Response(text="ok")  # committed: now VK may forget it

    # Sending ------------------------------------------------------------------------------

    async def send(self, out: Outbound) -> Delivery:
        text = out.body.strip()
        files = [a for a in out.attachments if a.local_path or a.ref]
        if not text and not files:
            raise Rejected(_("nothing to send: the message has no text and no file"))
        parts = split(text, MAX_TEXT) if text else [""]
        sent = self._parts_sent.setdefault(out.message_id, [
            part for part in progress_list(out.progress) if isinstance(part, str)])
        try:
            while len(sent) < len(parts):
                index = len(sent)
                params: dict[str, Any] = {
                    "peer_id": out.chat_id, "random_id": self.random_id(out.message_id, index),
                    "message": parts[index], "dont_parse_links": 1}
                if index == 0:
                    if files:
                        params["attachment"] = ",".join(await self._attachments(out, files))
                    if out.reply_to_external_id and out.reply_to_external_id.isdigit():
                        params["reply_to"] = out.reply_to_external_id
                if index == len(parts) - 1 and out.buttons:
                    params["keyboard"] = keyboard(out.buttons)
                try:
                    answer = await self.vk.call("messages.send", params)
                except VKError as exc:
                    if exc.code == TOO_LONG and len(parts[index]) > 1:
                        # VK counts otherwise than we do: this part in two, the same ids.
                        half = split(parts[index], max(1, len(parts[index]) // 2))
                        parts[index:index + 1] = half
                        continue
                    raise
                sent.append(str(answer.get("message_id") if isinstance(answer, dict)
                                else answer))
        except Exception as exc:
            error = exc if isinstance(exc, Rejected | Retry) else send_error(exc, out.attempt)
            if error is None:
                raise
            if isinstance(exc, VKError) and exc.token_refused:
                self._report(Health.DOWN, token_words())
            if isinstance(error, Rejected):  # nothing more of it will go: forget it
                self._parts_sent.pop(out.message_id, None)
                self._uploaded.pop(out.message_id, None)
            error = await self._failed_partway(out.chat_id, error, sent, len(parts))
            if error is exc:
                raise
            raise error from exc
        del self._parts_sent[out.message_id]
        self._uploaded.pop(out.message_id, None)
        return Delivery(external_id=sent[0])

    async def _attachments(self, out: Outbound, files: list[Attachment]) -> list[str]:
        """The files as VK names them ("photo-1_2_key", "doc5_6"), uploaded once."""
        done = self._uploaded.setdefault(out.message_id, [])
        for attachment in files[len(done):MAX_ATTACHMENTS]:
            if not attachment.local_path:
                if attachment.ref.startswith(("photo", "doc")) and "://" not in attachment.ref:
                    done.append(attachment.ref)  # one VK has already
                    continue
                raise Rejected(_("cannot send {name}: VK takes only files from this "
                                 "computer", name=attachment.filename or attachment.kind))
            path = Path(attachment.local_path)
            if not path.is_file():
                raise Rejected(_("cannot send {name}: the file is not there any more",
                                 name=path.name))
            mime = attachment.mime or mimetypes.guess_type(path.name)[0] or \
                "application/octet-stream"
            filename = attachment.filename or path.name
            if attachment.kind == "photo" or mime in ("image/jpeg", "image/png", "image/gif"):
                done.append(await self._upload_photo(out.chat_id, path, filename, mime))
            else:
                done.append(await self._upload_doc(out.chat_id, path, filename, mime))
        return done

    async def _upload_photo(self, peer: str, path: Path, filename: str, mime: str) -> str:
        server = await self.vk.call("photos.getMessagesUploadServer", {"peer_id": peer})
        uploaded = await self.vk.upload(str(server.get("upload_url")), "photo", path,
                                        filename, mime)
        saved = await self.vk.call("photos.saveMessagesPhoto", {
            "server": uploaded.get("server"), "photo": uploaded.get("photo"),
            "hash": uploaded.get("hash")})
        if not isinstance(saved, list) or not saved or not isinstance(saved[0], dict):
            raise Garbled(_("VK did not say which photo it kept"))
        photo = saved[0]
        key = f"_{photo['access_key']}" if photo.get("access_key") else ""
        return f"photo{photo.get('owner_id')}_{photo.get('id')}{key}"

    async def _upload_doc(self, peer: str, path: Path, filename: str, mime: str) -> str:
        server = await self.vk.call("docs.getMessagesUploadServer", {"peer_id": peer,
                                                                     "type": "doc"})
        uploaded = await self.vk.upload(str(server.get("upload_url")), "file", path,
                                        filename, mime)
        if not uploaded.get("file"):
            raise Garbled(_("VK's upload server did not take the file"))
        saved = await self.vk.call("docs.save", {"file": uploaded["file"], "title": filename})
        doc = saved.get("doc") if isinstance(saved, dict) else None
        if not isinstance(doc, dict):
            raise Garbled(_("VK did not say which document it kept"))
        return f"doc{doc.get('owner_id')}_{doc.get('id')}"

    # Optional abilities -------------------------------------------------------------------

    async def typing(self, chat_id: str, active: bool) -> None:
        # VK shows "typing…" for about 10 s or until a message arrives; there is no "stop".
        if active:
            await self.vk.call("messages.setActivity", {
                "peer_id": chat_id, "type": "typing", "group_id": self.group_id},
                timeout=self.check_timeout)

    async def seen(self, chat_id: str) -> None:
        await self.vk.call("messages.markAsRead", {
            "peer_id": chat_id, "group_id": self.group_id, "mark_conversation_as_read": 1},
            timeout=self.check_timeout)

    async def download(self, attachment: Attachment, dest_dir: Path | None = None) -> Path:
        """Fetch a file a customer sent into ``dest_dir`` (default: the data dir's
        attachments/NAME); a file fetched before is not fetched again."""
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file():
            return target
        if not attachment.ref.startswith(("https://", "http://")):
            raise DownloadError(_("VK gave no address for this file"))
        try:
            await self.vk.fetch(attachment.ref, target, private_modes(self.data_dir))
        except (VKError, Unreachable, Garbled) as exc:
            raise DownloadError(_("VK cannot give this file: {reason}",
                                  reason=str(exc))) from exc
        return target

    async def check(self) -> str:
        """Which community the token reaches, and how the channel receives; or
        :class:`CheckFailed` saying exactly why not."""
        try:
            group = await self._community()
            if self.callback:
                await self._check_confirmation()
            else:
                await self.vk.call("groups.getLongPollServer", {"group_id": self.group_id},
                                   timeout=self.check_timeout)
                await self._check_long_poll()
        except VKError as exc:
            words = token_words() if exc.token_refused else _("VK says: {said}",
                                                              said=str(exc))
            if exc.code == 100 and exc.method == "groups.getById":
                words = _("VK knows no community {id}: {said}", id=self.group_id,
                          said=str(exc))
            elif exc.method == "groups.getLongPollServer":
                words = _("Bots Long Poll is off or the token lacks the right: turn it on in "
                          "Manage → API usage → Long Poll API ({said})", said=str(exc))
            raise CheckFailed(words) from exc
        except (Unreachable, Garbled) as exc:
            raise CheckFailed(str(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await self.vk.close()
        how = (_("Callback API at {url} (confirmation {confirmation})",
                 url=self.webhook_url or f"http://{self.listen}{self.path}",
                 confirmation=self.confirmation) if self.callback else _("Bots Long Poll"))
        return _("reached {name} (vk.com/{screen}, id {id}); VK API {version}; {how}",
                 name=group.get("name") or "?", screen=group.get("screen_name") or
                 f"club{self.group_id}", id=group.get("id") or self.group_id,
                 version=API_VERSION, how=how)

    async def _check_long_poll(self) -> None:
        """Bots Long Poll's settings, where the token may read them: on, and giving the
        events the channel needs."""
        try:
            found = await self.vk.call("groups.getLongPollSettings",
                                       {"group_id": self.group_id}, timeout=self.check_timeout)
        except VKError:
            return  # a token without the right to read them: getLongPollServer worked
        if not isinstance(found, dict):
            return
        if found.get("is_enabled") is False:
            raise CheckFailed(_("Bots Long Poll is off: turn it on in Manage → API usage → "
                                "Long Poll API"))
        events = found.get("events") if isinstance(found.get("events"), dict) else {}
        missing = [name for name in ("message_new", "message_reply")
                   if events and not events.get(name)]
        if missing:
            raise CheckFailed(_("Bots Long Poll does not send {events}: tick them in Manage → "
                                "API usage → Long Poll API → Event types",
                                events=", ".join(missing)))
        version = str(found.get("api_version") or "")
        if version and version != API_VERSION:
            raise CheckFailed(_("Bots Long Poll sends events of API version {found}: choose "
                                "{version} in Manage → API usage → Long Poll API",
                                found=version, version=API_VERSION))

    async def _check_confirmation(self) -> None:
        """The confirmation string VK expects, where the token may read it."""
        try:
            found = await self.vk.call("groups.getCallbackConfirmationCode",
                                       {"group_id": self.group_id}, timeout=self.check_timeout)
        except VKError:
            return
        code = found.get("code") if isinstance(found, dict) else None
        if isinstance(code, str) and code and code != self.confirmation:
            raise CheckFailed(_("VK expects the confirmation string {code}, the config has "
                                "{confirmation}: set confirmation = \"{code}\"", code=code,
                                confirmation=self.confirmation))


def keyboard(buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The menu's choices as an inline keyboard of text buttons: a press comes back as
    the customer's message with the choice in its payload."""
    made = []
    for label, data in buttons[:10]:
        payload = json.dumps({"b": data}, ensure_ascii=False)
        while len(payload.encode()) > MAX_PAYLOAD and data:
            data = data[:-1]
            payload = json.dumps({"b": data}, ensure_ascii=False)
        made.append({"action": {"type": "text", "label": label[:MAX_LABEL],
                                "payload": payload}, "color": "secondary"})
    per_row = 1 if len(made) <= 6 else 2
    return {"inline": True, "buttons": [made[n:n + per_row]
                                        for n in range(0, len(made), per_row)]}
