"""Facebook Messenger and Instagram: the Messenger Platform, through Meta's webhooks.

Receiving: Meta POSTs ``messaging`` events to ``/messenger/NAME`` or
``/instagram/NAME`` on the hub's web server (see ``webhook``): text; images,
video, audio and files (their addresses kept, fetched when an operator asks, or
at once up to ``download_limit`` bytes); locations; links Meta shows as a card
(``fallback``); replies to a message; postbacks and quick replies (the button's
title as the text, its payload as the callback: they drive the automatic-answer
menus); referrals (an m.me link, an ad); on Instagram, shares, story mentions
and replies to a story, shown with the story they are about. Reactions go on the
message they are about; read watermarks and deliveries move the marks of what
was sent; a message the customer deletes is kept and shown deleted; what the
business sent from another tool (Meta's inbox, another app) arrives as an echo
and is stored as sent, never sent again, while the echoes of opchat's own sends
(its app, or the ``metadata`` it sends with every Messenger message) are let go.
The customer's name (and Instagram username) is fetched once from their profile
and kept in the contact's profile; a failed fetch never holds a message back.

Sending, through the Send API: ``RESPONSE`` in the 24 hours after the
customer's last message; with ``human_agent`` on, a reply the platform refuses
as outside that window goes again tagged ``HUMAN_AGENT`` (7 days). Files are
uploaded (``message_attachments``) and sent by their ``attachment_id``; the
automatic-answer menus as quick replies; "typing…" and the read mark as sender
actions. See docs/META.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import mimetypes
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from opchat.config import ChannelSettings, private_modes
from opchat.i18n import _
from opchat.model import Attachment, InboundMessage, MessageState
from opchat.model import OutboundMessage as Outbound
from opchat.transports import Capabilities, OptionSet, Rejected, Sink
from opchat.transports.common import DownloadError, split
from opchat.transports.files import safe_name
from opchat.transports.meta.channel import (
    MetaChannel,
    Step,
    dicts,
    dig,
    is_number,
    ready,
    seconds,
)
from opchat.transports.meta.graph import Garbled, GraphError, Unreachable, send_error
from opchat.transports.meta.options import INSTAGRAM, MESSENGER
from opchat.transports.meta.webhook import Delivery as Received
from opchat.transports.meta.webhook import NotOurs, Reaction, ReadMark, Receipt
from opchat.transports.net import host_of

__all__ = ["InstagramTransport", "MessengerTransport", "convert_payload"]

log = logging.getLogger("opchat.messenger")

DAY = 24 * 3600
HUMAN_AGENT_WINDOW = 7 * DAY  # with the Human Agent tag
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD = 1000
# Sent as every Messenger message's metadata, which its echo carries back: opchat's own.
OURS = "opchat"
PAGE_INBOX_APP_ID = "263902037430900"  # echoes of what a person typed in Meta's inbox

# Files as the Send API names them, and ours.
MEDIA = {"image": "photo", "video": "video", "audio": "audio", "file": "document"}
SENDS = {"photo": "image", "sticker": "image", "video": "video", "voice": "audio",
         "audio": "audio"}


@dataclasses.dataclass(frozen=True)
class Platform:
    """What differs between Messenger and Instagram."""

    kind: str
    name: str  # as the operator reads it
    object: str  # the webhook payload's "object"
    max_text: int
    profile_fields: str  # of a customer
    account_fields: str  # of the Page or account itself


MESSENGER_PLATFORM = Platform("messenger", "Messenger", "page", 2000,
                              "first_name,last_name", "name")
INSTAGRAM_PLATFORM = Platform("instagram", "Instagram", "instagram", 1000, "name,username",
                              "username,name")


# Receiving -------------------------------------------------------------------------------


def convert_payload(channel: str, platform: Platform, account_id: str,
                    payload: Mapping[str, Any]) -> Received:
    """What a webhook POST carries for the Page or Instagram account ``account_id``.
    Entries of another account are left alone (one Meta app may serve several, each
    its own channel)."""
    if payload.get("object") != platform.object:
        raise NotOurs(f"not a {platform.name} payload (object {payload.get('object')!r})")
    received = Received()
    for entry in dicts(payload.get("entry")):
        owner = str(entry.get("id") or "")
        if owner and owner != account_id:
            continue
        for event in dicts(entry.get("messaging")):
            convert_event(channel, platform, account_id, event, received)
    return received


def convert_event(channel: str, platform: Platform, account_id: str,
                  event: Mapping[str, Any], received: Received) -> None:
    """One ``messaging`` event into what it is: a message, an echo, a reaction..."""
    sender = str(dig(event, "sender", "id") or "")
    recipient = str(dig(event, "recipient", "id") or "")
    at = seconds(event.get("timestamp"), 1000.0)
    if not sender:
        return
    message = event.get("message")
    if isinstance(message, Mapping):
        mid = message.get("mid")
        if not isinstance(mid, str) or not mid:
            return
        if message.get("is_echo"):
            echo = convert_echo(channel, platform, account_id, recipient, message, at)
            if echo is not None:
                received.echoes.append(echo)
        elif message.get("is_deleted"):
            received.deletions.append(mid)
        else:
            received.messages.append(convert_message(channel, platform, sender, message, at))
    elif isinstance(event.get("postback"), Mapping):
        received.messages.append(convert_postback(channel, platform, sender, event["postback"],
                                                  at))
    elif isinstance(event.get("referral"), Mapping):
        received.messages.append(_inbound(
            channel, platform, sender, f"referral:{sender}:{event.get('timestamp')}", "", at,
            meta={"kind": "referral", "referral": _referral(event["referral"])}))
    elif isinstance(event.get("reaction"), Mapping):
        reaction = event["reaction"]
        target = reaction.get("mid")
        if isinstance(target, str) and target:
            emoji = str(reaction.get("emoji") or "") if reaction.get("action") != "unreact" \
                else ""
            received.reactions.append(Reaction(target, sender, emoji))
    elif isinstance(event.get("read"), Mapping):
        read = event["read"]
        watermark = seconds(read.get("watermark"), 1000.0)
        if watermark is not None:
            received.reads.append(ReadMark(sender, watermark))
        elif isinstance(read.get("mid"), str):  # Instagram names the message seen
            received.receipts.append(Receipt(read["mid"], MessageState.READ))
            if at is not None:
                received.reads.append(ReadMark(sender, at))
    elif isinstance(event.get("delivery"), Mapping):
        for mid in event["delivery"].get("mids") or []:
            if isinstance(mid, str) and mid:
                received.receipts.append(Receipt(mid, MessageState.DELIVERED))


def convert_message(channel: str, platform: Platform, sender: str, msg: Mapping[str, Any],
                    at: float | None) -> InboundMessage:
    body, attachments, meta = _content(msg)
    quick = msg.get("quick_reply")
    if isinstance(quick, Mapping) and isinstance(quick.get("payload"), str):
        meta["callback"] = quick["payload"]
        meta["kind"] = "callback"
    reply_to = msg.get("reply_to") if isinstance(msg.get("reply_to"), Mapping) else {}
    story = reply_to.get("story")
    if isinstance(story, Mapping):
        meta["story"] = {key: str(story[key]) for key in ("url", "id") if story.get(key)}
    if msg.get("is_unsupported"):
        meta["kind"] = "unsupported"
        meta.setdefault("unsupported", "")
    reply = reply_to.get("mid") if isinstance(reply_to.get("mid"), str) else None
    return _inbound(channel, platform, sender, str(msg["mid"]), body, at, reply_to=reply,
                    attachments=tuple(attachments), meta=meta)


def convert_echo(channel: str, platform: Platform, account_id: str, customer: str,
                 msg: Mapping[str, Any], at: float | None) -> InboundMessage | None:
    """What the business sent from elsewhere; None for opchat's own (its metadata)."""
    if msg.get("metadata") == OURS or not customer or customer == account_id:
        return None
    body, attachments, meta = _content(msg)
    app = str(msg.get("app_id") or "")
    meta["elsewhere"] = "Meta Business Suite" if app == PAGE_INBOX_APP_ID else ""
    if app:
        meta["app"] = app
    # Its author in the thread: the tool when known, else the platform (never "You").
    return InboundMessage(channel=channel, chat_id=customer, external_id=str(msg["mid"]),
                          sender_id=account_id, sender_name=meta["elsewhere"] or platform.name,
                          body=body, sent_at=at, attachments=tuple(attachments), meta=meta)


