"""Optional clean-up of the instrument: removing source files once they are safely kept.

Off unless an instrument's ``transfer_config`` has ``source_cleanup_after_hours``. A
file is removed from the instrument only when all of these hold:

- its current content was copied and verified into this storage location and into
  every other one a schedule of this instrument harvests into;
- that copy is older than the configured number of hours, and the file has not been
  modified for that long either (a file being rewritten is never removed);
- this run's listing still showed exactly the harvested size and mtime.

Every removal is audited. A removal that fails is reported and tried again next run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from streamweave.db.bulk import chunks
from streamweave.db.ids import new_id
from streamweave.db.models import FileRecord, HarvestEntry, HarvestSchedule
from streamweave.errors import ConfigurationError
from streamweave.harvest import records
from streamweave.timestamps import microseconds
from streamweave.transfers.base import Adapter, Location
from streamweave.transfers.errors import PathNotFound

SETTING = "source_cleanup_after_hours"


def cleanup_after(transfer_config: dict[str, Any] | None) -> timedelta | None:
    """The configured age, or None when clean-up is off."""
    hours = (transfer_config or {}).get(SETTING)
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
        raise ConfigurationError(f"transfer_config.{SETTING} must be a number of hours >= 0")
    return timedelta(hours=hours)


@dataclass
class Removal:
    entry_id: uuid.UUID
    file_id: uuid.UUID | None
    path: str


async def due(
    session: AsyncSession,
    instrument_id: uuid.UUID,
    storage_id: uuid.UUID,
    age: timedelta,
    now: datetime,
) -> list[Removal]:
    """Source files safe to remove now (see the module's rules)."""
    e = HarvestEntry
    cutoff = now - age
    scheduled = await session.scalars(
        select(HarvestSchedule.default_storage_location_id).where(
            HarvestSchedule.instrument_id == instrument_id, HarvestSchedule.deleted_at.is_(None)
        )
    )
    query = select(e.id, e.file_id, e.source_path).where(
        e.instrument_id == instrument_id,
        e.storage_location_id == storage_id,
        e.state == "completed",
        e.source_deleted_at.is_(None),
        e.done_at <= cutoff,
        e.done_mtime_us <= microseconds(cutoff),
        e.seen_size == e.done_size,
        e.seen_mtime_us == e.done_mtime_us,
    )
    for other_storage in set(scheduled) - {storage_id}:
        other = aliased(HarvestEntry)
        query = query.where(  # the same content, verified there too
            exists().where(
                other.instrument_id == instrument_id,
                other.storage_location_id == other_storage,
                other.source_path == e.source_path,
                other.state == "completed",
                other.done_size == e.done_size,
                other.done_mtime_us == e.done_mtime_us,
            )
        )
    return [Removal(*row) for row in await session.execute(query)]


async def remove(
    session: AsyncSession,
    adapter: Adapter,
    source: Location,
    removals: list[Removal],
    run_id: uuid.UUID,
    errors: list[str],
) -> int:
    """Delete from the instrument, then record and audit what went; returns how many."""
    outcomes = await adapter.delete(source, [removal.path for removal in removals])
    gone = []
    for removal, error in zip(removals, outcomes, strict=True):
        # Already gone (PathNotFound): nothing left to remove, and so removed.
        if error is None or isinstance(error, PathNotFound):
            gone.append(removal)
        elif len(errors) < 20:
            errors.append(f"source clean-up of {removal.path}: {error}")
    now = datetime.now(UTC)
    for part in chunks(gone, records.CHUNK):
        await session.execute(
            update(HarvestEntry)
            .where(HarvestEntry.id.in_([r.entry_id for r in part]))
            .values(source_deleted_at=now)
        )
        files = [r.file_id for r in part if r.file_id]
        if files:
            await session.execute(
                update(FileRecord).where(FileRecord.id.in_(files)).values(source_deleted_at=now)
            )
    await records.audit(
        session,
        [
            {
                "id": new_id(),
                "entity_type": "file",
                "entity_id": removal.file_id,
                "action": "source_cleanup",
                "changes": {"source_path": removal.path, "harvest_run_id": str(run_id)},
                "created_at": now,
            }
            for removal in gone
        ],
    )
    return len(gone)
