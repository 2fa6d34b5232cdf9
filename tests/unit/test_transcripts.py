"""Transcripts: the [transcripts] table, and the text a customer gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat import transcript
from opchat.config import ConfigError, TranscriptSettings, load_settings
from opchat.model import Attachment, Conversation, Direction, Message, MessageState, Status

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

MAIL = '[channels.mail]\nkind = "email"\nimap_host = "imap.example"\nsmtp_host = "smtp.example"\n' \
       'user = "s@example.com"\npassword = "x"\n'


def settings_from(tmp_path: Path, text: str):
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path / "config.toml", tmp_path)


def test_the_table_read(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, MAIL + '[transcripts]\nchannel = "mail"\n'
                                              'on_resolve = true\n')
    assert settings.transcripts == TranscriptSettings("mail", on_resolve=True)


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[transcripts]\non_resolve = true\n', 7, '[transcripts] needs channel = "NAME"'),
    ('[transcripts]\nchannel = "shop"\n', 8,
     'transcripts.channel: "shop" is not an email channel (email channels: mail)'),
    ('[transcripts]\nchannel = "mail"\nsend = true\n', 9, "transcripts.send"),
    ('[transcripts]\nchannel = "mail"\non_resolve = "yes"\n', 9,
     'transcripts.on_resolve must be true or false'),
])
def test_mistakes_name_file_line_and_key(tmp_path: Path, text: str, line: int,
                                         words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, MAIL + text)
    assert (caught.value.line, words in caught.value.problem) == (line, True), caught.value


def test_the_text_is_what_the_customer_saw() -> None:
    t0 = 1_741_953_600.0  # 2025-03-14 12:00 UTC
    dialog = Conversation(1, 1, "tg", "telegram", 1, "Ivan", Status.OPEN, 0, None, t0,
                          "", Direction.IN, created_at=t0)

    def message(n: int, direction: Direction, body: str, **more: object) -> Message:
        return Message(n, 1, direction, "anna", body, t0 + 60 * n, MessageState.SENT,
                       **more)  # type: ignore[arg-type]

    messages = [
        message(0, Direction.IN, "Where is my order?"),
        message(1, Direction.NOTE, "VIP, be kind"),
        message(2, Direction.OUT, "It left today.\nTracking: 123",
                attachments=(Attachment("document", "invoice.pdf", "application/pdf", 10,
                                        "r"),)),
        message(3, Direction.AUTO, "How did we do?", meta={"rating_asked": True}),
    ]
    text = transcript.text(dialog, messages, "ru", zone=None)
    assert "VIP" not in text and "How did we do?" not in text
    assert "Ivan:\n  Where is my order?" in text
    assert "anna:\n  It left today.\n  Tracking: 123\n  [файл: invoice.pdf]" in text
    assert text.startswith("Вот наша переписка")
    assert transcript.subject(dialog, "en").startswith("Your conversation with us, ")


def test_a_web_chat_answers_by_mail_through_an_email_channel(tmp_path: Path) -> None:
    site = '[channels.site]\nkind = "webchat"\nemail_channel = "mail"\n'
    settings = settings_from(tmp_path, MAIL + site)
    [web] = [c for c in settings.channels if c.name == "site"]
    assert web.options["email_channel"] == "mail"
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, MAIL + site.replace('"mail"', '"site"'))
    assert caught.value.line == 9
    assert ('channels.site.email_channel: "site" is not an email channel (email channels: '
            'mail)') in caught.value.problem
