"""Bulk inserts store exactly what the ORM stores, on SQLite (INSERT ... SELECT over a
multi-row VALUES list) and on PostgreSQL (COPY)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from streamweave.db import bulk
from streamweave.db.bulk import insert_many, prepare_many, prepare_rows, run_inserts
from streamweave.db.engine import create_sessionmaker
from streamweave.db.ids import new_id
from streamweave.db.models import AuditLog, FileRecord, Instrument
from streamweave.services.catalog import prepare_files

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# (created_at as given to the bulk insert, the same moment as a datetime for the ORM)
MOMENTS: list[tuple[Any, datetime]] = [
    (datetime(2026, 11, 22, 9, 30, 1, 123456, tzinfo=UTC),) * 2,
    (
        datetime(2026, 11, 22, 2, 30, 1, 5, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2026, 11, 22, 9, 30, 1, 5, tzinfo=UTC),
    ),
    (datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (1_763_803_801_000_007, EPOCH + timedelta(microseconds=1_763_803_801_000_007)),
    (0, EPOCH),
    (-1, EPOCH - timedelta(microseconds=1)),
    (-1_500_000, EPOCH - timedelta(seconds=1.5)),
    (datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),) * 2,
]
CHANGES: list[dict[str, Any] | None] = [
    {"count": 1, "flags": [True, False, None], "ratio": 0.25},
    {"name": "cafe\u0301 ü 测试", "nested": {"deep": ["a b", ""]}},
    {},
    None,
]


async def insert_rows(session: AsyncSession, model: Any, *arguments: Any) -> None:
    await run_inserts(session, prepare_rows(session.get_bind().dialect, model, *arguments))


@pytest_asyncio.fixture(loop_scope="session")
async def session(clean_database: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(clean_database)() as opened:
        yield opened


async def _stored(session: AsyncSession, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (timestamps and ids as stored text on
    SQLite), and their JSON as SQLAlchemy reads it back."""
    raw = []
    for row_id in ids:
        found = await session.execute(
            text(
                "SELECT entity_type, entity_id, action, actor_email, created_at"
                " FROM audit_logs WHERE id = :id"
            ),
            {"id": row_id.hex if session.get_bind().dialect.name == "sqlite" else row_id},
        )
        changes = await session.scalar(select(AuditLog.changes).where(AuditLog.id == row_id))
        raw.append((*found.one(), changes))
    return raw


async def test_bulk_rows_are_stored_as_the_orm_stores_them(session: AsyncSession) -> None:
    orm_ids, many_ids, rows_ids = [], [], []
    many: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    for index, (given, moment) in enumerate(MOMENTS):
        changes = CHANGES[index % len(CHANGES)]
        entity = uuid.uuid4() if index % 3 else None
        email = f"rené.{index}@lab.example"
        orm_ids.append(new_id())
        session.add(
            AuditLog(
                id=orm_ids[-1],
                entity_type="file",
                entity_id=entity,
                action="harvest",
                actor_email=email,
                changes=changes,
                created_at=moment,
            )
        )
        many_ids.append(new_id())
        if isinstance(given, datetime):
            many.append(
                {
                    "id": many_ids[-1],
                    "entity_type": "file",
                    "entity_id": entity,
                    "action": "harvest",
                    "actor_email": email,
                    "changes": changes,
                    "created_at": given,
                }
            )
        else:  # insert_many takes datetimes; microseconds go through insert_rows only
            many_ids.pop()
        rows_ids.append(new_id())
        rows.append((rows_ids[-1], entity, email, changes, given))
    await session.flush()
    await insert_many(session, AuditLog, many)
    await insert_rows(
        session,
        AuditLog,
        ("id", "entity_id", "actor_email", "changes", "created_at"),
        rows,
        {"entity_type": "file", "action": "harvest"},
    )
    await session.commit()

    expected = await _stored(session, orm_ids)
    assert await _stored(session, rows_ids) == expected
    by_moment = [
        e for e, (given, _) in zip(expected, MOMENTS, strict=True) if isinstance(given, datetime)
    ]
    assert await _stored(session, many_ids) == by_moment
    loaded = {a.id: a.created_at for a in await session.scalars(select(AuditLog))}
    assert [loaded[i] for i in rows_ids] == [moment for _, moment in MOMENTS]


async def test_a_value_is_shared_by_rows_only_when_it_is_the_same_object(
    session: AsyncSession,
) -> None:
    """Values every row has are bound once; equal is not enough: 1 == True, and so
    {"flag": 1} == {"flag": True}."""
    now = datetime.now(UTC)
    given = [{"flag": 1}, {"flag": True}, {"flag": 1.0}]
    rows = [
        {"id": new_id(), "entity_type": "file", "action": "x", "changes": c, "created_at": now}
        for c in given
    ]
    await insert_many(session, AuditLog, rows)
    await session.commit()
    stored = {a.id: a.changes for a in await session.scalars(select(AuditLog))}
    assert [stored[row["id"]] for row in rows] == given
    assert [type(stored[row["id"]]["flag"]) for row in rows] == [int, bool, float]


async def test_rows_without_their_id_are_refused_and_nothing_is_written(
    session: AsyncSession,
) -> None:
    with pytest.raises(ValueError, match="need their id"):
        await insert_rows(
            session, AuditLog, ("entity_type", "action"), [("file", "x")], {"changes": None}
        )
    assert await session.scalar(select(func.count()).select_from(AuditLog)) == 0


