"""The administrator's dashboard: counts, throughput, and files that need attention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from streamweave.api.deps import Admin, Context, Paging, Session
from streamweave.api.schemas.common import InputModel, Page
from streamweave.orchestration import connection
from streamweave.services import dashboard
from streamweave.services.pagination import paginate

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])


@dataclass
class SummaryRead(dashboard.Summary):
    # Prefect's own UI (flow runs, deployments, workers), when a Prefect server is configured.
    orchestration_ui_url: str | None


class ThroughputRead(BaseModel):
    bucket: dashboard.Bucket
    points: list[dashboard.ThroughputPoint]


class AttentionRead(BaseModel):
    id: uuid.UUID
    instrument_id: uuid.UUID
    instrument_name: str
    storage_location_id: uuid.UUID
    source_path: str
    state: str
    attempts: int
    last_error: str | None
    retry_after: datetime | None
    updated_at: datetime


class RetryRequest(InputModel):
    entry_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class RetryResult(BaseModel):
    retried: int


@router.get("", response_model=SummaryRead)
async def summary(session: Session, admin: Admin, context: Context) -> SummaryRead:
    counts = await dashboard.summary(session, datetime.now(UTC))
    api_url = connection.api_url()
    # Prefect serves its UI at the root of the server whose API is under /api.
    ui_url = context.settings.orchestration_ui_url or (
        api_url.rstrip("/").removesuffix("/api") if api_url else None
    )
    return SummaryRead(**vars(counts), orchestration_ui_url=ui_url)


@router.get("/throughput", response_model=ThroughputRead)
async def throughput(
    session: Session,
    admin: Admin,
    bucket: dashboard.Bucket = "hour",
    buckets: Annotated[int | None, Query(ge=1, le=dashboard.MAX_BUCKETS["day"])] = None,
) -> Any:
    """Verified files and bytes per hour (default: the last 48) or day (the last 30)."""
    count = min(buckets or (48 if bucket == "hour" else 30), dashboard.MAX_BUCKETS[bucket])
    points = await dashboard.throughput(session, bucket, count, datetime.now(UTC))
    return {"bucket": bucket, "points": points}


@router.get("/attention", response_model=Page[AttentionRead])
async def attention(
    session: Session, admin: Admin, paging: Paging, instrument_id: uuid.UUID | None = None
) -> Any:
    """Failed files: waiting for their retry, or flagged after too many failures."""
    page = await paginate(
        session, dashboard.attention_query(instrument_id), paging.skip, paging.limit, scalars=False
    )
    page.items = [
        AttentionRead(
            id=entry.id,
            instrument_id=entry.instrument_id,
            instrument_name=name,
            storage_location_id=entry.storage_location_id,
            source_path=entry.source_path,
            state=entry.state,
            attempts=entry.attempts,
            last_error=entry.last_error,
            retry_after=entry.retry_after,
            updated_at=entry.updated_at,
        )
        for entry, name in page.items
    ]
    return page


@router.post("/attention/retry", response_model=RetryResult)
async def retry(data: RetryRequest, session: Session, admin: Admin) -> RetryResult:
    """Retry these files at the next harvest (start one with "Harvest now")."""
    return RetryResult(retried=await dashboard.retry(session, admin, data.entry_ids))
