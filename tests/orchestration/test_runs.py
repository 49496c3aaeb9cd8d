"""Flow runs on a real worker: on demand, with the flow run id on every transfer, its
progress on the run, its logs attached, and one harvest per instrument at a time."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from streamweave.config import Settings
from streamweave.db.models import FileTransfer, HarvestSchedule
from streamweave.orchestration.connection import prefect
from tests.harvest.conftest import tree
from tests.orchestration.conftest import LocalLab, harvest_runs, settle, wait_for_run


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL."""


async def schedule_for(api: httpx.AsyncClient, admin: dict[str, Any], lab: LocalLab) -> str:
    response = await api.post(
        "/api/schedules",
        json={
            "instrument_id": str(lab.instrument_id),
            "default_storage_location_id": str(lab.storage_id),
            "cron_expression": "0 0 1 1 *",
        },
        headers=admin["headers"],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def artifacts_and_logs(url: str, flow_run_id: str, awaited: str) -> tuple[list[Any], str]:
    """The flow run's artifacts and log text, once ``awaited`` is in the logs (a run's
    last lines reach the server shortly after its final state)."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    run_id = uuid.UUID(flow_run_id)
    async with prefect(url) as client:
        for _ in range(60):
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
            )
            messages = "\n".join(log.message for log in logs)
            if awaited in messages:
                break
            await asyncio.sleep(0.5)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return artifacts, messages


def fill(lab: LocalLab, files: int, size: int = 10_000, prefix: str = "run") -> None:
    for index in range(files):
        lab.write(f"{prefix}/{index // 50:02d}/file{index:04d}.dat", bytes([index % 251]) * size)


async def test_a_triggered_run_completes_with_its_flow_run_id_on_every_transfer(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    lab: LocalLab,
    orchestrated: str,
    worker_factory: Any,
    settings: Settings,
) -> None:
    fill(lab, 120)
    schedule_id = await schedule_for(api, admin, lab)
    await settle(app)
    worker = worker_factory()
    response = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=admin["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schedule_id"] == schedule_id
    flow_run_id = body["flow_run_id"]

    run = await wait_for_run(orchestrated, flow_run_id)
    assert run.state.is_completed(), (run.state, worker.output())
    assert tree(lab.destination) == tree(lab.source)
    transfers = await lab.rows(select(FileTransfer))
    assert len(transfers) == 120
    assert {t.prefect_flow_run_id for t in transfers} == {flow_run_id}
    assert all(t.checksum_verified for t in transfers)
    (harvest_run,) = await harvest_runs(lab)
    assert harvest_run.prefect_flow_run_id == flow_run_id
    assert str(harvest_run.schedule_id) == schedule_id
    assert harvest_run.status == "completed" and harvest_run.files_completed == 120

    artifacts, messages = await artifacts_and_logs(orchestrated, flow_run_id, "copied and verified")
    (progress,) = [a for a in artifacts if a.type == "progress"]
    assert progress.data == 100.0
    assert "120 of 120 files" in (progress.description or "")
    assert "120 copied and verified" in messages, messages
    for secret in [*settings.fernet_keys, settings.jwt_secret]:
        assert secret not in messages

    # The API lists the run with the flow run id.
    listed = await api.get(
        "/api/harvest-runs",
        params={"instrument_id": str(lab.instrument_id)},
        headers=admin["headers"],
    )
    assert listed.json()["items"][0]["prefect_flow_run_id"] == flow_run_id


async def test_a_failed_run_tells_the_admins(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    lab: LocalLab,
    orchestrated: str,
    worker_factory: Any,
) -> None:
    schedule_id = await schedule_for(api, admin, lab)
    await settle(app)
    shutil.rmtree(lab.source)  # the instrument's share is gone
    worker = worker_factory()
    response = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=admin["headers"])
    assert response.status_code == 200, response.text

    run = await wait_for_run(orchestrated, response.json()["flow_run_id"])
    assert run.state.is_failed(), (run.state, worker.output())
    notices = await api.get("/api/notifications", headers=admin["headers"])
    assert [n["type"] for n in notices.json()["items"]] == ["harvest_failed"]


async def test_harvest_now_runs_every_enabled_schedule_of_the_instrument(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    lab: LocalLab,
    orchestrated: str,
    worker_factory: Any,
) -> None:
    fill(lab, 10)
    first = await schedule_for(api, admin, lab)
    second = await schedule_for(api, admin, lab)
    disabled = await schedule_for(api, admin, lab)
    await api.patch(f"/api/schedules/{disabled}", json={"enabled": False}, headers=admin["headers"])
    await settle(app)
    worker_factory()
    response = await api.post(
        f"/api/instruments/{lab.instrument_id}/harvest", headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    assert sorted(t["schedule_id"] for t in body["triggered"]) == sorted([first, second])
    runs = [await wait_for_run(orchestrated, t["flow_run_id"]) for t in body["triggered"]]
    assert all(run.state.is_completed() for run in runs)
    assert tree(lab.destination) == tree(lab.source)
    # Never at the same time: one run's interval ends before the other's begins.
    a, b = await harvest_runs(lab)
    assert a.finished_at is not None and a.finished_at <= b.started_at


async def test_two_triggers_of_one_instrument_never_overlap(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    lab: LocalLab,
    orchestrated: str,
    worker_factory: Any,
) -> None:
    fill(lab, 400, size=50_000)
    schedule_id = await schedule_for(api, admin, lab)
    await settle(app)
    worker_factory(limit=4)
    triggered = await asyncio.gather(
        *(
            api.post(f"/api/schedules/{schedule_id}/trigger", headers=admin["headers"])
            for _ in range(3)
        )
    )
    ids = [r.json()["flow_run_id"] for r in triggered]
    runs = [await wait_for_run(orchestrated, flow_run_id, timeout=240) for flow_run_id in ids]
    assert all(run.state.is_completed() for run in runs), [r.state for r in runs]
    rows = await harvest_runs(lab)
    assert len(rows) == 3
    for earlier, later in itertools.pairwise(rows):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at
    assert sum(r.files_completed for r in rows) == 400
    transfers = await lab.rows(select(FileTransfer))
    assert len(transfers) == 400 and {t.prefect_flow_run_id for t in transfers} <= set(ids)


async def test_triggering_a_schedule_whose_instrument_is_disabled_is_a_conflict(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedule_id = await schedule_for(api, admin, lab)
    await api.patch(
        f"/api/instruments/{lab.instrument_id}", json={"enabled": False}, headers=admin["headers"]
    )
    response = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=admin["headers"])
    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert (await lab.rows(select(HarvestSchedule)))[0].enabled
