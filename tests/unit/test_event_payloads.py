"""Each event kind's data is a declared dataclass: the writer is held to it, readers get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from opchat.model import (
    EVENT_DATA,
    ConversationStatusData,
    Event,
    EventKind,
    MessageNewData,
    check_event_data,
)

BACKENDS = True  # every test on SQLite and on PostgreSQL (tests/conftest.py)


def test_every_kind_declares_its_data() -> None:
    assert set(EVENT_DATA) == set(EventKind)


def test_a_key_the_kind_does_not_declare_is_refused_when_written() -> None:
    check_event_data(EventKind.MESSAGE_NEW, {"direction": "in", "channel": "web"})
    with pytest.raises(TypeError, match=r"message\.new data has undeclared keys: chanel"):
        check_event_data(EventKind.MESSAGE_NEW, {"direction": "in", "chanel": "web"})
    with pytest.raises(TypeError, match="no payload"):
        check_event_data("message.teleported", {})


def test_readers_get_the_payload_typed() -> None:
    event = Event(1, 0.0, "conversation.status", 7,
                  data={"from": "resolved", "to": "open", "reason": "customer wrote"})
    assert event.payload == ConversationStatusData(from_="resolved", to="open",
                                                   reason="customer wrote")
    match Event(2, 0.0, "message.new", 7, 9, data={"direction": "auto", "auto": ["menu"],
                                                    "added_by_a_newer_opchat": 1}).payload:
        case MessageNewData(direction="auto", auto=rules):
            assert rules == ("menu",)
        case other:
            pytest.fail(f"not a message.new payload: {other!r}")
    assert Event(3, 0.0, "message.teleported", data={"to": "Mars"}).payload is None


async def test_the_store_holds_what_it_records_to_the_declaration(tmp_path: Path) -> None:
    """A store writing an undeclared key fails at once, in the writer's transaction."""
    import sqlite3

    from opchat.store.changes import record_event
    from opchat.store.db import Database

    db = Database(tmp_path / "opchat.db")
    await db.open()
    try:
        def write(conn: sqlite3.Connection) -> None:
            record_event(conn, 1.0, EventKind.CONVERSATION_LABEL, None, data={"addded": "vip"})

        with pytest.raises(TypeError, match="addded"):
            await db.write(write)
        assert await db.read(lambda conn: conn.execute(
            "SELECT count(*) FROM events").fetchone()[0]) == 0
    finally:
        await db.close()
