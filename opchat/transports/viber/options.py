"""The options of a Viber bot channel: what `[channels.NAME]` may hold.

Imported by the config in every process, so nothing here imports aiohttp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opchat.i18n import _
from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet

if TYPE_CHECKING:
    from opchat.config import ChannelSettings

DEFAULT_API_BASE = "https://chatapi.viber.com/pa"


def webhook_path(name: str) -> str:
    """Where the hub's server takes a Viber channel's callbacks."""
    return f"/viber/{name}"


def webhook_url(public_url: str, name: str) -> str:
    return public_url.rstrip("/") + webhook_path(name)


def _needs_https(options: Mapping[str, Any], table: str) -> None:
    name = table.rsplit(".", 1)[-1]
    url = str(options.get("public_url") or "")
    if url.startswith("http://") and not options.get("api_base"):
        raise OptionProblem(_("channels.{name}.public_url: Viber calls only https:// "
                              "addresses", name=name), at=("public_url",))


EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed",
               "conversation_started")


def set_webhook(channel: ChannelSettings, timeout: float = 15.0) -> str:
    """Tell Viber where the hub takes the channel's callbacks (``set_webhook``), with the
    standard library (this module stays light); what happened, in words."""
    import json
    import urllib.error
    import urllib.request

    token = (channel.secret("token") or "").strip()
    if not token:
        return _("no token yet: set it, then opchat serve sets the webhook")
    url = webhook_url(str(channel.options.get("public_url")), channel.name)
    base = str(channel.options.get("api_base") or DEFAULT_API_BASE).rstrip("/")
    request = urllib.request.Request(
        f"{base}/set_webhook", method="POST",
        data=json.dumps({"url": url, "event_types": list(EVENT_TYPES), "send_name": True,
                         "send_photo": True}).encode(),
        headers={"X-Viber-Auth-Token": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            found = json.loads(answer.read() or b"null")
    except (OSError, ValueError) as exc:
        return _("could not set the webhook now ({reason}); opchat serve sets it when it "
                 "starts", reason=str(exc))
    if isinstance(found, dict) and found.get("status") == 0:
        return _("webhook set to {url}", url=url)
    said = found.get("status_message") if isinstance(found, dict) else None
    return _("Viber did not take the webhook yet ({said}); opchat serve sets it when it "
             "starts (Viber checks the address then)", said=str(said or "?"))


def _added(channel: ChannelSettings) -> list[str]:
    lines = []
    public = channel.options.get("public_url")
    if public:
        listen = channel.options.get("listen") or DEFAULT_LISTEN
        lines.append(_("Viber will call {url}: have your reverse proxy pass it to {local}",
                       url=webhook_url(str(public), channel.name),
                       local=f"http://{listen}{webhook_path(channel.name)}"))
        lines.append(set_webhook(channel))
    else:
        lines.append(_("no public_url: Viber cannot reach the hub until it is set"))
    lines.append(_("check the token with: opchat channel test {name}", name=channel.name))
    return lines


OPTIONS = OptionSet((
    Option("token", "text", "the bot's token (partners.viber.com → your bot → Info)",
           secret=True, required=True),
    Option("token_env", "variable", "an environment variable that holds the token"),
    Option("public_url", "url", "the hub's https:// address that Viber calls, behind "
           "your proxy"),
    Option("sender_name", "text", "the name the customers see on the bot's messages"),
    Option("sender_avatar", "url", "the address of the avatar shown on the bot's messages"),
    Option("api_base", "url", "the Viber REST API's address (a proxy, a test server)"),
    Option("listen", "listen", "host:port the webhook is served on"),
), check=_needs_https, added=_added)
