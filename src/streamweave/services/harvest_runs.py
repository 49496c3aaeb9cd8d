"""Harvest runs as users see them: admins all, others those of instruments they may see."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import HarvestRun, Instrument
from streamweave.errors import NotFound
from streamweave.services.access import Principals, instrument_visible

STATUSES = ("running", "completed", "completed_with_errors", "failed")


def run_query(
    who: Principals, instrument_id: uuid.UUID | None = None, status: str | None = None
) -> Select[tuple[HarvestRun]]:
    stmt = select(HarvestRun)
    if not who.is_admin:
        stmt = stmt.where(
            HarvestRun.instrument_id.in_(select(Instrument.id).where(instrument_visible(who)))
        )
    if instrument_id is not None:
        stmt = stmt.where(HarvestRun.instrument_id == instrument_id)
    if status is not None:
        stmt = stmt.where(HarvestRun.status == status)
    # Newest first: the run an admin looks for is usually the one going on.
    return stmt.order_by(HarvestRun.started_at.desc(), HarvestRun.id.desc())


async def get_run(session: AsyncSession, who: Principals, run_id: uuid.UUID) -> HarvestRun:
    run = await session.scalar(run_query(who).where(HarvestRun.id == run_id))
    if run is None:
        raise NotFound(f"harvest run {run_id} not found")
    return run
