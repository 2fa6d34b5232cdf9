"""The Viber REST bot API (chatapi.viber.com/pa) as the channel needs it.

Every call is a POST of JSON with the token in ``X-Viber-Auth-Token``; Viber
answers HTTP 200 with ``{"status": N, "status_message": "..."}``, ``0`` meaning
done. Another status becomes a :class:`ViberError`; :func:`send_error` turns one
into what the outbox needs. The numbers are Viber's documented table
(developers.viber.com/docs/api/rest-bot-api/#error-codes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from opchat.i18n import _
from opchat.transports import Rejected, Retry
from opchat.transports.files import write_private
from opchat.transports.net import (
    Garbled,
    HttpClient,
    Unreachable,
    host_of,
    never_left,
)

MAX_WAIT = 600.0

OK = 0
INVALID_TOKEN = 2
RECEIVER_NOT_REGISTERED = 5
RECEIVER_NOT_SUBSCRIBED = 6
ACCOUNT_BLOCKED = 7
ACCOUNT_NOT_FOUND = 8
ACCOUNT_SUSPENDED = 9
NO_SUITABLE_DEVICE = 11
TOO_MANY_REQUESTS = 12

# The customer cannot be written to: the dialog is marked and the send stops.
UNREACHABLE = (RECEIVER_NOT_REGISTERED, RECEIVER_NOT_SUBSCRIBED, NO_SUITABLE_DEVICE)
# The bot itself cannot send: only a person can fix it.
ACCOUNT = (INVALID_TOKEN, ACCOUNT_BLOCKED, ACCOUNT_NOT_FOUND, ACCOUNT_SUSPENDED)


def status_words(status: int) -> str:
    """What a Viber status means, in words."""
    words = {
        1: _("the webhook address is not valid (Viber needs https:// with a valid "
             "certificate)"),
        2: _("the token is not valid"),
        3: _("Viber found an error in the request"),
        4: _("some data Viber needs is missing"),
        5: _("the customer is not registered in Viber"),
        6: _("the customer has not subscribed to the bot (or unsubscribed)"),
        7: _("the bot's account is blocked"),
        8: _("the token belongs to no bot account"),
        9: _("the bot's account is suspended"),
        10: _("no webhook is set for the bot"),
        11: _("the customer's Viber cannot receive this message"),
        12: _("too many requests"),
        13: _("the API version is not supported"),
        14: _("the message is not compatible with the customer's Viber"),
    }
    return words.get(status, _("Viber status {status}", status=status))


class ViberError(Exception):
    """Viber answered a status other than 0."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def token_refused(self) -> bool:
        return self.status in (INVALID_TOKEN, ACCOUNT_NOT_FOUND)

    def __str__(self) -> str:
        said = (self.message or "").strip()
        words = status_words(self.status)
        return f"{words} ({said}, {self.status})" if said else f"{words} ({self.status})"






@dataclass
class ViberAPI(HttpClient):
    """One bot's way to the Viber REST API."""

    base: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.host = host_of(self.base, "chatapi.viber.com")
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, body: Mapping[str, Any] | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
        """What Viber answers ``method`` with status 0; ViberError, Unreachable, Garbled."""
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with self.session().post(
                    f"{self.base}/{method}", json=dict(body or {}), timeout=limit,
                    headers={"X-Viber-Auth-Token": self.token}) as answer:
                raw = await answer.read()
                http = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(self.host, exc, sent=not never_left(exc)) from exc
        try:
            found = json.loads(raw) if raw else None
        except ValueError:
            found = None
        if not isinstance(found, dict) or not isinstance(found.get("status"), int):
            raise Garbled(_("{host} answered something that is not Viber's (HTTP {status})",
                            host=self.host, status=http))
        if found["status"] != OK:
            raise ViberError(found["status"], str(found.get("status_message") or ""))
        return found

    async def fetch(self, url: str, target: Path, modes: tuple[int, int],
                    limit: int = 200 * 1024 * 1024) -> int:
        """Save the file at ``url`` (a media address Viber gave) to ``target``."""
        timeout = aiohttp.ClientTimeout(total=4 * self.timeout)

        async def chunks() -> AsyncIterator[bytes]:
            async with self.session().get(url, timeout=timeout) as answer:
                if answer.status >= 400:
                    raise Garbled(_("{host} answered {status} for the file",
                                    host=host_of(url), status=answer.status))
                size = 0
                async for chunk in answer.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > limit:
                        raise Garbled(_("the file is larger than {limit} bytes",
                                        limit=limit))
                    yield chunk

        try:
            return await write_private(target, chunks(), modes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(host_of(url), exc, sent=False) from exc


def token_words() -> str:
    return _("Viber refused the bot's token (wrong or revoked): copy it again from "
             "partners.viber.com → your bot → Info and put it in the config")


def send_error(exc: BaseException, attempt: int = 1) -> Exception | None:
    """The outbox's answer to an error from a send: Retry, Rejected, or None (not ours)."""
    if isinstance(exc, ViberError):
        words = _("Viber says: {said}", said=str(exc))
        if exc.status == TOO_MANY_REQUESTS:
            return Retry(words, after=min(1.0 * 2 ** max(0, attempt - 1), MAX_WAIT))
        if exc.status in UNREACHABLE:
            return Rejected(_("the customer cannot get messages from the bot now: {said}",
                              said=str(exc)), unreachable=True)
        if exc.token_refused:
            return Retry(token_words(), after=300.0)
        return Rejected(words)
    if isinstance(exc, Unreachable | Garbled):
        return Retry(str(exc))
    return None
