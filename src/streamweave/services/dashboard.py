"""What an administrator's dashboard shows, computed in the database.

Counts come from counters and indexed aggregates, never from reading rows into Python;
throughput is grouped by the database over the window asked for only (the transfers'
``created_at`` index bounds it); the "needs attention" list is paginated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import ColumnElement, Select, case, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import (
    Counter,
    FileTransfer,
    HarvestEntry,
    HarvestRun,
    HarvestSchedule,
    Instrument,
    StorageLocation,
    User,
)
from streamweave.db.positions import FILES_COUNTER
from streamweave.harvest.plan import FAILED, PERMANENTLY_FAILED
from streamweave.services import audit

Bucket = Literal["hour", "day"]
ATTENTION_STATES = (FAILED, PERMANENTLY_FAILED)
# How many buckets of each size a throughput chart covers at most.
MAX_BUCKETS: dict[Bucket, int] = {"hour": 24 * 14, "day": 366}


@dataclass
class Overdue:
    instrument_id: uuid.UUID
    instrument_name: str
    schedule_id: uuid.UUID
    cron_expression: str
    timezone: str
    last_harvested_at: datetime | None
    due_at: datetime


@dataclass
class Summary:
    instruments: int
    instruments_enabled: int
    storage_locations: int
    schedules_enabled: int
    files: int
    runs_running: int
    runs_failed_last_24h: int
    files_failed: int
    files_permanently_failed: int
    overdue: list[Overdue]


@dataclass
class ThroughputPoint:
    start: datetime
    files: int
    bytes: int


def _harvested_pairs() -> Select[Any]:
    """(instrument, storage) pairs that have been harvested: a handful, from the small
    runs table, so the entry queries below probe the entries' state index per pair."""
    return select(HarvestRun.instrument_id, HarvestRun.storage_location_id).distinct()


def _attention_filter(instrument_id: uuid.UUID | None) -> ColumnElement[bool]:
    pairs = _harvested_pairs()
    if instrument_id is not None:
        pairs = pairs.where(HarvestRun.instrument_id == instrument_id)
    return tuple_(HarvestEntry.instrument_id, HarvestEntry.storage_location_id).in_(
        pairs
    ) & HarvestEntry.state.in_(ATTENTION_STATES)


async def _count(session: AsyncSession, stmt: Select[Any]) -> int:
    return int(await session.scalar(stmt) or 0)


async def overdue_instruments(session: AsyncSession, now: datetime) -> list[Overdue]:
    """Live, enabled instruments whose enabled schedule should have run and did not.

    A schedule is missed when its last firing before now is later than the instrument's
    last harvest and some slack has passed (half the schedule's period, at most an
    hour), so a harvest that is starting or running is not flagged.
    """
    rows = (
        await session.execute(
            select(HarvestSchedule, Instrument)
            .join(Instrument, Instrument.id == HarvestSchedule.instrument_id)
            .where(
                HarvestSchedule.enabled.is_(True),
                HarvestSchedule.deleted_at.is_(None),
                Instrument.enabled.is_(True),
                Instrument.deleted_at.is_(None),
            )
            .order_by(Instrument.name, HarvestSchedule.id)
        )
    ).all()
    found: dict[uuid.UUID, Overdue] = {}
    for schedule, instrument in rows:
        zone = ZoneInfo(schedule.timezone)
        times = croniter(schedule.cron_expression, now.astimezone(zone))
        due = times.get_prev(datetime).astimezone(UTC)
        before = times.get_prev(datetime).astimezone(UTC)
        slack = min((due - before) / 2, timedelta(hours=1))
        since = instrument.last_harvested_at or schedule.created_at
        if since < due and now - due > slack and instrument.id not in found:
            found[instrument.id] = Overdue(
                instrument_id=instrument.id,
                instrument_name=instrument.name,
                schedule_id=schedule.id,
                cron_expression=schedule.cron_expression,
                timezone=schedule.timezone,
                last_harvested_at=instrument.last_harvested_at,
                due_at=due,
            )
    return list(found.values())


