"""The widget's words: the config's texts table is checked, and names what is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opchat.config import ChannelSettings, ConfigError, Settings, check_channel, load_settings
from opchat.transports.webchat.channel import STATIC
from opchat.transports.webchat.options import TEXT_KEYS, TEXT_LANGUAGES


def check_options(options: dict[str, object]) -> None:
    check_channel(ChannelSettings("site", "webchat", options),
                  Settings(config_path=Path("config.toml"), data_dir=Path("data")))


@pytest.mark.parametrize(("texts", "named"), [
    ({"ru": {"titel": "Напишите нам"}}, '"channels.site.texts.ru.titel"'),
    ({"de": {"title": "Hallo"}}, '"channels.site.texts.de"'),
    ({"ru": "Напишите нам"}, "texts.ru"),
    ({"en": {"title": 5}}, "texts.en.title"),
    ({"en": {"times": "soon"}}, "texts.en.times"),
    ("ru", "texts"),
])
def test_a_wrong_text_is_an_error_naming_it(texts: object, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        check_options({"texts": texts})


def test_good_texts_pass() -> None:
    check_options({"texts": {"ru": {"title": "Напишите нам", "times": ["утром"]},
                             "en": {"greeting": "Hi!"}}})


def test_the_widget_has_every_text_in_every_language() -> None:
    script = (STATIC / "widget.js").read_text(encoding="utf-8")
    words = script[script.index("var WORDS = {"):script.index("// The first of the browser")]
    for language in TEXT_LANGUAGES:
        block = words[words.index(f"    {language}: {{"):]
        block = block[:block.index("\n    }")]
        keys = re.findall(r"(?:^|[{,]\s*)([a-z_]+):", block, re.M)
        assert sorted(keys) == sorted(TEXT_KEYS), language


CONFIG = '''[channels.site]
kind = "webchat"
title = "Chat with us"

[channels.site.texts.ru]
title = "Напишите нам"
{extra}
'''


@pytest.mark.parametrize(("extra", "line", "named"), [
    ('titel = "Напишите"', 7, '"channels.site.texts.ru.titel"'),
    ('times = "утром"', 7, "channels.site.texts.ru.times"),
    ('[channels.site.texts.de]\ntitle = "Hallo"', 7, '"channels.site.texts.de"'),
])
def test_the_config_file_names_the_wrong_text_and_its_line(
    tmp_path: Path, extra: str, line: int, named: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, tmp_path / "data")
    assert caught.value.line == line and named in caught.value.problem


def test_the_config_file_takes_texts(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra='times = ["утром", "вечером"]'), encoding="utf-8")
    [channel] = load_settings(path, tmp_path / "data").channels
    assert channel.options["texts"] == {"ru": {"title": "Напишите нам",
                                               "times": ["утром", "вечером"]}}
