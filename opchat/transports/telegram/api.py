"""What opchat needs of aiogram: a Bot on a chosen server, raw updates, errors in words.

aiogram is imported here, and this module only by the Telegram transport,
which the hub loads only when a Telegram channel is configured.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates

from opchat.i18n import _
from opchat.model import Health
from opchat.transports import Rejected, Retry
from opchat.transports.net import Trouble, never_left, reason_of

DEFAULT_API_BASE = "https://api.telegram.org"


class RawGetUpdates(GetUpdates):
    """getUpdates answered as plain JSON objects, not aiogram's models.

    With the models, one update of a shape they do not know would fail the
    whole batch on every try, and the channel would stall on it for good.
    """

    __returning__ = list[dict[str, Any]]


def make_bot(token: str, api_base: str) -> Bot:
    """A Bot speaking to ``{api_base}/bot{token}/{method}``; no parse mode, ever.

    Customer and operator text goes out as it was typed: a ``<b>`` in a reply is
    text, never markup, because no parse_mode is set.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(token, session=session)


def is_api_error(exc: BaseException) -> bool:
    """An error of Telegram or of the way to it (not of opchat or its store)."""
    return isinstance(exc, TelegramAPIError | ClientDecodeError)


def network_reason(exc: BaseException) -> str:
    """Why a request did not get through, in a few words."""
    return reason_of(exc.__cause__, getattr(exc, "message", "") or str(exc))


def surely_not_sent(exc: BaseException) -> bool:
    """True when the request never reached the server (so sending again cannot double it)."""
    return never_left(exc.__cause__)


def _token_refused(code: str) -> str:
    return _("the token was refused ({code}): copy it again from @BotFather", code=code)


def _server_failed(exc: TelegramAPIError) -> str:
    return _("Telegram's server failed: {said}", said=_said(exc))


def _unreachable(host: str, exc: BaseException) -> str:
    return _("cannot reach {host}: {reason}", host=host, reason=network_reason(exc))


def _telegram_says(exc: TelegramAPIError) -> str:
    return _("Telegram says: {said}", said=_said(exc))


def _said(exc: TelegramAPIError) -> str:
    # {"ok": false} may come without a description: aiogram then holds None.
    return (exc.message or "").strip() or _("no description given")


# Receiving -------------------------------------------------------------------------------


def receive_trouble(exc: BaseException, host: str, failures: int,
                    backoff: tuple[float, ...], slow: float) -> Trouble:
    """What an error of getMe/getUpdates/setWebhook means for the operator."""
    step = backoff[min(failures, len(backoff)) - 1] if failures else backoff[0]
    if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound):
        code = "401" if isinstance(exc, TelegramUnauthorizedError) else "404"
        return Trouble(Health.DOWN, _token_refused(code), slow)
    if isinstance(exc, TelegramConflictError):
        if "webhook" in (exc.message or ""):
            detail = _("a webhook is set for this bot (409 conflict); opchat is polling")
        else:
            detail = _("another program is reading this bot's updates (409 conflict): "
                       "only one may")
        return Trouble(Health.DOWN, detail, step)
    if isinstance(exc, TelegramRetryAfter):
        return Trouble(Health.DEGRADED, _("Telegram asks to wait {seconds} s (429)",
                                          seconds=exc.retry_after), float(exc.retry_after))
    if isinstance(exc, TelegramServerError):
        return Trouble(Health.DEGRADED, _server_failed(exc), step)
    if isinstance(exc, TelegramNetworkError):
        return Trouble(Health.DEGRADED, _unreachable(host, exc), step)
    if isinstance(exc, ClientDecodeError):
        return Trouble(Health.DEGRADED, _("{host} answered something that is not JSON",
                                          host=host), step)
    if isinstance(exc, TelegramAPIError):
        return Trouble(Health.DEGRADED, _telegram_says(exc), step)
    raise exc


# Sending ---------------------------------------------------------------------------------


def send_error(exc: BaseException, host: str, done: int, total: int) -> Exception | None:
    """The outbox's answer to an error from a send: Retry, Rejected, or None (not ours)."""
    arrived = _("; {done} of {total} parts had arrived", done=done, total=total) if done else ""
    if isinstance(exc, TelegramRetryAfter):
        return Retry(_("Telegram asks to wait {seconds} s (429 too many requests)",
                       seconds=exc.retry_after), after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return Rejected(_("the customer blocked the bot, or cannot be written to "
                          "(403: {said})", said=_said(exc)) + arrived, unreachable=True)
    if isinstance(exc, TelegramMigrateToChat):
        return Rejected(_("the group became supergroup {chat}",
                          chat=exc.migrate_to_chat_id) + arrived)
    if isinstance(exc, TelegramBadRequest):
        return Rejected(_("Telegram refused the message (400: {said})", said=_said(exc))
                        + arrived)
    if isinstance(exc, TelegramEntityTooLarge):
        return Rejected(_("the file is too large for Telegram (413)") + arrived)
    if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound):
        code = "401" if isinstance(exc, TelegramUnauthorizedError) else "404"
        return Retry(_token_refused(code), after=60.0)
    if isinstance(exc, TelegramServerError):
        return Retry(_server_failed(exc))
    if isinstance(exc, TelegramNetworkError):
        if surely_not_sent(exc):
            return Retry(_unreachable(host, exc))
        # The request went out; whether Telegram took it is unknown. Sending again
        # could give the customer the message twice: the operator decides.
        return Rejected(_("the connection broke while sending ({reason}): it may or may "
                          "not have arrived", reason=network_reason(exc)) + arrived)
    if isinstance(exc, ClientDecodeError):
        return Rejected(_("{host}'s answer could not be read: it may or may not have "
                          "arrived", host=host) + arrived)
    if isinstance(exc, TelegramAPIError):
        return Retry(_telegram_says(exc))
    return None


# Checking ---------------------------------------------------------------------------------


class CheckFailed(Exception):
    """``check()`` could not reach the bot; the message says exactly why."""


def check_failure(exc: BaseException, host: str, timeout: float) -> CheckFailed | None:
    if isinstance(exc, TelegramUnauthorizedError | TelegramNotFound):
        code = "401 Unauthorized" if isinstance(exc, TelegramUnauthorizedError) else "404"
        return CheckFailed(_token_refused(code))
    if isinstance(exc, TelegramNetworkError):
        if isinstance(exc.__cause__, asyncio.TimeoutError | TimeoutError):
            return CheckFailed(_("no answer from {host} in {seconds} s (timeout)", host=host,
                                 seconds=f"{timeout:.0f}"))
        return CheckFailed(_unreachable(host, exc) + " " + _("(network)"))
    if isinstance(exc, ClientDecodeError):
        return CheckFailed(_("{host} answered something that is not the Bot API "
                             "(is api_base right?)", host=host))
    if isinstance(exc, TelegramRetryAfter):
        return CheckFailed(_("Telegram asks to wait {seconds} s (429); try again later",
                             seconds=exc.retry_after))
    if isinstance(exc, TelegramAPIError):
        return CheckFailed(_telegram_says(exc))
    return None
