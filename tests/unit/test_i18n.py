import ast
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import opchat
from opchat.i18n import _, current_language, ngettext, russian_plural, set_language
from opchat.locales import ru

SOURCE_ROOT = Path(opchat.__file__).parent


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


@pytest.mark.parametrize(
    ("n", "form"),
    [
        (0, 2),
        (1, 0),
        (2, 1),
        (5, 2),
        (11, 2),
        (12, 2),
        (14, 2),
        (21, 0),
        (22, 1),
        (25, 2),
        (111, 2),
        (112, 2),
        (101, 0),
        (104, 1),
    ],
)
def test_russian_plural_rule(n: int, form: int) -> None:
    assert russian_plural(n) == form


def test_russian_plural_forms_in_use() -> None:
    set_language("ru")
    assert [ngettext("{n} waiting", "{n} waiting", n) for n in (1, 2, 5, 21)] == [
        "1 ждёт",
        "2 ждут",
        "5 ждут",
        "21 ждёт",
    ]
    assert ngettext("{n} unread", "{n} unread", 3) == "3 непрочитанных"


def test_english_plural() -> None:
    set_language("en")
    assert ngettext("{n} chat", "{n} chats", 1) == "1 chat"
    assert ngettext("{n} chat", "{n} chats", 0) == "0 chats"
    assert ngettext("{n} chat of {who}", "{n} chats of {who}", 2, who="Ann") == "2 chats of Ann"


def test_untranslated_text_falls_back_to_english() -> None:
    set_language("ru")
    assert _("A string nobody translated") == "A string nobody translated"
    assert ngettext("{n} apple", "{n} apples", 5) == "5 apples"


def test_translation_and_formatting() -> None:
    assert _("Send") == "Send"
    assert _("{name} is typing…", name="Ann") == "Ann is typing…"
    set_language("ru")
    assert _("Send") == "Отправить"
    assert _("{name} is typing…", name="Аня") == "Аня печатает…"


@pytest.mark.parametrize(
    ("lang", "environ", "expected"),
    [
        ("ru", {"LANG": "en_US.UTF-8"}, "ru"),
        ("en", {"LANG": "ru_RU.UTF-8"}, "en"),
        ("ru_RU.UTF-8", {}, "ru"),
        ("RU", {}, "ru"),
        ("de", {"LANG": "ru_RU.UTF-8"}, "en"),
        (None, {"LANG": "ru_RU.UTF-8"}, "ru"),
        (None, {"LC_ALL": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}, "en"),
        (None, {"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
        (None, {"LC_ALL": "", "LANG": "ru_RU.UTF-8"}, "ru"),
        (None, {"LANGUAGE": "uk:ru:en"}, "ru"),
        (None, {"LANG": "C"}, "en"),
        (None, {}, "en"),
        ("", {"LANG": "ru_RU"}, "ru"),
    ],
)
def test_set_language(lang: str | None, environ: dict[str, str], expected: str) -> None:
    assert set_language(lang, environ=environ) == expected
    assert current_language() == expected


def test_set_language_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert set_language(None) == "ru"


# --- The catalogue covers the source ---------------------------------------------


def _calls_in(source: str) -> Iterator[tuple[str, str, int]]:
    """(function, msgid, line) for every `_("...")` / `ngettext("...", ...)` in `source`."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
        elif isinstance(func, ast.Attribute):
            name = func.attr
        else:
            continue
        first = node.args[0]
        if name in ("_", "ngettext") and isinstance(first, ast.Constant):
            if isinstance(first.value, str):
                yield name, first.value, node.lineno


def _translated_literals() -> Iterator[tuple[str, str, str]]:
    """(function, msgid, "file:line") for every translated literal under opchat/."""
    for path in sorted(SOURCE_ROOT.rglob("*.py")):
        for function, msgid, line in _calls_in(path.read_text(encoding="utf-8")):
            yield function, msgid, f"{path.relative_to(SOURCE_ROOT.parent)}:{line}"


def test_every_ui_string_in_the_source_has_a_russian_translation() -> None:
    missing = []
    for function, msgid, where in _translated_literals():
        catalogue = ru.PLURALS if function == "ngettext" else ru.MESSAGES
        if msgid not in catalogue:
            missing.append(f"{where}: {function}({msgid!r})")
    assert not missing, "add these to opchat/locales/ru.py:\n" + "\n".join(missing)


def _placeholders(text: str) -> set[str]:
    names = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


@pytest.mark.parametrize("msgid", sorted(ru.MESSAGES))
def test_translation_keeps_the_placeholders(msgid: str) -> None:
    assert _placeholders(ru.MESSAGES[msgid]) == _placeholders(msgid)


@pytest.mark.parametrize("singular", sorted(ru.PLURALS))
def test_plural_translation_keeps_the_placeholders(singular: str) -> None:
    forms = ru.PLURALS[singular]
    assert len(forms) == 3
    # Every Russian form serves many numbers (the "one" form also 21, 31...),
    # so each must show {n}.
    for form in forms:
        assert _placeholders(form) == _placeholders(singular) | {"n"}


def test_seed_catalogue() -> None:
    seeded = [
        "Conversations",
        "No conversations yet",
        "Select a conversation",
        "Type a message…",
        "Send",
        "Quick replies",
        "Help",
        "Quit",
        "queued",
        "sent",
        "delivered",
        "read",
        "failed",
        "open",
        "pending",
        "snoozed",
        "resolved",
        "waiting",
        "Retry",
        "Newline",
        "You",
        "{name} is typing…",
    ]
    assert set(seeded) <= set(ru.MESSAGES)
    assert {"{n} waiting", "{n} unread"} <= set(ru.PLURALS)
    assert ru.PLURALS["{n} waiting"] == ("{n} ждёт", "{n} ждут", "{n} ждут")


def test_the_source_walk_finds_calls() -> None:
    # Guards against the walk silently finding nothing (and so passing).
    source = '_("Send")\nlabel = i18n._("Help")\nngettext("{n} unread", "{n} unread", 2)\n_(name)\n'
    assert list(_calls_in(source)) == [
        ("_", "Send", 1),
        ("_", "Help", 2),
        ("ngettext", "{n} unread", 3),
    ]


def test_every_channel_options_help_has_a_russian_translation() -> None:
    from opchat.transports import COMMON_OPTIONS, available_kinds, channel_options

    declared = [COMMON_OPTIONS, *(channel_options(kind) for kind in available_kinds())]
    missing = [option.help for options in declared if options is not None
               for option in options.options if option.help and option.help not in ru.MESSAGES]
    assert not missing, "add these to opchat/locales/ru.py:\n" + "\n".join(missing)
