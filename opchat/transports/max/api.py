"""The MAX Bot API as the channel needs it: calls, uploads, files, errors in words.

Every call carries the bot's token in the ``Authorization`` header (MAX no longer
takes it in the address, which logs would keep). MAX answers JSON; an error is
an HTTP status with ``{"code": "...", "message": "..."}``, which becomes a
:class:`MaxError`; :func:`send_error` and :func:`trouble` turn one into what
the outbox and the status bar need.
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

MAX_WAIT = 600.0


class MaxError(Exception):
    """MAX answered an error: the HTTP ``status``, MAX's ``code`` and its words."""

    def __init__(self, status: int, code: str, message: str, wait: float | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.wait = wait  # 429: what Retry-After said

    @property
    def token_refused(self) -> bool:
        return self.status == 401

    def __str__(self) -> str:
        text = (self.message or "").strip() or self.code or _("no description given")
        return f"{text} ({self.status})"






def _wait_of(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


@dataclass
class MaxAPI(HttpClient):
    """One bot's way to the MAX Bot API."""

    base: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.host = host_of(self.base, "platform-api.max.ru")
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                   body: Any = None, timeout: float | None = None) -> Any:
        """The JSON MAX answers ``method path``; MaxError, Unreachable or Garbled."""
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        kwargs: dict[str, Any] = {"params": query, "headers": {"Authorization": self.token}}
        if body is not None:
            kwargs["json"] = body
        return await self._json(method, f"{self.base}{path}", timeout, self.host, **kwargs)

    async def upload(self, url: str, path: Path, filename: str, mime: str) -> Any:
        """POST a file to an upload address MAX gave; what it answers."""
        form = aiohttp.FormData()
        form.add_field("data", path.read_bytes(), filename=filename, content_type=mime)
        return await self._json("POST", url, 4 * self.timeout, host_of(url, "MAX's upload "
                                                                           "server"),
                                data=form, headers={"Authorization": self.token})

    async def _json(self, method: str, url: str, timeout: float | None, host: str,
                    **kwargs: Any) -> Any:
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with self.session().request(method, url, timeout=limit, **kwargs) as answer:
                raw = await answer.read()
                status = answer.status
                retry_after = answer.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host, exc, sent=not never_left(exc)) from exc
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if status >= 400:
            found = body if isinstance(body, Mapping) else {}
            raise MaxError(status, str(found.get("code") or ""),
                           str(found.get("message") or found.get("error") or
                               _("HTTP {status} from {host}", status=status, host=host)),
                           _wait_of(retry_after))
        if body is None:
            raise Garbled(_("{host} answered something that is not JSON (HTTP {status})",
                            host=host, status=status))
        return body

    async def fetch(self, url: str, target: Path, modes: tuple[int, int],
                    limit: int = 100 * 1024 * 1024) -> int:
        """Save the file at ``url`` (an address MAX gave with the message) to ``target``."""
        timeout = aiohttp.ClientTimeout(total=4 * self.timeout)

        async def chunks() -> AsyncIterator[bytes]:
            async with self.session().get(url, timeout=timeout) as answer:
                if answer.status >= 400:
                    raise MaxError(answer.status, "", _("{host} answered {status} for the "
                                                        "file", host=host_of(url),
                                                        status=answer.status))
                size = 0
                async for chunk in answer.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > limit:
                        raise MaxError(413, "", _("the file is larger than {limit} bytes",
                                                  limit=limit))
                    yield chunk

        try:
            return await write_private(target, chunks(), modes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host_of(url), exc, sent=False) from exc


# What an error means -------------------------------------------------------------------


def token_words() -> str:
    return _("MAX refused the bot's token (wrong or revoked): copy it again from "
             "business.max.ru → Chat bots → ⋮ → Settings and put it in the config")


def send_error(exc: BaseException, attempt: int = 1) -> Exception | None:
    """The outbox's answer to an error from a send: Retry, Rejected, or None (not ours)."""
    if isinstance(exc, MaxError):
        words = _("MAX says: {said}", said=str(exc))
        if exc.token_refused:
            return Retry(token_words(), after=300.0)
        if exc.status == 429:
            wait = exc.wait if exc.wait is not None else 1.0 * 2 ** max(0, attempt - 1)
            return Retry(words, after=min(wait, MAX_WAIT))
        if exc.status >= 500:
            return Retry(words, after=min(5.0 * 2 ** max(0, attempt - 1), MAX_WAIT))
        if exc.status == 403:
            return Rejected(_("the customer cannot get messages from the bot now (they "
                              "stopped or blocked it): {said}", said=str(exc)),
                            unreachable=True)
        return Rejected(words)
    if isinstance(exc, Unreachable | Garbled):
        return Retry(str(exc))
    return None




def trouble(exc: BaseException, wait: float, slow: float) -> Trouble | None:
    """What a failed call while receiving means for the status bar, and how long to wait
    before the next (``slow`` after what only a person can fix)."""
    if isinstance(exc, MaxError):
        if exc.token_refused:
            return Trouble(Health.DOWN, token_words(), slow)
        words = _("MAX says: {said}", said=str(exc))
        if exc.status == 429:
            return Trouble(Health.DEGRADED, words, max(wait, exc.wait or 0.0))
        if exc.status >= 500:
            return Trouble(Health.DEGRADED, words, wait)
        return Trouble(Health.DOWN, words, slow)
    if isinstance(exc, Unreachable | Garbled):
        return Trouble(Health.DEGRADED, str(exc), wait)
    return None
