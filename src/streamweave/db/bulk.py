"""Inserting many rows at the speed of the database: COPY on PostgreSQL, one
``INSERT ... SELECT`` over a multi-row VALUES list on SQLite.

SQLAlchemy's Core executemany spends more time building each row's parameters than
the database spends storing it. Here rows are plain tuples, values shared by every
row are bound once, and each column is converted in a tight loop over the column: by
the dialect's own bind processor, except on SQLite for ids (hex) and timestamps
(microseconds, formatted by SQLite), both checked against it. The rows join the
caller's transaction like any other statement.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, partial
from typing import Any, NoReturn, cast

from sqlalchemy import JSON, Column, Table, Uuid, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.base import Base, UTCDateTime
from streamweave.timestamps import from_microseconds, microseconds

ROWS_PER_STATEMENT = 10_000
# Bound values per SQLite statement: its default limit (SQLITE_MAX_VARIABLE_NUMBER) since
# 3.32, which Debian's and Python's builds keep.
SQLITE_BOUND_VALUES = 32_766
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
    primary_key: bool


@cache
def _columns(model: Any) -> tuple[Table, tuple[_Column, ...]]:
    mapper = inspect(model)
    table = cast(Table, mapper.local_table)
    found = []
    for attribute in mapper.column_attrs:
        column = cast(Column[Any], attribute.columns[0])
        found.append(
            _Column(attribute.key, column.name, _python_default(column), column.primary_key)
        )
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
    if isinstance(column_type, UTCDateTime):
        return partial(_memoized, process=partial(_timestamp, process=process))
    if isinstance(column_type, JSON):
        # Equal documents are not the same document (1 == True == 1.0): each its own.
        return lambda values: [None if value is None else process(value) for value in values]
    return partial(_memoized, process=process)


def _timestamp(value: datetime | int, process: Callable[[Any], Any]) -> Any:
    """A timestamp column's value: a datetime, or microseconds since the epoch."""
    return process(from_microseconds(value) if isinstance(value, int) else value)


_PROBE_TIMES = (
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-7))),
    datetime(999, 12, 31, 23, 59, 59),
    datetime(2026, 6, 1, tzinfo=UTC),
)


def _sqlite_timestamp(value: datetime) -> str:
    """UTCDateTime's stored form on SQLite, which ``_sqlite_value``'s SQL writes: checked
    against SQLAlchemy's own processor on probes (``_sqlite_kinds``)."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


@dataclass(frozen=True)
class Insert:
    """Rows ready to send, converted and encoded: made before the transaction that
    sends them, so that a pipeline prepares its next batch while this one is written."""

    table: str
    columns: tuple[str, ...]
    # SQLite: one INSERT ... SELECT over a multi-row VALUES list, and its values.
    statement: str = ""
    parameters: tuple[Any, ...] = ()
    # PostgreSQL: the records COPY sends.
    records: list[tuple[Any, ...]] = field(default_factory=list)
    # The place in ``columns`` of a column numbered when the rows are sent (``run_inserts``'s
    # ``first``); its values here are offsets from that first number.
    numbered: int | None = None

    def numbered_from(self, first: int) -> Insert:
        """These rows with the numbered column's offsets counted from ``first``."""
        at = self.numbered
        if at is None:
            return self
        if not self.statement:  # PostgreSQL: the values themselves
            records = [(*r[:at], first + r[at], *r[at + 1 :]) for r in self.records]
            return replace(self, records=records, numbered=None)
        # SQLite: the statement adds its ``?`` (the first of its values) to each offset.
        return replace(self, parameters=(first, *self.parameters), numbered=None)


async def run_inserts(session: AsyncSession, inserts: Sequence[Insert], first: int = 0) -> None:
    """Send ``inserts`` in order, in the caller's transaction; a numbered column counts
    from ``first``.

    On SQLite all of them go in one call to the thread that owns the connection. Each
    call there is a round trip through the event loop, and while the loop is busy (a
    harvest prepares its next batch as this one is written) every round trip waits:
    a harvest batch's twenty of them cost as much as its rows."""
    if not inserts:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    ready = [insert.numbered_from(first) for insert in inserts]
    if connection.dialect.name == "postgresql":
        if not driver.is_in_transaction():
            # SQLAlchemy's adapter begins the transaction with its first statement: a
            # COPY sent before it would commit on its own, whatever fails afterwards.
            await connection.exec_driver_sql("SELECT 1")
        for insert in ready:
            try:
                await driver.copy_records_to_table(
                    insert.table, records=insert.records, columns=insert.columns
                )
            except (raw.dbapi.asyncpg.PostgresError, raw.dbapi.asyncpg.InterfaceError) as exc:
                _raise_as_sqlalchemy(raw, f"COPY {insert.table}", exc)
        return
    statements = [(insert.statement, insert.parameters) for insert in ready]
    # aiosqlite's own methods run on its thread through ``_execute``; it has no public
    # way to run several statements in one call (tests/unit/test_bulk.py checks it).
    await driver._execute(_execute_all, driver._conn, statements)


