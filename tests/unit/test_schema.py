"""Every foreign key has an index that starts with its columns (joins, cascades and
"what references this row" stay index lookups), and the migrations produce exactly
the models' schema."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Index, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.db.base import Base
from streamweave.db.engine import create_engine
from streamweave.db.migrate import upgrade
from tests.conftest import postgres_database


def _leading_column_sets(table: Any) -> list[tuple[str, ...]]:
    sets = []
    for constraint in table.constraints:
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
            sets.append(tuple(c.name for c in constraint.columns))
    for index in table.indexes:
        assert isinstance(index, Index)
        sets.append(tuple(c.name for c in index.columns))
    for column in table.columns:
        if column.unique or column.index:
            sets.append((column.name,))
    return sets


@pytest.mark.parametrize("table", Base.metadata.sorted_tables, ids=lambda t: t.name)
def test_every_foreign_key_is_indexed(table: Any) -> None:
    covering = _leading_column_sets(table)
    for fk in table.foreign_key_constraints:
        columns = tuple(c.name for c in fk.columns)
        assert any(cols[: len(columns)] == columns for cols in covering), (
            f"{table.name}.{columns} references {fk.referred_table.name} without an index"
        )


async def test_migrations_match_models(migrated: AsyncEngine) -> None:
    def compare(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with migrated.connect() as connection:
        differences = await connection.run_sync(compare)
    assert differences == []


def _table(table_name: str, /, **columns: Any) -> Any:
    return sa.table(table_name, *(sa.column(key, type_) for key, type_ in columns.items()))


async def _harvested_before_0002(url: str) -> list[Any]:
    """A database at 0001 with two entries, one harvested; upgraded to the head."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    ids = {name: uuid.uuid4() for name in ("instrument", "storage", "done", "waiting")}
    common = {"created_at": now, "updated_at": now, "enabled": True}
    instruments = _table(
        "instruments", id=sa.Uuid(), name=sa.String(), source_type=sa.String(),
        cifs_port=sa.Integer(), transfer_adapter=sa.String(), enabled=sa.Boolean(),
        source_config=sa.JSON(), completion_rule=sa.JSON(),
        created_at=sa.DateTime(timezone=True), updated_at=sa.DateTime(timezone=True),
    )  # fmt: skip
    storage = _table(
        "storage_locations", id=sa.Uuid(), name=sa.String(), type=sa.String(),
        base_path=sa.String(), checksum_algorithm=sa.String(), enabled=sa.Boolean(),
        connection_config=sa.JSON(),
        created_at=sa.DateTime(timezone=True), updated_at=sa.DateTime(timezone=True),
    )  # fmt: skip
    entries = _table(
        "harvest_entries", id=sa.Uuid(), instrument_id=sa.Uuid(),
        storage_location_id=sa.Uuid(), source_path=sa.String(), seen_size=sa.BigInteger(),
        stable_since_us=sa.BigInteger(), state=sa.String(), attempts=sa.Integer(),
        done_version=sa.Integer(), done_path=sa.String(), updated_at=sa.DateTime(timezone=True),
    )  # fmt: skip
    try:
        await upgrade(engine, "0001")
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(instruments).values(
                    id=ids["instrument"],
                    name="i",
                    source_type="local",
                    cifs_port=445,
                    transfer_adapter="auto",
                    source_config={},
                    completion_rule={},
                    **common,
                )
            )
            await connection.execute(
                sa.insert(storage).values(
                    id=ids["storage"],
                    name="s",
                    type="posix",
                    base_path="/s",
                    checksum_algorithm="xxh3-128",
                    connection_config={},
                    **common,
                )
            )
            entry = {
                "instrument_id": ids["instrument"],
                "storage_location_id": ids["storage"],
                "seen_size": 1,
                "stable_since_us": 0,
                "attempts": 0,
                "updated_at": now,
            }
            await connection.execute(
                sa.insert(entries),
                [
                    {
                        **entry,
                        "id": ids["done"],
                        "source_path": "Straße/Ärger.txt",
                        "state": "completed",
                        "done_version": 1,
                        "done_path": "i/Straße/Ärger.txt",
                    },
                    {
                        **entry,
                        "id": ids["waiting"],
                        "source_path": "waiting.raw",
                        "state": "waiting",
                        "done_version": 0,
                        "done_path": None,
                    },
                ],
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(
                sa.text("SELECT source_path, done_key FROM harvest_entries ORDER BY source_path")
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


def test_0002_gives_existing_entries_their_folded_destination(backend: str, tmp_path: Path) -> None:
    """Entries harvested before 0002 get ``done_key`` from their ``done_path``, folded by
    Python (case beyond ASCII, ß as ss); entries not harvested yet get none."""
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    with postgres_database("sw_migrate") if backend == "postgresql" else nullcontext(sqlite) as url:
        rows = asyncio.run(_harvested_before_0002(url))
    assert rows == [("Straße/Ärger.txt", "i/strasse/ärger.txt"), ("waiting.raw", None)]


async def test_sqlite_finds_a_files_transfers_through_the_files_index(
    migrated: AsyncEngine,
) -> None:
    """SQLite keeps no statistics: given an index on the status alone, it used it for the
    harvest's update of a superseded version's transfers, and read every completed
    transfer of every file for each file moved (migration 0003)."""
    if migrated.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from statistics")
    statement = (
        "EXPLAIN QUERY PLAN UPDATE file_transfers SET destination_path = 'b'"
        " WHERE file_id = 'x' AND destination_path = 'a' AND status = 'completed'"
    )
    async with migrated.connect() as connection:
        plan = " ".join(str(row[-1]) for row in await connection.exec_driver_sql(statement))
    assert "ix_file_transfers_file" in plan, plan
