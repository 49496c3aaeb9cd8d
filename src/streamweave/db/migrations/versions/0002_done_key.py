"""harvest entries remember their destination as storage that folds names sees it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:15:00

The collision check for SMB storage compared ``lower(done_path)`` in the database with
names folded by Python: SQLite's ``lower`` folds ASCII only (``Ärger`` and ``ärger``
did not meet), and no database folds ``ß`` to ``ss``. The folded form is now computed
by Python once and stored; existing entries get theirs here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from streamweave.harvest.names import folded

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("harvest_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_key", sa.String(length=4000), nullable=True))
        batch_op.create_index(
            "ix_harvest_entries_done_key",
            ["instrument_id", "storage_location_id", "done_key"],
            unique=False,
        )
    entries = sa.table(
        "harvest_entries",
        sa.column("id", sa.Uuid()),
        sa.column("done_path", sa.String()),
        sa.column("done_key", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(entries.c.id, entries.c.done_path).where(entries.c.done_path.is_not(None))
    ).all()
    fill = (
        sa.update(entries)
        .where(entries.c.id == sa.bindparam("entry_id"))
        .values(done_key=sa.bindparam("key"))
    )
    for start in range(0, len(rows), BATCH):
        part = rows[start : start + BATCH]
        connection.execute(fill, [{"entry_id": i, "key": folded(path)} for i, path in part])


def downgrade() -> None:
    with op.batch_alter_table("harvest_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_harvest_entries_done_key")
        batch_op.drop_column("done_key")
