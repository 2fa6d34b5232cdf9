"""Search over messages, contacts and labels, against real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opchat.inbox import Inbox
from opchat.model import MATCH_END, MATCH_START, InboundMessage
from opchat.store import DB_FILENAME, fts_query
from opchat.store.search import contact_query
from tests.backends import on_postgres, raw

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)

M0, M1 = MATCH_START, MATCH_END


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def inbox(tmp_path: Path):
    clock = Clock()
    box = await Inbox.open(tmp_path, "anna", clock=clock)
    await box.store.channels.ensure("tg", "telegram")
    await box.store.channels.ensure("wa", "whatsapp")
    box.test_clock = clock  # type: ignore[attr-defined]
    yield box
    await box.close()


async def say(inbox: Inbox, n: int, body: str, chat: str = "ivan", name: str = "Иван Петров",
              channel: str = "tg", **kw) -> int:
    inbox.test_clock.now += 60  # type: ignore[attr-defined]
    got = await inbox.store.inbound.ingest(InboundMessage(
        channel=channel, chat_id=chat, external_id=f"{chat}-{n}", sender_id=f"u-{chat}",
        sender_name=name, body=body, **kw))
    return got.message_id


def sql(tmp_path: Path, statement: str, *params: object) -> None:
    raw(tmp_path, statement, params)


# Messages --------------------------------------------------------------------------------


async def test_russian_and_english_words_by_prefix_in_any_case(inbox: Inbox) -> None:
    ru = await say(inbox, 1, "Здравствуйте! Где мой ЗАКАЗ номер 5? Доставка опаздывает")
    en = await say(inbox, 2, "Hello, my DELIVERY is late, order #4411", chat="john", name="John")
    results = await inbox.search_all("заказ")
    assert [h.message_id for h in results.messages] == [ru]
    assert f"{M0}ЗАКАЗ{M1}" in results.messages[0].snippet
    assert [h.message_id for h in (await inbox.search_all("ЗАК ДОСТ")).messages] == [ru]
    assert [h.message_id for h in (await inbox.search_all("deliv")).messages] == [en]
    hit = (await inbox.search_all("Deliv Ord")).messages[0]
    assert f"{M0}DELIVERY{M1}" in hit.snippet and f"{M0}order{M1}" in hit.snippet
    assert hit.contact_name == "John" and hit.channel_name == "tg"
    # Every word must match: one that is nowhere gives nothing.
    assert (await inbox.search_all("заказ pizza")).messages == ()
    # A word in the middle of another is not a prefix.
    assert (await inbox.search_all("аказ")).messages == ()


async def test_newest_messages_first_and_the_limit(inbox: Inbox) -> None:
    ids = [await say(inbox, n, f"ticket {n}") for n in range(30)]
    hits = (await inbox.search_all("ticket", limit=10)).messages
    assert [h.message_id for h in hits] == ids[::-1][:10]


@pytest.mark.parametrize("query", ['"', "*", "NEAR(", "AND", "OR NOT", '"a" OR', "^", ":",
                                   "col:umn", "((", "-", "a*b", "NEAR(a b, 2)", "'", ";--"])
async def test_fts_syntax_is_searched_literally_and_never_fails(
    inbox: Inbox, query: str
) -> None:
    await say(inbox, 1, 'the words " and * and NEAR( and AND are text here')
    results = await inbox.search_all(query)  # never raises
    assert await inbox.search(query) == list(results.messages)


async def test_fts_words_are_found_as_text(inbox: Inbox) -> None:
    text = await say(inbox, 1, "We ship NEAR Moscow AND Kazan, OR NOT")
    await say(inbox, 2, "nothing to see")
    for query in ("NEAR(", "AND", "or not", '"near"', "near*", "kazan)"):
        assert [h.message_id for h in (await inbox.search_all(query)).messages] == [text], query
    assert fts_query('NEAR( "x" *') == '"NEAR"* "x"*'


async def test_hidden_messages_and_hidden_conversations_are_never_found(
    tmp_path: Path, inbox: Inbox
) -> None:
    shown = await say(inbox, 1, "секретный промокод один")
    hidden = await say(inbox, 2, "секретный промокод два")
    sql(tmp_path, "UPDATE messages SET hidden = 1 WHERE id = ?", hidden)
    assert [h.message_id for h in (await inbox.search_all("промокод")).messages] == [shown]
    assert [h.message_id for h in await inbox.search("промокод")] == [shown]
    other = await say(inbox, 1, "промокод в скрытом диалоге", chat="oleg", name="Oleg")
    assert other in [h.message_id for h in await inbox.search("промокод")]
    sql(tmp_path, "UPDATE conversations SET hidden = 1 WHERE id = "
        "(SELECT conversation_id FROM messages WHERE id = ?)", other)
    assert [h.message_id for h in await inbox.search("промокод")] == [shown]


async def test_a_body_with_marker_characters_cannot_forge_a_highlight(inbox: Inbox) -> None:
    await say(inbox, 1, f"refund {M0}FAKE{M1} please")
    [hit] = (await inbox.search_all("refund")).messages
    assert M0 not in hit.snippet and M1 not in hit.snippet  # no highlight rather than a lie
    assert "FAKE" in hit.snippet


async def test_empty_and_punctuation_queries_find_nothing(inbox: Inbox) -> None:
    await say(inbox, 1, "hello")
    for query in ("", "   ", "...", '"', "*"):
        assert len(await inbox.search_all(query)) == 0, query


# Contacts --------------------------------------------------------------------------------


async def test_contact_by_name_in_any_case_and_by_part(inbox: Inbox) -> None:
    await say(inbox, 1, "добрый день", chat="maria", name="Мария Ёлкина")
    await say(inbox, 1, "hi", chat="john", name="John Smith")
    [hit] = (await inbox.search_all("мария")).contacts
    assert hit.name == f"{M0}Мария{M1} Ёлкина"
    assert [h.name for h in (await inbox.search_all("ЁЛКИН")).contacts] == [
        f"Мария {M0}Ёлкин{M1}а"]
    assert [h.name for h in (await inbox.search_all("smith")).contacts] == [
        f"John {M0}Smith{M1}"]
    assert (await inbox.search_all("mit")).contacts[0].name == f"John S{M0}mit{M1}h"
    assert (await inbox.search_all("nobody")).contacts == ()


async def test_contact_by_phone_written_any_way(inbox: Inbox) -> None:
    first = await say(inbox, 1, "hello", chat="p", name="Pavel", channel="wa",
                      phone="+7 (916) 123-45-67")
    conversation_id = (await inbox.message(first)).conversation_id
    for query in ("+7 916 123-45-67", "79161234567", "89161234567", "8 916 123", "9161234567",
                  "123-45-67", "(916)"):
        hits = (await inbox.search_all(query)).contacts
        assert [h.conversation_id for h in hits] == [conversation_id], query
    hit = (await inbox.search_all("123 45")).contacts[0]
    assert hit.phone == f"+7 (916) {M0}123-45{M1}-67"
    assert (await inbox.search_all("555 12")).contacts == ()


async def test_contact_by_email(inbox: Inbox) -> None:
    await say(inbox, 1, "hello", chat="e", name="Eva", email="Eva.Klein@Example.org")
    [hit] = (await inbox.search_all("eva.klein@example")).contacts
    assert hit.email == f"{M0}Eva.Klein@Example{M1}.org"
    assert hit.name == "Eva"
    assert [h.email for h in (await inbox.search_all("EXAMPLE.ORG")).contacts] == [
        f"Eva.Klein@{M0}Example.org{M1}"]


async def test_a_contact_match_opens_their_newest_conversation(inbox: Inbox) -> None:
    await say(inbox, 1, "first", chat="anna-tg", name="Anna Berg", channel="tg")
    newer = await say(inbox, 1, "second", chat="anna-wa", name="Anna Berg", channel="wa")
    # The second identity started a second contact; make it one person's two dialogs.
    conn_id = (await inbox.message(newer)).conversation_id
    first_contact = (await inbox.conversations())[-1].contact_id
    await inbox.store.db.write(lambda conn: conn.execute(
        "UPDATE conversations SET contact_id = ? WHERE id = ?", (first_contact, conn_id)))
    hits = [h for h in (await inbox.search_all("anna berg")).contacts
            if h.contact_id == first_contact]
    assert [(h.conversation_id, h.channel_name) for h in hits] == [(conn_id, "wa")]


async def test_contacts_follow_changes_to_name_phone_and_email(inbox: Inbox) -> None:
    await say(inbox, 1, "hello", chat="x", name="Old Name")
    contact_id = (await inbox.conversations())[0].contact_id
    await inbox.store.db.write(lambda conn: conn.execute(
        "UPDATE contacts SET name = 'Новое Имя', phone = '+44 20 7946 0958' WHERE id = ?",
        (contact_id,)))
    assert (await inbox.search_all("old name")).contacts == ()
    assert [h.contact_id for h in (await inbox.search_all("новое")).contacts] == [contact_id]
    assert [h.contact_id for h in (await inbox.search_all("7946 0958")).contacts] == [
        contact_id]


async def test_merged_contacts_and_hidden_conversations_are_not_contact_hits(
    tmp_path: Path, inbox: Inbox
) -> None:
    await say(inbox, 1, "hello", chat="a", name="Zoe Merged")
    await say(inbox, 1, "hello", chat="b", name="Zoe Hidden")
    by_name = {c.contact_name: c for c in await inbox.conversations()}
    sql(tmp_path, "UPDATE contacts SET merged_into = ? WHERE id = ?",
        by_name["Zoe Hidden"].contact_id, by_name["Zoe Merged"].contact_id)
    sql(tmp_path, "UPDATE conversations SET hidden = 1 WHERE id = ?", by_name["Zoe Hidden"].id)
    assert (await inbox.search_all("zoe")).contacts == ()


async def test_short_pieces_do_not_search_contacts() -> None:
    assert contact_query("an") == ""
    assert contact_query("an ber") == '"ber"'
    assert contact_query('NEAR( "x') == '"NEAR("'
    assert contact_query('"x" AND') == '"""x""" "AND"'
    assert contact_query('a"b"c') == '"a""b""c"'
    assert contact_query("+7 916") == '"7916"'
    assert contact_query("8 916 12") == '"891612" OR "91612"'


# Labels ----------------------------------------------------------------------------------


async def test_a_label_match_lists_the_labelled_conversations(inbox: Inbox) -> None:
    await say(inbox, 1, "a", chat="c1", name="One", labels=("Срочно",))
    await say(inbox, 1, "b", chat="c2", name="Two")
    await say(inbox, 1, "c", chat="c3", name="Three", labels=("срочно", "VIP клиент"))
    hits = (await inbox.search_all("СРОЧ")).labels
    # SQLite's NOCASE folds only ASCII: two labels. PostgreSQL's citext folds every
    # alphabet: one label, named as it was first written.
    three = "Срочно" if on_postgres() else "срочно"
    assert [(h.contact_name, h.label) for h in hits] == [
        ("Three", f"{M0}{three}{M1}"), ("One", f"{M0}Срочно{M1}")]  # most recent first
    hits = (await inbox.search_all("клиент")).labels
    assert [(h.contact_name, h.label) for h in hits] == [("Three", f"VIP {M0}клиент{M1}")]
    assert (await inbox.search_all("лиент")).labels == ()  # words by their start
    assert (await inbox.search_all("vip срочно")).labels == ()  # no single label has both


async def test_results_come_together(inbox: Inbox) -> None:
    await say(inbox, 1, "Курьер Борис привёз не то", chat="k", name="Борис Котов",
              labels=("борис-проверить",))
    results = await inbox.search_all("борис")
    assert len(results.contacts) == 1 and len(results.labels) == 1
    assert len(results.messages) == 1
    assert len(results) == 3


# Paging a thread from a found message -----------------------------------------------------


async def test_messages_newer_pages_forward_without_hidden_ones(
    tmp_path: Path, inbox: Inbox
) -> None:
    ids = [await say(inbox, n, f"m{n}") for n in range(10)]
    sql(tmp_path, "UPDATE messages SET hidden = 1 WHERE id = ?", ids[4])
    conversation_id = (await inbox.message(ids[0])).conversation_id
    page = await inbox.messages_newer(conversation_id, ids[2], limit=3)
    assert [m.id for m in page] == [ids[3], ids[5], ids[6]]
    assert await inbox.messages_newer(conversation_id, ids[9]) == []


@pytest.mark.sqlite_only
async def test_existing_databases_get_their_contacts_indexed(tmp_path: Path) -> None:
    """Migration 3 indexes the contacts a version-2 database already holds."""
    from opchat.store.schema import MIGRATIONS, _statements

    conn = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'tg', 'tg', 0)")
    conn.execute("INSERT INTO contacts (id, name, phone, created_at) "
                 "VALUES (1, 'Пётр Старый', '+7 900 000-11-22', 0)")
    conn.execute("INSERT INTO conversations (id, channel_id, chat_id, contact_id, "
                 "last_message_at, created_at) VALUES (1, 1, 'p', 1, 0, 0)")
    conn.close()
    box = await Inbox.open(tmp_path, "anna")
    try:
        assert [h.contact_id for h in (await box.search_all("старый")).contacts] == [1]
        assert [h.contact_id for h in (await box.search_all("9000001122")).contacts] == [1]
    finally:
        await box.close()
