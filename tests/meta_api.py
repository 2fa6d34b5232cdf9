"""A stand-in of Meta's Graph API on 127.0.0.1, for tests of the WhatsApp, Messenger and
Instagram channels.

It speaks the wire format the real one speaks: ``/{version}/{node}[/{edge}]`` with the token
as ``Authorization: Bearer …`` (or an ``access_token`` query or body parameter), JSON bodies
for sends, multipart for uploads; answers plain JSON on success and
``{"error": {"message", "type", "code", "error_subcode", "error_data", "fbtrace_id"}}`` with
the HTTP status Graph uses when something is wrong. Media bytes are served under
``/media/{opaque}`` and, as WhatsApp's media addresses are, only to a request that carries
the token; under ``/cdn/{opaque}``, as Messenger's CDN addresses are, to anyone.

What the stand-in knows:

- WhatsApp Cloud API: ``GET /{phone_number_id}``, ``POST /{phone_number_id}/messages``
  (messages, and ``status: read`` with an optional typing indicator),
  ``POST /{phone_number_id}/media``, ``GET /{media_id}``, ``GET /{waba_id}/message_templates``.
- The app the token belongs to: ``GET /app``.
- Messenger and Instagram (one Page access token): ``GET /me``, ``GET /{page_id}``,
  ``GET /{ig_id}``, ``POST /me/messages`` (also
  ``/{page_id}/messages`` and ``/{ig_id}/messages``) with a message or a sender action,
  ``POST /me/message_attachments``, ``GET /{psid or igsid}?fields=…``.

Every request is recorded (even one with a bad token), ``fail(path_suffix, …)`` makes the next
calls on a path answer an error, garbage, or nothing at all, and ``expire_token()`` turns every
authenticated call into the "session has expired" error.

The second half builds webhook payloads shaped like the examples in Meta's documentation
(WhatsApp ``messages`` field values, Messenger and Instagram ``messaging`` events), signs
them the way Meta does (``X-Hub-Signature-256``) and delivers them over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# Who the stand-in is ------------------------------------------------------------------------------

TOKEN = "EAAJB3kZCnY7sBO4ZBqZBZCWtA5xL0ZAhRk7vGZC1mDqZCk8uZBfZAJ2o0n9ZCZAsZBtestZD"
APP_SECRET = "4f9d1c6b2a8e7d3f5c0b9a8e7d6c5b4a"
APP_ID = "1517776481860111"
PAGE_INBOX_APP_ID = 263902037430900  # the app_id of echoes a person typed in Meta's own inbox
VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"  # as webhooks' metadata carries it
DISPLAY_PHONE_FORMATTED = "+1 555-078-3881"  # as GET /{phone_number_id} shows it
VERIFIED_NAME = "Lucky Shrub"
WABA_ID = "102290129340398"
PAGE_ID = "108715837612345"
PAGE_NAME = "Lucky Shrub"
IG_ID = "17841405822304914"
IG_USERNAME = "luckyshrub"
APP_NAME = "Lucky Shrub Inbox"

GRAPH_ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


# Errors ------------------------------------------------------------------------------------------


@dataclass
class Error:
    """Answer with this Graph error (a fresh ``fbtrace_id`` is added to every answer).

    ``details`` becomes ``error_data: {messaging_product: "whatsapp", details}``, as the Cloud
    API adds it to its own errors; Messenger's errors have none.
    """

    status: int
    code: int
    message: str
    type: str = "OAuthException"
    error_subcode: int | None = None
    details: str | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


MALFORMED = "malformed"  # answer 200 with a body that is not JSON
HANG = "hang"  # never answer (the client times out)
SENT_THEN_HANG = "sent-then-hang"  # the send is taken (recorded in .sent), its answer never comes
SIGN = "sign"  # deliver(signature=SIGN): sign the body with the secret (the default)

# WhatsApp Cloud API (the titles are what the Cloud API puts in "message", as "(#code) title").
RE_ENGAGEMENT = Error(400, 131047, "(#131047) Re-engagement message", details=(
    "Message failed to send because more than 24 hours have passed since the customer last "
    "replied to this number."))
UNDELIVERABLE = Error(400, 131026, "(#131026) Message undeliverable", details=(
    "Message failed to send because the recipient cannot receive it: the number is not on "
    "WhatsApp, has not accepted the current terms, or runs a WhatsApp that is too old."))
UNSUPPORTED_TYPE = Error(400, 131051, "(#131051) Unsupported message type", details=(
    "Message type is not currently supported."))
RATE_LIMIT_HIT = Error(400, 130429, "(#130429) Rate limit hit", details=(
    "Cloud API message throughput has been reached."))
PAIR_RATE_LIMIT = Error(400, 131056, "(#131056) (Business Account, Consumer Account) pair rate "
                        "limit hit", details=(
    "Message failed to send because there were too many messages sent from this phone number "
    "to the same phone number in a short period of time."))
SOMETHING_WENT_WRONG = Error(500, 131000, "(#131000) Something went wrong", details=(
    "Message failed to send due to an unknown error."))
SERVICE_UNAVAILABLE = Error(503, 131016, "(#131016) Service unavailable", details=(
    "A service is temporarily unavailable."))
INVALID_PARAMETER = Error(400, 100, "(#100) Invalid parameter")

# Tokens (both platforms).
TOKEN_EXPIRED = Error(401, 190, "Error validating access token: Session has expired on "
                      "Thursday, 03-Dec-26 23:00:00 PST. The current time is Friday, "
                      "04-Dec-26 01:12:40 PST.", error_subcode=463)
TOKEN_INVALID = Error(401, 190, "Invalid OAuth access token - Cannot parse access token")

# Messenger / Instagram Send API.
OUTSIDE_WINDOW = Error(400, 10, "(#10) This message is sent outside of allowed window. Learn "
                       "more about the new policy here: "
                       "https://developers.facebook.com/docs/messenger-platform/policy-overview",
                       error_subcode=2018278)
PERMISSION_DENIED = Error(400, 10, "(#10) Application does not have permission for this action")
TEMPORARILY_BLOCKED = Error(400, 368, "(#368) The action attempted has been deemed abusive or "
                            "is otherwise disallowed")
NOT_AVAILABLE = Error(400, 551, "(#551) This person isn't available right now.",
                      error_subcode=1545041)
MESSENGER_RATE_LIMIT = Error(400, 613, "(#613) Calls to this api have exceeded the rate limit.")
NO_MATCHING_USER = Error(400, 100, "(#100) No matching user found", error_subcode=2018001)


def not_found(object_id: str) -> Error:
    """What Graph answers for a GET of an id it does not know (or may not show)."""
    return Error(400, 100, f"Unsupported get request. Object with ID '{object_id}' does not "
                 "exist, cannot be loaded due to missing permissions, or does not support this "
                 "operation. Please read the Graph API documentation at "
                 "https://developers.facebook.com/docs/graph-api",
                 type="GraphMethodException", error_subcode=33)


def invalid(details: str) -> Error:
    """``(#100) Invalid parameter`` with the reason in ``error_data.details``."""
    return Error(400, 100, "(#100) Invalid parameter", details=details)


def fbtrace_id() -> str:
    return base64.b64encode(secrets.token_bytes(8)).decode().rstrip("=") + "AA"


# The recorded calls ------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str  # without the query string, e.g. "/v21.0/106540352242922/messages"
    query: dict[str, str]
    json: Any | None  # the parsed body when the request sent JSON
    form: dict[str, str] = field(default_factory=dict)  # form or multipart fields (not files)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # name, bytes, type
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str | None:
        """The access token the call carried, wherever it carried it."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        if "access_token" in self.query:
            return self.query["access_token"]
        if isinstance(self.json, dict) and isinstance(self.json.get("access_token"), str):
            return self.json["access_token"]
        return self.form.get("access_token")


@dataclass
class Media:
    content: bytes
    mime_type: str
    opaque: str  # the part of the download URL after /media/
    filename: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


WA_TYPES = ("text", "image", "video", "audio", "document", "sticker", "location", "contacts",
            "interactive", "template", "reaction")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")


def default_templates() -> list[dict[str, Any]]:
    """Templates as GET /{waba_id}/message_templates lists them: two usable, one pending, one
    rejected."""
    return [
        {"name": "order_shipped", "parameter_format": "POSITIONAL", "language": "en_US",
         "status": "APPROVED", "category": "UTILITY", "id": "1162748394857361",
         "components": [
             {"type": "HEADER", "format": "TEXT", "text": "Order {{1}} is on its way",
              "example": {"header_text": ["#1042"]}},
             {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped and should "
                                      "arrive by {{3}}.",
              "example": {"body_text": [["Pablo", "#1042", "Friday"]]}},
             {"type": "FOOTER", "text": "Lucky Shrub"},
             {"type": "BUTTONS", "buttons": [
                 {"type": "QUICK_REPLY", "text": "Where is it?"},
                 {"type": "QUICK_REPLY", "text": "Talk to a person"}]}]},
        {"name": "visit_reminder", "parameter_format": "POSITIONAL", "language": "ru",
         "status": "APPROVED", "category": "UTILITY", "id": "2093847561029384",
         "components": [
             {"type": "BODY", "text": "Здравствуйте, {{1}}! Напоминаем о визите {{2}} в {{3}}.",
              "example": {"body_text": [["Иван", "5 декабря", "14:30"]]}},
             {"type": "BUTTONS", "buttons": [
                 {"type": "QUICK_REPLY", "text": "Приду"},
                 {"type": "QUICK_REPLY", "text": "Перенести"}]}]},
        {"name": "welcome_back", "parameter_format": "POSITIONAL", "language": "en_US",
         "status": "PENDING", "category": "MARKETING", "id": "3847561029384756",
         "components": [{"type": "BODY", "text": "Good to see you again, {{1}}!",
                         "example": {"body_text": [["Maria"]]}}]},
        {"name": "spring_sale", "parameter_format": "POSITIONAL", "language": "en_US",
         "status": "REJECTED", "rejected_reason": "PROMOTIONAL", "category": "UTILITY",
         "id": "4756102938475610",
         "components": [{"type": "BODY", "text": "Everything 50% off until Sunday, {{1}}!",
                         "example": {"body_text": [["Maria"]]}}]},
    ]


class ApiError(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(error.message)
        self.error = error


class GraphAPI:
    """The stand-in server. ``await start()``, then point ``api_base`` at ``base`` and
    ``api_version`` at ``version``."""

    def __init__(self, access_token: str = TOKEN, app_secret: str = APP_SECRET,
                 version: str = VERSION, phone_number_id: str = PHONE_NUMBER_ID,
                 waba_id: str = WABA_ID, page_id: str = PAGE_ID, ig_id: str = IG_ID) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.version = version
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.page_id = page_id
        self.ig_id = ig_id
        self.token_expired = False
        self.calls: list[Call] = []
        self.failures: dict[str, list[Any]] = {}
        self.sent: dict[str, dict[str, Any]] = {}  # message id -> the JSON body that sent it
        self.media: dict[str, Media] = {}  # media id -> what it is
        self.unserved: set[str] = set()  # media ids whose download URL answers 404
        self.attachments: dict[str, tuple[str, bytes, str]] = {}  # Messenger attachment ids
        self.templates: list[dict[str, Any]] = default_templates()
        self.profiles: dict[str, dict[str, Any]] = copy.deepcopy(PROFILES)
        # Recipients the platforms refuse: WhatsApp numbers or PSIDs/IGSIDs whose 24-hour
        # window is closed (RE_ENGAGEMENT / OUTSIDE_WINDOW), who cannot get messages
        # (UNDELIVERABLE / NOT_AVAILABLE), or that Messenger does not know (NO_MATCHING_USER).
        self.closed_windows: set[str] = set()
        self.unreachable: set[str] = set()
        self.unknown_users: set[str] = set()
        self.phone_number: dict[str, Any] = {
            "verified_name": VERIFIED_NAME, "display_phone_number": DISPLAY_PHONE_FORMATTED,
            "id": phone_number_id, "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED"}
        self.page: dict[str, Any] = {"name": PAGE_NAME, "id": page_id}
        self.instagram: dict[str, Any] = {"username": IG_USERNAME, "name": PAGE_NAME,
                                          "id": ig_id}
        self.app: dict[str, Any] = {"id": APP_ID, "name": APP_NAME,
                                    "link": "https://www.facebook.com/games/?app_id=" + APP_ID}
        self._media_ids = itertools.count(1013859600285441)
        self._attachment_ids = itertools.count(1857777774821032)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int | None = None) -> GraphAPI:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._request)
        # handler_cancellation: a client that gives up ends a hanging answer.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port if port is not None else self.port,
                           reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        """Stop listening (the port refuses connections until ``start()`` again)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Knobs -------------------------------------------------------------------------------------

    def fail(self, path_suffix: str, *answers: Any) -> None:
        """The next calls whose path ends with ``path_suffix`` get these answers, in order
        (an Error, MALFORMED, HANG or SENT_THEN_HANG)."""
        self.failures.setdefault(path_suffix, []).extend(answers)

    def expire_token(self, expired: bool = True) -> None:
        """From now on every call with the (right) token answers TOKEN_EXPIRED."""
        self.token_expired = expired

    def add_media(self, media_id: str, content: bytes, mime_type: str,
                  filename: str | None = None) -> str:
        """Register media a customer sent (as a webhook's ``image.id`` etc. names it)."""
        self.media[media_id] = Media(content, mime_type, secrets.token_urlsafe(24), filename)
        return media_id

    def media_url(self, media_id: str) -> str:
        return f"{self.base}/media/{self.media[media_id].opaque}"

    def cdn_url(self, media_id: str, host: str = "localhost") -> str:
        """The file as Messenger's webhooks give it: a signed address on Meta's CDN (another
        host than the API's), which asks for no token."""
        return f"http://{host}:{self.port}/cdn/{self.media[media_id].opaque}"

    def calls_to(self, path_suffix: str) -> list[Call]:
        return [call for call in self.calls if call.path.endswith(path_suffix)]

    def sign(self, body: bytes) -> str:
        return sign(body, self.app_secret)

    async def deliver(self, url: str, payload: dict[str, Any] | None = None, *,
                      secret: str | None = None, signature: Any = SIGN,
                      raw: bytes | None = None) -> tuple[int, str]:
        """Module ``deliver`` signing with this stand-in's app secret by default."""
        return await deliver(url, payload, secret=secret or self.app_secret,
                             signature=signature, raw=raw)

    def sent_to(self, recipient: str) -> list[dict[str, Any]]:
        """The bodies of messages the stand-in took for this recipient, in order."""
        return [body for body in self.sent.values()
                if body.get("to") == recipient
                or (body.get("recipient") or {}).get("id") == recipient]

    # HTTP --------------------------------------------------------------------------------------

    async def _request(self, request: web.Request) -> web.StreamResponse:
        call = await _read_call(request)
        self.calls.append(call)
        download = call.path.startswith(("/media/", "/cdn/"))
        if not download and call.token != self.access_token:
            return _error(TOKEN_INVALID)
        if not download and self.token_expired:
            return _error(TOKEN_EXPIRED)
        answer = self._next_failure(call.path)
        if isinstance(answer, Error):
            return _error(answer)
        if answer == MALFORMED:
            return web.Response(text='{"messaging_product": "whatsapp", "messages": [',
                                content_type="application/json")
        if answer == HANG:
            await asyncio.sleep(3600)
        if download:
            return self._download(call)
        try:
            result = self._route(call)
        except ApiError as exc:
            return _error(exc.error)
        if answer == SENT_THEN_HANG:
            await asyncio.sleep(3600)
        return web.json_response(result)

    def _next_failure(self, path: str) -> Any:
        for suffix, answers in self.failures.items():
            if answers and path.endswith(suffix):
                return answers.pop(0)
        return None

    def _route(self, call: Call) -> Any:
        prefix = f"/{self.version}/"
        if not call.path.startswith(prefix):
            raise ApiError(Error(400, 2500, f"Unknown path components: {call.path}"))
        parts = call.path.removeprefix(prefix).strip("/").split("/")
        node, edge = parts[0], "/".join(parts[1:])
        if call.method == "GET" and not edge:
            if node == self.phone_number_id:
                return self.phone_number
            if node == "me" or node == self.page_id:
                return self.page
            if node == self.ig_id:
                return _fields(self.instagram, call)
            if node == "app":
                return _fields(self.app, call)
            if node in self.media:
                return self._media_info(node)
            if node in self.profiles:
                return self._profile(node, call)
            raise ApiError(not_found(node))
        if call.method == "POST" and node == self.phone_number_id and edge == "messages":
            return self._wa_send(call)
        if call.method == "POST" and node == self.phone_number_id and edge == "media":
            return self._wa_upload(call)
        if call.method == "GET" and node == self.waba_id and edge == "message_templates":
            return self._templates(call)
        pages = ("me", self.page_id, self.ig_id)
        if call.method == "POST" and node in pages and edge == "messages":
            return self._page_send(call)
        if call.method == "POST" and node in pages and edge == "message_attachments":
            return self._page_upload(call)
        raise ApiError(Error(400, 100, f"Unsupported {call.method.lower()} request. Object "
                             f"with ID '{node}' does not exist, cannot be loaded due to "
                             "missing permissions, or does not support this operation.",
                             type="GraphMethodException", error_subcode=33))

    # WhatsApp ----------------------------------------------------------------------------------

    def _wa_send(self, call: Call) -> Any:
        body = call.json
        if not isinstance(body, dict):
            raise ApiError(invalid("The request body must be a JSON object."))
        if body.get("messaging_product") != "whatsapp":
            raise ApiError(invalid("The parameter messaging_product is required and must be "
                                   "'whatsapp'."))
        if body.get("status") == "read":
            if not isinstance(body.get("message_id"), str) or not body["message_id"]:
                raise ApiError(invalid("The parameter message_id is required."))
            indicator = body.get("typing_indicator")
            if indicator is not None and indicator != {"type": "text"}:
                raise ApiError(invalid("typing_indicator.type must be 'text'."))
            return {"success": True}
        to = body.get("to")
        if not isinstance(to, str) or not re.sub(r"\D", "", to):
            raise ApiError(invalid("The parameter to is required."))
        kind = body.get("type", "text")
        if kind not in WA_TYPES:
            raise ApiError(invalid(f"Param type must be one of {{{', '.join(WA_TYPES)}}} - "
                                   f"got \"{kind}\"."))
        content = body.get(kind)
        if not isinstance(content, dict | list) or not content:
            raise ApiError(invalid(f"The parameter {kind} is required."))
        self._check_wa_content(kind, content)
        wa_id = re.sub(r"\D", "", to)
        if wa_id in self.unreachable:
            raise ApiError(UNDELIVERABLE)
        if wa_id in self.closed_windows and kind != "template":
            raise ApiError(RE_ENGAGEMENT)
        message_id = new_wamid(wa_id)
        self.sent[message_id] = body
        message: dict[str, Any] = {"id": message_id}
        if kind == "template":
            message["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message]}

    def _check_wa_content(self, kind: str, content: Any) -> None:
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text.strip():
                raise ApiError(invalid("Param text['body'] is required."))
            if len(text) > 4096:
                raise ApiError(invalid("Param text['body'] must be at most 4096 characters "
                                       "long."))
        elif kind in MEDIA_TYPES:
            media_id, link = content.get("id"), content.get("link")
            if not media_id and not link:
                raise ApiError(invalid(f"Param {kind} must have either id or link."))
            if media_id and media_id not in self.media:
                raise ApiError(invalid(f"Param {kind}['id'] is not a valid media id."))
            if kind == "document" and "caption" in content and len(content["caption"]) > 1024:
                raise ApiError(invalid("Param document['caption'] is too long."))
        elif kind == "reaction":
            if not content.get("message_id") or "emoji" not in content:
                raise ApiError(invalid("Param reaction needs message_id and emoji."))
        elif kind == "template":
            if not content.get("name") or not (content.get("language") or {}).get("code"):
                raise ApiError(invalid("Param template needs name and language.code."))
            known = [t for t in self.templates if t["name"] == content["name"]
                     and t["language"] == content["language"]["code"]]
            if not known or known[0]["status"] != "APPROVED":
                raise ApiError(Error(404, 132001, "(#132001) Template name does not exist in "
                                     "the translation", details=(
                                         f"template name ({content['name']}) does not exist "
                                         f"in {content['language']['code']}")))
        elif kind == "interactive" and content.get("type") not in (
                "button", "list", "cta_url", "product", "product_list", "flow",
                "location_request_message"):
            raise ApiError(invalid("Param interactive['type'] is not valid."))

    def _wa_upload(self, call: Call) -> Any:
        if call.form.get("messaging_product") != "whatsapp":
            raise ApiError(invalid("The parameter messaging_product is required."))
        if "file" not in call.files:
            raise ApiError(invalid("The parameter file is required."))
        filename, content, content_type = call.files["file"]
        mime_type = call.form.get("type") or content_type
        media_id = str(next(self._media_ids))
        self.add_media(media_id, content, mime_type, filename)
        return {"id": media_id}

    def _media_info(self, media_id: str) -> Any:
        media = self.media[media_id]
        return {"messaging_product": "whatsapp", "url": self.media_url(media_id),
                "mime_type": media.mime_type, "sha256": media.sha256,
                "file_size": len(media.content), "id": media_id}

    def _download(self, call: Call) -> web.Response:
        auth = call.headers.get("Authorization", "")
        cdn = call.path.startswith("/cdn/")
        if not cdn and (auth != f"Bearer {self.access_token}" or self.token_expired):
            return web.Response(status=401, text="Unauthorized")
        opaque = call.path.removeprefix("/cdn/" if cdn else "/media/")
        for media_id, media in self.media.items():
            if media.opaque == opaque and media_id not in self.unserved:
                return web.Response(body=media.content,
                                    headers={"Content-Type": media.mime_type})
        return web.Response(status=404, text="Not Found")

    def _templates(self, call: Call) -> Any:
        templates = [t for t in self.templates
                     if call.query.get("status", t["status"]).upper() == t["status"]
                     and call.query.get("name", t["name"]) == t["name"]]
        start = int(_decode_cursor(call.query.get("after", ""), 0))
        limit = int(call.query["limit"]) if call.query.get("limit", "").isdigit() else 25
        page = templates[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start),
                                              "after": _cursor(start + max(len(page), 1) - 1)}}
        if start + limit < len(templates):
            paging["cursors"]["after"] = _cursor(start + limit)
            paging["next"] = (f"{self.base}{call.path}?limit={limit}"
                              f"&after={_cursor(start + limit)}")
        return {"data": page, "paging": paging}

    # Messenger and Instagram -------------------------------------------------------------------

    def _page_send(self, call: Call) -> Any:
        body = call.json if isinstance(call.json, dict) else _form_json(call.form)
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            raise ApiError(Error(400, 100, "(#100) The parameter recipient is required"))
        user = str(recipient["id"])
        message, action = body.get("message"), body.get("sender_action")
        if message is not None and action is not None:
            raise ApiError(Error(400, 100, "(#100) Cannot send both message and state at the "
                                 "same time.", error_subcode=2018015))
        if user in self.unknown_users:
            raise ApiError(NO_MATCHING_USER)
        if action is not None:
            if action not in SENDER_ACTIONS:
                raise ApiError(Error(400, 100, "(#100) Param sender_action must be one of "
                                     "{MARK_SEEN, TYPING_ON, TYPING_OFF} - got "
                                     f"\"{action}\"."))
            return {"recipient_id": user}
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            raise ApiError(Error(400, 100, "(#100) Must send either message or state"))
        messaging_type = body.get("messaging_type", "RESPONSE")
        if messaging_type not in MESSAGING_TYPES:
            raise ApiError(Error(400, 100, "(#100) Param messaging_type must be one of "
                                 "{RESPONSE, UPDATE, MESSAGE_TAG}"))
        if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
            raise ApiError(Error(400, 100, "(#100) Tag is required for MESSAGE_TAG type"))
        text = message.get("text")
        if text is not None and len(text) > 2000:
            raise ApiError(Error(400, 100, "(#100) Length of param message[text] must be less "
                                 "than or equal to 2000"))
        attachment = message.get("attachment")
        if attachment is not None:
            payload = attachment.get("payload") or {}
            known = payload.get("attachment_id")
            if known is not None and str(known) not in self.attachments:
                raise ApiError(Error(400, 100, "(#100) Invalid attachment_id",
                                     error_subcode=2018047))
            if attachment.get("type") not in ("image", "video", "audio", "file", "template"):
                raise ApiError(Error(400, 100, "(#100) Param message[attachment][type] must "
                                     "be one of {IMAGE, VIDEO, AUDIO, FILE, TEMPLATE}"))
        if user in self.unreachable:
            raise ApiError(NOT_AVAILABLE)
        human_agent = messaging_type == "MESSAGE_TAG" and body.get("tag") == "HUMAN_AGENT"
        if user in self.closed_windows and not human_agent:
            raise ApiError(OUTSIDE_WINDOW)
        message_id = new_mid()
        self.sent[message_id] = body
        return {"recipient_id": user, "message_id": message_id}

    def _page_upload(self, call: Call) -> Any:
        message = _form_json(call.form).get("message")
        if call.json is not None:
            message = call.json.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("attachment"), dict):
            raise ApiError(Error(400, 100, "(#100) The parameter message is required"))
        kind = message["attachment"].get("type")
        if kind not in ("image", "video", "audio", "file"):
            raise ApiError(Error(400, 100, "(#100) Param message[attachment][type] must be one "
                                 "of {IMAGE, VIDEO, AUDIO, FILE}"))
        payload = message["attachment"].get("payload") or {}
        if "filedata" in call.files:
            stored = call.files["filedata"]
        elif payload.get("url"):
            stored = (payload["url"].rsplit("/", 1)[-1], b"", "")
        else:
            raise ApiError(Error(400, 100, "(#100) Upload attachment failure: filedata or "
                                 "payload.url is required"))
        attachment_id = str(next(self._attachment_ids))
        self.attachments[attachment_id] = stored
        return {"attachment_id": attachment_id}

    def _profile(self, user_id: str, call: Call) -> Any:
        profile = self.profiles[user_id]
        fields = [f for f in call.query.get("fields", "").split(",") if f]
        if not fields:
            fields = [key for key in profile if key != "id"]
        answer = {key: profile[key] for key in fields if key in profile}
        answer["id"] = user_id
        return answer


