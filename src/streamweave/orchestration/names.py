"""The names StreamWeave's objects have in Prefect: stable, derived from database ids."""

from __future__ import annotations

import uuid

POOL = "streamweave"
FLOW = "harvest"
# A module path (no colon): every worker has StreamWeave installed, so the flow is
# imported from the package instead of being pulled from storage.
ENTRYPOINT = "streamweave.orchestration.flows.harvest"
TAG = "streamweave"


def deployment_name(schedule_id: uuid.UUID) -> str:
    return str(schedule_id)


def full_deployment_name(schedule_id: uuid.UUID) -> str:
    return f"{FLOW}/{deployment_name(schedule_id)}"


def schedule_of(name: str) -> uuid.UUID | None:
    """The schedule a deployment was named after, or None for a name that is not ours."""
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


def instrument_limit(instrument_id: uuid.UUID) -> str:
    """The global concurrency limit (one slot) that keeps an instrument's harvests apart."""
    return f"streamweave-instrument-{instrument_id}"
