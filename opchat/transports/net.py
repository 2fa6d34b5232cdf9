"""What every channel that speaks HTTP to its platform says about the way there.

aiohttp's errors in a few words for the operator, and the platform's address
as errors may name it (never a user or password the address carries); the errors a
platform's client raises for no answer and for an answer it cannot read, what a failure
while receiving means for the status bar (`Trouble`), and the client's one session
(`HttpClient`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from opchat.i18n import _
from opchat.model import Health


def host_of(api_base: str, default: str = "the API") -> str:
    """host[:port] of an API's address, as errors name it: never a user or password
    the address may carry (they would reach the log, the status bar and the audit)."""
    parts = urlsplit(api_base)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return (f"{host}:{port}" if port else host) or default


def reason_of(cause: BaseException | None, fallback: str = "") -> str:
    """Why a request did not get through (``cause``: the aiohttp or timeout error)."""
    if isinstance(cause, asyncio.TimeoutError | TimeoutError):
        return _("no answer in time")
    if isinstance(cause, aiohttp.ClientConnectorDNSError):
        return _("the name does not resolve")
    if isinstance(cause, aiohttp.ClientConnectorError):
        return cause.strerror or _("connection refused")
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return _("the server closed the connection")
    if isinstance(cause, aiohttp.ClientError):
        return str(cause) or type(cause).__name__
    return fallback or (str(cause) if cause else "") or type(cause).__name__


def never_left(cause: BaseException | None) -> bool:
    """True when the request never reached the server (so sending again cannot double it)."""
    return isinstance(cause, aiohttp.ClientConnectorError)


class Unreachable(Exception):
    """The request got no answer; ``sent``: it may have reached the platform."""

    def __init__(self, host: str, cause: BaseException, sent: bool) -> None:
        super().__init__(_("cannot reach {host}: {reason}", host=host,
                           reason=reason_of(cause)))
        self.sent = sent


class Garbled(Exception):
    """The platform answered something that is not what it documents."""


@dataclass(frozen=True)
class Trouble:
    """How the channel is after a failure while receiving, and how long to wait."""

    health: Health
    detail: str
    wait: float


class HttpClient:
    """A platform's client: one aiohttp session, made when first needed (again after it
    was closed). The client sets ``self._session = None`` when it is made."""

    _session: aiohttp.ClientSession | None

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._new_session()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
