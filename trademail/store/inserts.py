"""Rows for several tables, written together.

On PostgreSQL they go as one statement: each table's rows as arrays, one per column,
`unnest()`ed inside a data-modifying WITH. One round trip whatever the number of tables
and rows, and the same SQL text (so one prepared statement) whatever the row counts. On
SQLite, whose round trips cost nothing, each table is one executemany. Either way the
caller chooses the transaction: inside one, or (on PostgreSQL) a statement on its own,
which is atomic by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trademail.store.db import Connection


@dataclass(frozen=True)
class Insert:
    """Rows for one table. A `where` condition may name the new row's columns as `u.name`
    (write only the rows it holds for); `tail` is an ON CONFLICT clause."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (column, its PostgreSQL type)
    rows: Sequence[Sequence[Any]]
    where: str = "true"
    tail: str = ""


async def insert_all(conn: Connection, inserts: Sequence[Insert]) -> None:
    """Write every Insert that has rows (a unique violation raises Duplicate and writes
    nothing of this call on PostgreSQL; on SQLite only inside a transaction)."""
    todo = [i for i in inserts if i.rows]
    if not todo:
        return
    if conn.dialect != "postgres":
        for insert in todo:
            await conn.executemany(_one_row_sql(insert), insert.rows)
        return
    parts: list[str] = []
    args: list[list[Any]] = []
    for insert in todo:
        arrays = ", ".join(f"${len(args) + n}::{kind}[]"
                           for n, (_, kind) in enumerate(insert.columns, start=1))
        args.extend(list(column) for column in zip(*insert.rows, strict=True))
        parts.append(f"{_head(insert)} SELECT * FROM unnest({arrays}) AS u({_names(insert)}) "
                     f"WHERE {insert.where} {insert.tail}".rstrip())
    ctes = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(parts))
    await conn.execute(f"WITH {ctes} SELECT 1", *args)


def _names(insert: Insert) -> str:
    return ", ".join(name for name, _ in insert.columns)


def _head(insert: Insert) -> str:
    return f"INSERT INTO {insert.table} ({_names(insert)})"


def _one_row_sql(insert: Insert) -> str:
    """One row as a sub-select named `u`, so `where` reads the same on both backends (and
    SQLite wants a WHERE before an ON CONFLICT after a SELECT anyway)."""
    values = ", ".join(f"${n} AS {name}" for n, (name, _) in
                       enumerate(insert.columns, start=1))
    return (f"{_head(insert)} SELECT * FROM (SELECT {values}) AS u WHERE {insert.where} "
            f"{insert.tail}").rstrip()

