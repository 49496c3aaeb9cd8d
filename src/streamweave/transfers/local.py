"""Local and NFS paths: listing with scandir, and verified copies in one read.

A copy reads the source once, hashing what it writes to a temporary file next to the
destination; the temporary file is re-read through the same descriptor and hashed, and
renamed to its final name only when both hashes agree. Flushing is batched: one
``syncfs`` per batch of files instead of one ``fsync`` per file, then the renames,
then one more ``syncfs`` so the new names are durable too.

Files larger than one buffer are pipelined over three threads: one reads and hashes
the source, one writes, one hashes the copy through a memory mapping (no second copy
of the bytes into a buffer) as each piece is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import marshal
import mmap
import os
import secrets
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from queue import SimpleQueue
from typing import NamedTuple

from streamweave.transfers import tree
from streamweave.transfers.base import CopyItem, CopyResult, Entry, IndexEntry, Location
from streamweave.transfers.checksums import Hasher, digester, new_hasher
from streamweave.transfers.errors import (
    ChecksumMismatch,
    DestinationExists,
    DestinationFull,
    LocationNotFound,
    PathNotFound,
    PermissionDenied,
    SourceChanged,
    TransferError,
)
from streamweave.transfers.tree import TEMP_MARK

BUFFER_BYTES = 8 << 20
# Copies move pieces this large: small enough for three in flight per worker, large
# enough that the per-piece Python cost disappears next to the system calls.
CHUNK_BYTES = 4 << 20
PIPELINE_DEPTH = 3
# Files up to this size are copied as plain bytes (below malloc's mapping threshold).
SMALL_BYTES = 64 << 10
# Verified copies are flushed and renamed in batches this large: one flush for many
# small files, while large files become final without waiting for hundreds of others.
BATCH_FILES = 256
BATCH_BYTES = 1 << 30
LIST_CHUNK = 2000
_libc = ctypes.CDLL(None, use_errno=True)


def temp_name(path: Path) -> Path:
    """The name a file has while it is unverified: hidden, and recognisably ours."""
    return path.with_name(f".{path.name}{TEMP_MARK}{secrets.token_hex(4)}")


def join(root: str, relative: str, location: Location) -> str:
    """``root/relative``, refusing anything that climbs out of ``root``.

    Lexical on purpose (no symlink resolution: a stat per path component would cost
    more than the copy of a small file): listings never follow symlinks, and relative
    paths from the database or from hooks are checked here.
    """
    relative = relative.lstrip("/")
    if not relative:
        return root
    if (
        relative == ".."
        or relative.startswith("../")
        or "/../" in relative
        or relative.endswith("/..")
    ):
        raise PermissionDenied(f"{relative!r} points outside {location.describe()}")
    return f"{root}/{relative}"


def resolve(location: Location, relative: str) -> Path:
    return Path(join(os.path.abspath(location.root), relative, location))


def _mtime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def _tree(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    try:
        yield from tree.walk(str(root))
    except OSError as exc:
        raise _listing_error(exc, root) from None


def _listing_error(exc: OSError, root: Path) -> TransferError:
    if isinstance(exc, NotADirectoryError | FileNotFoundError) and exc.filename == str(root):
        return LocationNotFound(f"{root} does not exist or is not a directory")
    if isinstance(exc, PermissionError):
        return PermissionDenied(f"cannot list {exc.filename or root}: permission denied")
    return map_os_error(exc, str(exc.filename or root))


def walk(root: Path) -> Iterator[Entry]:
    """Every directory and file below ``root``."""
    for relative, info in _tree(root):
        is_dir = stat.S_ISDIR(info.st_mode)
        size = 0 if is_dir else info.st_size
        yield Entry(relative, size, _mtime(info.st_mtime_ns), is_dir=is_dir)


def scan(root: Path) -> list[IndexEntry]:
    """Every file below ``root`` as (path, size, mtime in microseconds), sorted: the
    index a harvest diffs, without an Entry or a datetime per file."""
    try:
        return [IndexEntry(*row) for row in tree.file_index(str(root))]
    except OSError as exc:
        raise _listing_error(exc, root) from None


async def index(root: Path) -> list[IndexEntry]:
    """``scan``, in a process of its own (``tree.py`` as a script): the walk of a large
    tree then runs on another core, beside the harvest's database reads."""
    if not sys.executable:  # embedded without an interpreter to start: here, then
        return await asyncio.to_thread(scan, root)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-S",
        tree.__file__,
        str(root),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    if process.returncode != 0:
        raise TransferError(
            f"listing {root} failed: {errors.decode(errors='replace').strip()[-500:]}"
        )
    report = marshal.loads(output)  # noqa: S302 - our own child's output, not outside data
    if report[0] == "error":
        _, number, message, filename = report
        raise _listing_error(OSError(number, message, filename), root)
    return [IndexEntry(*row) for row in report[1]]


