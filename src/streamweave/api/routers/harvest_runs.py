"""Harvest runs: what each harvest found, copied and failed, live while it runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter

from streamweave.api.deps import Paging, Session, Who
from streamweave.api.schemas.common import Page
from streamweave.api.schemas.files import HarvestRunRead
from streamweave.db.models import HarvestRun
from streamweave.services import harvest_runs
from streamweave.services.pagination import paginate

router = APIRouter(prefix="/api/harvest-runs", tags=["harvest runs"])

Status = Literal["running", "completed", "completed_with_errors", "failed"]


def _read(run: HarvestRun) -> HarvestRunRead:
    end = run.finished_at or datetime.now(UTC)
    seconds = max((end - run.started_at).total_seconds(), 0.0)
    return HarvestRunRead.model_validate(
        {
            **{c: getattr(run, c) for c in HarvestRunRead.model_fields if hasattr(run, c)},
            "duration_seconds": seconds,
            "files_per_second": run.files_completed / seconds if seconds else 0.0,
            "bytes_per_second": run.bytes_transferred / seconds if seconds else 0.0,
        }
    )


@router.get("", response_model=Page[HarvestRunRead])
async def list_runs(
    session: Session,
    who: Who,
    paging: Paging,
    instrument_id: uuid.UUID | None = None,
    status: Status | None = None,
) -> Any:
    page = await paginate(
        session, harvest_runs.run_query(who, instrument_id, status), paging.skip, paging.limit
    )
    page.items = [_read(run) for run in page.items]
    return page


@router.get("/{run_id}", response_model=HarvestRunRead)
async def get_run(run_id: uuid.UUID, session: Session, who: Who) -> Any:
    return _read(await harvest_runs.get_run(session, who, run_id))