def _fields(node: dict[str, Any], call: Call) -> dict[str, Any]:
    """A node as ``?fields=`` asks for it (its id always)."""
    fields = [f for f in call.query.get("fields", "").split(",") if f]
    answer = {key: node[key] for key in fields if key in node} if fields else dict(node)
    answer["id"] = node["id"]
    return answer


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, default: int) -> int:
    try:
        return int(base64.b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        return default


def _form_json(form: dict[str, str]) -> dict[str, Any]:
    """Send API parameters given as form fields, nested objects as JSON strings."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _error(error: Error) -> web.Response:
    return web.json_response(error.body(), status=error.status,
                             headers={"WWW-Authenticate": 'OAuth "Facebook Platform" '
                                      f'"invalid_token" "{error.message}"'}
                             if error.status == 401 else None)


async def _read_call(request: web.Request) -> Call:
    body_json: Any = None
    form: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_json = None
        elif request.content_type in ("multipart/form-data",
                                      "application/x-www-form-urlencoded"):
            data = await request.post()
            for key, value in data.items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read(), value.content_type)
                else:
                    form[key] = str(value)
        else:
            await request.read()
    return Call(request.method, request.path, dict(request.query), body_json, form, files,
                dict(request.headers))


# Ids as Meta makes them ---------------------------------------------------------------------------

_used_ids: set[str] = set()


def new_wamid(wa_id: str = "") -> str:
    """A WhatsApp message id: ``wamid.`` and base64 of the contact's number and a random hex
    id, as real ones are (e.g. ``wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA``)."""
    while True:
        phone = (wa_id or "15550001234").encode()
        raw = (b"\x1c\x18" + bytes([len(phone)]) + phone + b"\x15\x02\x00\x11\x18\x12"
               + secrets.token_hex(9).upper().encode() + b"\x00")
        wamid = "wamid." + base64.b64encode(raw).decode()
        if wamid not in _used_ids:
            _used_ids.add(wamid)
            return wamid


def new_mid() -> str:
    """A Messenger/Instagram message id (``m_`` and url-safe base64)."""
    while True:
        mid = "m_" + base64.urlsafe_b64encode(secrets.token_bytes(60)).decode().rstrip("=")
        if mid not in _used_ids:
            _used_ids.add(mid)
            return mid


# Webhook delivery ---------------------------------------------------------------------------------

def webhook_body(payload: dict[str, Any]) -> bytes:
    """The bytes Meta would send: compact JSON, non-ASCII as lowercase ``\\uXXXX`` escapes and
    ``/`` as ``\\/`` (the signature covers exactly these bytes, not a re-encoding)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header Meta sends: ``sha256=`` and the HMAC-SHA256 hex digest
    of the raw body, keyed with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(url: str, payload: dict[str, Any] | None = None, *, secret: str | None = None,
                  signature: Any = SIGN, raw: bytes | None = None,
                  timeout: float = 10.0) -> tuple[int, str]:
    """POST a webhook as Meta does; returns (HTTP status, body text).

    ``signature``: SIGN (sign with ``secret``, APP_SECRET by default), None (send no signature
    headers), or a string sent as the X-Hub-Signature-256 header as it is (a forged one).
    ``raw`` sends these bytes instead of the encoded payload (signed all the same).
    """
    body = raw if raw is not None else webhook_body(payload or {})
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if signature == SIGN:
        key = (secret or APP_SECRET).encode()
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = sign(body, secret or APP_SECRET)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = str(signature)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status, await response.text()


async def verify(url: str, verify_token: str, challenge: str = "1158201444",
                 mode: str = "subscribe", timeout: float = 10.0) -> tuple[int, str]:
    """The GET Meta sends when a webhook URL is set up; returns (HTTP status, body text)."""
    params = {"hub.mode": mode, "hub.challenge": challenge, "hub.verify_token": verify_token}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.get(url, params=params) as response:
            return response.status, await response.text()


# WhatsApp webhooks, shaped like the Cloud API's webhook reference -----------------------------

WA_CUSTOMER = "79161234567"
WA_CUSTOMER_NAME = "Иван Петров"
WA_OTHER = "447700900123"
WA_OTHER_NAME = "Maria"
WA_NAMES = {WA_CUSTOMER: WA_CUSTOMER_NAME, WA_OTHER: WA_OTHER_NAME}
TS = "1741953600"  # WhatsApp: seconds, as a string


def wa_webhook(*values: dict[str, Any], waba_id: str = WABA_ID) -> dict[str, Any]:
    """The whole POST body: one entry (the WABA), one change per value."""
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id,
                       "changes": [{"value": value, "field": "messages"} for value in values]}]}


