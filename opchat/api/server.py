"""The HTTP API's aiohttp application: JSON under /api/v1, as ``openapi.json`` says.

Every request but the OpenAPI document's needs ``Authorization: Bearer TOKEN``; a
read-only token may only read (403 for a write, and nothing changes). Each token may
make ``[api] rate`` requests a minute (429 with Retry-After beyond), a body may hold
``[api] max_body`` bytes (413). Bad input gets 400 with the field at fault, in JSON:
``{"error": {"code": ..., "message": ..., "field": ...}}`` (messages are for the
developer calling the API, in English, like the rest of the protocol). Writes go
through the store's own functions, done as the operator ``api:NAME``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from opchat.api.tokens import OPERATOR_PREFIX, match
from opchat.config import ApiSettings
from opchat.model import (
    Attachment,
    Contact,
    ContactCard,
    Conversation,
    ConversationFilter,
    Direction,
    InboundMessage,
    Message,
    Operator,
    SavedReply,
    ShortcutTaken,
    Status,
)
from opchat.store import Store, UnknownConversation
from opchat.store.api_tokens import ApiToken
from opchat.window import time_left

if TYPE_CHECKING:
    from opchat.hub import Hub

log = logging.getLogger("opchat.api")

BASE = "/api/v1"
PAGE = 50  # items a page holds unless `limit` says
MAX_PAGE = 200
MAX_TEXT = 20000  # characters a message or a note may hold
USED_EVERY = 60.0  # a token's "last used" is written at most this often
KIND = "api"  # the channel kind whose customers write through the API

# Who made the request, kept on it (aiohttp >= 3.12 types such keys; a string before).
TOKEN: Any = web.RequestKey("token", ApiToken) if hasattr(web, "RequestKey") else "token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def answer(data: object, status: int = 200, headers: dict[str, str] | None = None
           ) -> web.Response:
    """JSON in UTF-8, as it is (no \\u escapes for every Cyrillic letter)."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


class ApiError(Exception):
    """Answered as JSON: ``{"error": {"code", "message", "field"}}``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return answer({"error": error}, status=self.status, headers=self.headers)


# What JSON Schema's (ECMAScript's) \s matches: "blank" means these and nothing else, so
# the server and the OpenAPI document's `pattern: "\\S"` agree on every string.
SPACES = frozenset("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
                   + "".join(chr(c) for c in range(0x2000, 0x200B)))
MAX_ID = 10**15 - 1


def blank(text: str) -> bool:
    return all(ch in SPACES for ch in text)


def bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", message, field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


class Limiter:
    """A token bucket per key: ``per_minute`` requests a minute, in bursts of as many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str) -> float:
        """0 if the request may go; else the seconds until it may."""
        now = self.clock()
        tokens, when = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - when) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# What the API says of each thing (openapi.json's schemas) ---------------------------------

def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id, "channel": c.channel_name, "channel_kind": c.channel_kind,
        "status": c.status.value, "assignee": c.assignee, "labels": list(c.labels),
        "contact": {"id": c.contact_id, "name": c.contact_name},
        "unread": c.unread, "waiting_since": iso(c.waiting_since),
        "last_message_at": iso(c.last_message_at), "preview": c.preview,
        "created_at": iso(c.created_at), "failed_message_id": c.failed_message_id,
    }


def attachment_json(a: Attachment) -> dict[str, Any]:
    return {"kind": a.kind, "filename": a.filename, "mime": a.mime, "size": a.size}


def message_json(m: Message) -> dict[str, Any]:
    return {
        "id": m.id, "conversation_id": m.conversation_id, "direction": m.direction.value,
        "author": m.author, "text": m.body, "at": iso(m.created_at), "state": m.state.value,
        "error": m.error, "reply_to_id": m.reply_to_id,
        "attachments": [attachment_json(a) for a in m.attachments],
    }


def contact_json(c: Contact) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email}


def card_json(card: ContactCard) -> dict[str, Any]:
    return {
        **contact_json(card.contact), "notes": card.notes, "labels": list(card.labels),
        "identities": [{"channel": i.channel_name, "channel_kind": i.channel_kind,
                        "external_id": i.identity.external_id} for i in card.identities],
        "conversations": [conversation_json(c) for c in card.conversations],
    }


def reply_json(r: SavedReply) -> dict[str, Any]:
    return {"id": r.id, "shortcut": r.shortcut, "title": r.title, "text": r.body,
            "folder": getattr(r, "folder", ""), "private": getattr(r, "owner", None) is not None}


