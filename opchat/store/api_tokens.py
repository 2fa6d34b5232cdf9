"""The HTTP API's tokens: a name, a SHA-256 of the token (the token itself is shown
once, when made, and never stored), read-only or not, revoked or not."""

from __future__ import annotations

from dataclasses import dataclass

from opchat.store.part import Part
from opchat.store.sql import Conn, Row


@dataclass(frozen=True)
class ApiToken:
    name: str
    hash: str  # hex SHA-256 of the token
    read_only: bool
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


def _token(row: Row) -> ApiToken:
    return ApiToken(row["name"], row["hash"], bool(row["read_only"]), row["created_at"],
                    row["revoked_at"], row["last_used_at"])


class ApiTokenStore(Part):
    """`Store.api_tokens`."""

    async def add(self, name: str, token_hash: str, read_only: bool) -> bool:
        """Keep a new token under ``name``; False if a token of that name is in force
        (a revoked one's name may be used again: the new token takes its place)."""

        def run(conn: Conn) -> bool:
            row = conn.execute("SELECT revoked_at FROM api_tokens WHERE name = ?",
                               (name,)).fetchone()
            now = self.clock()
            if row is None:
                conn.execute("INSERT INTO api_tokens (name, hash, read_only, created_at) "
                             "VALUES (?, ?, ?, ?)", (name, token_hash, int(read_only), now))
                return True
            if row[0] is None:
                return False
            conn.execute("UPDATE api_tokens SET hash = ?, read_only = ?, created_at = ?, "
                         "revoked_at = NULL, last_used_at = NULL WHERE name = ?",
                         (token_hash, int(read_only), now, name))
            return True

        return await self.db.write(run)

    async def all(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""

        def run(conn: Conn) -> list[ApiToken]:
            return [_token(r) for r in conn.execute("SELECT * FROM api_tokens ORDER BY name")]

        return await self.db.read(run)

    async def in_force(self) -> list[ApiToken]:
        """The tokens not revoked."""

        def run(conn: Conn) -> list[ApiToken]:
            return [_token(r) for r in conn.execute(
                "SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY name")]

        return await self.db.read(run)

    async def revoke(self, name: str) -> bool:
        """False if there is no such token in force."""

        def run(conn: Conn) -> bool:
            return conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? "
                                "AND revoked_at IS NULL", (self.clock(), name)).rowcount > 0

        return await self.db.write(run)

    async def used(self, name: str) -> None:
        """The token was used just now (kept for `opchat api token list`)."""

        def run(conn: Conn) -> None:
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?",
                         (self.clock(), name))

        await self.db.write(run)