async def list_entries(location: Location) -> AsyncIterator[Entry]:
    """Stream a listing from a worker thread, in chunks, with back-pressure."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Entry] | BaseException | None] = asyncio.Queue(maxsize=4)
    root = resolve(location, "")

    def produce() -> None:
        def put(item: list[Entry] | BaseException | None) -> None:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        try:
            chunk: list[Entry] = []
            for entry in walk(root):
                chunk.append(entry)
                if len(chunk) >= LIST_CHUNK:
                    put(chunk)
                    chunk = []
            put(chunk)
            put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = loop.run_in_executor(None, produce)
    while (item := await queue.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        for entry in item:
            yield entry
    await worker


def move_without_replacing(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` unless ``target`` exists. A hard link then an
    unlink: a crash in between leaves both names on the same bytes, never a loss."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise DestinationExists(f"{target.name} already exists") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(target):  # no hard links here: check, then rename
            raise DestinationExists(f"{target.name} already exists") from None
        os.rename(source, target)
        return
    os.unlink(source)


def map_os_error(exc: OSError, what: str) -> TransferError:
    if isinstance(exc, TransferError):
        return exc
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DestinationFull(f"{what}: no space left on the destination (or quota reached)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDenied(f"{what}: permission denied ({exc.strerror})")
    if exc.errno == errno.ENOENT:
        return PathNotFound(f"{what}: no such file or directory")
    return TransferError(f"{what}: {exc.strerror or exc}")


def hash_file(path: str | Path, algorithm: str, buffer: bytearray, size: int | None = None) -> str:
    """Hash a file; with its expected ``size``, a small file takes a single read."""
    hasher = new_hasher(algorithm)
    view = memoryview(buffer)
    fd = os.open(path, os.O_RDONLY)
    try:
        if size is not None and size < len(buffer):
            count = os.readv(fd, [view[: size + 1]])
            hasher.update(view[:count])
            if count == size:
                return hasher.hexdigest()
        while count := os.readv(fd, [buffer]):
            hasher.update(view[:count])
    finally:
        os.close(fd)
    return hasher.hexdigest()


def syncfs(path: str | Path) -> None:
    """Flush the whole file system holding ``path``: one call for a batch of files."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


# What to copy: source and destination paths, relative to their locations' roots, and
# the size the listing saw (None when not listed). Plain tuples: cheap to send to a
# worker process.
Job = tuple[str, str, int | None]


class Copied(NamedTuple):
    """How one copy went: what a worker process sends back instead of a ``CopyResult``,
    which costs several times more to pickle."""

    bytes: int
    source_checksum: str | None
    dest_checksum: str | None
    error: TransferError | None
    started: float  # Unix time
    finished: float


def to_results(
    items: Sequence[CopyItem], copied: Sequence[Copied], algorithm: str
) -> list[CopyResult]:
    return [
        CopyResult(
            item=item,
            bytes=outcome.bytes,
            algorithm=algorithm,
            source_checksum=outcome.source_checksum,
            dest_checksum=outcome.dest_checksum,
            error=outcome.error,
            started_at=datetime.fromtimestamp(outcome.started, UTC),
            finished_at=datetime.fromtimestamp(outcome.finished, UTC),
        )
        for item, outcome in zip(items, copied, strict=True)
    ]


