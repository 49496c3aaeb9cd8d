"""Local and NFS to local and NFS: verified copies without any helper process.

The batch is split between worker threads, each running the tight loop of
``local.copy_files`` (one read of the source, hash while writing, batched flush,
re-read, rename), which is what makes thousands of small files per second possible.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from streamweave.transfers import local
from streamweave.transfers.base import CopyItem, CopyResult, Entry, Location, Progress, ProgressCallback
from streamweave.transfers.errors import LocationNotFound, PermissionDenied
from streamweave.transfers.streaming import LOCAL_KINDS


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

        def on_done(result: CopyResult) -> None:
            loop.call_soon_threadsafe(report, result)

        workers = max(1, min(concurrency, len(items)))
        shares = [items[index::workers] for index in range(workers)]
        parts = await asyncio.gather(
            *(
                asyncio.to_thread(local.copy_files, source, destination, share, algorithm, on_done)
                for share in shares
                if share
            )
        )
        by_item = {id(result.item): result for part in parts for result in part}
        return [by_item[id(item)] for item in items]

    async def checksum(self, location: Location, path: str, algorithm: str) -> str:
        buffer = bytearray(local.BUFFER_BYTES)
        try:
            return await asyncio.to_thread(local.hash_file, local.resolve(location, path), algorithm, buffer)
        except OSError as exc:
            raise local.map_os_error(exc, path) from None

    async def test(self, location: Location) -> str:
        root = local.resolve(location, "")
        if not root.exists():
            raise LocationNotFound(f"{location.describe()}: {root} does not exist; create it or fix the path")
        if not root.is_dir():
            raise LocationNotFound(f"{location.describe()}: {root} is not a directory")
        probe = local.temp_name(root / "probe")
        try:
            probe.touch(exist_ok=False)
            probe.unlink()
        except OSError as exc:
            raise PermissionDenied(f"{location.describe()}: cannot write in {root} ({exc.strerror})") from None
        return f"{root} is a writable directory"

    async def delete(self, location: Location, path: str) -> None:
        try:
            await asyncio.to_thread(local.resolve(location, path).unlink)
        except OSError as exc:
            raise local.map_os_error(exc, path) from None