def convert_postback(channel: str, platform: Platform, sender: str,
                     postback: Mapping[str, Any], at: float | None) -> InboundMessage:
    title = str(postback.get("title") or "")
    meta: dict[str, Any] = {"kind": "callback", "callback": str(postback.get("payload") or title)}
    if isinstance(postback.get("referral"), Mapping):
        meta["referral"] = _referral(postback["referral"])
    mid = postback.get("mid")
    external_id = mid if isinstance(mid, str) and mid else f"postback:{sender}:{at}"
    return _inbound(channel, platform, sender, external_id, title, at, meta=meta)


def _content(msg: Mapping[str, Any]) -> tuple[str, list[Attachment], dict[str, Any]]:
    """A message's text, files and what else it says (locations, links, stories)."""
    lines = [str(msg.get("text") or "")] if msg.get("text") else []
    attachments: list[Attachment] = []
    meta: dict[str, Any] = {}
    for item in dicts(msg.get("attachments")):
        kind = str(item.get("type") or "")
        payload = item.get("payload") if isinstance(item.get("payload"), Mapping) else {}
        url = str(payload.get("url") or item.get("url") or "")
        if kind in MEDIA:
            ours = MEDIA[kind]
            if kind == "image" and payload.get("sticker_id"):
                ours = "sticker"
                meta["kind"] = "sticker"
            attachments.append(Attachment(kind=ours, filename=_filename(url), ref=url))
        elif kind == "location":
            latitude = dig(payload, "coordinates", "lat")
            longitude = dig(payload, "coordinates", "long")
            place = str(item.get("title") or "")
            where = ""
            if is_number(latitude) and is_number(longitude):
                meta["location"] = [latitude, longitude]
                where = f"{latitude}, {longitude}"
            lines.append(f"{place} ({where})" if place and where else place or where)
            meta["kind"] = "location"
        elif kind == "story_mention":
            meta["story"] = {"url": url, "mention": True} if url else {"mention": True}
            meta["kind"] = "story_mention"
        elif kind in ("fallback", "share", "ig_reel", "reel", "ig_post"):
            title = str(item.get("title") or dig(payload, "title") or "")
            lines.append(" ".join(part for part in (title, url) if part))
            meta.setdefault("kind", "link")
        else:  # a template, "unsupported_type", or a type newer than this code
            meta["kind"] = "unsupported"
            meta["unsupported"] = kind
    return "\n".join(line for line in lines if line), attachments, meta


