"""The options of a MAX bot channel: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aiohttp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

DEFAULT_API_BASE = "https://platform-api.max.ru"


def webhook_path(name: str) -> str:
    """Where the hub's server takes a MAX channel's webhook deliveries."""
    return f"/max/{name}"


def _webhook_needs(options: Mapping[str, Any], table: str) -> None:
    if not options.get("webhook"):
        return
    name = table.rsplit(".", 1)[-1]
    url = str(options.get("webhook_url") or "")
    if not url:
        raise OptionProblem(_("channels.{name}: a MAX webhook needs webhook_url, the "
                              "https:// address MAX calls", name=name), at=("webhook_url",))
    if url.startswith("http://") and not options.get("api_base"):
        raise OptionProblem(_("channels.{name}.webhook_url: MAX calls only https:// "
                              "addresses", name=name), at=("webhook_url",))


def _secret_form(value: Any, setting: str) -> None:
    if not isinstance(value, str) or not value:
        return
    if not 5 <= len(value) <= 256 or not all(c.isascii() and (c.isalnum() or c in "_-")
                                             for c in value):
        raise OptionProblem(_("{setting} must be 5 to 256 characters of A-Z, a-z, 0-9, "
                              "_ and -", setting=setting))


def _added(channel: ChannelSettings) -> list[str]:
    lines = [_("check the token with: opchat channel test {name}", name=channel.name)]
    if channel.options.get("webhook"):
        listen = channel.options.get("listen") or DEFAULT_LISTEN
        lines.append(_("MAX will call {url}: have your reverse proxy pass it to {local}",
                       url=channel.options.get("webhook_url"),
                       local=f"http://{listen}{webhook_path(channel.name)}"))
    return lines


OPTIONS = OptionSet((
    Option("token", "text", "the bot's token (business.max.ru → Chat bots → Settings)",
           secret=True, required=True),
    Option("token_env", "variable", "an environment variable that holds the token"),
    Option("api_base", "url", "the MAX Bot API's address (platform-api2.max.ru, a proxy, "
           "a test server)"),
    Option("webhook", "flag", "receive by a webhook subscription on the hub's server, not "
           "long polling"),
    Option("webhook_url", "url", "the https:// address MAX calls, behind your proxy"),
    Option("secret", "text", "the webhook's secret (default: one made and kept in the "
           "data dir)", secret=True, check=_secret_form),
    Option("secret_env", "variable", "an environment variable that holds the webhook's "
           "secret"),
    Option("listen", "listen", "host:port the webhook is served on"),
    Option("poll_timeout", "seconds", "seconds one long poll waits for updates"),
), check=_webhook_needs, added=_added)
