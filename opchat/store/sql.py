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

import contextlib
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


def insert_id(conn: Conn, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> int:
    """Run an INSERT of one row (no upsert: its ``DO UPDATE`` would leave SQLite's
    ``lastrowid`` as it was) and return its new id: ``lastrowid`` on SQLite (a
    ``RETURNING`` row costs ~1.5 µs more there, and a message takes two), ``RETURNING
    id`` on PostgreSQL, which has no ``lastrowid``."""
    if dialect(conn).remote:
        return conn.execute(f"{sql} RETURNING id", parameters).fetchone()[0]
    return conn.execute(sql, parameters).lastrowid  # type: ignore[return-value]


# The most parameters one statement of `insert_many` binds: under SQLite's 32,766 (since
# 3.32; RETURNING needs 3.35 anyway) and PostgreSQL's 65,535.
MAX_PARAMETERS = 32000


def insert_many(conn: Conn, head: str, row: str, rows: Sequence[Sequence[Any]],
                tail: str = "", ids: list[int] | None = None) -> list[int]:
    """``head VALUES row, row, … tail RETURNING id`` for ``rows`` (each one row's
    parameters, ``row`` its placeholders): the new ids, in the order of ``rows``, in as
    few statements as the parameters allow.

    Both databases insert a VALUES list's rows in its order and give each a larger id
    than the one before (SQLite's rowid, PostgreSQL's identity), but neither promises
    the order RETURNING hands them back in: they are sorted.

    ``ids``, drawn beforehand (`PostgresDialect.new_ids`): the rows get those, and
    nothing is read back, so that the statement can be sent without waiting for it
    (`pipelined`)."""
    if ids is not None:
        if rows:
            assert head.endswith(")") and row.startswith("(") and len(ids) == len(rows)
            execute_many(conn, f"{head[:head.rindex('(') + 1]}id, {head[head.rindex('(') + 1:]}",
                         f"(?, {row[1:]}", [(i, *r) for i, r in zip(ids, rows, strict=True)],
                         tail)
        return ids
    ids = []
    for sql, values in _statements(head, row, rows, f"{tail} RETURNING id"):
        ids += sorted(r[0] for r in conn.execute(sql, values).fetchall())
    return ids


def execute_many(conn: Conn, head: str, row: str, rows: Sequence[Sequence[Any]],
                 tail: str = "") -> None:
    """``head VALUES row, row, … tail`` for ``rows``, as `insert_many` without ids (an
    upsert's ``tail``: no two of ``rows`` may meet the same row)."""
    for sql, values in _statements(head, row, rows, tail):
        conn.execute(sql, values)


_STATEMENTS: dict[tuple[str, str, str, int], str] = {}
_STATEMENTS_CHARS = 4_000_000  # the most the texts kept may hold, in characters
_statements_chars = 0


def _statements(head: str, row: str, rows: Sequence[Sequence[Any]], tail: str
                ) -> Iterator[tuple[str, list[Any]]]:
    """Each statement of ``rows`` (the text made once per number of rows) and its
    parameters."""
    global _statements_chars
    if not rows:
        return
    per = max(1, MAX_PARAMETERS // max(1, row.count("?")))
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        key = (head, row, tail, len(part))
        sql = _STATEMENTS.get(key)
        if sql is None:
            sql = f"{head} VALUES {', '.join([row] * len(part))}{tail}"
            if len(_STATEMENTS) < 1024 and _statements_chars + len(sql) <= _STATEMENTS_CHARS:
                _STATEMENTS[key] = sql
                _statements_chars += len(sql)
        yield sql, [value for values in part for value in values]


class Dialect:
    """What the few queries that cannot be the same on both databases say on each."""

    name = "sqlite"
    # Whether a statement is a round trip to a server (PostgreSQL), not a call into the
    # process's own library (SQLite): where one statement for many rows pays only there.
    remote = False
    greatest = "max"  # the larger of two values (SQLite's two-argument max)
    least = "min"

    def json(self, column: str, key: str) -> str:
        """A key of a JSON text column, as the Python value it holds."""
        return f"json_extract({column}, '$.{key}')"

    def json_text(self, column: str, key: str) -> str:
        """A key of a JSON text column, as text (to compare with a text parameter)."""
        return f"CAST(json_extract({column}, '$.{key}') AS TEXT)"

    def joined(self, expr: str, separator: str) -> str:
        """The group's values of ``expr`` in one text, ``separator`` (SQL) between them."""
        return f"group_concat({expr}, {separator})"

    def char(self, code: int) -> str:
        return f"char({code})"

    def json_int(self, column: str, key: str) -> str:
        """A key of a JSON text column holding a whole number, as one."""
        return f"json_extract({column}, '$.{key}')"

    def json_merged(self, column: str) -> str:
        """The JSON object in ``column`` with a parameter's object's keys put over it."""
        return f"json_patch({column}, ?)"

    def keyed_join(self, table: str, alias: str, key: str) -> str:
        """``LEFT JOIN table AS alias`` on ``key``, a unique key's condition on the rows
        before it: one index probe for each of those rows."""
        return f"LEFT JOIN {table} AS {alias} ON {key}"

    def local_hour(self, column: str) -> str:
        """The hour ("00"…"23") of an epoch-seconds column, in local time."""
        return f"strftime('%H', {column}, 'unixepoch', 'localtime')"

    def local_day(self, column: str) -> str:
        """The date ("2026-12-04") of an epoch-seconds column, in local time."""
        return f"date({column}, 'unixepoch', 'localtime')"


class PostgresDialect(Dialect):
    name = "postgresql"
    remote = True
    greatest = "greatest"
    least = "least"

    def new_ids(self, conn: Conn, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """``counts[table]`` new ids of each table, ascending, drawn from its identity's
        sequence in one statement (as its rows' defaults would draw them), for
        `insert_many`'s ``ids``. SQLite has no such thing: its rows' ids come back from
        RETURNING, which costs it no round trip."""
        tables = [table for table, count in counts.items() if count]
        row = conn.execute("SELECT " + ", ".join(
            f"ARRAY(SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            "FROM generate_series(1, ?))" for table in tables),
            [counts[table] for table in tables]).fetchone() if tables else []
        drawn: dict[str, list[int]] = {table: [] for table in counts}
        drawn.update({table: sorted(ids) for table, ids in zip(tables, row, strict=True)})
        return drawn

    def json(self, column: str, key: str) -> str:
        return f"(({column})::jsonb -> '{key}')"

    def json_text(self, column: str, key: str) -> str:
        return f"(({column})::jsonb ->> '{key}')"

    def joined(self, expr: str, separator: str) -> str:
        return f"string_agg(({expr})::text, {separator})"

    def char(self, code: int) -> str:
        return f"chr({code})"

    def json_int(self, column: str, key: str) -> str:
        return f"(({column})::jsonb ->> '{key}')::bigint"

    def json_merged(self, column: str) -> str:
        return f"(({column})::jsonb || (?)::jsonb)::text"

    def keyed_join(self, table: str, alias: str, key: str) -> str:
        # A plain join lets the planner hash the whole table for a few dozen rows when it
        # is small (~5,000 rows: 3× the probes' time); LATERAL with LIMIT cannot be
        # flattened into one, so each row probes the unique index.
        return (f"LEFT JOIN LATERAL (SELECT * FROM {table} AS {alias} WHERE {key} LIMIT 1) "
                f"AS {alias} ON true")

    def local_hour(self, column: str) -> str:  # the session's time zone is the local one
        return f"to_char(to_timestamp({column}), 'HH24')"

    def local_day(self, column: str) -> str:
        return f"to_char(to_timestamp({column}), 'YYYY-MM-DD')"


SQLITE = Dialect()
POSTGRESQL = PostgresDialect()


def pipelined(conn: Conn) -> contextlib.AbstractContextManager[Any]:
    """Until the block ends, statements go to the server without waiting for each
    answer (PostgreSQL's pipeline: one round trip for all; an error is raised at the
    block's end). A block of statements whose results nobody reads. SQLite: as is."""
    return conn.pipeline() if dialect(conn).remote else contextlib.nullcontext()  # type: ignore[attr-defined]


def dialect(conn: Conn) -> Dialect:
    """The dialect of the database ``conn`` is a connection to."""
    return getattr(conn, "dialect", SQLITE)
