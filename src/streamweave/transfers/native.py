"""Local and NFS to local and NFS: verified copies without rclone.

Each file goes through the tight loop of ``local.copy_files`` (one read of the
source, hash while writing, batched flush, re-read, rename). For many files the
Python per-file cost, not I/O, is the limit, and threads share one interpreter lock:
large batches are cut into chunks run by a pool of worker processes (one per core,
started once and kept), which also yields progress chunk by chunk.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from typing import ClassVar

from streamweave.transfers import local
from streamweave.transfers.base import (
    CopyItem,
    CopyResult,
    Entry,
    Location,
    Progress,
    ProgressCallback,
)
from streamweave.transfers.errors import LocationNotFound, PermissionDenied
from streamweave.transfers.streaming import LOCAL_KINDS

PROCESS_THRESHOLD = 1000
CHUNK_FILES = 1000


def _workers() -> int:
    return len(os.sched_getaffinity(0))


def _ignore(_result: CopyResult) -> None:
    return None


@cache
def _pool() -> ProcessPoolExecutor:
    # forkserver: forking this (threaded, asyncio) process directly is unsafe.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["streamweave.transfers.local"])
    return ProcessPoolExecutor(max_workers=_workers(), mp_context=context)


class NativeAdapter:
    name: ClassVar[str] = "native"

    def supports(self, source: Location, destination: Location) -> bool:
        return source.kind in LOCAL_KINDS and destination.kind in LOCAL_KINDS

    async def listing(self, location: Location) -> AsyncIterator[Entry]:
        async for entry in local.list_entries(location):
            yield entry

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

        def report(result: CopyResult) -> None:
            if result.error:
                state.files_failed += 1
            else:
                state.files_done += 1
            state.bytes_done += result.bytes
            if progress:
                progress(state)

        if len(items) < PROCESS_THRESHOLD or _workers() < 2:

            def on_done(result: CopyResult) -> None:
                loop.call_soon_threadsafe(report, result)

            return await asyncio.to_thread(
                local.copy_files, source, destination, items, algorithm, on_done
            )

        async def run_chunk(chunk: Sequence[CopyItem]) -> list[CopyResult]:
            done = await loop.run_in_executor(
                _pool(), local.copy_files, source, destination, chunk, algorithm, _ignore
            )
            for result in done:
                report(result)
            return done

        chunks = [items[start : start + CHUNK_FILES] for start in range(0, len(items), CHUNK_FILES)]
        parts = await asyncio.gather(*(run_chunk(chunk) for chunk in chunks))
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

    async def delete(self, location: Location, path: str) -> None:
        try:
            await asyncio.to_thread(local.resolve(location, path).unlink)
        except OSError as exc:
            raise local.map_os_error(exc, path) from None
