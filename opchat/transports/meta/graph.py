"""Meta's Graph API as the channels need it: JSON calls, files, errors in words.

Every call carries the access token in the ``Authorization`` header (never in
the address, which logs keep). An answer in Graph's error shape
(``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``)
becomes a :class:`GraphError`; :func:`send_error` and :func:`trouble` turn one
into what the outbox and the status bar need.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from opchat.i18n import _
from opchat.model import Health
from opchat.transports import Rejected, Retry
from opchat.transports.files import write_private
from opchat.transports.net import (
    Garbled,
    HttpClient,
    Trouble,
    Unreachable,
    host_of,
    never_left,
)

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"

# Codes that say "not now": Graph's own throttling, WhatsApp's throughput and pair
# limits, and the platform's temporary trouble. Seconds to wait before trying again.
RATE_LIMITS = {4: 60.0, 17: 60.0, 32: 60.0, 613: 60.0, 80007: 60.0, 130429: 10.0,
               131056: 30.0, 131048: 300.0}
PLATFORM_TROUBLE = {1: 30.0, 2: 30.0, 131000: 30.0, 131016: 30.0, 133004: 60.0}
TOKEN_CODES = {102, 190, 463, 467}  # the access token expired, was revoked or is wrong
OUTSIDE_WINDOW = 131047  # WhatsApp: more than 24 h since the customer last wrote
MESSENGER_WINDOW_SUBCODE = 2018278  # Messenger/Instagram: outside the allowed window
# Messenger/Instagram: the person cannot be written to (551: "isn't available right now",
# they blocked the Page or left; 2018001: no such user for this Page).
UNAVAILABLE_CODES = {551}
UNAVAILABLE_SUBCODES = {1545041, 2018001}


class GraphError(Exception):
    """Graph answered an error: ``status`` (HTTP), ``code``, ``subcode``, its words."""

    def __init__(self, status: int, code: int | None, message: str, *,
                 subcode: int | None = None, kind: str = "", trace: str = "",
                 details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.kind = kind  # Graph's "type", e.g. OAuthException
        self.trace = trace  # fbtrace_id: what Meta's support asks for
        self.details = details  # error_data.details, where WhatsApp explains more

    @property
    def token_refused(self) -> bool:
        return (self.code in TOKEN_CODES or self.subcode in TOKEN_CODES
                or (self.status == 401 and self.kind == "OAuthException"))

    @property
    def unavailable(self) -> bool:
        return self.code in UNAVAILABLE_CODES or self.subcode in UNAVAILABLE_SUBCODES

    @property
    def outside_window(self) -> bool:
        return self.code == OUTSIDE_WINDOW or self.subcode == MESSENGER_WINDOW_SUBCODE

    def __str__(self) -> str:
        return said(self.code, self.message, self.details, self.trace)






def said(code: int | None, message: str, details: str = "", trace: str = "") -> str:
    """What Graph said, as one line: its words, its code, and where to look it up."""
    text = (message or "").strip() or _("no description given")
    if details and details.strip() and details.strip() not in text:
        text = f"{text}: {details.strip()}"
    if code is not None:
        text = f"{text} ({code})"
    if trace:
        text = f"{text} [fbtrace_id {trace}]"
    return text


def error_of(status: int, body: Any) -> GraphError:
    """The GraphError an answer carries; one with Graph's words if it has the shape."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError(status, None, _("HTTP {status} without an error in Graph's shape",
                                          status=status))
    data = error.get("error_data")
    details = data.get("details", "") if isinstance(data, dict) else ""
    return GraphError(status, _number(error.get("code")), str(error.get("message") or ""),
                      subcode=_number(error.get("error_subcode")),
                      kind=str(error.get("type") or ""), trace=str(error.get("fbtrace_id") or ""),
                      details=str(details or ""))


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass
class Graph(HttpClient):
    """One channel's way to the Graph API: ``{base}/{version}/{path}``."""

    base: str
    version: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.host = host_of(self.base, "graph.facebook.com")
        self._session: aiohttp.ClientSession | None = None

    def url(self, path: str) -> str:
        return f"{self.base}/{self.version}/{path.lstrip('/')}"

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})

    async def get(self, path: str, params: dict[str, str] | None = None,
                  timeout: float | None = None) -> dict[str, Any]:
        return await self._call("GET", self.url(path), timeout, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None,
                   form: aiohttp.FormData | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
        if form is not None:
            return await self._call("POST", self.url(path), timeout, data=form)
        return await self._call("POST", self.url(path), timeout, json=body or {})

    async def _call(self, method: str, url: str, timeout: float | None,
                    **kwargs: Any) -> dict[str, Any]:
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with self.session().request(method, url, timeout=limit, **kwargs) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(self.host, exc, sent=not never_left(exc)) from exc
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            if status >= 400:
                raise GraphError(status, None, _("HTTP {status} from {host}", status=status,
                                                 host=self.host)) from None
            raise Garbled(_("{host} answered something that is not JSON",
                            host=self.host)) from None
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            raise error_of(status, body)
        if not isinstance(body, dict):
            raise Garbled(_("{host} answered something that is not JSON", host=self.host))
        return body

    async def fetch(self, url: str, target: Path, modes: tuple[int, int],
                    limit: int = 100 * 1024 * 1024, with_token: bool = True) -> int:
        """Save the file at ``url`` (a media address Graph gave, which wants the token;
        ``with_token`` False: a public address, which is not given it) to ``target``;
        refuses one over ``limit`` bytes."""
        timeout = aiohttp.ClientTimeout(total=4 * self.timeout)

        async def chunks() -> AsyncIterator[bytes]:
            async with contextlib.AsyncExitStack() as stack:
                session = self.session() if with_token else await stack.enter_async_context(
                    aiohttp.ClientSession())
                async for chunk in _download(session, url, timeout, limit):
                    yield chunk

        try:
            return await write_private(target, chunks(), modes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host_of(url), exc, sent=False) from exc


async def _download(session: aiohttp.ClientSession, url: str, timeout: aiohttp.ClientTimeout,
                    limit: int) -> AsyncIterator[bytes]:
    """The file's bytes as they come; refuses one over ``limit`` bytes."""
    async with session.get(url, timeout=timeout) as answer:
        if answer.status >= 400:
            raise GraphError(answer.status, None, _(
                "{host} answered {status} for the file", host=host_of(url),
                status=answer.status))
        size = 0
        async for chunk in answer.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                raise GraphError(413, None, _("the file is larger than {limit} bytes",
                                              limit=limit))
            yield chunk


# What an error means -------------------------------------------------------------------


def token_words(platform: str) -> str:
    return _("{platform} refused the access token (expired or revoked): make a new one "
             "in Meta's dashboard and put it in the config", platform=platform)


def send_error(exc: BaseException, platform: str) -> Exception | None:
    """The outbox's answer to an error from a send: Retry, Rejected, or None (not ours)."""
    if isinstance(exc, GraphError):
        words = _("{platform} says: {said}", platform=platform, said=str(exc))
        if exc.token_refused:
            return Retry(token_words(platform), after=300.0)
        wait = RATE_LIMITS.get(exc.code or 0) or PLATFORM_TROUBLE.get(exc.code or 0)
        if wait is not None:
            return Retry(words, after=wait)
        if exc.status >= 500:
            return Retry(words)
        if exc.unavailable:
            return Rejected(_("the customer cannot get messages from {platform} now (they "
                              "blocked it or left): {said}", platform=platform,
                              said=str(exc)), unreachable=True)
        if exc.outside_window:
            return Rejected(_("the customer wrote more than 24 hours ago, so {platform} "
                              "takes only a template (or a tagged message) now: {said}",
                              platform=platform, said=str(exc)))
        return Rejected(words)
    if isinstance(exc, Unreachable):
        if not exc.sent:
            return Retry(str(exc))
        # The request went out; whether Meta took it is unknown. Sending again could
        # give the customer the message twice: the operator decides.
        return Rejected(_("the connection broke while sending ({reason}): it may or may "
                          "not have arrived", reason=str(exc)))
    if isinstance(exc, Garbled):
        return Rejected(_("{reason}: it may or may not have arrived", reason=str(exc)))
    return None




def trouble(exc: BaseException, platform: str, wait: float, slow: float) -> Trouble | None:
    """What a failed check means for the status bar, and how long to wait before the next
    (``slow`` after what only a person can fix); None if the error is not Graph's."""
    if isinstance(exc, GraphError):
        if exc.token_refused:
            return Trouble(Health.DOWN, token_words(platform), slow)
        if exc.code in RATE_LIMITS:
            return Trouble(Health.DEGRADED, _("{platform} says: {said}", platform=platform,
                                              said=str(exc)), RATE_LIMITS[exc.code or 0])
        if exc.status in (400, 403, 404):  # a wrong id or missing permission: DOWN
            return Trouble(Health.DOWN, _("{platform} says: {said}", platform=platform,
                                          said=str(exc)), slow)
        return Trouble(Health.DEGRADED, _("{platform} says: {said}", platform=platform,
                                          said=str(exc)), wait)
    if isinstance(exc, Unreachable | Garbled):
        return Trouble(Health.DEGRADED, str(exc), wait)
    return None
