"""Make Prefect match the database: one deployment per live schedule, paused when the
schedule cannot run, none for a deleted schedule.

The database is the source of truth; this only reads it (and records each schedule's
deployment id). Running it twice changes nothing the second time, and each run
reports what it changed.

A schedule's deployment is paused when the schedule is disabled, or when what it
needs is gone: its instrument or storage location deleted or disabled, or the
instrument's service account deleted. A cron or time-zone edit rewrites the
deployment with the pause it must have, so a disabled schedule stays paused; a
restored schedule simply is live again, so its deployment is created anew.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from streamweave.db.models import HarvestSchedule, Instrument, ServiceAccount, StorageLocation
from streamweave.orchestration.connection import prefect
from streamweave.orchestration.limits import ensure_instrument_limit
from streamweave.orchestration.names import (
    ENTRYPOINT,
    FLOW,
    POOL,
    TAG,
    deployment_name,
    instrument_limit,
    schedule_of,
)

PAGE = 200


@dataclass(frozen=True)
class Wanted:
    """The deployment a live schedule should have."""

    schedule_id: uuid.UUID
    instrument_id: uuid.UUID
    cron: str
    timezone: str
    paused: bool
    description: str

    @property
    def name(self) -> str:
        return deployment_name(self.schedule_id)

    @property
    def parameters(self) -> dict[str, Any]:
        return {"schedule_id": str(self.schedule_id)}

    @property
    def tags(self) -> list[str]:
        return [TAG, f"instrument:{self.instrument_id}"]

    def matches(self, deployment: DeploymentResponse) -> bool:
        schedules = [
            (s.schedule.cron, s.schedule.timezone, s.active)
            for s in deployment.schedules
            if isinstance(s.schedule, CronSchedule)
        ]
        return (
            len(deployment.schedules) == 1
            and schedules == [(self.cron, self.timezone, not self.paused)]
            and deployment.paused == self.paused
            and deployment.parameters == self.parameters
            and sorted(deployment.tags) == sorted(self.tags)
            and deployment.work_pool_name == POOL
            and deployment.entrypoint == ENTRYPOINT
            and deployment.description == self.description
        )


@dataclass
class ReconcileReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    limits_created: list[str] = field(default_factory=list)
    pool_created: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.created,
                self.updated,
                self.paused,
                self.resumed,
                self.removed,
                self.limits_created,
                self.pool_created,
            )
        )

    def __str__(self) -> str:
        if not self.changed:
            return "Prefect already matches the database"
        parts = [
            f"{label} {len(names)} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("paused", self.paused),
                ("resumed", self.resumed),
                ("removed", self.removed),
                ("instrument limits created", self.limits_created),
            )
            if names
        ]
        if self.pool_created:
            parts.insert(0, f"work pool {POOL!r} created")
        return "deployments: " + "; ".join(parts)


def _pause_reason(
    schedule: HarvestSchedule,
    instrument: Instrument,
    storage: StorageLocation,
    account: ServiceAccount | None,
) -> str | None:
    if not schedule.enabled:
        return "the schedule is disabled"
    if instrument.deleted_at is not None:
        return "the instrument was deleted"
    if not instrument.enabled:
        return "the instrument is disabled"
    if storage.deleted_at is not None:
        return "the storage location was deleted"
    if not storage.enabled:
        return "the storage location is disabled"
    if account is not None and account.deleted_at is not None:
        return "the instrument's service account was deleted"
    return None


async def wanted_deployments(
    session: AsyncSession,
) -> tuple[list[Wanted], dict[uuid.UUID, str | None]]:
    """The deployments the database asks for, and every schedule's recorded deployment
    id (deleted schedules included, so that theirs can be cleared)."""
    account = aliased(ServiceAccount)
    rows = (
        await session.execute(
            select(HarvestSchedule, Instrument, StorageLocation, account)
            .join(Instrument, Instrument.id == HarvestSchedule.instrument_id)
            .join(
                StorageLocation, StorageLocation.id == HarvestSchedule.default_storage_location_id
            )
            .outerjoin(account, account.id == Instrument.service_account_id)
            .order_by(HarvestSchedule.created_at, HarvestSchedule.id)
        )
    ).all()
    wanted: list[Wanted] = []
    recorded: dict[uuid.UUID, str | None] = {}
    for schedule, instrument, storage, service_account in rows:
        recorded[schedule.id] = schedule.prefect_deployment_id
        if schedule.deleted_at is not None:
            continue
        reason = _pause_reason(schedule, instrument, storage, service_account)
        description = f"Harvest {instrument.name} -> {storage.name} (StreamWeave schedule)"
        if reason:
            description += f"; paused: {reason}"
        wanted.append(
            Wanted(
                schedule.id,
                instrument.id,
                schedule.cron_expression,
                schedule.timezone or "UTC",
                reason is not None,
                description,
            )
        )
    return wanted, recorded


async def _ours(client: PrefectClient) -> dict[str, DeploymentResponse]:
    """StreamWeave's deployments of the harvest flow, by name."""
    found: dict[str, DeploymentResponse] = {}
    offset = 0
    while True:
        page = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW])), limit=PAGE, offset=offset
        )
        for deployment in page:
            if TAG in deployment.tags and schedule_of(deployment.name) is not None:
                found[deployment.name] = deployment
        if len(page) < PAGE:
            return found
        offset += PAGE


