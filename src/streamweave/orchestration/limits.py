"""The per-instrument concurrency limit in Prefect (one slot): created by reconcile
and, should a run come first, by the run itself."""

from __future__ import annotations

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound


async def ensure_instrument_limit(client: PrefectClient, name: str) -> bool:
    """Make the one-slot limit exist; whether it had to be created."""
    try:
        await client.read_global_concurrency_limit_by_name(name)
        return False
    except ObjectNotFound:
        pass
    try:
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
        )
    except ObjectAlreadyExists:
        return False
    return True
