"""`streamweave up`: the whole stack on this machine under one supervisor: the API,
a Prefect server (or the external one PREFECT_API_URL names) and a worker."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from streamweave.config import Settings, load_settings
from streamweave.errors import ConfigurationError, StreamWeaveError

if TYPE_CHECKING:
    from streamweave.orchestration.demo import DemoRows

console = Console()
err = Console(stderr=True)
READY_SECONDS = 120.0


async def _prepare_database(settings: Settings) -> tuple[str, str] | None:
    """Migrate; on a first start, the admin account (e-mail, password) it created."""
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.db.migrate import upgrade
    from streamweave.services.setup import ensure_initial_admin

    engine = create_engine(settings.sqlalchemy_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            return await ensure_initial_admin(session, settings)
    finally:
        await engine.dispose()


def _api_healthy(base: str) -> bool:
    import httpx  # here: every other command would pay for its import

    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _preload_triggers() -> None:
    import streamweave.orchestration.triggers  # noqa: F401


def _api_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "streamweave.api.app:create_app",
        "--host",
        host,
        "--port",
        str(port),
    ]


async def _demo_rows(settings: Settings) -> DemoRows:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.orchestration.demo import prepare

    engine = create_engine(settings.sqlalchemy_url)
    try:
        return await prepare(create_sessionmaker(engine), settings.data_dir)
    finally:
        await engine.dispose()


async def _demo_trigger(settings: Settings, rows: DemoRows, prefect_url: str) -> uuid.UUID:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.orchestration.triggers import trigger_one

    engine = create_engine(settings.sqlalchemy_url)
    try:
        run = await trigger_one(create_sessionmaker(engine), rows.schedule_id, prefect_url)
    finally:
        await engine.dispose()
    console.print(
        f"demo: instrument [bold]demo-instrument[/bold] reads {rows.source}; harvests land "
        f"in {rows.storage}; first harvest: flow run {run.flow_run_id}"
    )
    return run.flow_run_id


async def _demo_first_file(
    settings: Settings,
    rows: DemoRows,
    flow_run_id: uuid.UUID,
    started: float,
    watch: Callable[[], None],
) -> None:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.orchestration.demo import first_verified_file

    engine = create_engine(settings.sqlalchemy_url)
    try:
        path = await first_verified_file(create_sessionmaker(engine), rows, flow_run_id, watch)
    finally:
        await engine.dispose()
    console.print(
        f"demo: first verified file [bold]{path}[/bold] "
        f"{time.monotonic() - started:.1f} s after the command started"
    )


def up(
    host: Annotated[str, typer.Option(help="Address the API listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API")] = 8000,
    prefect_port: Annotated[
        int, typer.Option(help="Port of the embedded Prefect server (and its UI)")
    ] = 4200,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Harvests the worker runs at the same time")
    ] = 4,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Also create a demo instrument on sample data, storage and a schedule, "
            "and run a first harvest",
        ),
    ] = False,
) -> None:
    """Start StreamWeave on this machine: API, Prefect server and a worker.

    The Prefect server keeps its own SQLite database under the data directory; with
    PREFECT_API_URL set, that server is used instead. Ctrl+C (or SIGTERM) stops
    everything; running harvests first finish their current batch (a second Ctrl+C
    stops them at once).
    """
    started = time.monotonic()
    from streamweave.orchestration.connection import api_url
    from streamweave.orchestration.server import PrefectServer, healthy, port_in_use
    from streamweave.orchestration.shutdown import CONTROL_ENV
    from streamweave.orchestration.supervisor import ChildFailed, Supervisor
    from streamweave.orchestration.worker import READY_FILE

    try:
        settings = load_settings()
    except StreamWeaveError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    run_dir = settings.data_dir / "run"
    os.environ.setdefault("PREFECT_HOME", str(run_dir / "prefect-client"))
    supervisor = Supervisor(settings.data_dir / "logs", say=console.print)
    supervisor.install_handlers()
    external = api_url()
    server = None if external else PrefectServer(settings.data_dir, port=prefect_port)
    prefect_url = external or (server.url if server else "")
    failed = False
    try:
        if port_in_use(host if host != "0.0.0.0" else "127.0.0.1", port):  # noqa: S104
            raise ConfigurationError(f"port {port} is taken: choose another with --port")
        # Everything that can overlap the Prefect server's start (the slowest part) does.
        if server is not None:
            server.check_port()
            server.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            supervisor.start("prefect", server.argv(), server.environment())
        elif not healthy(prefect_url):
            raise ConfigurationError(f"the Prefect server at {prefect_url} does not answer")
        created = asyncio.run(_prepare_database(settings))
        base_env = {**os.environ, "PREFECT_API_URL": prefect_url}
        supervisor.start("api", _api_argv(host, port), base_env)
        control = run_dir / "worker-control"
        shutil.rmtree(control, ignore_errors=True)
        control.mkdir(parents=True)
        supervisor.start(
            "worker",
            [sys.executable, "-m", "streamweave.orchestration.worker", "--limit", str(workers)],
            {**base_env, CONTROL_ENV: str(control)},
        )
        if demo:
            # Prefect's client takes seconds to import: done while the server starts.
            threading.Thread(target=_preload_triggers, daemon=True).start()
        demo_rows = asyncio.run(_demo_rows(settings)) if demo else None
        supervisor.wait_until(lambda: healthy(prefect_url), "the Prefect server", READY_SECONDS)
        flow_run = (
            asyncio.run(_demo_trigger(settings, demo_rows, prefect_url)) if demo_rows else None
        )
        local = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
        supervisor.wait_until(lambda: _api_healthy(local), "the API", READY_SECONDS)
        supervisor.wait_until((control / READY_FILE).exists, "the worker", READY_SECONDS)
        ui = prefect_url.removesuffix("/").removesuffix("/api")
        console.print(f"StreamWeave  http://{host}:{port}  (API docs: /docs)")
        console.print(f"Prefect UI   {ui}  ({'external' if external else 'embedded'})")
        console.print(f"Data         {settings.data_dir}  (logs: {supervisor.logs})")
        if created:
            console.print(
                f"[bold]First start:[/bold] log in as {created[0]} with password "
                f"[bold]{created[1]}[/bold] (also in {settings.data_dir / 'initial-admin.txt'})"
            )
        console.print(
            f"ready in {time.monotonic() - started:.1f} s; Ctrl+C stops (running harvests "
            "finish their batch)"
        )
        if demo_rows is not None and flow_run is not None:

            def watch() -> None:
                supervisor.check()
                if supervisor.signals:
                    raise KeyboardInterrupt

            asyncio.run(_demo_first_file(settings, demo_rows, flow_run, started, watch))
        supervisor.run_until_signal()
    except KeyboardInterrupt:
        pass
    except (ChildFailed, StreamWeaveError, TimeoutError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        failed = True
    finally:
        # Whatever happened: the children run in sessions of their own and would
        # otherwise outlive this process.
        supervisor.shutdown("worker")
    console.print("stopped")
    if failed:
        raise typer.Exit(1)
