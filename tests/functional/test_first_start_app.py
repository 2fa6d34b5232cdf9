"""The app's first real start: an empty inbox says what to do next, at 80×24, in both
languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat.config import ChannelSettings, Settings
from opchat.i18n import set_language
from opchat.widgets.conversation_list import ConversationList
from tests.functional.conftest import Clock, make_app, rendered_text, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")


@pytest.mark.parametrize(("language", "words"), [
    ("en", ("No conversations yet", "Add a channel: opchat channel", "README")),
    ("ru", ("Диалогов пока нет", "Добавить канал: opchat channel", "README")),
])
async def test_an_empty_inbox_says_what_to_do_next(tmp_path: Path, clock: Clock,
                                                   language: str, words: tuple[str, ...]) -> None:
    set_language(language)
    settings = Settings(config_path=tmp_path / "config.toml", data_dir=tmp_path,
                        channels=[ChannelSettings("web", "webchat", {})])
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.loaded, what="the list to load")
        await pilot.pause()
        text = rendered_text(conversations)
        for word in words:
            assert word in text, text
        assert "127.0.0.1:8765" in text, text
        width = conversations.scrollable_content_region.width
        assert all(len(line.rstrip()) <= width for line in text.splitlines())


@pytest.mark.parametrize("language", ["en", "ru"])
def test_with_a_messenger_configured_it_suggests_another_channel_not_telegram_again(
        language: str) -> None:
    from opchat.first_start import next_steps

    set_language(language)
    web = ChannelSettings("web", "webchat", {})
    only_web = " ".join(next_steps([web]))
    with_bot = " ".join(next_steps([web, ChannelSettings("shop", "telegram", {})]))
    assert "channel add telegram" in only_web
    assert "channel add telegram" not in with_bot
    assert ("channel add KIND" if language == "en" else "channel add ВИД") in with_bot
    assert "127.0.0.1:8765" in with_bot  # the web chat's address still said
