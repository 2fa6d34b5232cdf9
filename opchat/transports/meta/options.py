"""The options of Meta's channels: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aiohttp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

VERSION_SHAPE = re.compile(r"v[0-9]+\.[0-9]+")


def _digits(value: Any, setting: str) -> None:
    if not isinstance(value, str) or value.strip().isdigit():
        return  # not text: the kind's check has said so
    raise OptionProblem(_("{setting} must be the number Meta shows (digits only)",
                          setting=setting))


def _version(value: Any, setting: str) -> None:
    if isinstance(value, str) and not VERSION_SHAPE.fullmatch(value.strip()):
        raise OptionProblem(_('{setting} must be a Graph API version like "v21.0"',
                              setting=setting))


def _webhook_needs_https(options: Mapping[str, Any], table: str) -> None:
    webhook = str(options.get("webhook_url") or "")
    if webhook.startswith("http://") and not options.get("api_base"):
        raise OptionProblem(_(
            "channels.{name}.webhook_url: Meta sends webhooks only to https:// addresses",
            name=table.rsplit(".", 1)[-1]), at=("webhook_url",))


def webhook_path(kind: str, name: str) -> str:
    """Where the hub's server takes a Meta channel's webhook."""
    return f"/{kind}/{name}"


def local_webhook(channel: ChannelSettings) -> str:
    listen = channel.options.get("listen") or DEFAULT_LISTEN
    return f"http://{listen}{webhook_path(channel.kind, channel.name)}"


def _added(channel: ChannelSettings) -> list[str]:
    lines = [_("check the token and see the webhook's address and verify token with: "
               "opchat channel test {name}", name=channel.name)]
    webhook = channel.options.get("webhook_url")
    lines.append(_("Meta will call {url}: have your reverse proxy pass it to {local}",
                   url=webhook or _("your https:// address"), local=local_webhook(channel)))
    return lines


# What every Meta channel takes.
_TOKEN = Option("access_token", "text", "the access token (a system user's, for good)",
                secret=True, required=True)
_TOKEN_ENV = Option("access_token_env", "variable",
                    "an environment variable that holds the access token")
_APP_SECRET = Option("app_secret", "text", "the Meta app's secret, which signs the webhooks",
                     secret=True, required=True)
_APP_SECRET_ENV = Option("app_secret_env", "variable",
                         "an environment variable that holds the app secret")
_VERIFY = Option("verify_token", "text",
                 "what Meta sends to check the webhook (default: derived from the app secret)",
                 secret=True)
_VERIFY_ENV = Option("verify_token_env", "variable",
                     "an environment variable that holds the verify token")
_COMMON = (
    Option("api_base", "url", "the Graph API's address (a proxy, a test server)"),
    Option("api_version", "text", 'the Graph API version, e.g. "v21.0"', check=_version,
           metavar="VERSION"),
    Option("webhook_url", "url", "the https:// address Meta calls, behind your proxy"),
    Option("listen", "listen", "host:port the webhook is served on"),
    Option("download_limit", "count", "fetch files up to this many bytes at once"),
)

WHATSAPP = OptionSet((
    _TOKEN, _TOKEN_ENV, _APP_SECRET, _APP_SECRET_ENV, _VERIFY, _VERIFY_ENV,
    Option("phone_number_id", "text", "the business phone number's id (not the number)",
           check=_digits, required=True, metavar="ID"),
    Option("business_account_id", "text",
           "the WhatsApp Business Account's id, for the message templates", check=_digits,
           metavar="ID"),
    *_COMMON,
), check=_webhook_needs_https, added=_added)

_HUMAN_AGENT = Option(
    "human_agent", "flag", "answer up to 7 days after the customer's last message (Meta's "
    "Human Agent permission), not only 24 hours")
_APP_ID = Option("app_id", "text", "the Meta app's id, to tell opchat's own sends among the "
                 "echoes (default: asked of Graph)", check=_digits, metavar="ID")

MESSENGER = OptionSet((
    _TOKEN, _TOKEN_ENV, _APP_SECRET, _APP_SECRET_ENV, _VERIFY, _VERIFY_ENV,
    Option("page_id", "text", "the Facebook Page's id", check=_digits, required=True,
           metavar="ID"),
    _HUMAN_AGENT, _APP_ID, *_COMMON,
), check=_webhook_needs_https, added=_added)

INSTAGRAM = OptionSet((
    _TOKEN, _TOKEN_ENV, _APP_SECRET, _APP_SECRET_ENV, _VERIFY, _VERIFY_ENV,
    Option("instagram_account_id", "text",
           "the Instagram professional account's id (not the @username)", check=_digits,
           required=True, metavar="ID"),
    _HUMAN_AGENT, _APP_ID, *_COMMON,
), check=_webhook_needs_https, added=_added)
