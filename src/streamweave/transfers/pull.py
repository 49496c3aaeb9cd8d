"""Remote source to local destination: rclone moves the bytes, StreamWeave verifies.

Streaming every byte through this process is slow from SMB (rclone's HTTP object
server reads the share 32 KiB at a time), so a pull lets rclone copy natively:

- Files below ``RANGED_BYTES`` are copied by one ``sync/copy`` job per batch into a
  hidden staging directory at the destination (``.swpart-<token>``, never a final
  name). The source is read through rclone's ``hasher`` overlay, which hashes the bytes
  as they are read: that hash is the source checksum, fetched afterwards in one listing.
- Larger files are read as a few byte ranges in parallel (``rclone cat --offset
  --count``, one process per range, the way rclone's own multi-thread copies work),
  each range hashed as it arrives and written at its offset. A whole-file hash cannot
  be computed from ranges arriving out of order, so the copy is verified range by
  range: the destination is re-read once, hashing each range and the whole file; when
  every range matches what was read from the source, the destination holds exactly
  the source's bytes and its whole-file hash is recorded as the source checksum.

Either way the staged copy is re-read and hashed here, and renamed to its final name
only on a match. Items a pull cannot finish (a failed job, a name ``--files-from``
cannot express) are handed back, to be copied one by one with a specific error each.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import posixpath
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from streamweave.transfers import local
from streamweave.transfers.base import CopyItem, CopyResult, Location, Progress, ProgressCallback
from streamweave.transfers.checksums import new_hasher
from streamweave.transfers.errors import (
    BATCH_STOPPING,
    ChecksumMismatch,
    SourceChanged,
    TransferError,
)
from streamweave.transfers.rclone import RcloneDaemon, Remote, classify, rclone_binary
from streamweave.transfers.tree import TEMP_MARK

RANGED_BYTES = 256 << 20
RANGES = 4
JOB_FILES = 500
JOB_BYTES = 1 << 30
JOBS = 2
JOB_TRANSFERS = 4
PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031

# rclone's names for the algorithms StreamWeave offers.
RCLONE_HASHES = {"xxh3-128": "xxh128", "sha256": "sha256", "md5": "md5"}


def hasher_remote(name: str, source: Remote, algorithm: str) -> Remote:
    """An rclone ``hasher`` overlay on ``source``: it hashes what it reads. Its cache
    lives in the daemon's private directory and goes away with it."""
    options = {
        "type": "hasher",
        "remote": source.fs(),
        "hashes": RCLONE_HASHES[algorithm],
        "max_age": "off",
    }
    return Remote(name, options, "", kind="hasher")


def can_pull(algorithm: str) -> bool:
    return algorithm in RCLONE_HASHES


@dataclass
class _Staged:
    item: CopyItem
    result: CopyResult
    staged: str
    source_checksum: str | None = None
    range_checksums: list[str] = field(default_factory=list)