async def test_a_value_bulk_inserts_cannot_store_is_an_error(session: AsyncSession) -> None:
    with pytest.raises(TypeError):
        await insert_rows(
            session,
            AuditLog,
            ("id", "entity_type", "action", "changes"),
            [(new_id(), "file", "x", {"when": object()})],
        )
    assert await session.scalar(select(func.count()).select_from(AuditLog)) == 0


async def test_file_records_are_numbered_when_added_not_when_prepared(
    session: AsyncSession,
) -> None:
    """A harvest prepares the next batch's rows while the previous batch writes: the
    positions (``seq``) must follow the order of the writes, dense, whatever the order
    the batches were prepared in."""
    instrument = Instrument(name="nmr-600")
    session.add(instrument)
    await session.commit()
    dialect = session.get_bind().dialect

    def files(prefix: str, count: int) -> list[dict[str, Any]]:
        return [
            {
                "id": new_id(),
                "persistent_id": f"ark:/99999/fk4{prefix}{index:04d}",
                "instrument_id": instrument.id,
                "source_path": f"{prefix}/{index}.dat",
                "filename": f"{index}.dat",
                "source_mtime": 1_763_803_801_000_000 + index,
            }
            for index in range(count)
        ]

    early, late = files("early", 3), files("late", 2)
    prepared_early = prepare_files(dialect, early)
    prepared_late = prepare_files(dialect, late)
    await prepared_late.add(session)
    await prepared_early.add(session)
    await session.commit()
    found = await session.execute(select(FileRecord.source_path, FileRecord.seq))
    seq = {path: number for path, number in found.tuples()}
    assert [seq[row["source_path"]] for row in late + early] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("limit", range(30, 46))
async def test_numbered_rows_in_many_statements_stay_within_the_bound_values_limit(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Rows are split into statements at SQLite's limit of bound values (at COPY's
    chunk size on PostgreSQL); the numbered column's first number is one of those
    values, and the numbers run on across statements."""
    monkeypatch.setattr(bulk, "SQLITE_BOUND_VALUES", limit)
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", 7)
    instrument = Instrument(name=f"tem-{limit}")
    session.add(instrument)
    await session.commit()
    rows = [
        {
            "id": new_id(),
            "persistent_id": f"ark:/99999/fk4l{limit}n{index:03d}",
            "instrument_id": instrument.id,
            "source_path": f"grid/{index:03d}.tif",
            "filename": f"{index:03d}.tif",
            "size_bytes": index,
        }
        for index in range(23)
    ]
    prepared = prepare_files(session.get_bind().dialect, rows)
    assert len(prepared.inserts) > 1
    for statement in prepared.inserts:
        assert len(statement.parameters) + (statement.numbered is not None) <= limit
    await prepared.add(session)
    await session.commit()
    found = await session.execute(select(FileRecord.source_path, FileRecord.seq))
    seq = {path: number for path, number in found.tuples()}
    assert [seq[row["source_path"]] for row in rows] == list(range(1, 24))


def _audit_rows(action: str, count: int) -> list[dict[str, Any]]:
    return [
        {"id": new_id(), "action": action, "entity_type": "file", "entity_id": new_id()}
        for index in range(count)
    ]


async def test_many_inserts_on_sqlite_are_one_call_on_the_connections_thread(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call to aiosqlite's thread waits for the event loop to come back: a batch's
    statements go in one (and aiosqlite still runs calls through ``_execute``)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's driver only: PostgreSQL sends each COPY to the server")
    monkeypatch.setattr(bulk, "SQLITE_BOUND_VALUES", 20)
    inserts = prepare_many(session.get_bind().dialect, AuditLog, _audit_rows("one-call", 10))
    assert len(inserts) > 1
    await session.connection()
    calls: list[Any] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    await run_inserts(session, inserts)
    assert len(calls) == 1
    monkeypatch.undo()
    await session.commit()
    stored = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "one-call")
    )
    assert stored == 10


async def test_a_duplicate_among_many_inserts_is_an_integrity_error_and_rolls_back(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", 4)  # PostgreSQL: COPY by 4 rows
    # SQLite: 3 values every row shares, 2 of each row's own: 4 rows a statement.
    monkeypatch.setattr(bulk, "SQLITE_BOUND_VALUES", 11)
    rows = _audit_rows("duplicate", 6)
    rows.append({**rows[0], "entity_id": new_id()})
    inserts = prepare_many(session.get_bind().dialect, AuditLog, rows)
    assert len(inserts) == 2  # the duplicate is in the second: the first is sent before it
    with pytest.raises(IntegrityError):
        await run_inserts(session, inserts)
    await session.rollback()
    stored = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "duplicate")
    )
    assert stored == 0


async def test_equal_json_values_of_different_types_are_stored_as_given(
    session: AsyncSession,
) -> None:
    """1 == True, and they hash alike: a document is never taken for another. (Not 1.0:
    SQLite's numeric affinity stores the JSON text 1.0 as the integer 1, whoever
    inserts it.)"""
    given: list[Any] = [1, True, "1", 0, False]
    rows = _audit_rows("json-kinds", len(given))
    for row, value in zip(rows, given, strict=True):
        row["changes"] = value
    await insert_many(session, AuditLog, rows)
    await session.commit()
    found = await session.execute(
        select(AuditLog.id, AuditLog.changes).where(AuditLog.action == "json-kinds")
    )
    stored = {row_id: changes for row_id, changes in found.tuples()}
    back = [stored[row["id"]] for row in rows]
    assert back == given
    assert [type(value) for value in back] == [type(value) for value in given]
    assert back[1] is True and back[4] is False
