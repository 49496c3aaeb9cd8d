"""What one harvest run did to each file (its transfers), and retrying its failures."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter

from streamweave.api.deps import AdminItem, Paging, Session, Who
from streamweave.api.routers.dashboard import RetryResult
from streamweave.api.schemas.common import Page
from streamweave.api.schemas.files import TransferRead
from streamweave.db.models import FileTransfer
from streamweave.services import dashboard, files, harvest_runs
from streamweave.services.pagination import paginate

router = APIRouter(prefix="/api/harvest-runs", tags=["harvest runs"])

TransferStatus = Literal["pending", "in_progress", "completed", "failed", "skipped"]


@router.get("/{run_id}/transfers", response_model=Page[TransferRead])
async def run_transfers(
    run_id: uuid.UUID,
    session: Session,
    who: Who,
    paging: Paging,
    status: TransferStatus | None = None,
) -> Any:
    """The run's transfers (one per file attempt) that the caller may see, oldest first."""
    run = await harvest_runs.get_run(session, who, run_id)
    stmt = files.transfer_query(who, None).where(FileTransfer.harvest_run_id == run.id)
    if status is not None:
        stmt = stmt.where(FileTransfer.status == status)
    return await paginate(session, stmt, paging.skip, paging.limit)


@router.post("/{run_id}/retry-failed", response_model=RetryResult)
async def retry_failed(
    run_id: uuid.UUID, session: Session, admin: AdminItem, who: Who
) -> RetryResult:
    """Retry, at the next harvest, every file of the run's instrument and storage
    location that is failed now (the run's failures and any older ones)."""
    run = await harvest_runs.get_run(session, who, run_id)
    return RetryResult(retried=await dashboard.retry_run(session, admin, run))
