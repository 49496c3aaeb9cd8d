"""A worker told to stop: the running harvest finishes its batch (first signal) or
stops at once and removes its temporary copies (second signal); either way the next
run completes with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from typing import Any

import pytest
from sqlalchemy import select

from streamweave.db.models import FileRecord, FileTransfer
from tests.harvest.conftest import tree
from tests.orchestration.conftest import (
    LocalLab,
    Orchestration,
    Worker,
    fill,
    harvest_runs,
    wait_for_run,
)
from tests.orchestration.test_faults import running_run

FILES = 10_000  # five batches


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL."""


def only_verified_copies(lab: LocalLab) -> dict[str, bytes]:
    """The destination holds whole copies equal to their source files, no temporaries."""
    copied = tree(lab.destination)
    leftovers = [p for p in lab.destination.rglob("*") if ".swpart-" in p.name]
    assert not leftovers, leftovers
    source = tree(lab.source)
    assert all(copied[path] == source[path] for path in copied)
    return copied


async def recorded_matches_destination(lab: LocalLab) -> None:
    """Every file at the destination is a verified copy, and recorded."""
    copied = only_verified_copies(lab)
    records = {r.source_path for r in await lab.rows(select(FileRecord))}
    assert set(copied) <= records


async def first_batch_recorded(lab: LocalLab, timeout: float = 120) -> None:
    """Wait until the running harvest has recorded a batch (more are to come)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        run = await running_run(lab, timeout)
        if run.files_completed:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no batch was recorded")


async def stop_mid_harvest(
    orchestration: Orchestration, lab: LocalLab, signals: int
) -> tuple[str, Any, Worker]:
    """Start a harvest and signal its worker once a batch is recorded; the worker must
    exit cleanly and the flow run end failed. The schedule, that flow run and the
    worker (its output explains a surprise), for the test to check what was left."""
    await orchestration.settle()
    fill(lab, FILES, size=2048)
    schedule_id = await orchestration.schedule(lab)
    worker = orchestration.start_worker(limit=1)
    flow_run_id = await orchestration.trigger(schedule_id)
    await first_batch_recorded(lab)
    # Two different signals back to back: two of the same may merge into one while the
    # first is pending, and any pause between them lets the batch in hand end first.
    for signum in [signal.SIGTERM, signal.SIGINT][:signals]:
        worker.process.send_signal(signum)
    try:
        await asyncio.to_thread(worker.process.wait, 120)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker did not stop:\n{worker.output()}") from None
    assert worker.process.returncode == 0, worker.output()
    run = await wait_for_run(orchestration.prefect_url, flow_run_id, timeout=30)
    assert run.state.is_failed(), run.state
    return schedule_id, run, worker


async def test_first_signal_lets_the_batch_finish_then_the_next_run_completes(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    schedule_id, _, worker = await stop_mid_harvest(orchestration, lab, signals=1)
    (stopped,) = await harvest_runs(lab)
    assert stopped.status == "failed", worker.output()
    assert "stopped between two batches" in (stopped.error_message or "")
    assert 0 < stopped.files_completed < FILES, "not stopped mid-harvest"
    await recorded_matches_destination(lab)
    completed = await lab.rows(select(FileTransfer).where(FileTransfer.status == "completed"))
    assert len(completed) == stopped.files_completed

    await orchestration.rerun_on_a_fresh_worker(schedule_id, lab)


async def test_second_signal_aborts_and_cleans_temporary_copies(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    schedule_id, run, worker = await stop_mid_harvest(orchestration, lab, signals=2)
    assert "stop at once" in (run.state.message or ""), run.state
    # Copies of the cancelled batch may be in place and not yet recorded (as after a
    # kill): the next run copies them onto themselves and records them.
    only_verified_copies(lab)

    await orchestration.rerun_on_a_fresh_worker(schedule_id, lab)
    aborted, finished = await harvest_runs(lab)
    # Failed by itself, or (cancelled inside a transaction) marked by the next run.
    assert aborted.status == "failed", worker.output()
    assert finished.status == "completed"
