"""The one catalogue all UI text goes through.

Message ids are the English text itself, so English needs no catalogue and a
missing translation falls back to readable English. Translations live in
`opchat.locales.<code>` as `MESSAGES` and `PLURALS`; a test walks the source
and fails on any `_()` / `ngettext()` literal that has no Russian entry.

Callers::

    from opchat.i18n import _, ngettext

    _("Send")
    _("{name} is typing…", name=contact_name)   # name: run it through sanitize
    ngettext("{n} unread", "{n} unread", count)

The language is process-wide: the CLI calls `set_language()` once, before
the first screen is built. Until then everything is English.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping

__all__ = [
    "SUPPORTED_LANGUAGES",
    "_",
    "current_language",
    "english_plural",
    "ngettext",
    "normalize_language",
    "plural_index",
    "russian_plural",
    "set_language",
]

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ru")

# The POSIX order of precedence for the message locale, then GNU's LANGUAGE
# (a colon-separated list of preferences) for systems that only set that.
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")

_language = "en"
_messages: dict[str, str] = {}
_plurals: dict[str, tuple[str, ...]] = {}


def normalize_language(value: str) -> str | None:
    """The supported language code a locale name means, else None.

    Accepts "ru", "RU", "ru_RU.UTF-8", "ru-RU", "ru_RU@euro"; "C" and
    "POSIX" mean English.
    """
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    if code in ("c", "posix"):
        return "en"
    return code if code in SUPPORTED_LANGUAGES else None


def _language_from_environment(environ: Mapping[str, str]) -> str:
    for variable in _LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if not value:
            continue
        if variable == "LANGUAGE":
            for preference in value.split(":"):
                code = normalize_language(preference)
                if code is not None:
                    return code
            return "en"
        return normalize_language(value) or "en"
    return "en"


def set_language(lang: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Choose the UI language and return its code ("en" or "ru").

    An explicit `lang` wins (a language opchat has no catalogue for means
    English); with None or "" the locale environment decides.
    """
    global _language, _messages, _plurals
    if lang:
        code = normalize_language(lang) or "en"
    else:
        code = _language_from_environment(os.environ if environ is None else environ)
    if code == "en":
        messages: dict[str, str] = {}
        plurals: dict[str, tuple[str, ...]] = {}
    else:
        catalogue = importlib.import_module(f"opchat.locales.{code}")
        messages, plurals = catalogue.MESSAGES, catalogue.PLURALS
    _language, _messages, _plurals = code, messages, plurals
    return code


def current_language() -> str:
    """The code chosen by the last `set_language()` ("en" before any)."""
    return _language


def _(msgid: str, /, **kwargs: object) -> str:
    """Translate `msgid`, then fill its {placeholders} from `kwargs`."""
    text = _messages.get(msgid, msgid)
    return text.format(**kwargs) if kwargs else text


def english_plural(n: int) -> int:
    """Index of the English plural form for `n`: 0 singular, 1 plural."""
    return 0 if n == 1 else 1


def russian_plural(n: int) -> int:
    """Index of the Russian plural form for `n`: 0 one, 1 few, 2 many."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


_PLURAL_RULES: dict[str, Callable[[int], int]] = {
    "en": english_plural,
    "ru": russian_plural,
}


def plural_index(n: int, language: str | None = None) -> int:
    """Which of a language's plural forms `n` takes (current language by default)."""
    return _PLURAL_RULES[language or _language](n)


def ngettext(singular: str, plural: str, n: int, /, **kwargs: object) -> str:
    """Translate the form of a counted message that fits `n`, filling {n} and `kwargs`.

    Without a translation the English rule picks `singular` or `plural`.
    """
    forms = _plurals.get(singular)
    if forms is None:
        text = singular if english_plural(n) == 0 else plural
    else:
        text = forms[plural_index(n)]
    return text.format(n=n, **kwargs)