async def _ensure_pool(client: PrefectClient) -> bool:
    try:
        await client.read_work_pool(POOL)
        return False
    except ObjectNotFound:
        from prefect.workers.process import ProcessWorker

        try:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=POOL,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                    description="StreamWeave harvests",
                ),
                overwrite=False,
            )
        except ObjectAlreadyExists:  # a worker starting at the same moment made it
            return False
        return True


async def _upsert(client: PrefectClient, flow_id: uuid.UUID, wanted: Wanted) -> uuid.UUID:
    from prefect.utilities.callables import parameter_schema

    from streamweave.orchestration.flows import harvest

    return await client.create_deployment(
        flow_id=flow_id,
        name=wanted.name,
        schedules=[
            DeploymentScheduleCreate(
                schedule=CronSchedule(cron=wanted.cron, timezone=wanted.timezone),
                active=not wanted.paused,
            )
        ],
        parameters=wanted.parameters,
        description=wanted.description,
        work_pool_name=POOL,
        tags=wanted.tags,
        entrypoint=ENTRYPOINT,
        parameter_openapi_schema=parameter_schema(harvest.fn).model_dump_for_openapi(),
        enforce_parameter_schema=True,
        paused=wanted.paused,
    )


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], url: str | None = None
) -> ReconcileReport:
    """One pass: read the database, bring Prefect in line, record deployment ids."""
    async with sessions() as session:
        wanted, recorded = await wanted_deployments(session)
    report = ReconcileReport()
    ids: dict[uuid.UUID, str | None] = {schedule_id: None for schedule_id in recorded}
    async with prefect(url) as client:
        report.pool_created = await _ensure_pool(client)
        flow_id = await client.create_flow_from_name(FLOW)
        existing = await _ours(client)
        for item in wanted:
            current = existing.pop(item.name, None)
            if current is not None and item.matches(current):
                ids[item.schedule_id] = str(current.id)
                continue
            ids[item.schedule_id] = str(await _upsert(client, flow_id, item))
            if current is None:
                report.created.append(item.name)
            elif current.paused != item.paused:
                (report.paused if item.paused else report.resumed).append(item.name)
            else:
                report.updated.append(item.name)
        for name, deployment in existing.items():
            await client.delete_deployment(deployment.id)
            report.removed.append(name)
        for instrument_id in sorted({item.instrument_id for item in wanted}):
            limit = instrument_limit(instrument_id)
            if await ensure_instrument_limit(client, limit):
                report.limits_created.append(limit)
    await _record_ids(sessions, {k: v for k, v in ids.items() if recorded.get(k) != v})
    return report


async def _record_ids(
    sessions: async_sessionmaker[AsyncSession], changes: dict[uuid.UUID, str | None]
) -> None:
    """Each schedule's deployment id, without touching its updated_at (Prefect's
    bookkeeping is not an edit of the schedule)."""
    if not changes:
        return
    async with sessions() as session:
        for schedule_id, deployment_id in changes.items():
            await session.execute(
                update(HarvestSchedule)
                .where(HarvestSchedule.id == schedule_id)
                .values(prefect_deployment_id=deployment_id, updated_at=HarvestSchedule.updated_at)
            )
        await session.commit()
