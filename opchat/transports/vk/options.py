"""The options of a VK community channel: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aiohttp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

API_VERSION = "5.199"  # the VK API version every call names; pinned, shown by `channel test`


def _digits(value: Any, setting: str) -> None:
    if not isinstance(value, str) or value.strip().isdigit():
        return  # not text: the kind's check has said so
    raise OptionProblem(_("{setting} must be the community's id, digits only (for "
                          "vk.com/club218374615 it is 218374615)", setting=setting))


def _callback_needs(options: Mapping[str, Any], table: str) -> None:
    if not options.get("callback"):
        return
    name = table.rsplit(".", 1)[-1]
    if not options.get("confirmation"):
        raise OptionProblem(_("channels.{name}: the Callback API needs confirmation, the "
                              "string VK shows to return", name=name), at=("confirmation",))
    if not (options.get("secret") or options.get("secret_env")):
        raise OptionProblem(_("channels.{name}: the Callback API needs secret (or "
                              "secret_env), the secret key set in VK", name=name),
                            at=("secret",))
    webhook = str(options.get("webhook_url") or "")
    if webhook.startswith("http://") and not options.get("api_base"):
        raise OptionProblem(_("channels.{name}.webhook_url: use an https:// address for "
                              "the Callback API", name=name), at=("webhook_url",))


def callback_path(name: str) -> str:
    """Where the hub's server takes a VK channel's Callback API requests."""
    return f"/vk/{name}"


def _added(channel: ChannelSettings) -> list[str]:
    lines = [_("check the token with: opchat channel test {name}", name=channel.name)]
    if channel.options.get("callback"):
        listen = channel.options.get("listen") or DEFAULT_LISTEN
        lines.append(_("VK will call {url}: have your reverse proxy pass it to {local}",
                       url=channel.options.get("webhook_url") or _("your https:// address"),
                       local=f"http://{listen}{callback_path(channel.name)}"))
    return lines


OPTIONS = OptionSet((
    Option("token", "text", "the community's access token (Manage → API usage)",
           secret=True, required=True),
    Option("token_env", "variable", "an environment variable that holds the token"),
    Option("group_id", "text", "the community's id (digits)", check=_digits,
           required=True, metavar="ID"),
    Option("api_base", "url", "the VK API's address (a proxy, a test server)"),
    Option("callback", "flag", "receive by the Callback API on the hub's server, not "
           "Bots Long Poll"),
    Option("confirmation", "text", "the string VK asks the Callback API address to return"),
    Option("secret", "text", "the Callback API's secret key", secret=True),
    Option("secret_env", "variable", "an environment variable that holds the secret key"),
    Option("webhook_url", "url", "the https:// address VK calls, behind your proxy"),
    Option("listen", "listen", "host:port the Callback API is served on"),
    Option("poll_timeout", "seconds", "seconds one long poll waits for events"),
), check=_callback_needs, added=_added)
