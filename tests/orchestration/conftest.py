"""One real Prefect server for the whole test session, workers as real processes, and
the API with its reconciler running.

Prefect's own home for this test process is a temporary directory, set before Prefect
is imported, so that nothing here reads or writes ~/.prefect.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="sw-test-prefect-home-"))

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from streamweave.config import Settings
from streamweave.db.models import HarvestRun
from streamweave.orchestration.connection import prefect
from streamweave.orchestration.server import PrefectServer
from streamweave.orchestration.shutdown import CONTROL_ENV
from streamweave.orchestration.worker import READY_FILE
from tests.harvest.conftest import LocalLab
from tests.harvest.conftest import lab as lab
from tests.harvest.test_crash import check_consistent

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def prefect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server (its own SQLite database), started once for the session."""
    # Expired concurrency leases (a killed worker's slot) are reclaimed every 2 s
    # instead of 15 s: the kill test waits for that.
    server = PrefectServer(
        tmp_path_factory.mktemp("prefect-server"),
        settings={"PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2"},
    )
    started = time.monotonic()
    with server:
        print(f"\nPrefect server healthy in {time.monotonic() - started:.1f} s at {server.url}")
        yield server.url


@pytest.fixture
def orchestrated(prefect_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's API sees the Prefect server."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_url)
    return prefect_url


@pytest_asyncio.fixture(loop_scope="session")
async def api(app: Any, orchestrated: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API with its lifespan (and so its reconciler) running."""
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 12345))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def settle(app: Any) -> None:
    """Wait for the API's reconciler to have caught up with the last change."""
    await asyncio.sleep(0.05)
    await app.state.reconciler.settled()


async def deployment(url: str, schedule_id: str) -> Any:
    """The schedule's deployment in Prefect, or None."""
    from prefect.exceptions import ObjectNotFound

    async with prefect(url) as client:
        try:
            return await client.read_deployment_by_name(f"harvest/{schedule_id}")
        except ObjectNotFound:
            return None


def environment(settings: Settings, prefect_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_url,
        "STREAMWEAVE_DATABASE_URL": settings.database_url or "",
        "STREAMWEAVE_DATA_DIR": str(settings.data_dir),
        "STREAMWEAVE_ENV": "test",
        **extra,
    }


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    control: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(
    settings: Settings, prefect_url: str, tmp: Path, limit: int = 4, poll: float | None = None
) -> Worker:
    control = Path(tempfile.mkdtemp(prefix="ctl-", dir=tmp))
    log = control.with_suffix(".log")
    command = [sys.executable, "-m", "streamweave.orchestration.worker", "--limit", str(limit)]
    if poll is not None:
        command += ["--poll", str(poll)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            env=environment(settings, prefect_url, **{CONTROL_ENV: str(control)}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while not (control / READY_FILE).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return Worker(process, control, log)


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(60)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


@pytest.fixture
def worker_factory(settings: Settings, prefect_url: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []

    def make(limit: int = 4, poll: float | None = None) -> Worker:
        started.append(start_worker(settings, prefect_url, tmp_path, limit, poll))
        return started[-1]

    yield make
    for worker in started:
        stop_worker(worker)


async def wait_for_run(url: str, flow_run_id: str, timeout: float = 120) -> Any:
    """The flow run once it reached a final state."""
    deadline = time.monotonic() + timeout
    async with prefect(url) as client:
        while True:
            run = await client.read_flow_run(uuid.UUID(flow_run_id))
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"flow run {flow_run_id} still {run.state_name}")
            await asyncio.sleep(0.5)


async def harvest_runs(lab: LocalLab) -> list[HarvestRun]:
    return await lab.rows(select(HarvestRun).order_by(HarvestRun.started_at))


def fill(lab: LocalLab, files: int, size: int = 10_000, prefix: str = "run") -> None:
    """Write ``files`` files into the instrument, 50 to a folder as runs are, each with
    its own bytes so that a mixed-up copy shows."""
    for index in range(files):
        lab.write(f"{prefix}/{index // 50:02d}/file{index:04d}.dat", bytes([index % 251]) * size)


@dataclass
class Orchestration:
    """The API (its reconciler running) driven as an admin, the Prefect server it
    schedules on, and workers to start: what every test that runs harvests through
    Prefect sets up, as one fixture rather than the same six in each signature."""

    api: httpx.AsyncClient
    app: Any
    admin: dict[str, Any]
    prefect_url: str
    start_worker: Callable[..., Worker]

    async def settle(self) -> None:
        """Wait until Prefect has the deployments of the schedules made so far."""
        await settle(self.app)

    async def schedule(self, lab: LocalLab) -> str:
        """A new schedule of the lab's instrument into its storage location. Its cron
        fires once a year, so in a test only a trigger runs it."""
        response = await self.api.post(
            "/api/schedules",
            json={
                "instrument_id": str(lab.instrument_id),
                "default_storage_location_id": str(lab.storage_id),
                "cron_expression": "0 0 1 1 *",
            },
            headers=self.admin["headers"],
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def trigger(self, schedule_id: str) -> str:
        """Run the schedule now; the id of the flow run it started."""
        response = await self.api.post(
            f"/api/schedules/{schedule_id}/trigger", headers=self.admin["headers"]
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["schedule_id"] == schedule_id
        return str(body["flow_run_id"])

    async def completed(
        self, flow_run_ids: list[str], timeout: float = 120, workers: tuple[Worker, ...] = ()
    ) -> list[Any]:
        """The flow runs once each reached a final state, every one of them completed.
        A run that failed says why in its worker's output, not in its Prefect state:
        ``workers``' output goes into the assertion message."""
        runs = [await wait_for_run(self.prefect_url, each, timeout) for each in flow_run_ids]
        assert all(run.state.is_completed() for run in runs), (
            [run.state for run in runs],
            [worker.output() for worker in workers],
        )
        return runs

    async def rerun_on_a_fresh_worker(self, schedule_id: str, lab: LocalLab) -> str:
        """How every test of a worker stopped or killed mid-harvest ends: on a new
        worker, the next run of the schedule completes, every file copied and recorded
        once; its flow run's id. The timeout is the long one: the run may first wait for
        the interrupted run's concurrency slot to be reclaimed."""
        self.start_worker(limit=1)
        flow_run_id = await self.trigger(schedule_id)
        await self.completed([flow_run_id], timeout=240)
        await check_consistent(lab)
        return flow_run_id


@pytest.fixture
def orchestration(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    orchestrated: str,
    worker_factory: Callable[..., Worker],
) -> Orchestration:
    return Orchestration(api, app, admin, orchestrated, worker_factory)


__all__ = ["IN_CI", "LocalLab", "deployment", "environment", "settle", "wait_for_run"]