def _referral(referral: Mapping[str, Any]) -> dict[str, str]:
    """An m.me link's or an ad's referral, in MESSAGE_META's words."""
    found = {"source_type": str(referral.get("source") or "").lower(),
             "source_id": str(referral.get("ad_id") or ""),
             "headline": str(dig(referral, "ads_context_data", "ad_title") or ""),
             "source_url": str(referral.get("source_url") or ""),
             "ref": str(referral.get("ref") or "")}
    return {key: value for key, value in found.items() if value}


def _inbound(channel: str, platform: Platform, sender: str, external_id: str, body: str,
             at: float | None, **more: Any) -> InboundMessage:
    return InboundMessage(channel=channel, chat_id=sender, external_id=external_id,
                          sender_id=sender, sender_name=unnamed(platform, sender), body=body,
                          sent_at=at, reply_to_external_id=more.pop("reply_to", None), **more)


def unnamed(platform: Platform, sender: str) -> str:
    """A customer's name until their profile says it."""
    return f"{platform.name} …{sender[-4:]}"


def _filename(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name if "." in name else ""


# The transport -----------------------------------------------------------------------------


class MessengerTransport(MetaChannel):
    kind: ClassVar[str] = "messenger"
    platform: ClassVar[str] = "Messenger"
    options: ClassVar[OptionSet] = MESSENGER
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, typing=True, buttons=True, max_len=MESSENGER_PLATFORM.max_text,
        reply_window=DAY)
    on: ClassVar[Platform] = MESSENGER_PLATFORM
    account_option: ClassVar[str] = "page_id"

    profile_timeout: ClassVar[float] = 3.0  # a webhook waits for it: short
    profile_pause: ClassVar[float] = 600.0  # after a failed fetch, before trying again

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.account_id = str(options.get(self.account_option) or "").strip()
        super().__init__(channel, data_dir)
        if not self.account_id.isdigit():
            raise ValueError(f"{self.account_option} must be the id from Meta's dashboard")
        self.human_agent = bool(options.get("human_agent"))
        if self.human_agent:  # what the app shows as the time left to answer
            self.capabilities = dataclasses.replace(  # type: ignore[misc]
                self.capabilities, reply_window=HUMAN_AGENT_WINDOW)
        self.app_id = str(options.get("app_id") or "").strip()
        self._people: dict[str, dict[str, str]] = {}  # sender -> their profile, as kept
        self._unfetched: dict[str, float] = {}  # sender -> when their profile failed

    # Receiving ------------------------------------------------------------------------------

    def _convert(self, payload: dict[str, Any]) -> Received:
        return convert_payload(self.name, self.on, self.account_id, payload)

    async def _prepare(self, received: Received, sink: Sink) -> None:
        if received.echoes and not self.app_id:
            await self._learn_app_id()
        if self.app_id:  # opchat's own sends come back as echoes of its app
            received.echoes = [e for e in received.echoes if e.meta.get("app") != self.app_id]
        senders = list(dict.fromkeys(m.sender_id for m in received.messages))
        # Each new customer's profile at the same time: Meta waits for the answer.
        people = dict(zip(senders, await asyncio.gather(
            *(self._person(sender, sink) for sender in senders)), strict=True))
        named: list[InboundMessage] = []
        for message in received.messages:
            person = people[message.sender_id]
            if person:
                message = dataclasses.replace(
                    message, sender_name=person["name"], username=person.get("username"),
                    profile=person["profile"])
            named.append(message)
        received.messages = named

    async def _person(self, sender: str, sink: Sink) -> dict[str, Any] | None:
        """The customer's name (and username) and the profile to keep: fetched once, then
        known from what was kept; None while it cannot be fetched."""
        if sender in self._people:
            return self._people[sender]
        key = f"{self.kind}_name"
        kept = await sink.profile(sender) or {}
        if isinstance(kept.get(key), str) and kept[key]:
            person = {"name": kept[key], "profile": {}}
            username = kept.get(f"{self.kind}_username")
            if isinstance(username, str) and username:
                person["username"] = username
            self._people[sender] = person
            return person
        if time.monotonic() - self._unfetched.get(sender, -self.profile_pause) < \
                self.profile_pause:
            return None
        try:
            found = await self.graph.get(sender, {"fields": self.on.profile_fields},
                                         timeout=self.profile_timeout)
        except (GraphError, Unreachable, Garbled) as exc:
            log.info("channel %s: no profile for %s yet: %s", self.name, sender, exc)
            self._unfetched[sender] = time.monotonic()
            return None
        person = self._from_profile(found)
        if person is None:
            self._unfetched[sender] = time.monotonic()
            return None
        self._people[sender] = person
        return person

    def _from_profile(self, found: Mapping[str, Any]) -> dict[str, Any] | None:
        name = " ".join(str(found[k]) for k in ("first_name", "last_name")
                        if isinstance(found.get(k), str) and found[k].strip())
        if not name:
            return None
        return {"name": name, "profile": {"messenger_name": name}}

    async def _learn_app_id(self) -> None:
        try:
            found = await self.graph.get("app", {"fields": "id,name"},
                                         timeout=self.profile_timeout)
        except (GraphError, Unreachable, Garbled) as exc:
            log.warning("channel %s: cannot learn the app's id (%s); set app_id so that "
                        "opchat's own messages are never shown twice", self.name, exc)
            return
        if isinstance(found.get("id"), str) and found["id"].isdigit():
            self.app_id = found["id"]

    async def _account(self) -> str:
        found = await self.graph.get(self.account_id, {"fields": self.on.account_fields},
                                     timeout=self.check_timeout)
        return f"{self._shown(found)}, webhook"

    def _shown(self, account: Mapping[str, Any]) -> str:
        """The Page as the status bar names it."""
        page = _("page {id}", id=self.account_id)
        return f"{account['name']} ({page})" if account.get("name") else page

    async def _looked(self, sink: Sink) -> None:
        if not self.app_id:
            await self._learn_app_id()

    # Sending --------------------------------------------------------------------------------

    def _steps(self, out: Outbound) -> list[Step]:
        """One step per platform message: each file (they carry no caption), then the
        text in parts, the menu's choices as quick replies under the last part."""
        files = [a for a in out.attachments if a.local_path or a.ref]
        text = out.body.strip()
        if not files and not text:
            raise Rejected(_("nothing to send: the message has no text and no file"))
        steps: list[Step] = [functools.partial(self._file, attachment) for attachment in files]
        parts = split(text, self.on.max_text) if text else []
        if out.buttons and not parts:
            parts = [_("Choose:")]
        contents: list[dict[str, Any]] = [{"text": part} for part in parts]
        if out.buttons:
            contents[-1]["quick_replies"] = [
                {"content_type": "text", "title": label[:MAX_QUICK_REPLY_TITLE],
                 "payload": payload[:MAX_PAYLOAD]}
                for label, payload in out.buttons[:MAX_QUICK_REPLIES]]
        steps.extend(functools.partial(ready, content) for content in contents)
        return steps

    async def _message(self, out: Outbound, content: dict[str, Any], reply: bool) -> str:
        message = dict(content)
        if reply and out.reply_to_external_id:
            message["reply_to"] = {"mid": out.reply_to_external_id}
        if self.kind == "messenger":
            message["metadata"] = OURS
        body: dict[str, Any] = {"recipient": {"id": out.chat_id}, "messaging_type": "RESPONSE",
                                "message": message}
        try:
            answer = await self.graph.post("me/messages", body)
        except GraphError as exc:
            if not (exc.outside_window and self.human_agent):
                raise
            # Past 24 hours: a person answering may still, for 7 days, with this tag.
            answer = await self.graph.post("me/messages", {
                **body, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})
        sent = answer.get("message_id")
        if isinstance(sent, str) and sent:
            return sent
        raise Garbled(_("{host} did not say which message it took", host=self.graph.host))

    async def _file(self, attachment: Attachment) -> dict[str, Any]:
        kind = _send_kind(attachment)
        if attachment.local_path:
            path = Path(attachment.local_path)
            if not path.is_file():
                raise Rejected(_("cannot send {name}: the file is not there any more",
                                 name=path.name))
            payload: dict[str, Any] = {"attachment_id": await self._upload(path, attachment,
                                                                           kind)}
        else:
            payload = {"url": attachment.ref, "is_reusable": True}  # an address Meta has
        return {"attachment": {"type": kind, "payload": payload}}

    async def _upload(self, path: Path, attachment: Attachment, kind: str) -> str:
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        form = aiohttp.FormData()
        form.add_field("message", json.dumps(
            {"attachment": {"type": kind, "payload": {"is_reusable": True}}}))
        form.add_field("filedata", path.read_bytes(), filename=attachment.filename or path.name,
                       content_type=mime)
        answer = await self.graph.post("me/message_attachments", form=form,
                                       timeout=4 * self.send_timeout)
        attachment_id = answer.get("attachment_id")
        if not isinstance(attachment_id, str) or not attachment_id:
            raise Garbled(_("{host} did not say which file it took", host=self.graph.host))
        return attachment_id

    def _send_error(self, exc: BaseException) -> Exception | None:
        error = send_error(exc, self.platform)
        if isinstance(exc, GraphError) and exc.outside_window:
            if self.human_agent:
                return Rejected(_("the customer wrote more than 7 days ago: {platform} takes "
                                  "no reply now ({said})", platform=self.platform,
                                  said=str(exc)))
            return Rejected(_("the customer wrote more than 24 hours ago, so {platform} takes "
                              "no reply now; with human_agent on, a person may answer for 7 "
                              "days ({said})", platform=self.platform, said=str(exc)))
        return error

    # Optional abilities ---------------------------------------------------------------------

    async def typing(self, chat_id: str, active: bool) -> None:
        await self._action(chat_id, "typing_on" if active else "typing_off")

    async def seen(self, chat_id: str) -> None:
        await self._action(chat_id, "mark_seen")

    async def _action(self, chat_id: str, action: str) -> None:
        await self.graph.post("me/messages", {"recipient": {"id": chat_id},
                                              "sender_action": action},
                              timeout=self.check_timeout)

    async def download(self, attachment: Attachment, dest_dir: Path | None = None, *,
                       limit: int = 100 * 1024 * 1024) -> Path:
        """Fetch a file a customer sent (its address, which expires after a while) into
        ``dest_dir`` (default: the data dir's attachments/NAME); once fetched, never
        again."""
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file():
            return target
        if not attachment.ref.startswith(("https://", "http://")):
            raise DownloadError(_("{platform} gave no address for this file",
                                  platform=self.platform))
        try:
            # Meta's CDN addresses are signed and public: the token goes to Graph only.
            await self.graph.fetch(attachment.ref, target, private_modes(self.data_dir), limit,
                                   with_token=host_of(attachment.ref) == self.graph.host)
        except (GraphError, Unreachable) as exc:
            raise DownloadError(_("{platform} cannot give this file: {reason}",
                                  platform=self.platform, reason=str(exc))) from exc
        return target


