"""`streamweave worker`: join the `streamweave` work pool from this machine."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streamweave.config import load_settings
from streamweave.errors import ConfigurationError

err = Console(stderr=True)
console = Console()


def worker(
    limit: Annotated[
        int, typer.Option(min=1, max=64, help="Harvests this worker runs at the same time")
    ] = 4,
    poll: Annotated[
        float, typer.Option(min=0.5, max=300, help="Seconds between polls for due harvests")
    ] = 2.0,
) -> None:
    """Run harvests from the `streamweave` work pool (needs PREFECT_API_URL and the
    database settings of the API: STREAMWEAVE_DATABASE_URL, STREAMWEAVE_ENCRYPTION_KEY).

    Ctrl+C or SIGTERM: running harvests finish their current batch, then the worker
    exits; a second signal stops them at once.
    """
    from streamweave.orchestration.connection import NOT_CONFIGURED, api_url
    from streamweave.orchestration.server import healthy

    try:
        load_settings()
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    url = api_url()
    if url is None:
        err.print(f"[red]configuration error:[/red] {NOT_CONFIGURED}")
        raise typer.Exit(2)
    if not healthy(url):
        err.print(f"[red]error:[/red] the Prefect server at {url} does not answer")
        raise typer.Exit(1)
    from streamweave.orchestration.worker import prepare_environment, work

    control_dir = Path(tempfile.mkdtemp(prefix="streamweave-worker-"))
    prepare_environment(control_dir)
    asyncio.run(work(control_dir, limit, poll, say=console.print))
