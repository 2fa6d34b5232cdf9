"""The WhatsApp channel: the WhatsApp Business Cloud API, through Meta's webhooks.

Receiving: Meta POSTs to ``/whatsapp/NAME`` on the hub's web server (see
``webhook``). Every kind of message is stored: text; image, video, audio
and voice, document and sticker as files fetched when an operator asks
(``f``), or at once up to ``download_limit`` bytes; location; shared contact
cards; button and list choices and template quick replies (they drive the
automatic-answer menus); replies to a message; forwards; ad referrals; and
what WhatsApp cannot pass on (``unsupported``) or says itself (``system``),
kept and explained rather than dropped. The profile name becomes the
contact's name and the ``wa_id`` their phone. Statuses (sent, delivered,
read, failed with WhatsApp's reason) move the delivery mark, never backwards.

Sending: text (link previews off), the reply to a customer's message, files
uploaded through the media endpoint, the automatic-answer menus as reply
buttons (up to three) or a list (up to ten); the customer sees their
messages read when an operator opens the dialog, and "typing…" while one
writes. See docs/WHATSAPP.md.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from opchat.config import ChannelSettings, private_modes
from opchat.i18n import _
from opchat.model import (
    Attachment,
    Direction,
    InboundMessage,
    MessageState,
    Template,
    TemplateUse,
)
from opchat.model import OutboundMessage as Outbound
from opchat.templates import from_graph
from opchat.transports import Capabilities, OptionSet, Rejected, Sink
from opchat.transports.common import DownloadError, split
from opchat.transports.files import safe_name
from opchat.transports.meta.channel import (
    CheckFailed,
    MetaChannel,
    Step,
    dicts,
    dig,
    is_number,
    ready,
    seconds,
)
from opchat.transports.meta.graph import Garbled, GraphError, Unreachable, said
from opchat.transports.meta.options import WHATSAPP
from opchat.transports.meta.webhook import Delivery as Received
from opchat.transports.meta.webhook import NotOurs, Reaction, Receipt

__all__ = ["CheckFailed", "DownloadError", "WhatsAppTransport", "convert_payload"]

log = logging.getLogger("opchat.whatsapp")

PLATFORM = "WhatsApp"
MAX_TEXT = 4096  # characters in one text message
REPLY_WINDOW = 24 * 3600  # after the customer's last message; then only templates
MAX_CAPTION = 1024
MAX_BUTTONS = 3  # reply buttons under one message; more become a list
MAX_ROWS = 10  # rows of a list message
MAX_BUTTON_TITLE = 20
MAX_ROW_TITLE = 24
MAX_ID = 256

# Kinds of file as WhatsApp names them, and ours.
MEDIA = {"image": "photo", "video": "video", "audio": "audio", "document": "document",
         "sticker": "sticker"}
STATES = {"sent": MessageState.SENT, "delivered": MessageState.DELIVERED,
          "read": MessageState.READ, "failed": MessageState.FAILED}


# Receiving -------------------------------------------------------------------------------


def convert_payload(channel: str, phone_number_id: str, payload: Mapping[str, Any]
                    ) -> Received:
    """What a webhook POST carries for the number ``phone_number_id``: its messages and
    the statuses of messages we sent. Changes for another number are left alone (one
    Meta app may serve several numbers, each its own channel)."""
    if payload.get("object") != "whatsapp_business_account":
        raise NotOurs(f"not a WhatsApp payload (object {payload.get('object')!r})")
    received = Received()
    for entry in dicts(payload.get("entry")):
        for change in dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, Mapping):
                continue
            number = str(dig(value, "metadata", "phone_number_id") or "")
            if number and number != phone_number_id:
                continue
            for error in dicts(value.get("errors")):
                log.warning("channel %s: WhatsApp reports %s", channel, _error_words(error))
            names = {str(c.get("wa_id")): str(dig(c, "profile", "name") or "")
                     for c in dicts(value.get("contacts"))}
            for message in dicts(value.get("messages")):
                reaction = convert_reaction(message)
                if reaction is not None:
                    received.reactions.append(reaction)
                    continue
                converted = convert_message(channel, message, names)
                if converted is not None:
                    received.messages.append(converted)
            for status in dicts(value.get("statuses")):
                receipt = convert_status(status)
                if receipt is not None:
                    received.receipts.append(receipt)
    return received


def convert_message(channel: str, msg: Mapping[str, Any], names: Mapping[str, str]
                    ) -> InboundMessage | None:
    """One customer message; None for what is not one (a reaction is not a message)."""
    external_id = msg.get("id")
    sender = str(msg.get("from") or "")
    if not isinstance(external_id, str) or not external_id or not sender:
        return None
    kind = str(msg.get("type") or "")
    if kind == "reaction":
        return None  # see convert_reaction: shown on the message it is about
    body = ""
    meta: dict[str, Any] = {}
    attachments: list[Attachment] = []
    content = msg.get(kind) if isinstance(msg.get(kind), Mapping) else {}
    if kind == "text":
        body = str(content.get("body") or "")
    elif kind in MEDIA:
        body = str(content.get("caption") or "")
        ours = "voice" if kind == "audio" and content.get("voice") else MEDIA[kind]
        attachments.append(Attachment(
            kind=ours, filename=str(content.get("filename") or ""),
            mime=str(content.get("mime_type") or ""), ref=str(content.get("id") or "")))
        if kind == "sticker":
            meta["kind"] = "sticker"
    elif kind == "location":
        place = ", ".join(str(content[k]) for k in ("name", "address") if content.get(k))
        latitude, longitude = content.get("latitude"), content.get("longitude")
        where = ""
        if is_number(latitude) and is_number(longitude):
            meta["location"] = [latitude, longitude]
            where = f"{latitude}, {longitude}"
        body = f"{place} ({where})" if place and where else place or where
        meta["kind"] = "location"
    elif kind == "contacts":
        body = "\n".join(_contact_card(card) for card in dicts(msg.get("contacts")))
        meta["kind"] = "contact"
    elif kind == "interactive":
        choice = content.get(str(content.get("type") or ""))
        if isinstance(choice, Mapping):
            body = str(choice.get("title") or "")
            meta["callback"] = str(choice.get("id") or "")
            meta["kind"] = "callback"
    elif kind == "button":
        body = str(content.get("text") or "")
        meta["callback"] = str(content.get("payload") or body)
        meta["kind"] = "callback"
    elif kind == "system":
        body = str(content.get("body") or "")
        meta["kind"] = "system"
    else:  # "unsupported", "unknown", or a type newer than this code
        meta["kind"] = "unsupported"
        errors = [_error_words(error) for error in dicts(msg.get("errors"))]
        meta["unsupported"] = "; ".join(errors) or kind
    context = msg.get("context") if isinstance(msg.get("context"), Mapping) else {}
    reply_to = None
    if context.get("forwarded") or context.get("frequently_forwarded"):
        meta["forwarded"] = "many" if context.get("frequently_forwarded") else "once"
    elif isinstance(context.get("id"), str):
        reply_to = context["id"]
    referral = msg.get("referral")
    if isinstance(referral, Mapping):
        meta["referral"] = {k: str(referral[k]) for k in
                            ("headline", "body", "source_url", "source_type", "source_id")
                            if referral.get(k)}
    name = names.get(sender) or ""
    return InboundMessage(
        channel=channel, chat_id=sender, external_id=external_id, sender_id=sender,
        sender_name=name or f"+{sender}", body=body, sent_at=seconds(msg.get("timestamp")),
        phone=f"+{sender}" if sender.isdigit() else None, reply_to_external_id=reply_to,
        attachments=tuple(attachments), meta=meta,
        profile={"whatsapp_name": name} if name else {})


def convert_reaction(msg: Mapping[str, Any]) -> Reaction | None:
    """A reaction message as what it is about (None: not a reaction)."""
    if msg.get("type") != "reaction" or not isinstance(msg.get("reaction"), Mapping):
        return None
    target = msg["reaction"].get("message_id")
    if not isinstance(target, str) or not target or not msg.get("from"):
        return None
    return Reaction(target, str(msg["from"]), str(msg["reaction"].get("emoji") or ""))


def convert_status(status: Mapping[str, Any]) -> Receipt | None:
    external_id = status.get("id")
    state = STATES.get(str(status.get("status") or ""))
    if not isinstance(external_id, str) or state is None:
        return None  # "deleted", "warning" and newer ones: nothing to show yet
    error = None
    if state is MessageState.FAILED:
        error = "; ".join(_error_words(e) for e in dicts(status.get("errors"))) or _(
            "WhatsApp gave no reason")
        error = _("{platform} could not deliver it: {reason}", platform=PLATFORM, reason=error)
    return Receipt(external_id, state, error)


def _contact_card(card: Mapping[str, Any]) -> str:
    name = str(dig(card, "name", "formatted_name") or "")
    phones = [str(p.get("phone") or p.get("wa_id") or "") for p in dicts(card.get("phones"))]
    emails = [str(e.get("email") or "") for e in dicts(card.get("emails"))]
    details = ", ".join(part for part in (*phones, *emails) if part)
    return f"{name}: {details}" if name and details else name or details


def _error_words(error: Mapping[str, Any]) -> str:
    code = error.get("code")
    return said(code if isinstance(code, int) else None,
                str(error.get("title") or error.get("message") or ""),
                str(dig(error, "error_data", "details") or ""))


# The transport -----------------------------------------------------------------------------


class WhatsAppTransport(MetaChannel):
    kind: ClassVar[str] = "whatsapp"
    platform: ClassVar[str] = PLATFORM
    options: ClassVar[OptionSet] = WHATSAPP
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=True, typing=True, buttons=True, max_len=MAX_TEXT, reply_window=REPLY_WINDOW,
        templates=True)

    def __init__(self, channel: ChannelSettings, data_dir: Path) -> None:
        options = channel.options
        self.phone_number_id = str(options.get("phone_number_id") or "").strip()
        super().__init__(channel, data_dir)
        if not self.phone_number_id.isdigit():
            raise ValueError("phone_number_id must be the number's id from Meta's dashboard")
        self.business_account_id = str(options.get("business_account_id") or "").strip()

    # Receiving ------------------------------------------------------------------------------

    async def _account(self) -> str:
        info = await self.graph.get(self.phone_number_id, {
            "fields": "display_phone_number,verified_name"}, timeout=self.check_timeout)
        number = str(info.get("display_phone_number") or self.phone_number_id)
        name = str(info.get("verified_name") or "")
        return f"{number} ({name}), webhook" if name else f"{number}, webhook"

    async def _looked(self, sink: Sink) -> None:
        """What the operators' template picker offers: the account's templates now."""
        if not self.business_account_id:
            return
        try:
            found = await self.templates()
        except (GraphError, Unreachable, Garbled) as exc:
            log.warning("channel %s: cannot list the message templates: %s", self.name, exc)
            return
        await sink.offer_templates(found)

    async def templates(self) -> list[Template]:
        """Every message template of the WhatsApp Business Account, page by page."""
        if not self.business_account_id:
            raise CheckFailed(_("set business_account_id to use message templates"))
        found: list[Template] = []
        params = {"limit": "100", "fields": "name,language,status,category,components,"
                                            "parameter_format"}
        try:
            for _page in range(50):  # 5,000 templates: far more than an account may have
                answer = await self.graph.get(f"{self.business_account_id}/message_templates",
                                              params, timeout=self.check_timeout)
                found += [t for t in map(from_graph, answer.get("data") or []) if t]
                after = dig(answer, "paging", "cursors", "after")
                if not dig(answer, "paging", "next") or not isinstance(after, str):
                    break
                params = {**params, "after": after}
        finally:
            if self._sink is None:  # asked from the command line: nothing else will ask
                await self.graph.close()
        return found

    def _convert(self, payload: dict[str, Any]) -> Received:
        return convert_payload(self.name, self.phone_number_id, payload)

    # Sending --------------------------------------------------------------------------------

    def _steps(self, out: Outbound) -> list[Step]:
        """One step per WhatsApp message: the files first (the first one captioned when
        the text fits), then the text in parts of at most 4,096 characters, the menu's
        choices under the last part."""
        if out.template is not None:
            return [functools.partial(ready, _template_message(out.template))]
        files = [a for a in out.attachments if a.local_path or a.ref]
        text = out.body.strip()
        if not files and not text:
            raise Rejected(_("nothing to send: the message has no text and no file"))
        captioned = bool(files) and bool(text) and len(text) <= MAX_CAPTION and not out.buttons
        steps: list[Step] = [
            functools.partial(self._media, attachment, text if captioned and n == 0 else "")
            for n, attachment in enumerate(files)]
        if text and not captioned:
            parts = split(text, MAX_TEXT)
            contents: list[dict[str, Any]] = [
                {"type": "text", "text": {"body": part, "preview_url": False}}
                for part in parts]
            if out.buttons:
                if len(parts[-1]) <= MAX_CAPTION:  # the choices go under the last part
                    contents[-1] = {"type": "interactive",
                                    "interactive": _menu(parts[-1], out.buttons)}
                else:
                    contents.append({"type": "interactive",
                                     "interactive": _menu(_("Choose:"), out.buttons)})
            steps.extend(functools.partial(ready, content) for content in contents)
        return steps

    async def _message(self, out: Outbound, content: dict[str, Any], reply: bool) -> str:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                "to": out.chat_id, **content}
        if reply and out.reply_to_external_id and out.reply_to_external_id.startswith("wamid."):
            body["context"] = {"message_id": out.reply_to_external_id}
        answer = await self.graph.post(f"{self.phone_number_id}/messages", body)
        messages = answer.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
            sent = messages[0].get("id")
            if isinstance(sent, str) and sent:
                return sent
        raise Garbled(_("{host} did not say which message it took", host=self.graph.host))

    async def _media(self, attachment: Attachment, caption: str) -> dict[str, Any]:
        kind = _media_kind(attachment)
        item: dict[str, Any] = {}
        if attachment.local_path:
            path = Path(attachment.local_path)
            if not path.is_file():
                raise Rejected(_("cannot send {name}: the file is not there any more",
                                 name=path.name))
            item["id"] = await self._upload(path, attachment)
        else:
            item["id"] = attachment.ref  # a media id WhatsApp already has
        if caption and kind in ("image", "video", "document"):
            item["caption"] = caption
        if kind == "document":
            item["filename"] = attachment.filename or (
                Path(attachment.local_path).name if attachment.local_path else "file")
        return {"type": kind, kind: item}

    async def _upload(self, path: Path, attachment: Attachment) -> str:
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", path.read_bytes(), filename=attachment.filename or path.name,
                       content_type=mime)
        answer = await self.graph.post(f"{self.phone_number_id}/media", form=form,
                                       timeout=4 * self.send_timeout)
        media_id = answer.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise Garbled(_("{host} did not say which file it took", host=self.graph.host))
        return media_id

    # Optional abilities ---------------------------------------------------------------------

    async def seen(self, chat_id: str) -> None:
        """Blue ticks on the customer's messages: WhatsApp marks the last one (and so every
        one before it) read."""
        last = await self._last_from(chat_id)
        if last:
            await self.graph.post(f"{self.phone_number_id}/messages", {
                "messaging_product": "whatsapp", "status": "read", "message_id": last},
                timeout=self.check_timeout)

    async def typing(self, chat_id: str, active: bool) -> None:
        # WhatsApp shows "typing…" with a read mark of the customer's last message, for
        # up to 25 s or until our answer arrives; there is no "stop".
        if not active:
            return
        last = await self._last_from(chat_id)
        if last:
            await self.graph.post(f"{self.phone_number_id}/messages", {
                "messaging_product": "whatsapp", "status": "read", "message_id": last,
                "typing_indicator": {"type": "text"}}, timeout=self.check_timeout)

    async def _last_from(self, chat_id: str) -> str | None:
        if self._sink is None:
            return None
        for message in reversed(await self._sink.history(chat_id, limit=20)):
            if message.direction is Direction.IN and (message.external_id or "").startswith(
                    "wamid."):
                return message.external_id
        return None

    async def download(self, attachment: Attachment, dest_dir: Path | None = None, *,
                       limit: int = 100 * 1024 * 1024) -> Path:
        """Fetch a file a customer sent into ``dest_dir`` (default: the data dir's
        attachments/NAME); a file fetched before is not fetched again."""
        target = Path(dest_dir or self.attachments_dir) / safe_name(attachment)
        if target.is_file():
            return target
        if not attachment.ref:
            raise DownloadError(_("this file has no WhatsApp media id"))
        try:
            info = await self.graph.get(attachment.ref, timeout=self.check_timeout)
            url = info.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise DownloadError(_("WhatsApp gave no address for this file"))
            size = info.get("file_size")
            if isinstance(size, int) and size > limit:
                raise DownloadError(_("the file is larger than {limit} bytes", limit=limit))
            await self.graph.fetch(url, target, private_modes(self.data_dir), limit)
        except (GraphError, Unreachable, Garbled) as exc:
            raise DownloadError(_("WhatsApp cannot give this file: {reason}",
                                  reason=str(exc))) from exc
        return target


def _menu(text: str, buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The menu's choices as reply buttons (up to three) or a list (up to ten)."""
    if len(buttons) <= MAX_BUTTONS:
        return {"type": "button", "body": {"text": text}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": payload[:MAX_ID], "title": label[:MAX_BUTTON_TITLE]}}
            for label, payload in buttons]}}
    rows = [{"id": payload[:MAX_ID], "title": label[:MAX_ROW_TITLE]}
            for label, payload in buttons[:MAX_ROWS]]
    return {"type": "list", "body": {"text": text}, "action": {
        "button": _("Choose")[:MAX_BUTTON_TITLE], "sections": [{"rows": rows}]}}


def _template_message(use: TemplateUse) -> dict[str, Any]:
    components = [{"type": kind, "parameters": [{"type": "text", "text": value}
                                                for value in values]}
                  for kind, values in (("header", use.header), ("body", use.body)) if values]
    template: dict[str, Any] = {"name": use.name, "language": {"code": use.language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


def _media_kind(attachment: Attachment) -> str:
    if attachment.kind == "photo" or attachment.mime.startswith("image/"):
        return "image"
    if attachment.kind == "video" or attachment.mime.startswith("video/"):
        return "video"
    if attachment.kind in ("voice", "audio") or attachment.mime.startswith("audio/"):
        return "audio"
    return "document"
