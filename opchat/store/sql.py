"""What the store's queries need of a connection: the seam a second database fills.

Each part writes a change as one function of a `Conn`, run by `Database.write` in one
transaction (or by `Database.read` in one snapshot). SQLite's own connection is a
`Conn` as it is. A PostgreSQL backend hands the same functions an adapter: "?"
placeholders as "%s", rows readable by position and by name, `lastrowid` from
``RETURNING id``. What the queries say in SQLite's own dialect, and what a second
backend would write differently, is listed in docs/ARCHITECTURE.md ("The store and a
second database").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol


class Row(Protocol):
    """A result row: ``row[0]`` and ``row["name"]``."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    lastrowid: int | None
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside a transaction the Database opened: statements only (no
    BEGIN or COMMIT: the Database owns the transaction)."""

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ...,
                /) -> Cursor: ...
