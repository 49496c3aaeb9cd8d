"""`streamweave up --demo`: an instrument on a local copy of the simlab sample data, a
storage location under the data directory and a schedule (`up` then runs it now).

Run again, it reuses what an earlier demo made (by name).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.db.models import (
    FileRecord,
    FileTransfer,
    HarvestSchedule,
    Instrument,
    StorageLocation,
)
from streamweave.services import resources
from streamweave.simlab.datasets import MIB, generate

INSTRUMENT = "demo-instrument"
STORAGE = "demo-storage"
# Every 15 minutes: new files dropped into the demo folder arrive on their own.
CRON = "*/15 * * * *"
LARGE_FILE_BYTES = 16 * MIB


@dataclass(frozen=True)
class DemoRows:
    source: Path
    storage: Path
    instrument_id: uuid.UUID
    schedule_id: uuid.UUID


async def _live(session: AsyncSession, model: Any, name: str) -> Any:
    return await session.scalar(select(model).where(model.name == name, model.deleted_at.is_(None)))


async def prepare(sessions: async_sessionmaker[AsyncSession], data_dir: Path) -> DemoRows:
    """The demo's files and rows, made once (Prefect is not needed yet)."""
    source, storage_root = data_dir / "demo" / "instrument", data_dir / "demo" / "storage"
    if not source.exists():
        await asyncio.to_thread(generate, source, large_bytes=LARGE_FILE_BYTES)
    storage_root.mkdir(parents=True, exist_ok=True)
    async with sessions() as session:
        instrument = await _live(session, Instrument, INSTRUMENT)
        if instrument is None:
            instrument = await resources.create(
                session,
                None,
                Instrument(
                    name=INSTRUMENT,
                    description="Sample data from `streamweave simlab` (a local copy)",
                    source_type="local",
                    source_config={"path": str(source)},
                    completion_rule={"mode": "none"},
                ),
            )
        storage = await _live(session, StorageLocation, STORAGE)
        if storage is None:
            storage = await resources.create(
                session,
                None,
                StorageLocation(name=STORAGE, type="posix", base_path=str(storage_root)),
            )
        schedule = await session.scalar(
            select(HarvestSchedule).where(
                HarvestSchedule.instrument_id == instrument.id,
                HarvestSchedule.default_storage_location_id == storage.id,
                HarvestSchedule.deleted_at.is_(None),
            )
        )
        if schedule is None:
            schedule = await resources.create(
                session,
                None,
                HarvestSchedule(
                    instrument_id=instrument.id,
                    default_storage_location_id=storage.id,
                    cron_expression=CRON,
                    timezone="UTC",
                ),
            )
        return DemoRows(source, storage_root, instrument.id, schedule.id)


async def first_verified_file(
    sessions: async_sessionmaker[AsyncSession],
    demo: DemoRows,
    flow_run_id: uuid.UUID,
    watch: Callable[[], None],
    within: float = 300.0,
) -> str:
    """Wait for the demo run's first verified copy; its source path. ``watch`` is
    called while waiting (it raises to give up: a signal, a child that died)."""
    deadline = time.monotonic() + within
    while True:
        watch()
        async with sessions() as session:
            path = await session.scalar(
                select(FileRecord.source_path)
                .join(FileTransfer, FileTransfer.file_id == FileRecord.id)
                .where(
                    FileRecord.instrument_id == demo.instrument_id,
                    FileTransfer.prefect_flow_run_id == str(flow_run_id),
                    FileTransfer.checksum_verified.is_(True),
                )
                .limit(1)
            )
        if path is not None:
            return str(path)
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo harvest verified no file in {within:.0f} s")
        await asyncio.sleep(0.25)
