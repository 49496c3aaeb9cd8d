"""a run's transfers by status in one index; no index on the status alone

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:40:00

An index on ``file_transfers.status`` alone (a handful of values over every transfer)
misled SQLite, which keeps no statistics: it chose it for every query that also tests
the status, among them the harvest's update of a superseded version's transfers (6 ms
per moved file at 20,000 transfers, growing with the table, against 7 µs through
the file's index). Where the status matters, the run is known too: one index on
(run, status, created_at, id) serves a run's transfers of one status in list order,
and still covers the run's foreign key.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_file_transfers_status", table_name="file_transfers")
    op.drop_index("ix_file_transfers_harvest_run_id", table_name="file_transfers")
    op.create_index(
        "ix_file_transfers_run",
        "file_transfers",
        ["harvest_run_id", "status", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_file_transfers_run", table_name="file_transfers")
    op.create_index(
        "ix_file_transfers_harvest_run_id", "file_transfers", ["harvest_run_id"], unique=False
    )
    op.create_index("ix_file_transfers_status", "file_transfers", ["status"], unique=False)
