"""SQLite's indexes of the messages' text (migration 15) and of the contacts (17) follow the
commits in groups, and a search catches them up first, so it never misses a stored message
or customer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import opchat.store.later as later_module
from opchat.model import InboundMessage
from opchat.store import DB_FILENAME, Store
from opchat.store.db import Database
from tests.channels import holds, until


def message(n: int, body: str) -> InboundMessage:
    return InboundMessage(channel="tg", chat_id=f"chat-{n % 3}", external_id=f"m-{n}",
                          sender_id=f"u-{n % 3}", sender_name=f"Customer {n % 3}", body=body)


def indexed_upto(tmp_path: Path, index: str = "messages_fts") -> int:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        return conn.execute(f"SELECT upto FROM {index}_progress").fetchone()[0]
    finally:
        conn.close()


def contacts_upto(tmp_path: Path) -> int:
    return indexed_upto(tmp_path, "contacts_fts")


def raw(tmp_path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


async def open_store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path)
    await store.channels.ensure("tg", "telegram")
    return store


async def test_a_search_finds_a_message_its_own_commit_did_not_index(
        tmp_path: Path, no_catch_up_by_itself: None) -> None:
    store = await open_store(tmp_path)
    try:
        first = (await store.inbound.ingest(message(1, "Где мой заказ?"))).message_id
        assert indexed_upto(tmp_path) < first  # not in the message's transaction
        hits = await store.search.find("заказ")
        assert [h.message_id for h in hits] == [first]
        assert indexed_upto(tmp_path) >= first
        second = (await store.inbound.ingest(message(2, "заказ номер 7"))).message_id
        results = await store.search.find_all("заказ")
        assert [h.message_id for h in results.messages] == [second, first]
    finally:
        await store.close()


async def test_a_stream_of_messages_is_indexed_within_later_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No transaction of its own: the catch-up rides the first write after the delay."""
    monkeypatch.setattr(later_module, "DELAY", 0.01)
    monkeypatch.setattr(later_module, "ALONE", 3600.0)
    store = await open_store(tmp_path)
    try:
        first = (await store.inbound.ingest(message(1, "доставка 1"))).message_id
        await until(lambda: holds(store.search.later._ride_soon is None),  # the delay has passed
                    "the catch-up was never asked for", 10.0)
        assert indexed_upto(tmp_path) < first
        statements: list[str] = []
        store.db.trace(lambda _conn, sql: statements.append(sql))
        second = (await store.inbound.ingest(message(2, "доставка 2"))).message_id
        store.db.trace(None)
        assert indexed_upto(tmp_path) >= second  # in the second message's transaction
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
        assert store.search.later._alone_later is None  # nothing left to run alone
    finally:
        await store.close()


async def test_with_no_write_after_them_messages_are_indexed_alone_and_then_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(later_module, "DELAY", 0.01)
    monkeypatch.setattr(later_module, "ALONE", 0.05)
    store = await open_store(tmp_path)
    try:
        ids = [(await store.inbound.ingest(message(n, f"доставка {n}"))).message_id
               for n in range(20)]
        await until(lambda: holds(indexed_upto(tmp_path) >= ids[-1]),
                    "the index did not catch up", 10.0)
        if store.search.later._running is not None:
            await store.search.later._running
        # Its own commit stored no message: nothing is due while nothing happens.
        assert store.search.later._ride_soon is None and store.search.later._alone_later is None
        assert store.db._riders == []
        assert len(await store.search.find("доставка")) == 20
    finally:
        await store.close()


async def test_an_edited_message_is_found_by_its_new_words_indexed_or_not(
        tmp_path: Path, no_catch_up_by_itself: None) -> None:
    store = await open_store(tmp_path)
    try:
        old = (await store.inbound.ingest(message(1, "красный шарик"))).message_id
        assert await store.search.catch_up() == 2  # the message and its new customer
        new = (await store.inbound.ingest(message(2, "красный мяч"))).message_id
        assert indexed_upto(tmp_path) < new
        # Edited by another program: one already indexed, one not yet.
        raw(tmp_path, "UPDATE messages SET body = 'синий шарик' WHERE id = ?", old)
        raw(tmp_path, "UPDATE messages SET body = 'синий мяч' WHERE id = ?", new)
        assert [h.message_id for h in await store.search.find("синий")] == [new, old]
        assert await store.search.find("красный") == []
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        # FTS5's own check of the index against the messages: fails if they differ.
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        # Each word of each message in the index once: the edit of the message not yet
        # indexed did not index it a first time, before the catch-up did.
        conn.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, messages_fts, "
                     "instance)")
        assert conn.execute("SELECT doc, term, count(*) FROM temp.words GROUP BY doc, term "
                            "HAVING count(*) > 1").fetchall() == []
        assert sorted(conn.execute("SELECT doc, term FROM temp.words")) == [
            (old, "синий"), (old, "шарик"), (new, "мяч"), (new, "синий")]
    finally:
        conn.close()


