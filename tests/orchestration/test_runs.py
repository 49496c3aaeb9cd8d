"""Flow runs on a real worker: on demand, with the flow run id on every transfer, its
progress on the run, its logs attached, and one harvest per instrument at a time."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from streamweave.config import Settings
from streamweave.db.models import FileTransfer, HarvestSchedule
from streamweave.orchestration.connection import prefect
from tests.harvest.conftest import tree
from tests.orchestration.conftest import LocalLab, Orchestration, fill, harvest_runs, wait_for_run


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL."""


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


async def test_a_triggered_run_completes_with_its_flow_run_id_on_every_transfer(
    orchestration: Orchestration, lab: LocalLab, settings: Settings
) -> None:
    fill(lab, 120)
    schedule_id = await orchestration.schedule(lab)
    await orchestration.settle()
    worker = orchestration.start_worker()
    flow_run_id = await orchestration.trigger(schedule_id)

    await orchestration.completed([flow_run_id], workers=(worker,))
    assert tree(lab.destination) == tree(lab.source)
    transfers = await lab.rows(select(FileTransfer))
    assert len(transfers) == 120
    assert {t.prefect_flow_run_id for t in transfers} == {flow_run_id}
    assert all(t.checksum_verified for t in transfers)
    (harvest_run,) = await harvest_runs(lab)
    assert harvest_run.prefect_flow_run_id == flow_run_id
    assert str(harvest_run.schedule_id) == schedule_id
    assert harvest_run.status == "completed" and harvest_run.files_completed == 120

    artifacts, messages = await artifacts_and_logs(
        orchestration.prefect_url, flow_run_id, "copied and verified"
    )
    (progress,) = [a for a in artifacts if a.type == "progress"]
    assert progress.data == 100.0
    assert "120 of 120 files" in (progress.description or "")
    assert "120 copied and verified" in messages, messages
    for secret in [*settings.fernet_keys, settings.jwt_secret]:
        assert secret not in messages

    # The API lists the run with the flow run id.
    listed = await orchestration.api.get(
        "/api/harvest-runs",
        params={"instrument_id": str(lab.instrument_id)},
        headers=orchestration.admin["headers"],
    )
    assert listed.json()["items"][0]["prefect_flow_run_id"] == flow_run_id


async def test_a_failed_run_tells_the_admins(orchestration: Orchestration, lab: LocalLab) -> None:
    schedule_id = await orchestration.schedule(lab)
    await orchestration.settle()
    shutil.rmtree(lab.source)  # the instrument's share is gone
    worker = orchestration.start_worker()
    flow_run_id = await orchestration.trigger(schedule_id)

    run = await wait_for_run(orchestration.prefect_url, flow_run_id)
    assert run.state.is_failed(), (run.state, worker.output())
    notices = await orchestration.api.get(
        "/api/notifications", headers=orchestration.admin["headers"]
    )
    assert [n["type"] for n in notices.json()["items"]] == ["harvest_failed"]


async def test_harvest_now_runs_every_enabled_schedule_of_the_instrument(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    api, headers = orchestration.api, orchestration.admin["headers"]
    fill(lab, 10)
    first = await orchestration.schedule(lab)
    second = await orchestration.schedule(lab)
    disabled = await orchestration.schedule(lab)
    await api.patch(f"/api/schedules/{disabled}", json={"enabled": False}, headers=headers)
    await orchestration.settle()
    orchestration.start_worker()
    response = await api.post(f"/api/instruments/{lab.instrument_id}/harvest", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    assert sorted(t["schedule_id"] for t in body["triggered"]) == sorted([first, second])
    await orchestration.completed([t["flow_run_id"] for t in body["triggered"]])
    assert tree(lab.destination) == tree(lab.source)
    # Never at the same time: one run's interval ends before the other's begins.
    a, b = await harvest_runs(lab)
    assert a.finished_at is not None and a.finished_at <= b.started_at


async def test_two_triggers_of_one_instrument_never_overlap(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    fill(lab, 400, size=50_000)
    schedule_id = await orchestration.schedule(lab)
    await orchestration.settle()
    orchestration.start_worker(limit=4)
    ids = await asyncio.gather(*(orchestration.trigger(schedule_id) for _ in range(3)))
    await orchestration.completed(ids, timeout=240)
    rows = await harvest_runs(lab)
    assert len(rows) == 3
    for earlier, later in itertools.pairwise(rows):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at
    assert sum(r.files_completed for r in rows) == 400
    transfers = await lab.rows(select(FileTransfer))
    assert len(transfers) == 400 and {t.prefect_flow_run_id for t in transfers} <= set(ids)


async def test_triggering_a_schedule_whose_instrument_is_disabled_is_a_conflict(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    api, headers = orchestration.api, orchestration.admin["headers"]
    schedule_id = await orchestration.schedule(lab)
    await api.patch(
        f"/api/instruments/{lab.instrument_id}", json={"enabled": False}, headers=headers
    )
    response = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=headers)
    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert (await lab.rows(select(HarvestSchedule)))[0].enabled
