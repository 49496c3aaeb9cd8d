"""Workers as separate processes: a worker killed with SIGKILL mid-harvest, and two
workers sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from streamweave.db.models import FileTransfer, HarvestRun, Instrument
from streamweave.simlab.processes import process_table
from tests.harvest.conftest import tree
from tests.orchestration.conftest import LocalLab, Orchestration, fill, harvest_runs


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL (the two-worker test on PostgreSQL only)."""


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for child, _, parent, _ in process_table():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


async def running_run(lab: LocalLab, timeout: float = 120) -> HarvestRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await lab.rows(select(HarvestRun).where(HarvestRun.status == "running"))
        if rows:
            return rows[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no harvest started")


async def test_a_worker_killed_mid_harvest_then_the_next_run_completes(
    orchestration: Orchestration, lab: LocalLab
) -> None:
    fill(lab, 3000, size=64 << 10)
    schedule_id = await orchestration.schedule(lab)
    await orchestration.settle()
    doomed = orchestration.start_worker(limit=1)
    first = await orchestration.trigger(schedule_id)
    await running_run(lab)
    await asyncio.sleep(random.uniform(0.0, 0.3))
    pids = descendants(doomed.process.pid)
    assert len(pids) >= 2, "the flow run's process was not found below the worker"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    doomed.process.wait()

    second = await orchestration.rerun_on_a_fresh_worker(schedule_id, lab)
    killed, finished = await harvest_runs(lab)
    assert killed.prefect_flow_run_id == first
    assert killed.status == "failed" and "interrupted" in (killed.error_message or "")
    assert finished.prefect_flow_run_id == second and finished.status == "completed"
    transfers = await lab.rows(select(FileTransfer).where(FileTransfer.status == "completed"))
    assert len(transfers) == 3000
    assert {t.prefect_flow_run_id for t in transfers} <= {first, second}


async def second_instrument(lab: LocalLab, tmp_path: Path) -> LocalLab:
    source = tmp_path / "spectrometer-source"
    source.mkdir()
    async with lab.sessions() as session:
        instrument = Instrument(
            name="spectrometer",
            source_type="local",
            source_config={"path": str(source)},
            completion_rule={"mode": "none"},
        )
        session.add(instrument)
        await session.commit()
    return replace(lab, source=source, instrument_id=instrument.id)


FILES = 25_000


async def test_two_workers_on_one_postgresql_harvest_two_instruments_at_once(
    orchestration: Orchestration, lab: LocalLab, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("several workers share one database in production: PostgreSQL")
    other = await second_instrument(lab, tmp_path)
    # Long enough that the second run's start, slowed by the first one's copying on a
    # small machine (seconds of start-up on two cores), comes before the first ends.
    fill(lab, FILES, size=4096)
    fill(other, FILES, size=4096, prefix="spectra")
    schedules = [await orchestration.schedule(each) for each in (lab, other)]
    await orchestration.settle()
    # Both runs are taken within a fifth of a second, not up to the default poll's 2 s.
    orchestration.start_worker(limit=1, poll=0.2)
    orchestration.start_worker(limit=1, poll=0.2)
    ids = await asyncio.gather(*(orchestration.trigger(s) for s in schedules))
    await orchestration.completed(ids, timeout=240)
    assert tree(lab.destination) == tree(lab.source)
    assert tree(lab.storage_root / "spectrometer") == tree(other.source)
    one, two = await harvest_runs(lab)
    assert {one.instrument_id, two.instrument_id} == {lab.instrument_id, other.instrument_id}
    assert one.finished_at is not None and two.finished_at is not None
    # Each worker takes one run at a time: overlapping runs ran on both workers.
    assert two.started_at < one.finished_at, (
        "the two harvests did not run at the same time",
        [f"{r.started_at:%H:%M:%S.%f} to {r.finished_at:%H:%M:%S.%f}" for r in (one, two)],
    )
    for each, flow_run_id in zip((lab, other), ids, strict=True):
        transfers = await lab.rows(
            select(FileTransfer).where(FileTransfer.prefect_flow_run_id == flow_run_id)
        )
        assert len(transfers) == FILES and all(t.checksum_verified for t in transfers)
        rows = await lab.rows(
            select(HarvestRun).where(HarvestRun.prefect_flow_run_id == flow_run_id)
        )
        assert rows[0].instrument_id == each.instrument_id