def wa_value(messages: Sequence[dict[str, Any]] = (), statuses: Sequence[dict[str, Any]] = (),
             contacts: Sequence[dict[str, Any]] | None = None,
             errors: Sequence[dict[str, Any]] = (), *,
             phone_number_id: str = PHONE_NUMBER_ID,
             display_phone_number: str = DISPLAY_PHONE_NUMBER) -> dict[str, Any]:
    """A change's value. ``contacts=None`` derives them from the messages' senders (system
    messages come without), as Meta sends them; pass [] for none."""
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": display_phone_number,
                                          "phone_number_id": phone_number_id}}
    if contacts is None:
        senders = dict.fromkeys(m["from"] for m in messages
                                if m.get("type") != "system" and "from" in m)
        contacts = [wa_contact(wa_id, WA_NAMES.get(wa_id, "Customer")) for wa_id in senders]
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    if errors:
        value["errors"] = list(errors)
    return value


def wa_contact(wa_id: str = WA_CUSTOMER, name: str = WA_CUSTOMER_NAME) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def wa_context(id: str | None = None, *, from_: str = DISPLAY_PHONE_NUMBER,
               forwarded: bool = False, frequently_forwarded: bool = False) -> dict[str, Any]:
    """A message's ``context``: a reply (to the message ``id``, by default one the business
    sent), or a forward."""
    context: dict[str, Any] = {}
    if id is not None:
        context.update({"from": from_, "id": id})
    if forwarded:
        context["forwarded"] = True
    if frequently_forwarded:
        context["frequently_forwarded"] = True
    return context


