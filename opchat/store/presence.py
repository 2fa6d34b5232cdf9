"""Ephemeral state shared between processes: who is online, viewing, typing.

Presence is not history: rows are overwritten in place, expire by themselves
and are swept, and nothing here goes to ``events``. Each change takes the next
``seq``, so a follower reads what moved since it last looked, noticing
another process's commit through ``PRAGMA data_version`` exactly as it notices
new events, and this process's through `on_change` (a commit of anything else
changes no presence, so it need not be read for).
"""

from __future__ import annotations

from collections.abc import Callable

from opchat.model import Presence, PresenceKind
from opchat.store.db import Database, row_value
from opchat.store.part import Part
from opchat.store.sql import Conn, Row

SWEEP_AFTER = 3600.0  # seconds an expired row is kept before it is deleted
TEXT_CHARS = 2000  # of a customer's shared draft


class PresenceStore(Part):
    """`Store.presence`."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__(db, clock)
        self._on_change: list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each presence change this process commits."""
        self._on_change.append(callback)

    def changed(self) -> None:
        """Tell the listeners presence changed (after a commit that changed it)."""
        for callback in self._on_change:
            callback()

    async def set(
        self,
        kind: PresenceKind,
        who: str,
        conversation_id: int = 0,
        ttl: float = 30.0,
        text: str = "",
        exclusive: bool = False,
    ) -> None:
        """Say ``who`` is in state ``kind`` (about a dialog) for the next ``ttl`` seconds.

        ``exclusive``: ``who`` is in this state about one dialog at a time (an
        operator views one dialog), so any other dialog's row for it ends now.
        """

        def run(conn: Conn) -> None:
            now = self.clock()
            seq = _next_seq(conn)
            if exclusive:
                seq = _expire(conn, now, seq, "kind = ? AND who = ? AND conversation_id != ?",
                              (kind.value, who, conversation_id))
            conn.execute(
                "INSERT INTO presence (kind, who, conversation_id, text, at, expires_at, seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, who, conversation_id) DO UPDATE "
                "SET text = excluded.text, at = excluded.at, expires_at = excluded.expires_at, "
                "seq = excluded.seq",
                (kind.value, who, conversation_id, text[:TEXT_CHARS], now, now + ttl, seq))
            if seq % 256 == 0:
                conn.execute("DELETE FROM presence WHERE expires_at < ?", (now - SWEEP_AFTER,))

        await self.db.write_short(run)
        self.changed()

    async def clear(
        self, kind: PresenceKind, who: str, conversation_id: int | None = None
    ) -> None:
        """End ``who``'s state ``kind`` now (about one dialog, or about every dialog)."""

        def run(conn: Conn) -> None:
            where, params = "kind = ? AND who = ?", [kind.value, who]
            if conversation_id is not None:
                where += " AND conversation_id = ?"
                params.append(conversation_id)
            _expire(conn, self.clock(), _next_seq(conn), where, tuple(params))

        await self.db.write_short(run)
        self.changed()

    async def customer_typing(
        self, channel: str, chat_id: str, text: str = "", ttl: float = 8.0
    ) -> int | None:
        """The customer at ``chat_id`` is typing (``text``: their draft, when shared).

        Returns the dialog's id, or None when there is no dialog yet: nobody can
        be shown a draft of a dialog that does not exist.
        """
        conversation_id = await self.conversation_of_chat(channel, chat_id)
        if conversation_id is None:
            return None
        if ttl <= 0:
            await self.clear(PresenceKind.CUSTOMER_TYPING, "", conversation_id)
        else:
            await self.set(PresenceKind.CUSTOMER_TYPING, "", conversation_id, ttl, text)
        return conversation_id

    async def conversation_of_chat(self, channel: str, chat_id: str) -> int | None:
        def run(conn: Conn) -> int | None:
            return row_value(conn.execute(
                "SELECT c.id FROM conversations c JOIN channels ch ON ch.id = c.channel_id "
                "WHERE ch.name = ? AND c.chat_id = ?", (channel, chat_id)).fetchone())

        return await self.db.read(run)

    async def after(self, seq: int, limit: int = 1000) -> list[Presence]:
        def run(conn: Conn) -> list[Presence]:
            return [_presence(r) for r in conn.execute(
                "SELECT * FROM presence WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))]

        return await self.db.read(run)

    async def last_seq(self) -> int:
        def run(conn: Conn) -> int:
            return conn.execute("SELECT coalesce(max(seq), 0) FROM presence").fetchone()[0]

        return await self.db.read(run)

    async def current(self, kind: PresenceKind | None = None) -> list[Presence]:
        """Every state that has not expired (of one kind, or all)."""
        now = self.clock()

        def run(conn: Conn) -> list[Presence]:
            where, params = "expires_at > ?", [now]
            if kind is not None:
                where += " AND kind = ?"
                params.append(kind.value)
            return [_presence(r) for r in conn.execute(
                f"SELECT * FROM presence WHERE {where} ORDER BY seq", params)]

        return await self.db.read(run)


def _next_seq(conn: Conn) -> int:
    return conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM presence").fetchone()[0]


def end_typing(conn: Conn, now: float, who: str) -> bool:
    """End ``who``'s "typing" about any dialog in the caller's transaction (a reply ends
    it with the message); True if there was one to end."""
    seq = _next_seq(conn)
    return _expire(conn, now, seq, "kind = ? AND who = ?",
                   (PresenceKind.TYPING.value, who)) != seq


def _expire(conn: Conn, now: float, seq: int, where: str,
            params: tuple[object, ...]) -> int:
    """Expire the live rows matching ``where``, each with its own seq; returns the next seq."""
    rows = conn.execute(f"SELECT kind, who, conversation_id FROM presence WHERE {where} "
                        "AND expires_at > ?", (*params, now)).fetchall()
    for kind, who, conversation_id in rows:
        conn.execute("UPDATE presence SET expires_at = ?, at = ?, text = '', seq = ? "
                     "WHERE kind = ? AND who = ? AND conversation_id = ?",
                     (now, now, seq, kind, who, conversation_id))
        seq += 1
    return seq


def _presence(r: Row) -> Presence:
    return Presence(PresenceKind(r["kind"]), r["who"], r["conversation_id"], r["text"],
                    r["at"], r["expires_at"], r["seq"])
