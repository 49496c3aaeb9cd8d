"""kill -9 of `streamweave harvest` at random moments, then a rerun: every trial ends
with the destination equal to the source, every file verified, no duplicate rows."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import xxhash
from sqlalchemy import select

from streamweave.config import Settings
from streamweave.db.models import FileRecord, FileTransfer, FileVersion, HarvestRun
from tests.harvest.conftest import LocalLab, tree

TRIALS = 20


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL."""


def harvest_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STREAMWEAVE_DATABASE_URL": settings.database_url or "",
        "STREAMWEAVE_DATA_DIR": str(settings.data_dir),
        "STREAMWEAVE_ENV": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "streamweave", "harvest", "microscope", "--storage", "archive"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def started(lab: LocalLab, process: subprocess.Popen[bytes], known: set[object]) -> None:
    """Wait until ``process`` has begun a harvest run (or has ended)."""
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        runs = {r.id for r in await lab.rows(select(HarvestRun))}
        if runs - known:
            known |= runs
            return
        await asyncio.sleep(0.02)


def change_the_source(lab: LocalLab, trial: int, rng: random.Random) -> None:
    """New files, and new content for some existing ones (new versions)."""
    for index in range(40):
        size = rng.choice([0, 100, 4096, 65_536, 3 << 20, 8 << 20])
        lab.write(f"trial{trial:02d}/f{index:03d}.dat", rng.randbytes(size))
    existing = sorted(p for p in tree(lab.source) if not p.startswith(f"trial{trial:02d}/"))
    for path in rng.sample(existing, min(5, len(existing))):
        lab.write(path, rng.randbytes(rng.choice([10, 5000, 1 << 20])))


def visible_current(lab: LocalLab) -> dict[str, bytes]:
    """The destination's current files (superseded versions aside)."""
    return {p: d for p, d in tree(lab.destination).items() if not p.endswith("~")}


async def check_consistent(lab: LocalLab) -> None:
    source = tree(lab.source)
    assert visible_current(lab) == source
    leftovers = [p for p in lab.destination.rglob("*") if ".swpart-" in p.name]
    assert not leftovers, leftovers
    records = await lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(source)
    versions = await lab.rows(select(FileVersion))
    per_file = Counter(v.file_id for v in versions)
    for record in records:
        assert record.xxhash == xxhash.xxh3_128(source[record.source_path]).hexdigest()
        assert per_file[record.id] == record.current_version  # 1..n, no gaps, no doubles
    completed = await lab.rows(select(FileTransfer).where(FileTransfer.status == "completed"))
    by_version = Counter(t.file_version_id for t in completed)
    assert all(count == 1 for count in by_version.values()), "a version recorded twice"
    assert set(by_version) == {v.id for v in versions}
    assert all(t.checksum_verified for t in completed)


@pytest.mark.slow
async def test_kill_minus_nine_at_random_points_then_rerun(
    lab: LocalLab, settings: Settings
) -> None:
    rng = random.Random(20261121)
    killed = 0
    known_runs: set[object] = set()
    for trial in range(TRIALS):
        change_the_source(lab, trial, rng)
        process = harvest_process(settings)
        # Kill once this run is under way (its harvest run row exists), at a random
        # moment of it: listing, planning, copying or recording.
        await started(lab, process, known_runs)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait()
        assert process.returncode in (0, -signal.SIGKILL), (
            process.stderr.read() if process.stderr else ""
        )
        if process.stderr:
            process.stderr.close()

        summary = await lab.harvest()
        assert summary.failed == 0, summary.errors
        known_runs |= {run.id for run in await lab.rows(select(HarvestRun))}
        await check_consistent(lab)
    assert killed >= TRIALS // 2, f"only {killed} of {TRIALS} runs were killed mid-way"
    runs = await lab.rows(select(HarvestRun))
    assert not [r for r in runs if r.status == "running"]
    assert sum(1 for r in runs if r.error_message and "interrupted" in r.error_message) >= 1