class InstagramTransport(MessengerTransport):
    kind: ClassVar[str] = "instagram"
    platform: ClassVar[str] = "Instagram"
    options: ClassVar[OptionSet] = INSTAGRAM
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, typing=True, buttons=True, max_len=INSTAGRAM_PLATFORM.max_text,
        reply_window=DAY)
    on: ClassVar[Platform] = INSTAGRAM_PLATFORM
    account_option: ClassVar[str] = "instagram_account_id"

    def _from_profile(self, found: Mapping[str, Any]) -> dict[str, Any] | None:
        name = str(found.get("name") or "").strip()
        username = str(found.get("username") or "").strip()
        if not name and not username:
            return None
        profile = {"instagram_name": name or f"@{username}"}
        person: dict[str, Any] = {"name": name or f"@{username}", "profile": profile}
        if username:
            profile["instagram_username"] = username
            person["username"] = username
        return person

    def _shown(self, account: Mapping[str, Any]) -> str:
        shown = f"@{account['username']}" if account.get("username") else self.account_id
        return f"{shown} ({account['name']})" if account.get("name") else shown


def _send_kind(attachment: Attachment) -> str:
    if attachment.kind in SENDS:
        return SENDS[attachment.kind]
    for prefix, kind in (("image/", "image"), ("video/", "video"), ("audio/", "audio")):
        if attachment.mime.startswith(prefix):
            return kind
    return "file"