def _raise_as_sqlalchemy(raw: Any, statement: str, exc: Exception) -> NoReturn:
    """asyncpg's error as SQLAlchemy raises it for its own statements (an
    ``IntegrityError`` for a duplicate): the adapter translates it, then SQLAlchemy."""
    try:
        raw._handle_exception(exc)
    except raw.dbapi.Error as translated:
        raise DBAPIError.instance(statement, None, translated, raw.dbapi.Error) from exc
    raise exc


def _execute_all(
    database: sqlite3.Connection, statements: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """On the connection's thread. Errors as SQLAlchemy raises them elsewhere
    (``IntegrityError`` for a duplicate), with the statement and not its values."""
    for statement, parameters in statements:
        try:
            database.execute(statement, parameters).close()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(
                statement.split(" SELECT ", 1)[0], None, exc, sqlite3.Error
            ) from exc


async def insert_many(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by ``model``'s attribute names; keys may differ from
    row to row, missing ones take the column's Python default or NULL)."""
    await run_inserts(session, prepare_many(session.get_bind().dialect, model, rows))


def prepare_many(
    dialect: Dialect, model: Any, rows: Sequence[dict[str, Any]], numbered: str | None = None
) -> list[Insert]:
    """``insert_many``'s statements, ready to run. ``numbered``: an attribute left out of
    ``rows``, numbered in row order from the ``first`` the statements are run with."""
    if not rows:
        return []
    _, columns = _columns(model)
    present = set().union(*rows)
    # A key missing from some rows takes its default in each of them; the primary key
    # always does (one id per row), the other absent columns once, in ``prepare_rows``.
    used = [c for c in columns if c.attribute in present or c.primary_key]
    names: list[str] = []
    columns_values: list[list[Any]] = []
    shared: dict[str, Any] = {}
    for column in used:
        values = _column_values(rows, column)
        first = values[0]
        # A value every row has (the run, the batch's time) is bound once. The same
        # object, not an equal one: 1 == True, and {"a": 1} == {"a": True}.
        if not column.primary_key and all(value is first for value in values):
            shared[column.attribute] = first
        else:
            names.append(column.attribute)
            columns_values.append(values)
    if numbered is not None:
        names.append(numbered)
        columns_values.append(list(range(len(rows))))
    tuples = list(zip(*columns_values, strict=True))
    return prepare_rows(dialect, model, names, tuples, shared, numbered)


def prepare_rows(
    dialect: Dialect,
    model: Any,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: dict[str, Any] | None = None,
    numbered: str | None = None,
) -> list[Insert]:
    """Statements inserting ``rows``, each a tuple of values for the attributes
    ``names`` of ``model``, with the values in ``shared`` common to all of them. Columns
    in neither take their Python default, once; the primary key must be given.
    ``numbered``: one of ``names`` whose values are offsets from the ``first`` number
    the statements are run with.

    Timestamp columns take a ``datetime`` or whole microseconds since the epoch (what
    listings and entries carry), so that a batch needs no datetime per file."""
    if not rows:
        return []
    table, columns = _columns(model)
    by_attribute = {c.attribute: c for c in columns}
    shared = dict(shared or {})
    for column in columns:
        if column.attribute in shared or column.attribute in names:
            continue
        if column.primary_key:
            raise ValueError(f"rows of {table.name} need their {column.name}")
        if column.default is not None:
            shared[column.attribute] = column.default()
    varying = [by_attribute[name] for name in names]
    constant = [by_attribute[name] for name in shared]
    converters = _converters(model, dialect)
    tail = tuple(_convert([shared[c.attribute]], converters[c.name])[0] for c in constant)
    columns_ = tuple(c.name for c in (*varying, *constant))
    at = None if numbered is None else list(names).index(numbered)
    if dialect.name == "postgresql":
        inserts = []
        for part in chunks(rows, ROWS_PER_STATEMENT):
            converted = _converted_columns(part, varying, converters)
            records = [(*row, *tail) for row in zip(*converted, strict=True)]
            inserts.append(Insert(table.name, columns_, records=records, numbered=at))
        return inserts
    return _sqlite_inserts(dialect, table, varying, constant, tail, rows, at)


def _sqlite_inserts(
    dialect: Dialect,
    table: Table,
    varying: list[_Column],
    constant: list[_Column],
    tail: tuple[Any, ...],
    rows: Sequence[Sequence[Any]],
    numbered: int | None,
) -> list[Insert]:
    """``INSERT INTO t (...) SELECT column1, ..., ? FROM (VALUES (?, ...), ...)``: the
    rows are bound, up to SQLite's limit of bound values, and one step of the database
    inserts them all, without the GIL. (executemany takes the GIL back for every row,
    and waits for it whenever the event loop is busy: a batch of 2,000 rows took ten
    times as long while the next batch was being copied.)"""
    kinds = _sqlite_kinds(table.name, dialect)
    converters = {c.name: _sqlite_converter(table.c[c.name].type, dialect) for c in varying}
    quote = dialect.identifier_preparer.quote
    # Names come from the model, quoted; the values are bound.
    head = (
        f"INSERT INTO {quote(table.name)}"  # noqa: S608
        f" ({', '.join(quote(c.name) for c in (*varying, *constant))})"
        f" SELECT {', '.join(_sqlite_values(kinds, varying, numbered))}"
        f"{', ?' * len(constant)} FROM (VALUES "
    )
    row_marks = f"({', '.join('?' * len(varying))})"
    # The numbered column's first number is bound too.
    room = SQLITE_BOUND_VALUES - len(constant) - (numbered is not None)
    per_statement = max(1, room // max(1, len(varying)))
    columns = tuple(c.name for c in (*varying, *constant))
    inserts = []
    for part in chunks(rows, per_statement):
        converted = _converted_columns(part, varying, converters)
        values = [value for row in zip(*converted, strict=True) for value in row]
        statement = head + ", ".join([row_marks] * len(part)) + ")"
        inserts.append(Insert(table.name, columns, statement, (*tail, *values), numbered=numbered))
    return inserts


def _sqlite_values(
    kinds: dict[str, str], varying: list[_Column], numbered: int | None
) -> list[str]:
    values = [_sqlite_value(kinds[c.name], i + 1) for i, c in enumerate(varying)]
    if numbered is not None:
        values[numbered] = f"? + column{numbered + 1}"
    return values


def _sqlite_converter(column_type: Any, dialect: Dialect) -> Convert | None:
    """What turns a column's values into what SQLite is sent: ids as hex, timestamps as
    microseconds (``_sqlite_value`` formats them, at a tenth of the cost of formatting
    them here), the rest as SQLAlchemy binds them."""
    if isinstance(column_type, Uuid):
        return lambda values: [None if value is None else value.hex for value in values]
    if isinstance(column_type, UTCDateTime):
        # Given as microseconds already (listings, entries), or as datetimes.
        return lambda values: [
            v if v is None or isinstance(v, int) else microseconds(v) for v in values
        ]
    return _converter(column_type, dialect)


def _sqlite_value(kind: str, number: int) -> str:
    """The SQL that stores column ``number`` of the VALUES list."""
    value = f"column{number}"
    if kind == "timestamp":  # microseconds, as text in UTCDateTime's form
        # Floor division and a non-negative remainder: before 1970 too.
        seconds = f"({value} / 1000000 - ({value} % 1000000 < 0))"
        fraction = f"printf('.%06d', ({value} % 1000000 + 1000000) % 1000000)"
        return f"strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || {fraction}"
    return value


@cache
def _sqlite_kinds(table_name: str, dialect: Dialect) -> dict[str, str]:
    """Which columns are timestamps, once it is checked on probes that SQLAlchemy
    stores ids and timestamps on SQLite as ``_sqlite_converter`` and ``_sqlite_value``
    write them."""
    table = Base.metadata.tables[table_name]
    kinds = {}
    for column in table.columns:
        column_type = column.type
        process = column_type._cached_bind_processor(dialect)
        kind = "plain"
        if isinstance(column_type, Uuid):
            if process is None or process(_PROBE) != _PROBE.hex:
                raise TypeError(f"{column}: UUIDs are not stored as hex here")
        elif isinstance(column_type, UTCDateTime):
            if process is None or any(
                process(probe) != _sqlite_timestamp(probe) for probe in _PROBE_TIMES
            ):
                raise TypeError(f"{column}: timestamps are not stored as expected here")
            kind = "timestamp"
        kinds[column.name] = kind
    return kinds


def _column_values(rows: Sequence[dict[str, Any]], column: _Column) -> list[Any]:
    """One column of every row: a comprehension per column rather than a call per value
    (a batch is thousands of rows times a dozen columns)."""
    key, default = column.attribute, column.default
    if default is None:
        return [row.get(key) for row in rows]
    return [row[key] if key in row else default() for row in rows]


def _convert(values: list[Any], convert: Convert | None) -> list[Any]:
    return values if convert is None else convert(values)


def _converted_columns(
    rows: Sequence[Sequence[Any]],
    varying: list[_Column],
    converters: dict[str, Convert | None],
) -> list[list[Any]]:
    """``rows`` turned into columns, each converted in one pass."""
    return [
        _convert(list(values), converters[c.name])
        for c, values in zip(varying, zip(*rows, strict=True), strict=True)
    ]


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
    except TypeError:  # unhashable values: convert each one
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
