"""Inserting many rows at the speed of the driver: COPY on PostgreSQL, a plain
executemany on SQLite.

SQLAlchemy's Core executemany spends more time building each row's parameters than
the database spends storing it. Here each column's conversion (the dialect's own bind
processor: UUIDs, UTC timestamps, JSON) is looked up once per statement and applied in
a tight loop, once per distinct value; Python-side column defaults are filled in the
same pass. The rows join the caller's transaction like any other statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import Column, Table, Uuid, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.base import UTCDateTime

ROWS_PER_STATEMENT = 10_000
# Values per lookup statement: bounds the JSON document and the result.
VALUES_PER_LOOKUP = 30_000


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


Convert = Callable[[list[Any]], list[Any]]
_PROBE = uuid.UUID(int=0x5EED)


@cache
def _converters(model: Any, dialect: Dialect) -> dict[str, Convert | None]:
    """For each column, what turns a list of Python values into the driver's values."""
    table, _ = _columns(model)
    return {column.name: _converter(column.type, dialect) for column in table.columns}


def _converter(column_type: Any, dialect: Dialect) -> Convert | None:
    process = column_type._cached_bind_processor(dialect)
    if process is None:
        return None
    if isinstance(column_type, Uuid) and process(_PROBE) == _PROBE.hex:
        # Ids are unique per row: nothing to share, and hashing a UUID costs more than
        # reading its hex form.
        return lambda values: [None if value is None else value.hex for value in values]
    if (
        isinstance(column_type, UTCDateTime)
        and dialect.name == "sqlite"
        and all(process(probe) == _sqlite_timestamp(probe) for probe in _PROBE_TIMES)
    ):
        return partial(_memoized, process=_sqlite_timestamp)
    return partial(_memoized, process=process)


_PROBE_TIMES = (
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-7))),
    datetime(999, 12, 31, 23, 59, 59),
    datetime(2026, 6, 1, tzinfo=UTC),
)


def _sqlite_timestamp(value: datetime) -> str:
    """UTCDateTime's bind value on SQLite (checked against it on probes before use), at a
    third of the cost: files' timestamps are distinct, so memoizing does not help them."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


async def insert_many(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by ``model``'s attribute names; keys may differ from
    row to row, missing ones take the column's Python default or NULL)."""
    for part in chunks(rows, ROWS_PER_STATEMENT):
        await _insert(session, model, part)


async def _insert(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    table, columns = _columns(model)
    present = set().union(*rows)
    used = [c for c in columns if c.attribute in present or c.default is not None]
    connection = await session.connection()
    dialect = connection.dialect
    converters = _converters(model, dialect)
    values = list(zip(*(_column_values(rows, c, converters[c.name]) for c in used), strict=True))
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
    rows: Sequence[dict[str, Any]], column: _Column, convert: Convert | None
) -> list[Any]:
    """One column of every row, converted: a comprehension per column rather than a call
    per value (a batch is thousands of rows times a dozen columns)."""
    key, default = column.attribute, column.default
    if default is None:
        values = [row.get(key) for row in rows]
    else:
        values = [row[key] if key in row else default() for row in rows]
    return values if convert is None else convert(values)


def _memoized(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """Each distinct value converted once: a batch shares its timestamps and foreign keys
    across thousands of rows, and formatting a timestamp costs more than storing it."""
    done: dict[Any, Any] = {None: None}
    converted = []
    try:
        for value in values:
            result = done.get(value, done)
            if result is done:
                result = done[value] = process(value)
            converted.append(result)
    except TypeError:  # unhashable values (JSON documents): convert each one
        return [None if value is None else process(value) for value in values]
    return converted


async def existing(
    session: AsyncSession, columns: Sequence[Any], values: Sequence[str]
) -> set[str]:
    """Which of ``values`` (strings) are in any of ``columns`` (models' indexed text
    columns): one statement per chunk of values.

    SQLAlchemy renders an IN list of thousands one parameter at a time, which costs more
    than the lookups; here every column's test shares one bound value: an array on
    PostgreSQL, a JSON array on SQLite (numbered placeholders, ``?1`` to ``?N``, cost
    SQLite time quadratic in N: 130 µs a value at 20,000)."""
    connection = await session.connection()
    quote = connection.dialect.identifier_preparer.quote

    def union(test: str) -> str:
        selects = []
        for column in columns:
            table, name = column.class_.__table__.name, column.property.columns[0].name
            # Names come from the models, quoted; the values are bound.
            selects.append(f"SELECT {quote(name)} FROM {quote(table)} WHERE {quote(name)} {test}")  # noqa: S608
        return " UNION ALL ".join(selects)

    found: set[str] = set()
    if connection.dialect.name == "postgresql":
        result = await connection.exec_driver_sql(union("= ANY($1::text[])"), (list(values),))
        found.update(row[0] for row in result)
        return found
    statement = union("IN (SELECT value FROM json_each(?1))")
    for part in chunks(values, VALUES_PER_LOOKUP):
        result = await connection.exec_driver_sql(statement, (json.dumps(list(part)),))
        found.update(row[0] for row in result)
    return found
