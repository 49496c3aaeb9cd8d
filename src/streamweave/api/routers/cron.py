"""Cron preview for schedule forms: is the expression valid, and when would it run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from streamweave.api.deps import Admin
from streamweave.services.cron_preview import next_runs

router = APIRouter(prefix="/api/cron", tags=["schedules"])


class CronPreview(BaseModel):
    cron_expression: str
    timezone: str
    next_runs: list[datetime]


@router.get("/preview", response_model=CronPreview)
async def preview(
    admin: Admin,
    cron_expression: Annotated[str, Query(min_length=1, max_length=200)],
    timezone: Annotated[str, Query(max_length=64)] = "UTC",
    count: Annotated[int, Query(ge=1, le=20)] = 5,
) -> CronPreview:
    """The next ``count`` times the expression fires in the time zone (422 if invalid)."""
    runs = next_runs(cron_expression, timezone, count, datetime.now(UTC))
    return CronPreview(cron_expression=cron_expression, timezone=timezone, next_runs=runs)
