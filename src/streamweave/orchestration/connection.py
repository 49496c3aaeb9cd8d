"""Which Prefect server StreamWeave talks to: the one named by ``PREFECT_API_URL``.

Read from the environment at each call rather than from Prefect's settings, which
are frozen when Prefect is imported: a process that imported Prefect before the
variable was set, or without it, must never fall back to an ephemeral server. This
module imports Prefect only when a client is made, so the API pays for Prefect only
where orchestration is configured.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from streamweave.orchestration.errors import OrchestratorUnavailable

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient

NOT_CONFIGURED = (
    "no Prefect server is configured (PREFECT_API_URL is not set): start the stack with "
    "`streamweave up`, or set PREFECT_API_URL to the Prefect server's API"
)


def api_url() -> str | None:
    return os.environ.get("PREFECT_API_URL") or None


def required_url() -> str:
    url = api_url()
    if url is None:
        raise OrchestratorUnavailable(NOT_CONFIGURED)
    return url


@asynccontextmanager
async def prefect(url: str | None = None) -> AsyncIterator[PrefectClient]:
    """A client of the configured server; unreachable becomes ``OrchestratorUnavailable``."""
    from prefect.client.orchestration import PrefectClient

    target = url or required_url()
    try:
        async with PrefectClient(target, api_key=os.environ.get("PREFECT_API_KEY")) as client:
            yield client
    except (httpx.TransportError, OSError) as exc:
        raise OrchestratorUnavailable(
            f"the Prefect server at {target} cannot be reached ({type(exc).__name__}); "
            "harvests are not scheduled until it is back"
        ) from exc
