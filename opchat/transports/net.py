"""What every channel that speaks HTTP to its platform says about the way there.

aiohttp's errors in a few words for the operator, and the platform's address
as errors may name it (never a user or password the address carries).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

from opchat.i18n import _


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