def wa_message(kind: str, content: Any, *, from_: str = WA_CUSTOMER, id: str | None = None,
               timestamp: str = TS, context: dict[str, Any] | str | None = None,
               **extra: Any) -> dict[str, Any]:
    """One entry of ``messages``; ``context`` a dict (see wa_context) or the wamid replied to."""
    message: dict[str, Any] = {}
    if context is not None:
        message["context"] = wa_context(context) if isinstance(context, str) else context
    message.update({"from": from_, "id": id or new_wamid(from_), "timestamp": timestamp})
    message.update(extra)
    message["type"] = kind
    if content is not None:
        message[kind] = content
    return message


def _sha256_b64(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def _media(media_id: str, mime_type: str, sha256: str | None, **more: Any) -> dict[str, Any]:
    content = {"mime_type": mime_type, "sha256": sha256 or _sha256_b64(media_id), "id": media_id}
    content.update({key: value for key, value in more.items() if value is not None})
    return content


def wa_text(body: str, **kw: Any) -> dict[str, Any]:
    return wa_message("text", {"body": body}, **kw)


def wa_image(media_id: str, caption: str | None = None, mime_type: str = "image/jpeg",
             sha256: str | None = None, **kw: Any) -> dict[str, Any]:
    return wa_message("image", _media(media_id, mime_type, sha256, caption=caption), **kw)


def wa_video(media_id: str, caption: str | None = None, mime_type: str = "video/mp4",
             sha256: str | None = None, **kw: Any) -> dict[str, Any]:
    return wa_message("video", _media(media_id, mime_type, sha256, caption=caption), **kw)


def wa_audio(media_id: str, voice: bool = False, mime_type: str | None = None,
             sha256: str | None = None, **kw: Any) -> dict[str, Any]:
    """A voice note (``voice: true``, Opus in Ogg) or an audio file."""
    mime = mime_type or ("audio/ogg; codecs=opus" if voice else "audio/mpeg")
    return wa_message("audio", _media(media_id, mime, sha256, voice=voice), **kw)


def wa_document(media_id: str, filename: str = "invoice.pdf", caption: str | None = None,
                mime_type: str = "application/pdf", sha256: str | None = None,
                **kw: Any) -> dict[str, Any]:
    return wa_message("document", _media(media_id, mime_type, sha256, caption=caption,
                                         filename=filename), **kw)


def wa_sticker(media_id: str, animated: bool = False, mime_type: str = "image/webp",
               sha256: str | None = None, **kw: Any) -> dict[str, Any]:
    return wa_message("sticker", _media(media_id, mime_type, sha256, animated=animated), **kw)


def wa_location(latitude: float = 55.751244, longitude: float = 37.618423,
                name: str | None = None, address: str | None = None, url: str | None = None,
                **kw: Any) -> dict[str, Any]:
    """A shared location: just coordinates (the current one), or a place with a name."""
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    location.update({key: value for key, value in
                     (("name", name), ("address", address), ("url", url)) if value is not None})
    return wa_message("location", location, **kw)


def wa_card(formatted_name: str = "Анна Смирнова", phone: str = "+7 916 765-43-21",
            wa_id: str | None = "79167654321", phone_type: str = "CELL", *,
            first_name: str | None = None, last_name: str | None = None,
            email: str | None = None, org: str | None = None) -> dict[str, Any]:
    """One contact card of a ``contacts`` message (vCard-like)."""
    first, _, last = formatted_name.partition(" ")
    name: dict[str, Any] = {"formatted_name": formatted_name, "first_name": first_name or first}
    if last_name or last:
        name["last_name"] = last_name or last
    number: dict[str, Any] = {"phone": phone, "type": phone_type}
    if wa_id is not None:
        number["wa_id"] = wa_id
    card: dict[str, Any] = {"name": name, "phones": [number]}
    if email is not None:
        card["emails"] = [{"email": email, "type": "WORK"}]
    if org is not None:
        card["org"] = {"company": org}
    return card


def wa_contacts(*cards: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return wa_message("contacts", list(cards) or [wa_card()], **kw)


def wa_reaction(to_id: str, emoji: str | None = "👍", **kw: Any) -> dict[str, Any]:
    """A reaction to message ``to_id``; ``emoji=""`` is a removed reaction (None omits it)."""
    reaction: dict[str, Any] = {"message_id": to_id}
    if emoji is not None:
        reaction["emoji"] = emoji
    return wa_message("reaction", reaction, **kw)


def wa_button(text: str, payload: str, **kw: Any) -> dict[str, Any]:
    """A tap on a template's quick-reply button (pass ``context=`` the template's wamid)."""
    return wa_message("button", {"payload": payload, "text": text}, **kw)


def wa_interactive_button_reply(reply_id: str, title: str, **kw: Any) -> dict[str, Any]:
    return wa_message("interactive", {"type": "button_reply",
                                      "button_reply": {"id": reply_id, "title": title}}, **kw)


def wa_interactive_list_reply(reply_id: str, title: str, description: str | None = None,
                              **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"id": reply_id, "title": title}
    if description is not None:
        row["description"] = description
    return wa_message("interactive", {"type": "list_reply", "list_reply": row}, **kw)


def wa_referral(text: str = "Hi! Is this still available?", *,
                source_url: str = "https://fb.me/3cr4Wqqkv",
                source_id: str = "120214785634560123", source_type: str = "ad",
                headline: str = "Succulents, delivered", ad_body: str = "Free delivery in town",
                media_type: str = "image",
                image_url: str = "https://scontent.xx.fbcdn.net/v/t45.1600-4/ad_image.jpg",
                video_url: str = "https://video.xx.fbcdn.net/v/t42.1790-2/ad_video.mp4",
                thumbnail_url: str = "https://scontent.xx.fbcdn.net/v/t15.5256-10/thumb.jpg",
                ctwa_clid: str = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4",
                **kw: Any) -> dict[str, Any]:
    """A first message from a Click to WhatsApp ad: text with a ``referral``."""
    referral: dict[str, Any] = {"source_url": source_url, "source_id": source_id,
                                "source_type": source_type, "headline": headline,
                                "body": ad_body, "media_type": media_type}
    if media_type == "video":
        referral.update({"video_url": video_url, "thumbnail_url": thumbnail_url})
    else:
        referral["image_url"] = image_url
    referral["ctwa_clid"] = ctwa_clid
    return wa_message("text", {"body": text}, referral=referral, **kw)


def wa_error(code: int = 131051, title: str = "Message type unknown",
             details: str = "Message type is currently not supported.",
             message: str | None = None, href: bool = False) -> dict[str, Any]:
    """An ``errors`` entry as webhooks carry it (messages, statuses, or the value itself)."""
    error: dict[str, Any] = {"code": code, "title": title, "message": message or title,
                             "error_data": {"details": details}}
    if href:
        error["href"] = GRAPH_ERROR_CODES_URL
    return error


def wa_unsupported(errors: Sequence[dict[str, Any]] | None = None, kind: str | None = None,
                   **kw: Any) -> dict[str, Any]:
    """A message WhatsApp cannot pass on (type ``unsupported`` with ``errors``); ``kind`` adds
    ``unsupported: {type}`` as newer API versions do."""
    extra: dict[str, Any] = {"errors": list(errors or [wa_error()])}
    return wa_message("unsupported", {"type": kind} if kind else None, **extra, **kw)


def wa_system(new_wa_id: str = "79169998877", name: str = WA_CUSTOMER_NAME, *,
              key: str = "wa_id", **kw: Any) -> dict[str, Any]:
    """The customer changed their number (``system`` of type ``user_changed_number``).

    Current API versions carry the new number as ``system.wa_id``; very old ones (before
    v12.0) as ``new_wa_id`` - pass ``key="new_wa_id"`` for that shape.
    """
    from_ = kw.pop("from_", WA_CUSTOMER)
    system = {"body": f"User {name} changed from {from_} to {new_wa_id}", key: new_wa_id,
              "type": "user_changed_number"}
    return wa_message("system", system, from_=from_, **kw)


def wa_status(id: str, status: str = "delivered", recipient_id: str = WA_CUSTOMER,
              timestamp: str = TS, errors: Sequence[dict[str, Any]] | None = None, *,
              conversation: bool = True, pricing: bool = True,
              category: str = "service") -> dict[str, Any]:
    """One entry of ``statuses``: sent, delivered, read, or failed (with ``errors``)."""
    entry: dict[str, Any] = {"id": id, "status": status, "timestamp": timestamp,
                             "recipient_id": recipient_id}
    if status == "failed":
        entry["errors"] = list(errors or [wa_error(131026, "Message undeliverable",
                                                   UNDELIVERABLE.details or "", href=True)])
        return entry
    if errors:
        entry["errors"] = list(errors)
    if conversation:
        conv: dict[str, Any] = {"id": hashlib.md5(recipient_id.encode()).hexdigest()}
        if status == "sent":
            conv["expiration_timestamp"] = str(int(timestamp) + 24 * 3600)
        conv["origin"] = {"type": category}
        entry["conversation"] = conv
    if pricing:
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": category}
    return entry


# Messenger and Instagram webhooks, shaped like the Messenger Platform's webhook reference ---------

PSID = "6783459210987654"  # a customer on Messenger (page-scoped id)
IGSID = "1045782961234567"  # a customer on Instagram (Instagram-scoped id)
TS_MS = 1741953600123  # Messenger/Instagram: milliseconds, as a number

PROFILES: dict[str, dict[str, Any]] = {
    PSID: {"first_name": "Ирина", "last_name": "Соколова",
           "profile_pic": "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid="
                          f"{PSID}&width=1024&ext=1744545600&hash=AbZx7Qd3"},
    IGSID: {"name": "Marco Rossi", "username": "marco.rossi.design",
            "profile_pic": "https://scontent-fra3-1.cdninstagram.com/v/t51.2885-19/"
                           "44884218_345707102882519_2446069589734326272_n.jpg"},
}

REACTION_EMOJI = {"like": "👍", "love": "\u2764\ufe0f", "smile": "😆", "wow": "😮", "sad": "😢",
                  "angry": "😠", "dislike": "👎"}


def page_webhook(*messaging: dict[str, Any], object: str = "page", entry_id: str | None = None,
                 time: int | None = None) -> dict[str, Any]:
    """The whole POST body: one entry (the Page, or the Instagram account) with these events."""
    owner = entry_id or (IG_ID if object == "instagram" else PAGE_ID)
    return {"object": object,
            "entry": [{"id": owner, "time": time or TS_MS + 200, "messaging": list(messaging)}]}


def ig_webhook(*messaging: dict[str, Any], entry_id: str = IG_ID,
               time: int | None = None) -> dict[str, Any]:
    return page_webhook(*messaging, object="instagram", entry_id=entry_id, time=time)


def ms_event(sender: str, recipient: str = PAGE_ID, timestamp: int = TS_MS,
             **content: Any) -> dict[str, Any]:
    """One ``messaging`` event: sender, recipient, timestamp (ms) and its content."""
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": timestamp,
            **content}


def ms_text(psid: str, mid: str, text: str, reply_to: str | None = None,
            quick_reply_payload: str | None = None, *, recipient: str = PAGE_ID,
            timestamp: int = TS_MS) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if quick_reply_payload is not None:
        message["quick_reply"] = {"payload": quick_reply_payload}
    if reply_to is not None:
        message["reply_to"] = {"mid": reply_to}
    return ms_event(psid, recipient, timestamp, message=message)


def ms_media(type: str, url: str | None = None, *, coordinates: tuple[float, float] | None = None,
             title: str | None = None, sticker_id: int | None = None) -> dict[str, Any]:
    """One entry of ``message.attachments``."""
    if type == "location":
        lat, long = coordinates or (55.751244, 37.618423)
        return {"title": title or "Pinned Location",
                "url": url or f"https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps"
                              f"%2Fdefault.aspx%3Fv%3D2%26pc%3DFACEBK%26cp%3D{lat}%7E{long}",
                "type": "location", "payload": {"coordinates": {"lat": lat, "long": long}}}
    if type == "fallback":
        attachment: dict[str, Any] = {"type": "fallback"}
        if title is not None:
            attachment["title"] = title
        if url is not None:
            attachment["url"] = url
        attachment["payload"] = None if url is None else {"url": url}
        return attachment
    payload: dict[str, Any] = {"url": url or f"https://scontent.xx.fbcdn.net/v/t1.15752-9/{type}"}
    if sticker_id is not None:
        payload["sticker_id"] = sticker_id
    return {"type": type, "payload": payload}


def ms_attachment(psid: str, mid: str, type: str = "image", url: str | None = None, *,
                  coordinates: tuple[float, float] | None = None, title: str | None = None,
                  sticker_id: int | None = None, also: Iterable[dict[str, Any]] = (),
                  text: str | None = None, recipient: str = PAGE_ID,
                  timestamp: int = TS_MS) -> dict[str, Any]:
    """A message with an attachment (image, video, audio, file, location, fallback; ``also``
    adds more, made with ms_media)."""
    message: dict[str, Any] = {"mid": mid}
    if text is not None:
        message["text"] = text
    message["attachments"] = [ms_media(type, url, coordinates=coordinates, title=title,
                                       sticker_id=sticker_id), *also]
    return ms_event(psid, recipient, timestamp, message=message)


def ms_echo(psid: str, mid: str, text: str, app_id: int | str = APP_ID, *,
            metadata: str | None = None, page: str = PAGE_ID,
            timestamp: int = TS_MS) -> dict[str, Any]:
    """A message the Page sent (``is_echo``), by an app (``app_id``; PAGE_INBOX_APP_ID when a
    person typed it in Meta's inbox)."""
    message: dict[str, Any] = {"is_echo": True, "app_id": int(app_id)}
    if metadata is not None:
        message["metadata"] = metadata
    message.update({"mid": mid, "text": text})
    return ms_event(page, psid, timestamp, message=message)


def ms_reaction(psid: str, mid: str, reaction: str = "love", action: str = "react", *,
                emoji: str | None = None, recipient: str = PAGE_ID,
                timestamp: int = TS_MS) -> dict[str, Any]:
    """A reaction to message ``mid`` (an unreact carries only the action and the mid)."""
    if action == "unreact":
        content: dict[str, Any] = {"mid": mid, "action": "unreact"}
    else:
        content = {"reaction": reaction, "emoji": emoji or REACTION_EMOJI.get(reaction, "👍"),
                   "action": action, "mid": mid}
    return ms_event(psid, recipient, timestamp, reaction=content)


def ms_postback(psid: str, title: str, payload: str, mid: str | None = None, *,
                referral: dict[str, Any] | None = None, recipient: str = PAGE_ID,
                timestamp: int = TS_MS) -> dict[str, Any]:
    """A tap on a postback button, Get Started, or a persistent-menu item."""
    postback: dict[str, Any] = {"mid": mid or new_mid(), "title": title, "payload": payload}
    if referral is not None:
        postback["referral"] = referral
    return ms_event(psid, recipient, timestamp, postback=postback)


def ms_referral(psid: str, ref: str | None = "spring-promo", source: str = "SHORTLINK",
                type: str = "OPEN_THREAD", *, ad_id: str = "120214785634560123",
                ads_context_data: dict[str, Any] | None = None, recipient: str = PAGE_ID,
                timestamp: int = TS_MS) -> dict[str, Any]:
    """A person already in the thread came back through an m.me link (SHORTLINK) or an ad
    (ADS, with ``ad_id`` and ``ads_context_data``)."""
    referral: dict[str, Any] = {}
    if ref is not None:
        referral["ref"] = ref
    if source == "ADS":
        referral["ad_id"] = ad_id
    referral.update({"source": source, "type": type})
    if source == "ADS":
        referral["ads_context_data"] = ads_context_data or {
            "ad_title": "Succulents, delivered",
            "photo_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/ad_image.jpg",
            "post_id": f"{PAGE_ID}_1029384756102938"}
    return ms_event(psid, recipient, timestamp, referral=referral)


def ms_read(psid: str, watermark: int = TS_MS, *, recipient: str = PAGE_ID,
            timestamp: int | None = None) -> dict[str, Any]:
    """Messenger's read receipt: everything the Page sent up to ``watermark`` (ms) was read."""
    return ms_event(psid, recipient, timestamp or watermark + 210, read={"watermark": watermark})


def ms_delivery(psid: str, mids: Sequence[str] | None, watermark: int = TS_MS, *,
                recipient: str = PAGE_ID) -> dict[str, Any]:
    """Messenger's delivery receipt (``mids`` may be absent: pass None). Like Meta's example,
    it has no timestamp."""
    delivery: dict[str, Any] = {}
    if mids is not None:
        delivery["mids"] = list(mids)
    delivery["watermark"] = watermark
    return {"sender": {"id": psid}, "recipient": {"id": recipient}, "delivery": delivery}


def ms_deleted(psid: str, mid: str, *, recipient: str = PAGE_ID,
               timestamp: int = TS_MS) -> dict[str, Any]:
    """The customer unsent (deleted) message ``mid``: ``message: {mid, is_deleted: true}``."""
    return ms_event(psid, recipient, timestamp, message={"mid": mid, "is_deleted": True})


def ig_text(igsid: str, mid: str, text: str, reply_to: str | None = None,
            quick_reply_payload: str | None = None, *, timestamp: int = TS_MS) -> dict[str, Any]:
    return ms_text(igsid, mid, text, reply_to, quick_reply_payload, recipient=IG_ID,
                   timestamp=timestamp)


def ig_attachment(igsid: str, mid: str, type: str = "image", url: str | None = None,
                  **kw: Any) -> dict[str, Any]:
    """Images, videos, audio, shared posts and reels (``share``, ``ig_reel``) on Instagram."""
    return ms_attachment(igsid, mid, type, url, recipient=IG_ID, **kw)


def ig_story_mention(igsid: str, mid: str,
                     url: str = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id="
                                "17954170374002653&signature=Abx3kQ", *,
                     timestamp: int = TS_MS) -> dict[str, Any]:
    """The customer mentioned the account in their story (the CDN URL expires with it)."""
    return ms_event(igsid, IG_ID, timestamp, message={
        "mid": mid, "attachments": [{"type": "story_mention", "payload": {"url": url}}]})


def ig_story_reply(igsid: str, mid: str, text: str, story_id: str = "17887498072083520",
                   story_url: str = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id="
                                    "17887498072083520&signature=Qm7rTz", *,
                   timestamp: int = TS_MS) -> dict[str, Any]:
    """The customer replied to one of the account's stories."""
    return ms_event(igsid, IG_ID, timestamp, message={
        "mid": mid, "text": text, "reply_to": {"story": {"url": story_url, "id": story_id}}})


def ig_echo(igsid: str, mid: str, text: str, app_id: int | str = APP_ID, *,
            timestamp: int = TS_MS) -> dict[str, Any]:
    """Instagram sends echoes on the ``messages`` field (there is no separate one)."""
    return ms_echo(igsid, mid, text, app_id, page=IG_ID, timestamp=timestamp)


def ig_reaction(igsid: str, mid: str, reaction: str = "love", action: str = "react",
                **kw: Any) -> dict[str, Any]:
    return ms_reaction(igsid, mid, reaction, action, recipient=IG_ID, **kw)


def ig_seen(igsid: str, mid: str, *, timestamp: int = TS_MS) -> dict[str, Any]:
    """Instagram's read receipt (``messaging_seen``) names the message read, not a watermark."""
    return ms_event(igsid, IG_ID, timestamp, read={"mid": mid})


def ig_deleted(igsid: str, mid: str, *, timestamp: int = TS_MS) -> dict[str, Any]:
    return ms_deleted(igsid, mid, recipient=IG_ID, timestamp=timestamp)
