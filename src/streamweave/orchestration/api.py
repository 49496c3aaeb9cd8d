"""What the API process needs from orchestration, importing Prefect only when a
Prefect server is configured."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from streamweave.orchestration.connection import NOT_CONFIGURED, api_url, required_url

RECONCILE_INTERVAL_SECONDS = 60.0


@asynccontextmanager
async def orchestrating(
    state: Any, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """For the life of the API: a reconciler (``state.reconciler``) when
    ``PREFECT_API_URL`` is set; nothing otherwise."""
    url = api_url()
    state.reconciler = None
    if url is None:
        yield
        return
    from streamweave.orchestration.service import reconciling

    async with reconciling(engine, sessions, url, RECONCILE_INTERVAL_SECONDS) as reconciler:
        state.reconciler = reconciler
        yield


async def harvest_now(
    sessions: async_sessionmaker[AsyncSession], schedule_ids: list[uuid.UUID]
) -> dict[str, Any]:
    """v0's answer to "harvest now": ``{triggered: [{flow_run_id, schedule_id}], errors}``."""
    url = required_url()
    from streamweave.orchestration.triggers import trigger

    triggered, errors = await trigger(sessions, schedule_ids, url)
    return {
        "triggered": [
            {"flow_run_id": str(t.flow_run_id), "schedule_id": str(t.schedule_id)}
            for t in triggered
        ],
        "errors": errors,
    }


async def trigger_schedule(
    sessions: async_sessionmaker[AsyncSession], schedule_id: uuid.UUID
) -> dict[str, str]:
    """v0's answer to a schedule's trigger: ``{flow_run_id, schedule_id}``."""
    url = required_url()
    from streamweave.orchestration.triggers import trigger_one

    run = await trigger_one(sessions, schedule_id, url)
    return {"flow_run_id": str(run.flow_run_id), "schedule_id": str(run.schedule_id)}


def status(state: Any) -> dict[str, Any]:
    """Whether the API keeps Prefect in line, and how the last pass went."""
    reconciler = getattr(state, "reconciler", None)
    if reconciler is None:
        return {"configured": False, "detail": NOT_CONFIGURED}
    return {"configured": True, "prefect_api_url": reconciler.url, **reconciler.status.as_dict()}
