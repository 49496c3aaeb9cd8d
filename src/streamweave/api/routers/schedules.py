"""Harvest schedules: cron, instrument -> storage."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, status

from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Session
from streamweave.api.schemas.lab import ScheduleCreate, ScheduleRead, ScheduleUpdate
from streamweave.db.models import HarvestSchedule
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


@router.post("/{item_id}/trigger")
async def trigger(item_id: uuid.UUID, session: Session, admin: AdminItem) -> Any:
    await resources.get_or_404(session, HarvestSchedule, item_id, live=True)
    raise HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "no harvest orchestrator is configured on this server; harvests cannot be started yet",
    )