async def summary(session: AsyncSession, now: datetime) -> Summary:
    live_instruments = select(func.count()).where(Instrument.deleted_at.is_(None))
    rows = await session.execute(
        select(HarvestEntry.state, func.count())
        .where(_attention_filter(None))
        .group_by(HarvestEntry.state)
    )
    states: dict[str, int] = {state: int(count) for state, count in rows.all()}
    return Summary(
        instruments=await _count(session, live_instruments),
        instruments_enabled=await _count(session, live_instruments.where(Instrument.enabled)),
        storage_locations=await _count(
            session, select(func.count()).where(StorageLocation.deleted_at.is_(None))
        ),
        schedules_enabled=await _count(
            session,
            select(func.count()).where(
                HarvestSchedule.deleted_at.is_(None), HarvestSchedule.enabled.is_(True)
            ),
        ),
        files=await _count(session, select(Counter.value).where(Counter.name == FILES_COUNTER)),
        runs_running=await _count(
            session, select(func.count()).where(HarvestRun.status == "running")
        ),
        runs_failed_last_24h=await _count(
            session,
            select(func.count()).where(
                HarvestRun.status.in_(("failed", "completed_with_errors")),
                HarvestRun.started_at >= now - timedelta(days=1),
            ),
        ),
        files_failed=int(states.get(FAILED, 0)),
        files_permanently_failed=int(states.get(PERMANENTLY_FAILED, 0)),
        overdue=await overdue_instruments(session, now),
    )


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _bucket_start(session: AsyncSession, bucket: Bucket) -> ColumnElement[Any]:
    column = FileTransfer.created_at
    if _dialect(session) == "postgresql":
        return func.date_trunc(bucket, func.timezone("UTC", column))
    # SQLite keeps timestamps as UTC text; strftime reads both of the forms written.
    pattern = "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00"
    return func.strftime(pattern, column)


def _as_utc(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window_start(bucket: Bucket, buckets: int, now: datetime) -> datetime:
    size = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    floor = now.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        floor = floor.replace(hour=0)
    return floor - size * (buckets - 1)


async def throughput(
    session: AsyncSession, bucket: Bucket, buckets: int, now: datetime
) -> list[ThroughputPoint]:
    """Verified files and bytes per hour or day over the last ``buckets`` of them,
    every bucket present (zero when nothing was copied)."""
    start = window_start(bucket, buckets, now)
    key = _bucket_start(session, bucket).label("bucket")
    rows = (
        await session.execute(
            select(
                key,
                func.count(),
                func.coalesce(func.sum(FileTransfer.bytes_transferred), 0),
            )
            .where(FileTransfer.created_at >= start, FileTransfer.status == "completed")
            .group_by(key)
        )
    ).all()
    found = {_as_utc(row[0]): (int(row[1]), int(row[2])) for row in rows}
    size = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    points = []
    for index in range(buckets):
        moment = start + size * index
        files, nbytes = found.get(moment, (0, 0))
        points.append(ThroughputPoint(start=moment, files=files, bytes=nbytes))
    return points


def attention_query(instrument_id: uuid.UUID | None = None) -> Select[Any]:
    """Files whose harvest failed (waiting for a retry, or flagged after too many)."""
    return (
        select(HarvestEntry, Instrument.name.label("instrument_name"))
        .join(Instrument, Instrument.id == HarvestEntry.instrument_id)
        .where(_attention_filter(instrument_id))
        .order_by(
            case((HarvestEntry.state == PERMANENTLY_FAILED, 0), else_=1),
            Instrument.name,
            HarvestEntry.source_path,
            HarvestEntry.id,
        )
    )


async def _retry(
    session: AsyncSession, admin: User, where: ColumnElement[bool], changes: dict[str, Any]
) -> int:
    """Make the failed files ``where`` selects eligible again at the next harvest, with a
    fresh retry budget. Entries that are no longer failed (already retried, or harvested
    since) are left as they are. Returns how many changed."""
    result = await session.execute(
        update(HarvestEntry)
        .where(where, HarvestEntry.state.in_(ATTENTION_STATES))
        .values(state=FAILED, attempts=0, retry_after=None)
        .execution_options(synchronize_session=False)
    )
    changed = int(getattr(result, "rowcount", 0) or 0)
    audit.record(session, admin, "harvest_entries", None, "retry", {**changes, "changed": changed})
    await session.commit()
    return changed


async def retry(session: AsyncSession, admin: User, entry_ids: list[uuid.UUID]) -> int:
    return await _retry(
        session,
        admin,
        HarvestEntry.id.in_(entry_ids),
        {"entries": [str(entry_id) for entry_id in entry_ids]},
    )


async def retry_run(session: AsyncSession, admin: User, run: HarvestRun) -> int:
    """Retry every file of the run's instrument and storage location that is failed now."""
    return await _retry(
        session,
        admin,
        (HarvestEntry.instrument_id == run.instrument_id)
        & (HarvestEntry.storage_location_id == run.storage_location_id),
        {"harvest_run": str(run.id)},
    )
