"""The copy worker processes: chunks, progress, a chunk-wide error, a worker lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamweave.transfers import local, native
from streamweave.transfers.base import CopyItem, Location, Progress
from streamweave.transfers.copy_workers import (
    ChunkCancelled,
    Counts,
    Ticket,
    WorkerLost,
    WorkerPool,
)
from streamweave.transfers.errors import LocationNotFound, TransferError
from streamweave.transfers.native import NativeAdapter

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


def test_a_chunk_wide_error_of_any_kind_is_raised_and_the_worker_kept(
    tmp_path: Path, pool: WorkerPool
) -> None:
    jobs = _tree(tmp_path)
    source, destination, _, _ = _request(tmp_path, jobs)
    pool.start()
    before = pool.pids()
    with pytest.raises(TransferError, match="ValueError"):
        pool.copy((source, destination, jobs, "crc-not-offered"), lambda counts: None)
    assert pool.pids() == before


def test_a_worker_killed_mid_chunk_fails_only_the_files_it_had_not_reported(
    tmp_path: Path, pool: WorkerPool
) -> None:
    jobs = _tree(tmp_path)
    pool.start()
    (victim,) = pool.pids()
    heard: list[Counts] = []

    def kill(counts: Counts) -> None:
        heard.append(counts)
        os.kill(victim, signal.SIGKILL)

    copied = pool.copy(_request(tmp_path, jobs), kill)
    assert len(copied) == FILES
    reported = sum(done for done, _, _ in heard)
    assert reported >= 1
    assert all(c.error is None for c in copied[:reported])
    lost = [c for c in copied if isinstance(c.error, WorkerLost)]
    assert len(lost) == FILES - reported and "retried by the next run" in str(lost[0].error)
    # No copy is left under its final name unverified: only whole files or none.
    for source, destination, _ in jobs:
        final = tmp_path / "dst" / destination
        if final.exists():
            assert final.read_bytes() == (tmp_path / "src" / source).read_bytes()
    # Replaced at once, not when next asked for.
    assert len(pool.pids()) == 1 and pool.pids() != [victim]
    again = pool.copy(_request(tmp_path, jobs), lambda counts: None)
    assert all(c.error is None for c in again)


def _dead(pid: int) -> bool:
    """Whether our child ``pid`` has ended, all its threads with it (without reaping it:
    that is the pool's to do)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def test_a_chunk_waiting_for_a_worker_is_not_stranded_when_the_worker_dies(
    tmp_path: Path, pool: WorkerPool
) -> None:
    """The only worker dies while a second chunk waits for it: the second chunk gets a
    fresh worker (neither waits for ever, nor is handed the dead one)."""
    jobs = _tree(tmp_path)
    pool.start()
    (victim,) = pool.pids()
    running, go = threading.Event(), threading.Event()
    results: dict[str, list[Any]] = {}

    def first_progress(counts: Counts) -> None:
        running.set()
        go.wait(30)

    def copy(name: str, progress: Callable[[Counts], None]) -> None:
        results[name] = pool.copy(_request(tmp_path, jobs), progress)

    first = threading.Thread(target=copy, args=("first", first_progress))
    second = threading.Thread(target=copy, args=("second", lambda counts: None))
    first.start()
    assert running.wait(30)
    second.start()  # waits: the only worker is the first chunk's
    time.sleep(0.2)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _dead(victim) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.set()
    first.join(30)
    second.join(30)
    assert not second.is_alive(), "the second chunk waited for ever"
    assert all(c.error is None for c in results["second"]), {
        repr(c.error) for c in results["second"]
    }
    assert victim not in pool.pids()


def test_a_cancelled_ticket_stops_its_chunk_at_once(tmp_path: Path, pool: WorkerPool) -> None:
    jobs = _tree(tmp_path)
    ticket = Ticket()
    ticket.cancel()
    with pytest.raises(ChunkCancelled):
        pool.copy(_request(tmp_path, jobs), lambda counts: None, ticket)
    assert not list((tmp_path / "dst").iterdir())

    ticket = Ticket()
    copied = pool.copy(_request(tmp_path, jobs), lambda counts: ticket.cancel(), ticket)
    assert any(isinstance(c.error, WorkerLost) for c in copied)
    assert all(c.error is None for c in pool.copy(_request(tmp_path, jobs), lambda c: None))


async def test_a_cancelled_batch_copies_nothing_more_once_cancelled(tmp_path: Path) -> None:
    """An aborted harvest cancels its copy: the workers are stopped before the
    cancellation returns, so the sweep that follows is not raced."""
    count = 4 * native.CHUNK_FILES
    source, destination = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    destination.mkdir()
    for index in range(count):
        (source / f"{index:05d}.dat").write_bytes(b"x" * 4096)
    items = [CopyItem(f"{i:05d}.dat", f"{i:05d}.dat", 4096) for i in range(count)]
    started = asyncio.Event()

    def progress(state: Progress) -> None:
        if state.files_done:
            started.set()

    copy = asyncio.create_task(
        NativeAdapter().copy_batch(
            Location("local", str(source)),
            Location("local", str(destination)),
            items,
            algorithm="xxh3-128",
            progress=progress,
        )
    )
    await asyncio.wait_for(started.wait(), 30)
    copy.cancel()
    with pytest.raises(asyncio.CancelledError):
        await copy
    after_cancel = sorted(p.name for p in destination.iterdir())
    await asyncio.sleep(0.5)
    assert sorted(p.name for p in destination.iterdir()) == after_cancel
    assert len([n for n in after_cancel if not n.startswith(".")]) < count


async def test_without_an_interpreter_to_start_large_batches_copy_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded without ``sys.executable``: no worker can be started, and none is."""
    monkeypatch.setattr(sys, "executable", "")
    started: list[object] = []
    monkeypatch.setattr(WorkerPool, "copy", lambda *args: started.append(args))
    source, destination = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    destination.mkdir()
    count = native.PROCESS_THRESHOLD
    for index in range(count):
        (source / f"{index:05d}.dat").write_bytes(b"y" * 10)
    items = [CopyItem(f"{i:05d}.dat", f"{i:05d}.dat", 10) for i in range(count)]
    adapter = NativeAdapter()
    await adapter.prepare()
    results = await adapter.copy_batch(
        Location("local", str(source)), Location("local", str(destination)), items, algorithm="md5"
    )
    assert all(r.verified for r in results) and not started