async def test_a_process_gone_before_indexing_leaves_nothing_unfound(
        tmp_path: Path, no_catch_up_by_itself: None) -> None:
    store = await open_store(tmp_path)
    stored = (await store.inbound.ingest(message(1, "возврат денег"))).message_id
    await store.inbound.drain()
    await store.db.close()  # gone without `Store.close`, which would have indexed it
    assert indexed_upto(tmp_path) < stored
    store = await Store.open(tmp_path)
    try:
        assert indexed_upto(tmp_path) >= stored  # opening caught up, before any search
    finally:
        await store.close()


async def test_closing_indexes_what_is_left(tmp_path: Path, no_catch_up_by_itself: None) -> None:
    store = await open_store(tmp_path)
    stored = (await store.inbound.ingest(message(1, "счёт"))).message_id
    assert indexed_upto(tmp_path) < stored
    await store.close()
    assert indexed_upto(tmp_path) >= stored


async def test_a_store_from_before_keeps_every_message_searchable(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    before = (await store.inbound.ingest(message(1, "старый заказ"))).message_id
    await store.close()
    # The store as schema 14 left it: each message indexed by a trigger in its commit.
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.executescript("""
        DROP TABLE messages_fts_progress;
        DROP TRIGGER messages_fts_update;
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
            INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
        END;
        PRAGMA user_version = 14;
    """)
    conn.close()
    store = await Store.open(tmp_path)
    try:
        assert indexed_upto(tmp_path) == before
        after = (await store.inbound.ingest(message(2, "новый заказ"))).message_id
        assert [h.message_id for h in await store.search.find("заказ")] == [after, before]
    finally:
        await store.close()


async def test_a_read_only_copy_finds_what_its_writer_left_unindexed(
        tmp_path: Path, no_catch_up_by_itself: None) -> None:
    """A hub gone before catching up (killed, a power cut) leaves messages and customers
    out of the indexes until a writable opchat opens the store; a read-only search
    (`opchat search`, a backup copy) cannot write them in, and finds them all the same,
    with the same words, marks and order as the index would."""
    store = await open_store(tmp_path)
    indexed = (await store.inbound.ingest(message(1, "гарантия на ремонт"))).message_id
    await store.inbound.ingest(customer(10, "Зинаида Карповна", phone="+7 (916) 123-45-67"))
    await store.search.catch_up()
    late = (await store.inbound.ingest(
        message(2, "Гарантия тоже, а ГАРАНТИЙНЫЙ талон?"))).message_id
    hidden = (await store.inbound.ingest(message(5, "гарантия, но скрыто"))).message_id
    assert await store.history.hide_message(hidden, None)
    await store.inbound.ingest(customer(11, "Зиновий Гердт", phone="8 916 765-43-21",
                                        email="zinovy@example.org"))
    await store.inbound.drain()
    await store.db.close()
    assert indexed_upto(tmp_path) < late and contacts_upto(tmp_path) < await contact_id(
        tmp_path, "Зиновий Гердт")
    db = Database(tmp_path / DB_FILENAME, read_only=True)
    await db.open()
    reader = Store(db)
    try:
        hits = await reader.search.find("гарант")
        assert [h.message_id for h in hits] == [late, indexed]  # newest first, hidden left out
        assert hits[0].snippet == ("\x02Гарантия\x03 тоже, а \x02ГАРАНТИЙНЫЙ\x03 талон?")
        assert [h.message_id for h in await reader.search.find("гарант", limit=1)] == [late]
        assert [h.message_id for h in await reader.search.find("ремонт")] == [indexed]
        # Customers, the indexed and the not, by their latest dialog (the newest first).
        assert await contact_names(reader, "зин") == ["Зиновий Гердт", "Зинаида Карповна"]
        assert await contact_names(reader, "8 916 765") == ["Зиновий Гердт"]
        assert [h.email for h in (await reader.search.find_all("example.org")).contacts] == [
            "zinovy@\x02example.org\x03"]
        assert indexed_upto(tmp_path) < late  # and it wrote nothing
    finally:
        await reader.close()


async def test_the_searches_of_what_is_not_indexed_read_as_the_indexes(tmp_path: Path) -> None:
    """The tables a read-only search builds apart are made as the store's own indexes."""
    store = await open_store(tmp_path)
    await store.close()
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        made = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE name IN "
                                 "('messages_fts', 'contacts_fts')").fetchall())
    finally:
        conn.close()
    from opchat.store.search import CONTACTS_INDEX, MESSAGES_INDEX

    def shape(sql: str) -> str:
        sql = " ".join(sql.split()).replace("content='messages', content_rowid='id', ", "")
        return sql.replace("( ", "(").replace(" )", ")")

    assert shape(made["messages_fts"]).endswith(f"USING {MESSAGES_INDEX}")
    assert shape(made["contacts_fts"]).endswith(f"USING {CONTACTS_INDEX}")


