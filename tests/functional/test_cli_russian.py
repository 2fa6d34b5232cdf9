"""The command line speaks Russian: --lang ru, a Russian locale, or language = "ru"."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.test_cli import cli_env

RUSSIAN = {"LANG": "ru_RU.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": ""}
ENGLISH = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": ""}

# Words that stay as they are in Russian text: names of things, formats, examples.
KEEP = {"opchat", "webchat", "telegram", "whatsapp", "messenger", "instagram", "demo", "email",
        "max", "viber",
        "jsonl", "yaml", "json", "https", "http", "systemd", "botfather", "script", "chat",
        "your", "site", "shop", "example", "host",
        "path", "europe", "berlin", "moscow", "from", "address", "stdin", "utf", "usage",
        "delivery", "conversation", "message",  # values one types
        "store", "url"}  # the config's [store] url


def opchat(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    environ = {**cli_env(tmp_path), "COLUMNS": "80", **(env or {})}
    return subprocess.run([sys.executable, "-m", "opchat", *args], capture_output=True,
                          text=True, env=environ, timeout=60)


def english_words(text: str) -> list[str]:
    """Lower-case English words of a help text that are not options, metavars or names."""
    text = re.sub(r"(SQLite|PostgreSQL|--?[\w-]+|[A-Z][A-Z_]+|\S*[/.:@<>{}=]\S*|'[^']*'"
                  r"|\"[^\"]*\")", " ", text)
    names = {part for command in subcommands() for word in command  # migrate-to: both
             for part in (word, *word.split("-"))}
    return [w for w in re.findall(r"\b[a-z]{3,}\b", text) if w not in KEEP | names]


@functools.cache
def subcommands() -> list[list[str]]:
    from opchat.cli import build_parser

    found: list[list[str]] = [[]]

    def walk(parser, path: list[str]) -> None:
        for action in parser._actions:
            for name, child in getattr(action, "choices", None).items() \
                    if hasattr(action, "_name_parser_map") else ():
                found.append([*path, name])
                walk(child, [*path, name])

    walk(build_parser(), [])
    return found


@pytest.mark.parametrize("command", subcommands(), ids=lambda c: " ".join(c) or "opchat")
def test_every_help_is_russian_and_fits_80_columns(tmp_path: Path, command: list[str]) -> None:
    result = opchat(tmp_path, *command, "--help", env=RUSSIAN)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("использование: opchat"), text
    assert "параметры:" in text  # argparse's own "options:"
    assert not english_words(text), (english_words(text), text)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_help_stays_english_in_an_english_locale(tmp_path: Path) -> None:
    result = opchat(tmp_path, "--help", env=ENGLISH)
    assert result.stdout.startswith("usage: opchat")
    assert "show this help message and exit" in result.stdout


def test_lang_option_wins_over_the_locale(tmp_path: Path) -> None:
    result = opchat(tmp_path, "--lang", "ru", "channel", "--help", env=ENGLISH)
    assert result.stdout.startswith("использование:")
    back = opchat(tmp_path, "--lang", "en", "channel", "--help", env=RUSSIAN)
    assert back.stdout.startswith("usage:")


def test_channel_test_of_an_unknown_channel_in_russian(tmp_path: Path) -> None:
    result = opchat(tmp_path, "--lang", "ru", "channel", "test", "nosuch", env=ENGLISH)
    assert result.returncode == 2
    assert result.stderr == "opchat: нет канала с именем 'nosuch' (каналы: не настроены)\n"


def test_config_language_makes_errors_russian(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('language = "ru"\n', encoding="utf-8")
    result = opchat(tmp_path, "export", env=ENGLISH)
    assert result.returncode == 1
    assert "нет базы данных" in result.stderr and "нечего выгружать" in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["search"], "opchat search: ошибка: нужно указать аргументы: QUERY"),
    (["nosuch"], "недопустимое значение: 'nosuch' (выберите из"),
    (["search", "x", "--limit", "0"], "'0' — не целое число больше 0"),
    (["export", "--nosuch"], "ошибка: непонятные аргументы: --nosuch"),
])
def test_argparse_errors_in_russian(tmp_path: Path, args: list[str], expected: str) -> None:
    result = opchat(tmp_path, *args, env=RUSSIAN)
    assert result.returncode == 2
    assert result.stderr.startswith("использование: opchat")
    assert expected in result.stderr, result.stderr


def test_audit_and_unhide_errors_in_russian(tmp_path: Path) -> None:
    nothing = opchat(tmp_path, "--lang", "ru", "audit")
    assert nothing.returncode == 1
    assert "нет базы данных" in nothing.stderr and "Traceback" not in nothing.stderr
    bad_date = opchat(tmp_path, "--lang", "ru", "audit", "--since", "вчера")
    assert bad_date.returncode == 2 and "'вчера' — не дата" in bad_date.stderr
    assert opchat(tmp_path, "--lang", "ru", "replies", "list").returncode == 0  # a store
    missing = opchat(tmp_path, "--lang", "ru", "audit", "7")
    assert missing.returncode == 1 and missing.stderr == "opchat: нет диалога #7\n"
    unhide = opchat(tmp_path, "--lang", "ru", "unhide", "message", "7")
    assert unhide.returncode == 1 and unhide.stderr == "opchat: нет сообщения #7\n"


def test_audit_lines_in_russian(tmp_path: Path) -> None:
    from tests.functional.test_cli import seed

    seed(tmp_path / "data")
    result = opchat(tmp_path, "--lang", "ru", "audit", env=ENGLISH)
    assert result.returncode == 0, result.stderr
    assert "клиент написал сообщение #1" in result.stdout
    assert "ответ в очереди: сообщение #3" in result.stdout
    assert "новый диалог" in result.stdout
    assert " клиент " in result.stdout  # who: the customer
    as_json = opchat(tmp_path, "--lang", "ru", "audit", "--json", env=ENGLISH)
    assert '"who": "customer"' in as_json.stdout  # for scripts: the same in any language


def test_search_results_say_contact_and_label_in_russian(tmp_path: Path) -> None:
    from tests.functional.test_cli import seed

    seed(tmp_path / "data")
    result = opchat(tmp_path, "--lang", "ru", "search", "Клиент", env=ENGLISH)
    assert result.returncode == 0, result.stderr
    assert "контакт: «Клиент»" in result.stdout and "contact:" not in result.stdout
