"""The channel guides exist in Russian too, and say the same things: the same sections,
the same commands, the same settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
TWINS = ["TELEGRAM.md", "WEBCHAT.md"]  # a guide with its Russian twin in docs/ru/


def blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def commands(text: str) -> set[str]:
    lines = (line.strip() for block in blocks(text) for line in block.splitlines())
    return {line for line in lines if line.startswith("opchat ")}


def settings(text: str) -> set[str]:
    lines = (line.strip() for block in blocks(text) for line in block.splitlines())
    return {found[1] for line in lines if (found := re.match(r"([a-z_]+) = ", line))}


@pytest.mark.parametrize("name", TWINS)
def test_the_russian_guide_keeps_in_step(name: str) -> None:
    english, russian = (DOCS / name).read_text(), (DOCS / "ru" / name).read_text()
    assert f"(ru/{name})" in english and f"(../{name})" in russian  # each links the other
    assert english.count("\n## ") == russian.count("\n## ")
    # The same commands (the Russian guide may show them with --lang ru).
    assert commands(english) == {c.replace("--lang ru ", "") for c in commands(russian)}
    assert settings(english) == settings(russian)
