"""The options of a Telegram channel: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aiogram.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")  # as @BotFather gives it


def _token(value: Any, setting: str) -> None:
    if not isinstance(value, str):
        return  # the kind's check has said so
    token = value.strip()
    if token and not TOKEN_SHAPE.fullmatch(token):  # "": token_env then
        raise OptionProblem(_(
            "{setting} is not a bot token: @BotFather gives one like "
            "123456789:AAE-x1y2… (digits, a colon, then letters)", setting=setting))


def _webhook_needs_https(options: Mapping[str, Any], table: str) -> None:
    webhook = str(options.get("webhook_url") or "")
    if webhook.startswith("http://") and not options.get("api_base"):
        raise OptionProblem(_(
            "channels.{name}.webhook_url: Telegram sends webhooks only to https:// "
            "addresses", name=table.rsplit(".", 1)[-1]), at=("webhook_url",))


def webhook_path(name: str) -> str:
    """Where the hub's server takes a channel's webhook."""
    return f"/telegram/{name}"


def _added(channel: ChannelSettings) -> list[str]:
    lines = [_("check the token with: opchat channel test {name}", name=channel.name)]
    webhook = channel.options.get("webhook_url")
    if webhook:
        listen = channel.options.get("listen", DEFAULT_LISTEN)
        lines.append(_("Telegram will POST updates to {url}: have your reverse proxy pass "
                       "them to {local}", url=webhook,
                       local=f"http://{listen}{webhook_path(channel.name)}"))
    return lines


OPTIONS = OptionSet((
    Option("token", "text", "the bot's token from @BotFather", secret=True, check=_token,
           required=True),
    Option("token_env", "variable", "an environment variable that holds the token"),
    Option("api_base", "url", "the Bot API's address (a local Bot API server, a proxy)"),
    Option("webhook_url", "url", "receive by webhook at this https:// address, not polling"),
    Option("listen", "listen", "host:port the webhook is served on"),
    Option("download_limit", "count", "fetch files up to this many bytes at once"),
    Option("poll_timeout", "seconds", "seconds one long poll waits for updates"),
), check=_webhook_needs_https, added=_added)
