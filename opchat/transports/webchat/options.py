"""The web chat's options: what a `[channels.NAME]` table of kind "webchat" may hold,
the widget's words a table may override, and the snippet pages paste.

Imported by the config in every process (the app's before its first frame), so it
imports nothing of the transport's own (channel.py: aiohttp, hashing, working hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opchat.transports import DEFAULT_LISTEN, Option, OptionProblem, OptionSet, parse_listen

if TYPE_CHECKING:
    from opchat.config import ChannelSettings


# What the widget says, in each language it speaks (the words themselves are in
# static/widget.js, WORDS): the keys a channel's ``texts.LANG`` table may override.
TEXT_LANGUAGES = ("en", "ru")
TEXT_KEYS = (
    "title", "subtitle", "offline_subtitle", "greeting", "placeholder", "open", "unread",
    "close", "message", "send", "connecting", "cannot_connect", "not_sent", "parts",
    "too_long", "typing", "operator", "offline", "opens", "name", "email", "phone", "either",
    "thanks", "bad_email", "bad_phone", "need_phone", "failed", "callback", "when",
    "when_hint", "call", "cancel", "called", "times", "offline_send", "state_pending",
    "state_sent", "state_delivered", "state_read", "state_failed", "usually_minute",
    "usually_minutes", "usually_hours",
)
LIST_TEXTS = ("times",)  # a list of texts: the suggestions for "when"
# Top-level options of old, each the same text for every language unless texts says.
PLAIN_TEXTS = ("title", "subtitle", "placeholder")


def operator_photo(value: Any, path: str) -> str:
    """``operator_photo``: an http(s) URL or a path under the channel, else ValueError."""
    if value in (None, ""):
        return ""
    text = str(value)
    bad = len(text) > 1000 or any(ch.isspace() or ch in "\\\"'<>" or not ch.isprintable()
                                  for ch in text)
    parts = urlsplit(text) if not bad else None
    if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
        return text
    if parts is not None and not parts.scheme and not parts.netloc \
            and text.startswith((path or "") + "/") and not text.startswith("//"):
        return text
    raise ValueError(f"option operator_photo {text[:80]!r} must be an http(s) URL or a path "
                     f"under the channel ({path or ''}/...)")


def snippet(channel: ChannelSettings) -> str:
    """The <script> tag a business pastes into its pages."""
    base = str(channel.options.get("public_url") or "").rstrip("/")
    if not base:
        host, port = parse_listen(str(channel.options.get("listen") or DEFAULT_LISTEN))
        base = f"http://{host}:{port}"
        path = str(channel.options.get("path", "")).strip("/")
        if path:
            base += "/" + path
    return f'<script src="{base}/widget.js" async></script>'


# The channel's options, as the config checks them --------------------------------------


def _check_origins(value: Any, setting: str) -> None:
    from opchat.config import describe_value, expect, is_url
    from opchat.i18n import _

    for origin in [value] if isinstance(value, str) else expect(value, list, setting):
        if not (isinstance(origin, str) and is_url(origin)
                and origin.rstrip("/").count("/") == 2):
            raise OptionProblem(_("{setting}: {origin} is not a site like https://shop.example",
                                  setting=setting, origin=describe_value(origin)))


def _check_proxies(value: Any, setting: str) -> None:
    import ipaddress

    from opchat.config import describe_value, expect
    from opchat.i18n import _

    if isinstance(value, bool):
        return
    for item in [value] if isinstance(value, str) else expect(value, list, setting):
        try:
            ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            raise OptionProblem(_("{setting}: {value} is not an IP address or network",
                                  setting=setting, value=describe_value(item))) from None


def _check_greetings(value: Any, setting: str) -> None:
    from opchat.i18n import _

    for prefix, greeting in value.items():
        if not prefix.startswith("/") or not isinstance(greeting, str):
            raise OptionProblem(_('{setting} must be a table like {{ "/pricing" = "Questions '
                                  'about prices?" }}', setting=setting))


def _check_texts(value: Any, setting: str) -> None:
    """``[channels.NAME.texts.LANG]``: the widget's words per language."""
    import difflib

    from opchat.config import expect
    from opchat.i18n import _

    for language, words in value.items():
        at = f"{setting}.{language}"
        if language not in TEXT_LANGUAGES:
            raise OptionProblem(_('unknown language "{setting}": the widget speaks {languages}',
                                  setting=at, languages=", ".join(TEXT_LANGUAGES)), (language,))
        for key, text in expect(words, dict, at, (language,)).items():
            where = (language, key)
            if key not in TEXT_KEYS:
                guess = difflib.get_close_matches(key, TEXT_KEYS, n=1)
                raise OptionProblem(_('unknown text "{setting}"', setting=f"{at}.{key}") + " " + (
                    _('(did you mean "{guess}"?)', guess=guess[0]) if guess
                    else _("(it takes: {keys})", keys=", ".join(TEXT_KEYS))), where)
            if key in LIST_TEXTS:
                for item in expect(text, list, f"{at}.{key}", where):
                    expect(item, str, f"{at}.{key}", where)
            else:
                expect(text, str, f"{at}.{key}", where)


def _check_photo(options: Mapping[str, Any], table: str) -> None:
    from opchat.i18n import _

    path = "/" + str(options.get("path", "")).strip("/") if options.get("path") else ""
    try:
        operator_photo(options.get("operator_photo"), path)
    except ValueError:
        from opchat.config import describe_value

        raise OptionProblem(_("{setting}: {value} is not an http(s) URL nor a path under "
                              "the channel ({path}/...)", setting=f"{table}.operator_photo",
                              value=describe_value(options["operator_photo"]), path=path),
                            ("operator_photo",)) from None


def _added(channel: ChannelSettings) -> list[str]:
    from opchat.i18n import _

    return [_("paste this into your pages (opchat channel snippet {name} prints it again):",
              name=channel.name), snippet(channel)]


OPTIONS = OptionSet((
    Option("listen", "listen", "host:port the widget and its socket are served on"),
    Option("path", "text", "a path prefix, when a proxy serves the chat under one"),
    Option("origin", "any", "the sites whose pages may open the chat", check=_check_origins,
           metavar="URL"),
    Option("public_url", "url", "the address browsers reach the chat at, behind a proxy"),
    Option("allow_no_origin", "flag", "accept sockets that send no Origin (not browsers)"),
    Option("trust_proxy", "any", "reverse proxies whose X-Forwarded-For is believed",
           check=_check_proxies, metavar="ADDRESS"),
    Option("sneak_peek", "flag", "show operators what the visitor is typing"),
    Option("greeting", "text", "the first words the widget shows"),
    Option("greetings", "table", "greetings by page path", check=_check_greetings),
    Option("operator_name", "text", "the name visitors see on replies"),
    Option("operator_photo", "text", "a picture beside that name", metavar="URL"),
    Option("title", "text", "the widget's title"),
    Option("subtitle", "text", "the line under the title"),
    Option("placeholder", "text", "the text in the empty message box"),
    Option("color", "text", "the widget's colour, like #2563eb", metavar="COLOR"),
    Option("offline_form", "flag", "offer a form when nobody is online"),
    Option("callback", "flag", "offer \"call me back\""),
    Option("email_channel", "text", "an email channel: answers to a visitor who left an "
           "address and is no longer on the page go there by e-mail", metavar="CHANNEL"),
    Option("texts", "table", "the widget's words per language", check=_check_texts),
), check=_check_photo, added=_added)
