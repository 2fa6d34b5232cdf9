"""The README and the channel guides exist in Russian too, and say the same things: the
same sections, the same commands, the same settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
# Guides with their Russian twins in docs/ru/
TWINS = ["TELEGRAM.md", "WEBCHAT.md", "WHATSAPP.md", "META.md", "VK.md", "EMAIL.md", "MAX.md",
         "VIBER.md", "API.md", "POSTGRESQL.md"]
# (English, Russian, how the English links the Russian, how the Russian links the English)
PAIRS = [
    (DOCS / name, DOCS / "ru" / name, f"(ru/{name})", f"(../{name})") for name in TWINS
] + [(ROOT / "README.md", DOCS / "ru" / "README.md", "(docs/ru/README.md)", "(../../README.md)")]


def blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def commands(text: str) -> set[str]:
    """Every `opchat …` line of the code blocks, without its comment (comments are translated)."""
    lines = (line.split(" #")[0].strip() for block in blocks(text) for line in block.splitlines())
    return {line for line in lines if line.startswith("opchat ")}


def settings(text: str) -> set[str]:
    lines = (line.strip() for block in blocks(text) for line in block.splitlines())
    return {found[1] for line in lines if (found := re.match(r"([a-z_]+) = ", line))}


@pytest.mark.parametrize(
    ("english_path", "russian_path", "to_russian", "to_english"),
    PAIRS,
    ids=[str(english.relative_to(ROOT)) for english, *_ in PAIRS],
)
def test_the_russian_twin_keeps_in_step(
    english_path: Path, russian_path: Path, to_russian: str, to_english: str
) -> None:
    english, russian = english_path.read_text(), russian_path.read_text()
    assert to_russian in english and to_english in russian  # each links the other
    assert english.count("\n## ") == russian.count("\n## ")
    # The same commands (the Russian text may show them with --lang ru).
    assert commands(english) == {c.replace("--lang ru ", "") for c in commands(russian)}
    assert settings(english) == settings(russian)

