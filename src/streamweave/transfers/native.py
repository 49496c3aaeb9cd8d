"""Local and NFS to local and NFS: verified copies without rclone.

Each file goes through the tight loop of ``local.copy_files`` (one read of the
source, hashed as it is written, the copy re-read and hashed, batched flush, rename;
large files pipelined over three threads). For many files the Python per-file cost,
not I/O, is the limit, and threads share one interpreter lock: large batches are cut
into chunks run by worker processes (``copy_workers``: one per core, started once and
kept), which report progress as files become final.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from functools import cache
from typing import ClassVar, TypeVar

from streamweave.transfers import copy_workers, local
from streamweave.transfers.base import (
    LOCAL_KINDS,
    CopyItem,
    CopyResult,
    Entry,
    IndexEntry,
    Location,
    Progress,
    ProgressCallback,
)
from streamweave.transfers.copy_workers import Counts, WorkerPool
from streamweave.transfers.errors import LocationNotFound, PermissionDenied, TransferError

T = TypeVar("T")

PROCESS_THRESHOLD = 1000
CHUNK_FILES = 1000


def _workers() -> int:
    """Worker processes to copy with: one per core, or none (copies in a thread) on one
    core or in an embedded interpreter that cannot start another."""
    return len(os.sched_getaffinity(0)) if sys.executable else 1


@cache
def _pool() -> WorkerPool:
    pool = WorkerPool(_workers())
    atexit.register(pool.close)
    return pool


class NativeAdapter:
    name: ClassVar[str] = "native"

    def supports(self, source: Location, destination: Location) -> bool:
        return source.kind in LOCAL_KINDS and destination.kind in LOCAL_KINDS

    async def prepare(self) -> None:
        """Start the worker processes now, so they are ready when the first large
        batch comes (the harvest calls this as soon as it has files to copy)."""
        if _workers() >= 2:
            _pool().start()

    async def listing(self, location: Location) -> AsyncIterator[Entry]:
        async for entry in local.list_entries(location):
            yield entry

    async def index(self, location: Location) -> list[IndexEntry]:
        return await local.index(local.resolve(location, ""))

    async def copy_batch(
        self,
        source: Location,
        destination: Location,
        items: Sequence[CopyItem],
        *,
        algorithm: str,
        concurrency: int = 2,
        progress: ProgressCallback | None = None,
    ) -> list[CopyResult]:
        loop = asyncio.get_running_loop()
        state = Progress(files_total=len(items), bytes_total=sum(i.size or 0 for i in items))
        jobs = [(item.source, item.destination, item.size) for item in items]

        def report(counts: Counts) -> None:
            done, failed, size = counts
            state.files_done += done
            state.files_failed += failed
            state.bytes_done += size
            if progress:
                progress(state)

        def heard(counts: Counts) -> None:
            loop.call_soon_threadsafe(report, counts)

        if len(items) < PROCESS_THRESHOLD or _workers() < 2:

            def on_done(outcomes: copy_workers.Outcomes) -> None:
                heard(copy_workers.counts(outcomes))

            copied = await asyncio.to_thread(
                local.copy_files, source, destination, jobs, algorithm, on_done
            )
            return local.to_results(items, copied, algorithm)

        async def run_chunk(start: int) -> list[CopyResult]:
            end = start + CHUNK_FILES
            request = (source, destination, jobs[start:end], algorithm)
            ticket = copy_workers.Ticket()
            chunk = asyncio.ensure_future(asyncio.to_thread(_pool().copy, request, heard, ticket))
            try:
                done = await asyncio.shield(chunk)
            except asyncio.CancelledError:
                # A thread cannot be cancelled, its worker can: stopped now, and waited
                # for, so that no copy is made after the caller has moved on (an
                # aborted run sweeps the temporaries next).
                ticket.cancel()
                await asyncio.wait([chunk])
                chunk.exception()  # the chunk's end (cancelled, lost) is not news now
                raise
            # Here rather than at the end: the workers are still copying other chunks.
            return local.to_results(items[start:end], done, algorithm)

        parts = await asyncio.gather(
            *(run_chunk(start) for start in range(0, len(jobs), CHUNK_FILES))
        )
        return [result for part in parts for result in part]

    async def checksum(self, location: Location, path: str, algorithm: str) -> str:
        buffer = bytearray(local.BUFFER_BYTES)
        try:
            return await asyncio.to_thread(
                local.hash_file, local.resolve(location, path), algorithm, buffer
            )
        except OSError as exc:
            raise local.map_os_error(exc, path) from None

    async def test(self, location: Location) -> str:
        root = local.resolve(location, "")
        if not root.exists():
            raise LocationNotFound(
                f"{location.describe()}: {root} does not exist; create it or fix the path"
            )
        if not root.is_dir():
            raise LocationNotFound(f"{location.describe()}: {root} is not a directory")
        probe = local.temp_name(root / "probe")
        try:
            probe.touch(exist_ok=False)
            probe.unlink()
        except OSError as exc:
            raise PermissionDenied(
                f"{location.describe()}: cannot write in {root} ({exc.strerror})"
            ) from None
        return f"{root} is a writable directory"

    async def delete(self, location: Location, paths: Sequence[str]) -> list[TransferError | None]:
        def delete(path: str) -> None:
            local.resolve(location, path).unlink()

        return await asyncio.to_thread(_one_by_one, paths, delete, str)

    async def rename(
        self, location: Location, moves: Sequence[tuple[str, str]]
    ) -> list[TransferError | None]:
        def move(paths: tuple[str, str]) -> None:
            source, target = (local.resolve(location, path) for path in paths)
            local.move_without_replacing(source, target)

        return await asyncio.to_thread(_one_by_one, moves, move, lambda paths: paths[0])


def _one_by_one(
    items: Sequence[T], act: Callable[[T], None], path_of: Callable[[T], str]
) -> list[TransferError | None]:
    """``act`` on each item in turn: None where it succeeded, else why not."""
    outcomes: list[TransferError | None] = []
    for item in items:
        try:
            act(item)
            outcomes.append(None)
        except OSError as exc:
            outcomes.append(local.map_os_error(exc, path_of(item)))
        except TransferError as exc:
            outcomes.append(exc)
    return outcomes
