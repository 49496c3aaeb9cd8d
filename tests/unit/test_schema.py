"""Every foreign key has an index that starts with its columns (joins, cascades and
"what references this row" stay index lookups), and the migrations produce exactly
the models' schema."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Index, PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.db.base import Base


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
