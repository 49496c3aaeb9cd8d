"""On demand: a flow run of a schedule's deployment, now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import ObjectNotFound
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.db.models import HarvestSchedule, Instrument, ServiceAccount, StorageLocation
from streamweave.errors import Conflict, NotFound
from streamweave.orchestration.connection import prefect
from streamweave.orchestration.names import full_deployment_name
from streamweave.orchestration.reconcile import reconcile


@dataclass(frozen=True)
class Triggered:
    schedule_id: uuid.UUID
    flow_run_id: uuid.UUID


async def _why_not(session: AsyncSession, schedule_id: uuid.UUID) -> str | None:
    """What stops the schedule from running (a disabled schedule may still be run by
    hand: that is asking for it)."""
    schedule = await session.get(HarvestSchedule, schedule_id)
    if schedule is None or schedule.deleted_at is not None:
        raise NotFound(f"harvest schedule {schedule_id} not found")
    instrument = await session.get(Instrument, schedule.instrument_id)
    storage = await session.get(StorageLocation, schedule.default_storage_location_id)
    assert instrument is not None and storage is not None  # foreign keys
    if instrument.deleted_at is not None or not instrument.enabled:
        return f"instrument {instrument.name!r} is deleted or disabled"
    if storage.deleted_at is not None or not storage.enabled:
        return f"storage location {storage.name!r} is deleted or disabled"
    if instrument.service_account_id is not None:
        account = await session.get(ServiceAccount, instrument.service_account_id)
        if account is None or account.deleted_at is not None:
            return f"instrument {instrument.name!r} has a deleted service account"
    return None


async def _deployment(
    client: PrefectClient,
    sessions: async_sessionmaker[AsyncSession],
    schedule_id: uuid.UUID,
    url: str | None,
) -> DeploymentResponse:
    name = full_deployment_name(schedule_id)
    try:
        return await client.read_deployment_by_name(name)
    except ObjectNotFound:
        # Made since the last reconcile (or Prefect was down then): catch up now.
        await reconcile(sessions, url)
        return await client.read_deployment_by_name(name)


async def trigger(
    sessions: async_sessionmaker[AsyncSession],
    schedule_ids: list[uuid.UUID],
    url: str | None = None,
) -> tuple[list[Triggered], list[dict[str, str]]]:
    """A flow run for each schedule; the runs created and, per schedule that could not
    run, why. Prefect unreachable raises ``OrchestratorUnavailable``."""
    triggered: list[Triggered] = []
    errors: list[dict[str, str]] = []
    async with prefect(url) as client:
        for schedule_id in schedule_ids:
            async with sessions() as session:
                reason = await _why_not(session, schedule_id)
            if reason is not None:
                errors.append({"schedule_id": str(schedule_id), "error": reason})
                continue
            deployment = await _deployment(client, sessions, schedule_id, url)
            run = await client.create_flow_run_from_deployment(deployment.id, tags=["on-demand"])
            triggered.append(Triggered(schedule_id, run.id))
    return triggered, errors


async def trigger_one(
    sessions: async_sessionmaker[AsyncSession], schedule_id: uuid.UUID, url: str | None = None
) -> Triggered:
    triggered, errors = await trigger(sessions, [schedule_id], url)
    if errors:
        raise Conflict(f"the schedule cannot run: {errors[0]['error']}")
    return triggered[0]
