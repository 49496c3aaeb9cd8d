"""The copy worker processes: chunks, progress, a chunk-wide error, a worker lost."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamweave.transfers import local
from streamweave.transfers.base import Location
from streamweave.transfers.copy_workers import Counts, WorkerLost, WorkerPool
from streamweave.transfers.errors import LocationNotFound

FILES = 600  # more than one flush (local.BATCH_FILES): several progress frames


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(1)
    yield pool
    pool.close()


def _tree(root: Path) -> list[local.Job]:
    (root / "src").mkdir()
    (root / "dst").mkdir()
    jobs: list[local.Job] = []
    for index in range(FILES):
        name = f"f{index:04d}.dat"
        (root / "src" / name).write_bytes(name.encode() * (index % 7))
        jobs.append((name, f"out/{name}", len(name) * (index % 7)))
    return jobs


def _request(root: Path, jobs: list[local.Job]) -> tuple[Location, Location, list[local.Job], str]:
    return (Location("local", str(root / "src")), Location("local", str(root / "dst")), jobs, "md5")


def test_a_chunk_is_copied_verified_with_progress(tmp_path: Path, pool: WorkerPool) -> None:
    jobs = _tree(tmp_path)
    heard: list[Counts] = []
    copied = pool.copy(_request(tmp_path, jobs), heard.append)
    assert len(copied) == FILES
    assert all(c.error is None and c.source_checksum == c.dest_checksum for c in copied)
    assert len(heard) > 1
    assert tuple(map(sum, zip(*heard, strict=True))) == (FILES, 0, sum(c.bytes for c in copied))
    for source, destination, _ in jobs:
        assert (tmp_path / "dst" / destination).read_bytes() == (
            tmp_path / "src" / source
        ).read_bytes()


def test_a_chunk_wide_error_is_raised_and_the_worker_kept(tmp_path: Path, pool: WorkerPool) -> None:
    jobs = _tree(tmp_path)
    source, _, _, algorithm = _request(tmp_path, jobs)
    missing = Location("local", str(tmp_path / "no-such-dir"))
    with pytest.raises(LocationNotFound, match="does not exist"):
        pool.copy((source, missing, jobs, algorithm), lambda counts: None)
    before = pool.pids()
    assert len(pool.copy(_request(tmp_path, jobs), lambda counts: None)) == FILES
    assert pool.pids() == before


def test_a_worker_killed_mid_chunk_fails_its_files_and_is_replaced(
    tmp_path: Path, pool: WorkerPool
) -> None:
    jobs = _tree(tmp_path)
    pool.start()
    (victim,) = pool.pids()

    def kill(counts: Counts) -> None:
        os.kill(victim, signal.SIGKILL)

    copied = pool.copy(_request(tmp_path, jobs), kill)
    assert len(copied) == FILES
    assert all(isinstance(c.error, WorkerLost) for c in copied)
    assert "retried by the next run" in str(copied[0].error)
    # No copy is left under its final name unverified: only whole files or none.
    for source, destination, _ in jobs:
        final = tmp_path / "dst" / destination
        if final.exists():
            assert final.read_bytes() == (tmp_path / "src" / source).read_bytes()
    again = pool.copy(_request(tmp_path, jobs), lambda counts: None)
    assert all(c.error is None for c in again)
    assert pool.pids() and pool.pids() != [victim]
