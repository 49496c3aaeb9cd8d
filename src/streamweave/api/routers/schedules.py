"""Harvest schedules: cron, instrument -> storage."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status

from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Context, Session
from streamweave.api.schemas.lab import ScheduleCreate, ScheduleRead, ScheduleUpdate
from streamweave.db.models import HarvestSchedule
from streamweave.orchestration import api as orchestration
from streamweave.services import lab, resources

router = APIRouter(prefix="/api/schedules", tags=["schedules"])
add_soft_delete_routes(router, HarvestSchedule, ScheduleRead)


@router.post("", response_model=ScheduleRead, status_code=status.HTTP_201_CREATED)
async def create(data: ScheduleCreate, session: Session, admin: Admin) -> Any:
    return await lab.create_schedule(session, admin, data.model_dump())


@router.patch("/{item_id}", response_model=ScheduleRead)
async def update(
    item_id: uuid.UUID, data: ScheduleUpdate, session: Session, admin: AdminItem
) -> Any:
    schedule = await resources.get_or_404(session, HarvestSchedule, item_id)
    return await lab.update_schedule(session, admin, schedule, data.model_dump(exclude_unset=True))


@router.get("/orchestration/status")
async def orchestration_status(request: Request, admin: Admin) -> Any:
    """Prefect's side: the last reconcile of deployments with the schedules, its error."""
    return orchestration.status(request.app.state)


@router.post("/{item_id}/trigger")
async def trigger(item_id: uuid.UUID, session: Session, admin: AdminItem, context: Context) -> Any:
    """Run the schedule now: one flow run."""
    await resources.get_or_404(session, HarvestSchedule, item_id, live=True)
    return await orchestration.trigger_schedule(context.sessionmaker, item_id)