class Pull:
    """One batch from ``source`` (through ``hashed``, its hasher overlay) into a local
    ``destination``."""

    def __init__(
        self,
        daemon: RcloneDaemon,
        source: Remote,
        hashed: Remote,
        destination: Location,
        algorithm: str,
        state: Progress,
        progress: ProgressCallback | None,
    ) -> None:
        self.daemon = daemon
        self.source = source
        self.hashed = hashed
        self.destination = destination
        self.algorithm = algorithm
        self.progress = progress
        self.root = local.resolve(destination, "")
        self.staging = self.root / f"{TEMP_MARK}{secrets.token_hex(4)}"
        self.state = state
        self.stopped = False
        self.error: TransferError | None = None  # why the batch stopped, if it did

    async def run(self, items: Sequence[CopyItem]) -> tuple[list[CopyResult], list[CopyItem]]:
        """Verified (or failed) results, and the items left for a one-by-one copy."""
        bulk, ranged, left = self._split(items)
        self.staging = _staging_under(self.root, items)
        try:
            await asyncio.to_thread(self.staging.mkdir, parents=True)
        except OSError as exc:
            raise local.map_os_error(exc, self.destination.describe()) from None
        try:
            gate = asyncio.Semaphore(JOBS)
            # Large files first: the small ones fill the gaps while they run.
            parts = await asyncio.gather(
                *(self._copy_ranged(item, gate) for item in ranged),
                *(self._copy_job(chunk, gate) for chunk in _chunks(bulk)),
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, self.staging, True)
        done = [entry for part in parts for entry in part]
        finished = {id(entry.item) for entry in done}
        left += [item for item in [*bulk, *ranged] if id(item) not in finished]
        return [entry.result for entry in done], left

    def _split(
        self, items: Sequence[CopyItem]
    ) -> tuple[list[CopyItem], list[CopyItem], list[CopyItem]]:
        bulk: list[CopyItem] = []
        ranged: list[CopyItem] = []
        left: list[CopyItem] = []
        seen: set[str] = set()
        for item in items:
            # --files-from is one name per line; a source listed twice is staged once.
            if "\n" in item.source or "\r" in item.source or item.source in seen:
                left.append(item)
            elif (item.size or 0) >= RANGED_BYTES:
                ranged.append(item)
            else:
                bulk.append(item)
            seen.add(item.source)
        return bulk, ranged, left

    def _staged(self, item: CopyItem) -> _Staged:
        result = CopyResult(item=item, algorithm=self.algorithm, started_at=datetime.now(UTC))
        path = local.join(str(self.staging), item.source.lstrip("/"), self.destination)
        return _Staged(item, result, path)

    async def _copy_job(self, items: list[CopyItem], gate: asyncio.Semaphore) -> list[_Staged]:
        """One ``sync/copy`` job for a chunk of small files, then their verification.

        A job that fails (the server went away) leaves its files to the one-by-one copy,
        and so do the jobs after it: they would only wait out the same timeouts.
        """
        async with gate:
            if self.stopped:
                return []
            staged = [self._staged(item) for item in items]
            listed = self.daemon.environment.private / f"files-{secrets.token_hex(4)}"
            listed.write_text("".join(f"{i.source.lstrip('/')}\n" for i in items))
            what = f"copying from {self.source.kind} to {self.destination.describe()}"
            try:
                await self.daemon.call(
                    "sync/copy",
                    what,
                    whole_job=True,
                    srcFs=f"{self.hashed.name}:",
                    dstFs=str(self.staging),
                    _filter={"FilesFromRaw": [str(listed)]},
                    _config={
                        "Transfers": JOB_TRANSFERS,
                        "Checkers": JOB_TRANSFERS,
                        # The overlay hashes whole reads only; big files are ranged here.
                        "MultiThreadStreams": 0,
                        "NoCheckDest": True,
                        # rclone would re-read each copy to compare it with the overlay's
                        # hash: the verification below does exactly that, once.
                        "IgnoreChecksum": True,
                    },
                )
                sums = await self._source_sums(listed, what)
            except TransferError as exc:
                # A failed job may still have copied files, and its hash listing says
                # which; with the server gone or the account refused, it cannot.
                sums = {} if self._stop(exc) else await self._sums_after_failure(listed, what)
            finally:
                listed.unlink(missing_ok=True)
            if self.stopped:
                return []
            for entry in staged:
                entry.source_checksum = sums.get(entry.item.source)
            return self._report(await asyncio.to_thread(self._verify_and_place, staged))

    def _stop(self, exc: TransferError) -> bool:
        """Whether ``exc`` makes the whole batch stop (server gone, account refused):
        the jobs not yet started are not, and the rest of the batch fails at once."""
        if isinstance(exc, BATCH_STOPPING):
            self.stopped = True
            self.error = self.error or exc
        return self.stopped

    async def _sums_after_failure(self, listed: Path, what: str) -> dict[str, str]:
        try:
            return await self._source_sums(listed, what)
        except TransferError as exc:
            self._stop(exc)
            self.stopped = True
            return {}

    async def _source_sums(self, listed: Path, what: str) -> dict[str, str]:
        """The hashes the overlay took of the bytes it read: a listing, no re-read."""
        kind = RCLONE_HASHES[self.algorithm]
        reply = await self.daemon.call(
            "operations/list",
            what,
            fs=f"{self.hashed.name}:",
            remote="",
            opt={"recurse": True, "showHash": True, "hashTypes": [kind], "filesOnly": True},
            _filter={"FilesFromRaw": [str(listed)]},
        )
        sums = {}
        for entry in reply.get("list") or []:
            digest = (entry.get("Hashes") or {}).get(kind)
            if digest:
                sums[entry["Path"]] = digest
        return sums

    async def _copy_ranged(self, item: CopyItem, gate: asyncio.Semaphore) -> list[_Staged]:
        async with gate:
            if self.stopped:
                return []
            entry = self._staged(item)
            try:
                entry.range_checksums = await self._read_ranges(item, entry.staged)
            except TransferError as exc:
                entry.result.error = exc
                self._stop(exc)
            return self._report(await asyncio.to_thread(self._verify_and_place, [entry]))

    async def _read_ranges(self, item: CopyItem, staged: str) -> list[str]:
        size = item.size or 0
        await asyncio.to_thread(os.makedirs, os.path.dirname(staged), exist_ok=True)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            return list(
                await asyncio.gather(
                    *(self._read_range(item, fd, start, count) for start, count in _ranges(size))
                )
            )
        finally:
            os.close(fd)

    async def _read_range(self, item: CopyItem, fd: int, start: int, count: int) -> str:
        return await asyncio.to_thread(self._receive, item, fd, start, count)

    def _receive(self, item: CopyItem, fd: int, start: int, count: int) -> str:
        """``rclone cat`` one range (a worker thread), hashing it and writing it in place."""
        what = f"{item.source} on {self.source.kind}"
        hasher = new_hasher(self.algorithm)
        received = 0
        with tempfile.TemporaryFile(dir=self.daemon.environment.private) as errors:
            process = subprocess.Popen(  # noqa: S603 - fixed binary; secrets in env only
                [
                    rclone_binary(),
                    "cat",
                    "--offset",
                    str(start),
                    "--count",
                    str(count),
                    self.source.fs(item.source),
                ],
                env=self.daemon.environment.variables(),
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            assert process.stdout is not None
            reader = process.stdout.fileno()
            with contextlib.suppress(OSError):
                fcntl.fcntl(reader, _F_SETPIPE_SZ, PIPE_BYTES)
            buffer = bytearray(PIPE_BYTES)
            view = memoryview(buffer)
            try:
                while got := os.readv(reader, [buffer]):
                    chunk = view[:got]
                    hasher.update(chunk)
                    written = 0
                    while written < got:
                        written += os.pwrite(fd, chunk[written:], start + received + written)
                    received += got
                    self.state.bytes_done += got
            finally:
                process.stdout.close()
                process.wait()
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
        if process.returncode != 0:
            raise classify(stderr, what)
        if received != count:
            raise SourceChanged(f"{what}: {received} bytes where {count} were expected")
        return hasher.hexdigest()

    def _verify_and_place(self, staged: list[_Staged]) -> list[_Staged]:
        """Re-read each staged copy; flush; give the verified ones their final names;
        flush again so the names are durable too."""
        buffer = bytearray(local.BUFFER_BYTES)
        done = [e for e in staged if e.result.error is not None or _have_copy(e)]
        verified: list[tuple[_Staged, str]] = []
        for entry in done:
            try:
                if entry.result.error is not None:
                    raise entry.result.error
                self._verify(entry, buffer)
                target = local.join(str(self.root), entry.item.destination, self.destination)
                verified.append((entry, target))
            except (OSError, TransferError) as exc:
                self._fail(entry, exc)
        if verified:
            local.syncfs(self.root)
        made: set[str] = set()
        for entry, target in verified:
            try:
                parent = os.path.dirname(target)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                os.replace(entry.staged, target)
            except OSError as exc:
                self._fail(entry, exc)
        if verified:
            local.syncfs(self.root)
        for entry in done:
            entry.result.finished_at = datetime.now(UTC)
        return done

    @staticmethod
    def _fail(entry: _Staged, exc: OSError | TransferError) -> None:
        what = entry.item.destination
        entry.result.error = local.map_os_error(exc, what) if isinstance(exc, OSError) else exc

    def _report(self, done: list[_Staged]) -> list[_Staged]:
        for entry in done:
            if entry.result.error:
                self.state.files_failed += 1
            else:
                self.state.files_done += 1
            if not entry.range_checksums:  # ranged copies count their bytes as they go
                self.state.bytes_done += entry.result.bytes
        if self.progress and done:
            self.progress(self.state)
        return done

    def _verify(self, entry: _Staged, buffer: bytearray) -> None:
        item, result = entry.item, entry.result
        result.bytes = size = os.stat(entry.staged).st_size
        if entry.range_checksums:
            read = _ranges(item.size or 0)
            whole, parts = hash_ranges(entry.staged, self.algorithm, read)
            if parts != entry.range_checksums or size != item.size:
                raise ChecksumMismatch(
                    f"{item.destination}: {self.algorithm} of the copy differs from the "
                    "source in at least one byte range; nothing was kept under the final name"
                )
            result.source_checksum = result.dest_checksum = whole
            return
        result.source_checksum = entry.source_checksum
        result.dest_checksum = local.hash_file(entry.staged, self.algorithm, buffer, size)
        if result.dest_checksum != result.source_checksum:
            raise ChecksumMismatch(
                f"{item.destination}: {self.algorithm} of the copy ({result.dest_checksum}) "
                f"differs from the source ({result.source_checksum}); "
                "nothing was kept under the final name"
            )
        if item.size is not None and size != item.size:
            # A faithful copy of a file that is no longer what the listing saw.
            raise SourceChanged(f"{item.source} is {size} bytes now, {item.size} when listed")


def _staging_under(root: Path, items: Sequence[CopyItem]) -> Path:
    """A fresh staging directory in the deepest folder all destinations share (for a
    harvest, the instrument's folder: whoever cleans up after a killed run there finds
    it), on the same file system, so that placing a copy is a rename."""
    folders = [posixpath.dirname(i.destination.strip("/")) for i in items]
    common = posixpath.commonpath(folders) if folders and all(folders) else ""
    if common.startswith("..") or posixpath.isabs(common):
        common = ""
    return root / common / f"{TEMP_MARK}{secrets.token_hex(4)}"


def _chunks(items: list[CopyItem]) -> Iterator[list[CopyItem]]:
    chunk: list[CopyItem] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += item.size or 0
        if len(chunk) >= JOB_FILES or size >= JOB_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _have_copy(entry: _Staged) -> bool:
    """A staged copy and the hash (or range hashes) of what was read for it."""
    read = entry.source_checksum is not None or bool(entry.range_checksums)
    return read and os.path.isfile(entry.staged)


def _ranges(size: int) -> list[tuple[int, int]]:
    step = -(-size // RANGES)
    return [(start, min(step, size - start)) for start in range(0, size, step)] if size else []


def hash_ranges(
    path: str, algorithm: str, ranges: Iterable[tuple[int, int]]
) -> tuple[str, list[str]]:
    """One pass over ``path`` (a copy this process wrote, read through a mapping): the
    hash of each byte range and of the whole file."""
    whole = new_hasher(algorithm)
    parts = []
    fd = os.open(path, os.O_RDONLY)
    try:
        for start, count in ranges:
            part = new_hasher(algorithm)
            for offset in range(start, start + count, local.CHUNK_BYTES):
                length = min(local.CHUNK_BYTES, start + count - offset)
                local.hash_mapped(fd, offset, length, [part, whole])
            parts.append(part.hexdigest())
    finally:
        os.close(fd)
    return whole.hexdigest(), parts
