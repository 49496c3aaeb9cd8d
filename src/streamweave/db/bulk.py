"""Inserting many rows at the speed of the driver: COPY on PostgreSQL, a plain
executemany on SQLite.

SQLAlchemy's Core executemany spends more time building each row's parameters than
the database spends storing it. Here each column's conversion (the dialect's own bind
processor: UUIDs, UTC timestamps, JSON) is looked up once per statement and applied in
a tight loop, and Python-side column defaults are filled in the same pass. The rows
join the caller's transaction like any other statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Column, Table, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Processor = Callable[[Any], Any] | None
ROWS_PER_STATEMENT = 10_000


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``: bounded statements (and bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class _Column:
    attribute: str
    name: str
    default: Callable[[], Any] | None


@cache
def _columns(model: Any) -> tuple[Table, tuple[_Column, ...]]:
    mapper = inspect(model)
    table = cast(Table, mapper.local_table)
    found = []
    for attribute in mapper.column_attrs:
        column = cast(Column[Any], attribute.columns[0])
        found.append(_Column(attribute.key, column.name, _python_default(column)))
    return table, tuple(found)


def _python_default(column: Column[Any]) -> Callable[[], Any] | None:
    default = column.default
    if default is None or (
        not getattr(default, "is_scalar", False) and not getattr(default, "is_callable", False)
    ):
        return None
    arg: Any = getattr(default, "arg", None)
    if getattr(default, "is_callable", False):
        return lambda: arg(None)  # SQLAlchemy wraps zero-argument callables to take a context
    return lambda: arg


@cache
def _processors(model: Any, dialect: Dialect) -> dict[str, Processor]:
    table, _ = _columns(model)
    return {column.name: column.type._cached_bind_processor(dialect) for column in table.columns}


async def insert_many(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by ``model``'s attribute names; keys may differ from
    row to row, missing ones take the column's Python default or NULL)."""
    for part in chunks(rows, ROWS_PER_STATEMENT):
        await _insert(session, model, part)


async def _insert(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    table, columns = _columns(model)
    present = set().union(*(row.keys() for row in rows))
    used = [c for c in columns if c.attribute in present or c.default is not None]
    connection = await session.connection()
    dialect = connection.dialect
    processors = _processors(model, dialect)
    values = list(zip(*(_column_values(rows, c, processors[c.name]) for c in used), strict=True))
    names = [c.name for c in used]
    if dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=values, columns=names)
        return
    quote = dialect.identifier_preparer.quote
    # Names come from the model, quoted; the values are bound.
    columns_sql = ", ".join(quote(name) for name in names)
    marks = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {quote(table.name)} ({columns_sql}) VALUES ({marks})"  # noqa: S608
    await connection.exec_driver_sql(statement, values)


def _column_values(
    rows: Sequence[dict[str, Any]], column: _Column, process: Processor
) -> list[Any]:
    """One column of every row, converted: a comprehension per column rather than a call
    per value (a batch is thousands of rows times a dozen columns)."""
    key, default = column.attribute, column.default
    if default is None:
        values = [row.get(key) for row in rows]
    else:
        values = [row[key] if key in row else default() for row in rows]
    if process is None:
        return values
    return [None if value is None else process(value) for value in values]
