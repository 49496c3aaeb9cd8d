"""The default engine: stream every byte through StreamWeave, hashing as it passes.

Whatever the pair of locations, the source is read once: its bytes are hashed while
they are written to a temporary name at the destination, the destination is re-read
(or hashed by the server where the protocol allows) and the temporary name becomes
the final one only when both checksums agree.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from streamweave.transfers import local
from streamweave.transfers.base import (
    LOCAL_KINDS,
    CopyItem,
    CopyResult,
    Entry,
    IndexEntry,
    Location,
    Progress,
    ProgressCallback,
    index_of,
)
from streamweave.transfers.checksums import new_hasher
from streamweave.transfers.errors import (
    BATCH_STOPPING,
    ChecksumMismatch,
    DestinationExists,
    SourceChanged,
    TransferError,
)
from streamweave.transfers.pull import Pull, can_pull, hasher_remote
from streamweave.transfers.rclone import REMOTE_KINDS, RcloneDaemon, list_remote, remote_for
from streamweave.transfers.stores import LocalStore, RcloneStore, Store, safe_delete, temp_path

CLEANUP_SECONDS = 5.0
DELETE_CONCURRENCY = 8  # deletes in flight through the one daemon of a call


class _Breaker:
    """Stops a batch when one item shows that a location is unusable."""

    def __init__(self) -> None:
        self.error: TransferError | None = None
        self._tripped = asyncio.Event()

    def trip(self, error: TransferError) -> None:
        if self.error is None and isinstance(error, BATCH_STOPPING):
            self.error = error
            self._tripped.set()

    def failure(self, item: CopyItem) -> TransferError:
        """The error of an item the batch gave up on: same class, so same advice."""
        assert self.error is not None
        return type(self.error)(f"{item.source}: not copied, the batch stopped: {self.error}")

    async def guard(self, work: Coroutine[Any, Any, None], item: CopyItem) -> None:
        """Run ``work`` unless, or until, the breaker trips."""
        if self.error is not None:
            work.close()
            raise self.failure(item)
        task = asyncio.ensure_future(work)
        tripped = asyncio.ensure_future(self._tripped.wait())
        try:
            await asyncio.wait({task, tripped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tripped.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransferError):
                    await task
        if task.cancelled():
            raise self.failure(item)
        task.result()


def _stopped(
    items: Sequence[CopyItem],
    algorithm: str,
    error: TransferError,
    state: Progress,
    progress: ProgressCallback | None,
) -> list[CopyResult]:
    """Results for the items a stopped batch gives up on, with the error that stopped it."""
    breaker = _Breaker()
    breaker.trip(error)
    results = [CopyResult(item=i, algorithm=algorithm, error=breaker.failure(i)) for i in items]
    state.files_failed += len(results)
    if progress:
        progress(state)
    return results


async def copy_streams(
    source: Store,
    destination: Store,
    items: Sequence[CopyItem],
    algorithm: str,
    concurrency: int,
    progress: ProgressCallback | None,
    state: Progress | None = None,
) -> list[CopyResult]:
    state = state or Progress(files_total=len(items), bytes_total=sum(i.size or 0 for i in items))
    gate = asyncio.Semaphore(concurrency)
    breaker = _Breaker()

    async def copy(item: CopyItem) -> CopyResult:
        result = CopyResult(item=item, algorithm=algorithm)
        async with gate:
            result.started_at = datetime.now(UTC)
            temp = temp_path(item.destination)
            hasher = new_hasher(algorithm)

            async def hashed() -> AsyncIterator[bytes]:
                async for chunk in source.read(item.source):
                    hasher.update(chunk)
                    result.bytes += len(chunk)
                    state.bytes_done += len(chunk)
                    yield chunk

            async def transfer() -> None:
                await destination.write(temp, hashed())
                if item.size is not None and result.bytes != item.size:
                    raise SourceChanged(
                        f"{item.source} is {result.bytes} bytes now, {item.size} when listed"
                    )
                result.source_checksum = hasher.hexdigest()
                result.dest_checksum = await destination.checksum(temp, algorithm)
                if result.dest_checksum != result.source_checksum:
                    raise ChecksumMismatch(
                        f"{item.destination}: {algorithm} of the copy ({result.dest_checksum}) "
                        f"differs from the source ({result.source_checksum}); "
                        "nothing was kept under the final name"
                    )
                # Interrupting the rename is safe too: it is atomic on every backend
                # (S3: one server-side copy), so the final name holds the verified bytes
                # or nothing.
                await destination.replace(temp, item.destination)

            started = breaker.error is None
            try:
                await breaker.guard(transfer(), item)
            except TransferError as exc:
                result.error = exc
                breaker.trip(exc)
                if started:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(safe_delete(destination, temp), CLEANUP_SECONDS)
            result.finished_at = datetime.now(UTC)
            if result.error:
                state.files_failed += 1
            else:
                state.files_done += 1
            if progress:
                progress(state)
        return result

    return list(await asyncio.gather(*(copy(item) for item in items)))


class RcloneAdapter:
    """Any pair with a remote side (SMB, SFTP, S3, WebDAV), through one ``rclone rcd``."""

    name: ClassVar[str] = "rclone"

    def supports(self, source: Location, destination: Location) -> bool:
        kinds = LOCAL_KINDS | REMOTE_KINDS
        return source.kind in kinds and destination.kind in kinds

    async def prepare(self) -> None:
        """Nothing to start ahead: each batch runs its own rclone daemon."""

    async def index(self, location: Location) -> list[IndexEntry]:
        if location.kind in LOCAL_KINDS:
            return await local.index(local.resolve(location, ""))
        return index_of([entry async for entry in list_remote(location)])

    async def listing(self, location: Location) -> AsyncIterator[Entry]:
        entries = (
            local.list_entries(location) if location.kind in LOCAL_KINDS else list_remote(location)
        )
        async for entry in entries:
            yield entry

    @contextlib.asynccontextmanager
    async def _stores(self, *locations: Location) -> AsyncIterator[list[Store]]:
        remotes = {
            index: await remote_for(location, f"sw{index}")
            for index, location in enumerate(locations)
            if location.kind in REMOTE_KINDS
        }
        if not remotes:
            yield [LocalStore(location) for location in locations]
            return
        async with RcloneDaemon(list(remotes.values())) as daemon:
            yield [
                RcloneStore(location, daemon, remotes[index])
                if index in remotes
                else LocalStore(location)
                for index, location in enumerate(locations)
            ]

    async def copy_batch(
        self,
        source: Location,
        destination: Location,
        items: Sequence[CopyItem],
        *,
        algorithm: str,
        concurrency: int = 8,
        progress: ProgressCallback | None = None,
    ) -> list[CopyResult]:
        if not items:
            return []
        if source.kind in REMOTE_KINDS and destination.kind in LOCAL_KINDS and can_pull(algorithm):
            return await self._pull(source, destination, items, algorithm, concurrency, progress)
        async with self._stores(source, destination) as (reader, writer):
            # A location that cannot be used at all (server down, credentials refused,
            # share or bucket missing) fails the batch once, before any file.
            await reader.check(destination=False)
            await writer.check(destination=True)
            return await copy_streams(reader, writer, items, algorithm, concurrency, progress)

    async def _pull(
        self,
        source: Location,
        destination: Location,
        items: Sequence[CopyItem],
        algorithm: str,
        concurrency: int,
        progress: ProgressCallback | None,
    ) -> list[CopyResult]:
        remote = await remote_for(source, "sw0")
        hashed = hasher_remote("swh", remote, algorithm)
        state = Progress(files_total=len(items), bytes_total=sum(i.size or 0 for i in items))
        async with RcloneDaemon([remote, hashed]) as daemon:
            reader, writer = RcloneStore(source, daemon, remote), LocalStore(destination)
            await reader.check(destination=False)
            pull = Pull(daemon, remote, hashed, destination, algorithm, state, progress)
            results, left = await pull.run(items)
            if left and pull.error is not None:
                results += _stopped(left, algorithm, pull.error, state, progress)
            elif left:
                results += await copy_streams(
                    reader, writer, left, algorithm, concurrency, progress, state
                )
        order = {id(item): index for index, item in enumerate(items)}
        return sorted(results, key=lambda result: order[id(result.item)])

    async def checksum(self, location: Location, path: str, algorithm: str) -> str:
        async with self._stores(location) as (store,):
            digest: str = await store.checksum(path, algorithm)
            return digest

    async def test(self, location: Location) -> str:
        if location.kind in LOCAL_KINDS:
            entries = cast(AsyncGenerator[Entry, None], local.list_entries(location))
            async with contextlib.aclosing(entries):
                async for _entry in entries:
                    break
        else:
            async with self._stores(location) as (store,):
                await store.check(destination=False)
        return f"{location.describe()} answered a listing"

    async def delete(self, location: Location, paths: Sequence[str]) -> list[TransferError | None]:
        if not paths:
            return []
        gate = asyncio.Semaphore(DELETE_CONCURRENCY)

        async def delete_one(store: Store, path: str) -> TransferError | None:
            async with gate:
                try:
                    await store.delete(path)
                except TransferError as exc:
                    return exc
                return None

        async with self._stores(location) as (store,):
            return list(await asyncio.gather(*(delete_one(store, path) for path in paths)))

    async def rename(
        self, location: Location, moves: Sequence[tuple[str, str]]
    ) -> list[TransferError | None]:
        if not moves:
            return []
        outcomes: list[TransferError | None] = []
        async with self._stores(location) as (store,):
            for path, new_path in moves:
                try:
                    if await store.exists(new_path):
                        raise DestinationExists(
                            f"{new_path} already exists on {location.describe()}"
                        )
                    await store.replace(path, new_path)
                    outcomes.append(None)
                except TransferError as exc:
                    outcomes.append(exc)
        return outcomes