async def test_work_riding_a_write_that_fails_is_undone_and_the_write_commits(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = await open_store(tmp_path)
    try:
        def rider(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE messages_fts_progress SET upto = -1")
            raise ValueError("a rider's bug")

        store.db.ride_next_write(rider)
        stored = (await store.inbound.ingest(message(1, "платёж"))).message_id
        assert stored > 0  # the write it rode went through
        assert indexed_upto(tmp_path) >= 0  # the rider's change was undone
        assert "a rider's bug" in caplog.text
        assert store.db._riders == []  # it rode once
    finally:
        await store.close()


def customer(n: int, name: str, **more: str) -> InboundMessage:
    return InboundMessage(channel="tg", chat_id=f"chat-{name}", external_id=f"c-{n}",
                          sender_id=f"user-{name}", sender_name=name, body=f"сообщение {n}",
                          **more)


async def contact_names(store: Store, query: str) -> list[str]:
    return [h.name.replace("\x02", "").replace("\x03", "")
            for h in (await store.search.find_all(query)).contacts]


async def test_a_search_finds_a_new_customer_their_message_did_not_index(
        tmp_path: Path, no_catch_up_by_itself: None) -> None:
    store = await open_store(tmp_path)
    try:
        await store.inbound.ingest(customer(1, "Зинаида Карповна", phone="+7 (916) 123-45-67"))
        contact = await contact_id(tmp_path, "Зинаида Карповна")
        assert contacts_upto(tmp_path) < contact  # not in the message's transaction
        assert await contact_names(store, "зинаида") == ["Зинаида Карповна"]
        assert contacts_upto(tmp_path) >= contact
        # The phone indexed as migration 3 indexes it: digits, found as digits.
        assert await contact_names(store, "8 916 123-45") == ["Зинаида Карповна"]
    finally:
        await store.close()


async def contact_id(tmp_path: Path, name: str) -> int:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        return conn.execute("SELECT id FROM contacts WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


async def test_a_customer_changed_before_or_after_indexing_is_found_as_they_are_now(
        tmp_path: Path, no_catch_up_by_itself: None, caplog: pytest.LogCaptureFixture) -> None:
    store = await open_store(tmp_path)
    try:
        await store.inbound.ingest(customer(1, "Аркадий"))
        await store.search.catch_up()
        await store.inbound.ingest(customer(2, "Борислав"))
        late = await contact_id(tmp_path, "Борислав")
        assert contacts_upto(tmp_path) < late
        # The platform renames both (each still named as it named them) and the web chat's
        # form leaves an e-mail: one contact indexed, one not yet.
        await store.inbound.ingest(InboundMessage(
            channel="tg", chat_id="chat-Аркадий", external_id="c-3", sender_id="user-Аркадий",
            sender_name="Кеша", body="ещё", email="arkady@example.org"))
        await store.inbound.ingest(InboundMessage(
            channel="tg", chat_id="chat-Борислав", external_id="c-4",
            sender_id="user-Борислав", sender_name="Боря Ильин", body="ещё"))
        assert contacts_upto(tmp_path) < late
        assert await contact_names(store, "кеша") == ["Кеша"]
        assert await contact_names(store, "ильин") == ["Боря Ильин"]
        assert await contact_names(store, "example.org") == ["Кеша"]
        assert await contact_names(store, "аркадий") == []
        assert await contact_names(store, "борислав") == []
        assert contacts_upto(tmp_path) >= late  # the catch-up went through
        assert "could not catch up" not in caplog.text
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        # FTS5's own check of the index: each contact in it once, as it is now.
        conn.execute("INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('integrity-check', 1)")
        assert sorted(conn.execute("SELECT rowid, name, email FROM contacts_fts")) == sorted(
            conn.execute("SELECT id, name, coalesce(email, '') FROM contacts"))
    finally:
        conn.close()


async def test_a_store_from_before_keeps_every_customer_searchable(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    await store.inbound.ingest(customer(1, "Евдокия"))
    await store.close()
    # The store as schema 16 left it: each contact indexed by a trigger in its commit.
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.executescript("""
        DROP TABLE contacts_fts_progress;
        DROP TRIGGER contacts_fts_update;
        DROP TRIGGER contacts_fts_delete;
        CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
            INSERT INTO contacts_fts (rowid, name, phone, email)
            VALUES (new.id, new.name, coalesce(new.phone, ''), coalesce(new.email, ''));
        END;
        CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, phone, email ON contacts BEGIN
            DELETE FROM contacts_fts WHERE rowid = old.id;
            INSERT INTO contacts_fts (rowid, name, phone, email)
            VALUES (new.id, new.name, coalesce(new.phone, ''), coalesce(new.email, ''));
        END;
        CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
            DELETE FROM contacts_fts WHERE rowid = old.id;
        END;
        PRAGMA user_version = 16;
    """)
    before = conn.execute("SELECT max(id) FROM contacts").fetchone()[0]
    conn.close()
    store = await Store.open(tmp_path)
    try:
        assert contacts_upto(tmp_path) == before
        await store.inbound.ingest(customer(2, "Евдоким"))
        assert sorted(await contact_names(store, "евдок")) == ["Евдоким", "Евдокия"]
    finally:
        await store.close()