# Reading the request ---------------------------------------------------------------------

def limit_of(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return PAGE
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise bad("limit", f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def flag_of(request: web.Request, name: str) -> bool:
    text = request.query.get(name)
    if text is None:
        return False
    if text not in ("true", "false"):
        raise bad(name, f"{name} must be true or false")
    return text == "true"


def encode_cursor(conversation: Conversation, waiting: bool) -> str:
    """Where the next page starts: the last dialog's sort key, opaque to the caller."""
    key = conversation.waiting_since if waiting else conversation.last_message_at
    data = json.dumps({"k": key, "i": conversation.id, "w": waiting}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(text: str | None, waiting: bool) -> tuple[float | None, int] | None:
    if text is None:
        return None
    refused = bad("cursor", "cursor is not one this API gave for these filters")
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        key, last, order = data["k"], data["i"], data["w"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise refused from None
    if order is not waiting or type(last) is not int or not 0 <= last <= MAX_ID:
        raise refused
    if key is None and waiting:
        return None, last
    if type(key) not in (int, float):
        raise refused
    try:
        key = float(key)
    except OverflowError:
        raise refused from None
    if not math.isfinite(key):
        raise refused
    return key, last


def id_of(request: web.Request, name: str = "id") -> int:
    text = request.match_info[name]
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise bad(name, f"{name} must be a whole number from 1 to {MAX_ID}")
    return int(text)


async def body_of(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise bad("body", "the body is not valid JSON") from None
    except RecursionError:  # [[[[...]]]] deeper than Python's parser goes
        raise bad("body", "the body is nested too deep") from None
    if not isinstance(data, dict):
        raise bad("body", "the body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, required: bool = True,
               may_be_blank: bool = False, longest: int = MAX_TEXT) -> str | None:
    if name not in data:
        if required:
            raise bad(name, f"{name} is required")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise bad(name, f"{name} must be a string")
    if not may_be_blank and blank(value):
        raise bad(name, f"{name} must not be empty")
    if len(value) > longest:
        raise bad(name, f"{name} is longer than {longest} characters")
    return value


def only_params(request: web.Request, *known: str) -> None:
    """A parameter the route does not take is refused (a misspelt filter would
    otherwise be ignored, and the answer look right)."""
    for key in request.query:
        if key not in known:
            raise bad(key, f"unknown parameter {key} (parameters: {', '.join(known) or 'none'})")


def only_fields(data: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            raise bad(key, f"unknown field {key} (fields: {', '.join(known)})")


# The application --------------------------------------------------------------------------

class Api:
    """The routes, their auth, limits and CORS; one per hub."""

    def __init__(self, store: Store, settings: ApiSettings, hub: Hub | None = None) -> None:
        self.store = store
        self.settings = settings
        self.hub = hub
        self.limiter = Limiter(settings.rate)
        self._operators: dict[str, Operator] = {}
        self._used: dict[str, float] = {}

    def app(self, middlewares: tuple[Any, ...] = ()) -> web.Application:
        app = web.Application(middlewares=[*middlewares, self._errors, self._cors, self._auth],
                              client_max_size=self.settings.max_body)
        r = app.router
        r.add_get(f"{BASE}/openapi.json", self.openapi)
        r.add_get(f"{BASE}/conversations", self.list_conversations)
        r.add_get(f"{BASE}/conversations/{{id}}", self.get_conversation)
        r.add_patch(f"{BASE}/conversations/{{id}}", self.change_conversation)
        r.add_get(f"{BASE}/conversations/{{id}}/messages", self.list_messages)
        r.add_post(f"{BASE}/conversations/{{id}}/messages", self.post_message)
        r.add_get(f"{BASE}/contacts", self.list_contacts)
        r.add_get(f"{BASE}/contacts/{{id}}", self.get_contact)
        r.add_get(f"{BASE}/search", self.search)
        r.add_get(f"{BASE}/quick-replies", self.list_replies)
        r.add_post(f"{BASE}/quick-replies", self.add_reply)
        r.add_post(f"{BASE}/channels/{{name}}/messages", self.channel_message)
        return app

    # Middlewares ---------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return self._with_cors(request, exc.response())
        except web.HTTPRequestEntityTooLarge:
            return self._with_cors(request, ApiError(
                413, "too_large", f"the body is over {self.settings.max_body} bytes",
                "body").response())
        except web.HTTPException as exc:  # 404 / 405 of the router, in JSON like the rest
            if exc.status < 400:
                raise
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "error")
            return self._with_cors(request, ApiError(
                exc.status, code, exc.reason, headers={
                    k: v for k, v in exc.headers.items() if k == "Allow"}).response())
        except UnknownConversation:
            return self._with_cors(request, not_found("conversation").response())
        except Exception:
            log.exception("API: %s %s failed", request.method, request.path)
            return self._with_cors(request, ApiError(
                500, "internal", "the server failed; its log says why").response())

    def _origin(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        allowed = self.settings.cors
        if origin is None or not allowed:
            return None
        if "*" in allowed:
            return "*"
        return origin if origin.rstrip("/") in allowed else None

    def _with_cors(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = self._origin(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            response.headers["Vary"] = "Origin"
        return response

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.method == "OPTIONS"
                and "Access-Control-Request-Method" in request.headers):
            origin = self._origin(request)
            if origin is None:
                raise ApiError(403, "cors", "this origin may not call the API ([api] cors)")
            return web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Methods": "GET, POST, PATCH",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600"})
        return self._with_cors(request, await handler(request))

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == f"{BASE}/openapi.json":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _sep, presented = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="opchat"'}
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "unauthorized",
                           "send Authorization: Bearer TOKEN (opchat api token add NAME)",
                           headers=challenge)
        token = match(presented.strip(), await self.store.api_tokens.in_force(),
                      lambda t: t.hash)
        if token is None:
            raise ApiError(401, "unauthorized", "the token is wrong or revoked",
                           headers=challenge)
        wait = self.limiter.take(token.name)
        if wait:
            raise ApiError(429, "rate_limited",
                           f"over {self.settings.rate} requests a minute for this token",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        now = time.monotonic()
        if now - self._used.get(token.name, -USED_EVERY) >= USED_EVERY:
            self._used[token.name] = now
            await self.store.api_tokens.used(token.name)
        if request.method not in ("GET", "HEAD") and token.read_only:
            raise ApiError(403, "read_only", "this token may only read")
        request[TOKEN] = token
        return await handler(request)

    async def operator(self, request: web.Request) -> Operator:
        """Who a write is done as: ``api:NAME``, an operator row of its own."""
        token: ApiToken = request[TOKEN]
        login = OPERATOR_PREFIX + token.name
        if login not in self._operators:
            self._operators[login] = await self.store.workflow.ensure_operator(login, login)
        return self._operators[login]

    # Routes --------------------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=openapi_text().encode(), content_type="application/json")

    async def list_conversations(self, request: web.Request) -> web.Response:
        q = request.query
        only_params(request, "status", "assignee", "unassigned", "label", "channel", "waiting",
                    "unread", "cursor", "limit")
        statuses = None
        if "status" in q:
            names = [s for s in q["status"].split(",") if s]
            try:
                statuses = frozenset(Status(s) for s in names)
            except ValueError:
                raise bad("status", "status must be open, pending, snoozed or resolved, "
                                    "or several of them with commas") from None
            if not statuses:
                raise bad("status", "status must name at least one status")
        assignee = q.get("assignee")
        unassigned = flag_of(request, "unassigned")
        waiting = flag_of(request, "waiting")
        flt = ConversationFilter(
            statuses=statuses, waiting_only=waiting, order="waiting" if waiting else "recent",
            assignee=assignee, unassigned=unassigned, label=q.get("label"),
            unread_only=flag_of(request, "unread"), channel=q.get("channel"))
        limit = limit_of(request)
        after = decode_cursor(q.get("cursor"), waiting)
        page = await self.store.conversations.page_after(flt, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return answer({
            "items": [conversation_json(c) for c in page],
            "next_cursor": encode_cursor(page[-1], waiting) if more else None})

    async def _conversation(self, request: web.Request) -> Conversation:
        found = await self.store.conversations.get(id_of(request))
        if found is None:
            raise not_found("conversation")
        return found

    async def _reply_window_open(self, conversation: Conversation) -> None:
        """Refuse a reply the channel would refuse: past its reply window (Meta's 24
        hours after the customer's last message), as the app refuses it."""
        channel = next((c for c in await self.store.channels.all()
                        if c.name == conversation.channel_name), None)
        window = channel.reply_window if channel is not None else 0
        left = time_left(conversation, window, self.store.clock())
        if left is not None and left <= 0:
            raise ApiError(409, "reply_window_closed",
                           f"the customer last wrote more than {window // 3600} hours ago: "
                           f"{conversation.channel_name} takes no reply until they write "
                           "again (a private note still can be added)", "text")

    async def get_conversation(self, request: web.Request) -> web.Response:
        only_params(request)
        return answer(conversation_json(await self._conversation(request)))

    async def list_messages(self, request: web.Request) -> web.Response:
        only_params(request, "before", "limit")
        conversation = await self._conversation(request)
        before = request.query.get("before")
        if before is not None and (not before.isascii() or not before.isdigit()
                                   or len(before) > 15):
            raise bad("before", "before must be a message id")
        limit = limit_of(request)
        page = await self.store.messages.page(
            conversation.id, int(before) if before is not None else None, limit + 1)
        more = len(page) > limit
        page = page[-limit:]
        return answer({
            "items": [message_json(m) for m in page],
            "next_before": str(page[0].id) if more and page else None})

    async def post_message(self, request: web.Request) -> web.Response:
        only_params(request)
        conversation = await self._conversation(request)
        data = await body_of(request)
        only_fields(data, ("text", "private"))
        text = text_field(data, "text")
        private = data.get("private", False)
        if not isinstance(private, bool):
            raise bad("private", "private must be true or false")
        direction = Direction.NOTE if private else Direction.OUT
        assert text is not None
        if direction is Direction.OUT:
            await self._reply_window_open(conversation)
        message = await self.store.messages.add(conversation.id, text,
                                                await self.operator(request), direction)
        return answer(message_json(message), status=201)

    async def change_conversation(self, request: web.Request) -> web.Response:
        only_params(request)
        conversation = await self._conversation(request)
        data = await body_of(request)
        only_fields(data, ("status", "snooze_until", "assignee", "add_labels",
                           "remove_labels"))
        if not data:
            raise bad("body", "say what to change: status, assignee, add_labels, "
                              "remove_labels")
        # Everything is checked before anything changes.
        status = None
        if "status" in data:
            try:
                status = Status(data["status"])
            except ValueError:
                raise bad("status", "status must be open, pending, snoozed or "
                                    "resolved") from None
        until = data.get("snooze_until")
        if status is Status.SNOOZED:
            # A moment already past wakes the dialog at once, as it would in the app.
            if (not isinstance(until, (int, float)) or isinstance(until, bool)
                    or not math.isfinite(until) or until < 0):
                raise bad("snooze_until", "snoozing needs snooze_until: when it wakes, in "
                                          "Unix seconds")
        elif "snooze_until" in data:
            raise bad("snooze_until", "snooze_until goes with status snoozed")
        logins = None
        if "assignee" in data:
            assignee = data["assignee"]
            if assignee is not None and not isinstance(assignee, str):
                raise bad("assignee", "assignee must be an operator's login, or null")
            logins = {o.login for o in await self.store.workflow.operators()
                      if not o.login.startswith(OPERATOR_PREFIX)}
            if assignee is not None and assignee not in logins:
                raise ApiError(422, "unknown_operator", f"no operator {assignee}", "assignee")
        labels: dict[str, list[str]] = {}
        for key in ("add_labels", "remove_labels"):
            value = data.get(key, [])
            if (not isinstance(value, list) or not all(
                    isinstance(v, str) and not blank(v) and len(v) <= 64 for v in value)):
                raise bad(key, f"{key} must be a list of label names (1 to 64 characters)")
            labels[key] = [v.strip() for v in value]
        operator = await self.operator(request)
        if status is Status.SNOOZED:
            await self.store.workflow.snooze(conversation.id, float(until), operator)
        elif status is not None:
            await self.store.conversations.set_status(conversation.id, status, operator)
        if "assignee" in data:
            await self.store.workflow.assign(conversation.id, data["assignee"], operator)
        for name in labels["add_labels"]:
            await self.store.workflow.label(conversation.id, name, operator)
        for name in labels["remove_labels"]:
            await self.store.workflow.unlabel(conversation.id, name, operator)
        changed = await self.store.conversations.get(conversation.id)
        assert changed is not None
        return answer(conversation_json(changed))

    async def list_contacts(self, request: web.Request) -> web.Response:
        only_params(request, "cursor", "limit")
        after = request.query.get("cursor", "0")
        if not after.isascii() or not after.isdigit() or len(after) > 15:
            raise bad("cursor", "cursor is not one this API gave")
        limit = limit_of(request)
        page = await self.store.contacts.page(int(after), limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return answer({"items": [contact_json(c) for c in page],
                                  "next_cursor": str(page[-1].id) if more else None})

    async def get_contact(self, request: web.Request) -> web.Response:
        only_params(request)
        card = await self.store.contacts.card(id_of(request))
        if card is None:
            raise not_found("contact")
        return answer(card_json(card))

    async def search(self, request: web.Request) -> web.Response:
        only_params(request, "q", "limit")
        query = request.query.get("q", "")
        if blank(query):
            raise bad("q", "q: the words to look for, is required")
        if len(query) > 200:
            raise bad("q", "q is longer than 200 characters")
        found = await self.store.search.find_all(query, limit_of(request))

        def plain(text: str) -> str:
            return text.replace("\x02", "").replace("\x03", "")

        return answer({
            "contacts": [{"id": h.contact_id, "name": plain(h.name),
                          "conversation_id": h.conversation_id, "channel": h.channel_name}
                         for h in found.contacts],
            "conversations": [{"id": h.conversation_id, "label": plain(h.label),
                               "contact_name": h.contact_name, "channel": h.channel_name}
                              for h in found.labels],
            "messages": [{"id": h.message_id, "conversation_id": h.conversation_id,
                          "contact_name": h.contact_name, "channel": h.channel_name,
                          "at": iso(h.created_at), "snippet": plain(h.snippet)}
                         for h in found.messages]})

    async def list_replies(self, request: web.Request) -> web.Response:
        only_params(request)
        operator = await self.operator(request)
        replies = await self.store.replies.all(visible_to=operator.id)
        return answer({"items": [reply_json(r) for r in replies]})

    async def add_reply(self, request: web.Request) -> web.Response:
        from opchat.replies import ReplyDraft

        only_params(request)
        data = await body_of(request)
        only_fields(data, ("shortcut", "title", "text", "folder"))
        shortcut = text_field(data, "shortcut", longest=40)
        assert shortcut is not None
        shortcut = shortcut.removeprefix("/")
        if not shortcut or shortcut.startswith("/") or any(ch in SPACES for ch in shortcut):
            raise bad("shortcut", "shortcut must be one word")
        text = text_field(data, "text")
        title = text_field(data, "title", required=False, may_be_blank=True,
                           longest=200) or shortcut
        folder = text_field(data, "folder", required=False, may_be_blank=True, longest=100) or ""
        assert text is not None
        operator = await self.operator(request)
        try:
            saved = await self.store.replies.put(
                ReplyDraft(shortcut, title, text, folder), None, operator.login)
        except ShortcutTaken:
            raise ApiError(409, "taken", f"another reply has the shortcut {shortcut}",
                           "shortcut") from None
        return answer(reply_json(saved), status=201)

    async def channel_message(self, request: web.Request) -> web.Response:
        """A customer's message on an API channel, from the system that speaks for them."""
        only_params(request)
        name = request.match_info["name"]
        kinds = {c.name: c.kind for c in (self.hub.channels if self.hub is not None else ())}
        if kinds.get(name) != KIND:
            raise ApiError(404, "not_found", f"no channel {name} of kind {KIND}", "name")
        data = await body_of(request)
        only_fields(data, ("chat_id", "id", "name", "text", "email", "phone"))
        chat_id = text_field(data, "chat_id", longest=200)
        external_id = text_field(data, "id", longest=200)
        sender = text_field(data, "name", required=False, may_be_blank=True, longest=200) or ""
        text = text_field(data, "text")
        email = text_field(data, "email", required=False, longest=200)
        phone = text_field(data, "phone", required=False, longest=50)
        assert chat_id is not None and external_id is not None and text is not None
        message = InboundMessage(
            channel=name, chat_id=chat_id, external_id=external_id, sender_id=chat_id,
            sender_name=sender.strip() or chat_id, body=text, sent_at=self.store.clock(),
            email=email, phone=phone)
        assert self.hub is not None
        from opchat.hub import ChannelSink

        stored = await ChannelSink(self.hub, name).ingest(message)  # committed when it returns
        return answer(
            {"conversation_id": stored.conversation_id, "message_id": stored.message_id,
             "duplicate": stored.duplicate}, status=200 if stored.duplicate else 201)


def openapi_text() -> str:
    """The OpenAPI 3.1 document kept beside this module."""
    return resources.files("opchat.api").joinpath("openapi.json").read_text("utf-8")