class _Buffers:
    """One worker's buffers: the pieces read from sources, and the copy re-read.

    Anonymous memory maps rather than bytearrays, which are zeroed when made: pages are
    only provided when first touched, so a batch of small files costs a few pages, not
    the 16 MiB a large file needs.
    """

    __slots__ = ("check", "pieces")

    def __init__(self) -> None:
        self.pieces = [memoryview(mmap.mmap(-1, CHUNK_BYTES)) for _ in range(PIPELINE_DEPTH)]
        self.check = memoryview(mmap.mmap(-1, CHUNK_BYTES))


class _Piece(NamedTuple):
    buffer: memoryview  # a whole pipeline buffer, reused once the piece is written
    length: int
    offset: int


def _read_into(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``offset``; short only where the file ends."""
    total = 0
    while total < len(view):
        count = os.preadv(fd, [view[total:]], offset + total)
        if not count:
            break
        total += count
    return total


def _write_at(fd: int, view: memoryview, offset: int) -> None:
    written = 0
    while written < len(view):
        written += os.pwrite(fd, view[written:], offset + written)


def _digest(algorithm: str, data: memoryview) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.hexdigest()


def _read_small(fd: int, size: int) -> bytes:
    data = os.pread(fd, size, 0)
    while len(data) < size and (more := os.pread(fd, size - len(data), len(data))):
        data += more
    return data


def _copy_small(reader: int, writer: int, size: int, algorithm: str) -> tuple[int, str, str]:
    """A small file, as plain bytes: for the thousands of small files of an acquisition,
    fewer steps per file count for more than copying a few KiB (bytes this small come
    from the heap, not from a fresh mapping of pages to fault in)."""
    data = _read_small(reader, size)
    with memoryview(data) as view:
        _write_at(writer, view, 0)
    digest = digester(algorithm)
    return len(data), digest(data), digest(_read_small(writer, len(data)))


def _copy_whole(
    reader: int, writer: int, size: int, algorithm: str, buffers: _Buffers
) -> tuple[int, str, str]:
    """A file that fits one buffer: one read, one write, one re-read of the copy."""
    data = buffers.pieces[0]
    data = data[: _read_into(reader, data[:size], 0)]
    _write_at(writer, data, 0)
    check = buffers.check
    check = check[: _read_into(writer, check[: len(data)], 0)]
    return len(data), _digest(algorithm, data), _digest(algorithm, check)


def hash_mapped(fd: int, offset: int, length: int, hashers: Sequence[Hasher]) -> None:
    """Hash ``length`` bytes of ``fd`` from ``offset`` straight from the page cache,
    through a mapping: no copy into a buffer.

    Only for files this process writes: a file truncated under a mapping kills the
    process (SIGBUS) when the missing pages are read, so sources are never mapped.
    """
    # Bytes past the end are not there to map: a copy cut short hashes short.
    length = min(length, os.fstat(fd).st_size - offset)
    if length <= 0:
        return
    skip = offset % mmap.ALLOCATIONGRANULARITY  # a mapping starts on a page boundary
    mapped = mmap.mmap(
        fd,
        skip + length,
        flags=mmap.MAP_SHARED | mmap.MAP_POPULATE,
        prot=mmap.PROT_READ,
        offset=offset - skip,
    )
    try:
        with memoryview(mapped) as view, view[skip:] as wanted:
            for hasher in hashers:
                hasher.update(wanted)
    finally:
        mapped.close()


def _write_pieces(
    writer: int,
    todo: SimpleQueue[_Piece | None],
    free: SimpleQueue[memoryview | BaseException],
    written: SimpleQueue[_Piece | None],
) -> None:
    """The writing thread of a pipelined copy: each piece written is handed on to be
    verified, and its buffer back to the reader."""
    try:
        while (piece := todo.get()) is not None:
            _write_at(writer, piece.buffer[: piece.length], piece.offset)
            written.put(piece)
            free.put(piece.buffer)
    except BaseException as exc:  # re-raised by the reading thread, which would wait forever
        free.put(exc)
    finally:
        written.put(None)


def _hash_written(
    writer: int, written: SimpleQueue[_Piece | None], hasher: Hasher, failed: list[BaseException]
) -> None:
    """The verifying thread of a pipelined copy: hashes the copy as written, piece by
    piece, a step behind the writer."""
    try:
        while (piece := written.get()) is not None:
            hash_mapped(writer, piece.offset, piece.length, [hasher])
    except BaseException as exc:  # the reading thread re-raises it
        failed.append(exc)
        while written.get() is not None:
            pass


def _copy_pipelined(
    reader: int, writer: int, size: int, algorithm: str, buffers: _Buffers
) -> tuple[int, str, str]:
    """A large file over three threads: this one reads and hashes the source, a second
    writes, a third hashes the copy through a mapping as each piece is written. System
    calls and the hashing of large buffers release the GIL, so all three run at once."""
    source_hasher, dest_hasher = new_hasher(algorithm), new_hasher(algorithm)
    todo: SimpleQueue[_Piece | None] = SimpleQueue()
    free: SimpleQueue[memoryview | BaseException] = SimpleQueue()
    written: SimpleQueue[_Piece | None] = SimpleQueue()
    failed: list[BaseException] = []
    for piece in buffers.pieces:
        free.put(piece)
    threads = [
        threading.Thread(target=_write_pieces, args=(writer, todo, free, written), daemon=True),
        threading.Thread(
            target=_hash_written, args=(writer, written, dest_hasher, failed), daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    offset = 0
    try:
        while offset < size:
            buffer = free.get()
            if isinstance(buffer, BaseException):
                raise buffer
            count = _read_into(reader, buffer[: size - offset], offset)
            if not count:
                break  # the source got shorter: the caller sees it
            source_hasher.update(buffer[:count])
            todo.put(_Piece(buffer, count, offset))
            offset += count
    finally:
        todo.put(None)
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
    return offset, source_hasher.hexdigest(), dest_hasher.hexdigest()


def _copy_one(
    source: str, temp: str, listed: int | None, algorithm: str, buffers: _Buffers
) -> tuple[int, str, str]:
    """Copy ``source`` to the new file ``temp``, with ``source``'s mtime: the bytes
    copied, the hash of what was read, the hash of the copy as re-read."""
    reader = os.open(source, os.O_RDONLY)
    try:
        before = os.fstat(reader)
        if listed is not None and listed != before.st_size:
            raise SourceChanged(f"{source} is {before.st_size} bytes now, {listed} when listed")
        writer = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if before.st_size <= SMALL_BYTES:
                copied = _copy_small(reader, writer, before.st_size, algorithm)
            else:
                copy = _copy_whole if before.st_size <= CHUNK_BYTES else _copy_pipelined
                copied = copy(reader, writer, before.st_size, algorithm, buffers)
            length, source_checksum, dest_checksum = copied
            after = os.fstat(reader)
            if length != after.st_size or (after.st_size, after.st_mtime_ns) != (
                before.st_size,
                before.st_mtime_ns,
            ):
                raise SourceChanged(f"{source} changed while it was being copied")
            os.utime(writer, ns=(after.st_atime_ns, after.st_mtime_ns))
        finally:
            os.close(writer)
    finally:
        os.close(reader)
    return length, source_checksum, dest_checksum


class _Staged(NamedTuple):
    """A verified copy under its temporary name, waiting for its batch's flush."""

    position: int  # in the jobs of copy_files
    temp: str
    target: str
    bytes: int
    checksum: str
    started: float


class _Copier:
    """One worker's copies: its buffers, the directories it made, its temporary names,
    and the verified copies waiting for the next flush."""

    def __init__(self, source: Location, destination: Location, algorithm: str) -> None:
        self.source, self.destination, self.algorithm = source, destination, algorithm
        self.source_root = os.path.abspath(source.root)
        self.destination_root = os.path.abspath(destination.root)
        if not os.path.isdir(self.destination_root):
            raise LocationNotFound(
                f"{destination.describe()}: {self.destination_root} does not exist"
            )
        new_hasher(algorithm)  # an unknown algorithm fails the batch before any file
        self.buffers = _Buffers()
        self.made: set[str] = set()
        # One random token per worker, then a counter: unique names without a syscall each.
        self.token = secrets.token_hex(4)
        self.count = 0
        self.staged: list[_Staged] = []
        self.staged_bytes = 0

    def stage(self, index: int, job: Job) -> Copied | None:
        """Copy and verify one file under a temporary name, kept for the next
        ``publish``; or say why it failed."""
        started = time.time()
        source_path, destination_path, listed = job
        size, source_checksum, dest_checksum, temp = 0, None, None, None
        try:
            target = join(self.destination_root, destination_path, self.destination)
            parent, name = target.rsplit("/", 1)
            if parent not in self.made:
                os.makedirs(parent, exist_ok=True)
                self.made.add(parent)
            self.count += 1
            temp = f"{parent}/.{name}{TEMP_MARK}{self.token}{self.count:x}"
            source = join(self.source_root, source_path, self.source)
            size, source_checksum, dest_checksum = _copy_one(
                source, temp, listed, self.algorithm, self.buffers
            )
            if dest_checksum != source_checksum:
                raise ChecksumMismatch(
                    f"{destination_path}: {self.algorithm} of the copy ({dest_checksum}) "
                    f"differs from the source ({source_checksum})"
                )
        except (OSError, TransferError) as exc:
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
            error = map_os_error(exc, source_path) if isinstance(exc, OSError) else exc
            return Copied(size, source_checksum, dest_checksum, error, started, time.time())
        self.staged.append(_Staged(index, temp, target, size, source_checksum, started))
        self.staged_bytes += size
        return None

    def batch_full(self) -> bool:
        return len(self.staged) >= BATCH_FILES or self.staged_bytes >= BATCH_BYTES

    def publish(self, jobs: Sequence[Job]) -> list[tuple[int, Copied]]:
        """Flush the verified copies, give them their final names, flush the names."""
        syncfs(self.destination_root)
        errors: list[TransferError | None] = []
        for entry in self.staged:
            try:
                os.replace(entry.temp, entry.target)
                errors.append(None)
            except OSError as exc:
                errors.append(map_os_error(exc, jobs[entry.position][1]))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.temp)
        syncfs(self.destination_root)
        finished = time.time()
        published = [
            (
                entry.position,
                Copied(entry.bytes, entry.checksum, entry.checksum, error, entry.started, finished),
            )
            for entry, error in zip(self.staged, errors, strict=True)
        ]
        self.staged, self.staged_bytes = [], 0
        return published


def copy_files(
    source: Location,
    destination: Location,
    jobs: Sequence[Job],
    algorithm: str,
    on_done: Callable[[list[tuple[int, Copied]]], None] | None = None,
) -> list[Copied]:
    """Verified copies, in the order of ``jobs``; runs in a worker thread or process.

    ``on_done`` hears of every file, (position in ``jobs``, outcome), once its outcome is
    final: a failure at once, a batch of copies once it is flushed under final names.
    """
    copier = _Copier(source, destination, algorithm)
    results: dict[int, Copied] = {}

    def finish(done: list[tuple[int, Copied]]) -> None:
        results.update(done)
        if on_done is not None:
            on_done(done)

    for index, job in enumerate(jobs):
        failed = copier.stage(index, job)
        if failed is not None:
            finish([(index, failed)])
        elif copier.batch_full():
            finish(copier.publish(jobs))
    if copier.staged:
        finish(copier.publish(jobs))
    return [results[index] for index in range(len(jobs))]
