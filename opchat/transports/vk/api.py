"""The VK API as the channel needs it: method calls, the long poll, uploads, errors in
words.

Every method is a POST to ``{base}/method/NAME`` with the token and the pinned
version in the form body (never in the address, which logs keep). VK answers
``{"response": …}`` or ``{"error": {"error_code", "error_msg", …}}`` (with HTTP
200); the latter becomes a :class:`VKError`, and :func:`send_error` and
:func:`trouble` turn one into what the outbox and the status bar need.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
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
from opchat.transports.vk.options import API_VERSION

DEFAULT_API_BASE = "https://api.vk.com"

# Codes that say "not now", and seconds to wait at first (doubled on each attempt).
RETRY_CODES = {6: 1.0,  # too many requests per second
               9: 60.0,  # flood control: too many same actions
               10: 5.0,  # internal server error
               1: 5.0}  # unknown error
TOKEN_CODES = {5, 27, 28}  # the token is wrong, revoked, or not the community's
UNREACHABLE_CODES = {900, 901, 902}  # blacklisted, no permission to write, privacy
TOO_LONG = 914  # the message is too long
MAX_WAIT = 600.0


class VKError(Exception):
    """VK answered an error: ``code`` and its words."""

    def __init__(self, code: int | None, message: str, method: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.method = method

    @property
    def token_refused(self) -> bool:
        return self.code in TOKEN_CODES

    def __str__(self) -> str:
        text = (self.message or "").strip() or _("no description given")
        return f"{text} ({self.code})" if self.code is not None else text






def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def error_of(body: Any, method: str = "") -> VKError:
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return VKError(None, _("an error without VK's shape"), method)
    return VKError(_number(error.get("error_code")), str(error.get("error_msg") or ""), method)


@dataclass
class VK(HttpClient):
    """One community's way to the VK API."""

    base: str
    token: str
    timeout: float = 30.0
    version: str = API_VERSION

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.host = host_of(self.base, "api.vk.com")
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, params: Mapping[str, Any] | None = None,
                   timeout: float | None = None) -> Any:
        """The ``response`` of VK method ``method``; VKError, Unreachable or Garbled."""
        form = {key: _form_value(value) for key, value in (params or {}).items()
                if value is not None}
        form.update(access_token=self.token, v=self.version)
        body = await self._json("POST", f"{self.base}/method/{method}", timeout, self.host,
                                data=form)
        if isinstance(body, Mapping) and "error" in body:
            raise error_of(body, method)
        if not isinstance(body, Mapping) or "response" not in body:
            raise Garbled(_("{host} answered {method} without a response",
                            host=self.host, method=method))
        return body["response"]

    async def poll(self, server: str, key: str, ts: str, wait: int) -> dict[str, Any]:
        """One ``a_check`` of Bots Long Poll: ``{"ts", "updates"}`` or ``{"failed", …}``."""
        body = await self._json("GET", server, wait + 10.0, host_of(server, "the long poll"),
                                params={"act": "a_check", "key": key, "ts": ts,
                                        "wait": str(wait)})
        if not isinstance(body, dict):
            raise Garbled(_("the long poll answered something that is not an object"))
        return body

    async def upload(self, url: str, field: str, path: Path, filename: str,
                     mime: str) -> dict[str, Any]:
        """POST a file to an upload server VK gave; what it answers (to be saved)."""
        form = aiohttp.FormData()
        form.add_field(field, path.read_bytes(), filename=filename, content_type=mime)
        body = await self._json("POST", url, 4 * self.timeout, host_of(url, "VK's upload "
                                                                           "server"), data=form)
        if isinstance(body, Mapping) and "error" in body:
            error = body["error"]
            if isinstance(error, Mapping):
                raise error_of(body, "upload")
            raise VKError(None, str(error), "upload")
        if not isinstance(body, dict):
            raise Garbled(_("the upload server answered something that is not an object"))
        return body

    async def _json(self, method: str, url: str, timeout: float | None, host: str,
                    **kwargs: Any) -> Any:
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with self.session().request(method, url, timeout=limit, **kwargs) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host, exc, sent=not never_left(exc)) from exc
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if status >= 500:
            raise VKError(10, _("HTTP {status} from {host}", status=status, host=host))
        if body is None:
            raise Garbled(_("{host} answered something that is not JSON (HTTP {status})",
                            host=host, status=status))
        return body

    async def fetch(self, url: str, target: Path, modes: tuple[int, int],
                    limit: int = 100 * 1024 * 1024) -> int:
        """Save the file at ``url`` (an address VK gave with the message) to ``target``."""
        timeout = aiohttp.ClientTimeout(total=4 * self.timeout)

        async def chunks() -> AsyncIterator[bytes]:
            async with self.session().get(url, timeout=timeout) as answer:
                if answer.status >= 400:
                    raise VKError(None, _("{host} answered {status} for the file",
                                          host=host_of(url), status=answer.status))
                size = 0
                async for chunk in answer.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > limit:
                        raise VKError(None, _("the file is larger than {limit} bytes",
                                              limit=limit))
                    yield chunk

        try:
            return await write_private(target, chunks(), modes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host_of(url), exc, sent=False) from exc


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# What an error means -------------------------------------------------------------------


def token_words() -> str:
    return _("VK refused the community's token (wrong, revoked, or not a community "
             "token): make one in the community's Manage → API usage and put it in the "
             "config")


def send_error(exc: BaseException, attempt: int = 1) -> Exception | None:
    """The outbox's answer to an error from a send: Retry, Rejected, or None (not ours).

    A send that got no answer is retried: the same ``random_id`` goes again, and VK
    keeps one message per ``random_id``, so the customer never gets it twice."""
    if isinstance(exc, VKError):
        words = _("VK says: {said}", said=str(exc))
        if exc.token_refused:
            return Retry(token_words(), after=300.0)
        if exc.code in RETRY_CODES:
            wait = RETRY_CODES[exc.code or 0] * 2 ** max(0, attempt - 1)
            return Retry(words, after=min(wait, MAX_WAIT))
        if exc.code in UNREACHABLE_CODES:
            return Rejected(_("the customer cannot get messages from the community now "
                              "(they forbade it or blocked it): {said}", said=str(exc)),
                            unreachable=True)
        return Rejected(words)
    if isinstance(exc, Unreachable):
        return Retry(str(exc))
    if isinstance(exc, Garbled):
        return Retry(str(exc))
    return None




def trouble(exc: BaseException, wait: float, slow: float) -> Trouble | None:
    """What a failed call while receiving means for the status bar, and how long to wait
    before the next (``slow`` after what only a person can fix)."""
    if isinstance(exc, VKError):
        if exc.token_refused:
            return Trouble(Health.DOWN, token_words(), slow)
        words = _("VK says: {said}", said=str(exc))
        if exc.code in RETRY_CODES:
            return Trouble(Health.DEGRADED, words, max(wait, RETRY_CODES[exc.code or 0]))
        return Trouble(Health.DOWN, words, slow)
    if isinstance(exc, Unreachable | Garbled):
        return Trouble(Health.DEGRADED, str(exc), wait)
    return None
