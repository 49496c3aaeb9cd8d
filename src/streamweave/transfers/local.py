"""Local and NFS paths: listing with scandir, and verified copies in one read.

A copy reads the source once, hashing as it writes a temporary file next to the
destination; the temporary file is flushed, re-read and hashed, and renamed to its
final name only when both hashes agree. Flushing is batched: one ``syncfs`` per
chunk of files instead of one ``fsync`` per file, then the renames, then one more
``syncfs`` so the new names are durable too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from streamweave.transfers.base import CopyItem, CopyResult, Entry, Location
from streamweave.transfers.checksums import new_hasher
from streamweave.transfers.errors import (
    ChecksumMismatch,
    DestinationFull,
    LocationNotFound,
    PathNotFound,
    PermissionDenied,
    SourceChanged,
    TransferError,
)

BUFFER_BYTES = 8 << 20
LIST_CHUNK = 2000
TEMP_MARK = ".swpart-"
_libc = ctypes.CDLL(None, use_errno=True)


def temp_name(path: Path) -> Path:
    """The name a file has while it is unverified: hidden, and recognisably ours."""
    return path.with_name(f".{path.name}{TEMP_MARK}{secrets.token_hex(4)}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


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


def walk(root: Path) -> Iterator[Entry]:
    """Every directory and file below ``root`` (no temporary copies of ours)."""
    if not root.is_dir():
        raise LocationNotFound(f"{root} does not exist or is not a directory")
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            with os.scandir(root / prefix if prefix else root) as entries:
                for entry in entries:
                    if is_temp_name(entry.name):
                        continue
                    relative = f"{prefix}/{entry.name}" if prefix else entry.name
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(relative)
                        yield Entry(relative, 0, _mtime(info.st_mtime_ns), is_dir=True)
                    elif stat.S_ISREG(info.st_mode):
                        yield Entry(relative, info.st_size, _mtime(info.st_mtime_ns))
        except PermissionError:
            raise PermissionDenied(f"cannot list {root / prefix}: permission denied") from None


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


def syncfs(path: Path) -> None:
    """Flush the whole file system holding ``path``: one call for a batch of files."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


class _Pending:
    __slots__ = ("result", "target", "temp")

    def __init__(self, result: CopyResult, target: str, temp: str) -> None:
        self.result, self.target, self.temp = result, target, temp


def _write_hashing(
    source: str, temp: str, algorithm: str, buffer: bytearray
) -> tuple[int, str, os.stat_result]:
    hasher = new_hasher(algorithm)
    view = memoryview(buffer)
    total = 0
    reader = os.open(source, os.O_RDONLY)
    try:
        before = os.fstat(reader)
        writer = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            # A file that fits the buffer takes one read: asking for one byte more than
            # its size and getting exactly its size also proves the end of the file.
            first = view[: before.st_size + 1] if before.st_size < len(buffer) else view
            count = os.readv(reader, [first])
            while count:
                chunk = view[:count]
                hasher.update(chunk)
                written = 0
                while written < count:
                    written += os.write(writer, chunk[written:])
                total += count
                if total == before.st_size and count < len(first):
                    break
                count = os.readv(reader, [buffer])
        finally:
            os.close(writer)
        after = os.fstat(reader)
    finally:
        os.close(reader)
    if (after.st_size, after.st_mtime_ns) != (
        before.st_size,
        before.st_mtime_ns,
    ) or total != after.st_size:
        raise SourceChanged(f"{source} changed while it was being copied")
    return total, hasher.hexdigest(), after


def copy_files(
    source: Location,
    destination: Location,
    items: Sequence[CopyItem],
    algorithm: str,
    on_done: Callable[[CopyResult], None],
    chunk_files: int = 256,
) -> list[CopyResult]:
    """Verified local copies, in chunks sharing one flush; runs in a worker thread."""
    buffer = bytearray(BUFFER_BYTES)
    made: set[str] = set()
    results: list[CopyResult] = []
    # One random token per batch, then a counter: unique names without a syscall each.
    batch_token = secrets.token_hex(4)
    source_root = os.path.abspath(source.root)
    destination_root = os.path.abspath(destination.root)
    if not os.path.isdir(destination_root):
        raise LocationNotFound(f"{destination.describe()}: {destination_root} does not exist")
    for start in range(0, len(items), chunk_files):
        pending: list[_Pending] = []
        for number, item in enumerate(items[start : start + chunk_files], start):
            result = CopyResult(item=item, algorithm=algorithm, started_at=datetime.now(UTC))
            results.append(result)
            temp: str | None = None
            try:
                src = join(source_root, item.source, source)
                target = join(destination_root, item.destination, destination)
                parent, name = os.path.split(target)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                temp = f"{parent}/.{name}{TEMP_MARK}{batch_token}{number:x}"
                result.bytes, result.source_checksum, info = _write_hashing(
                    src, temp, algorithm, buffer
                )
                if item.size is not None and item.size != result.bytes:
                    raise SourceChanged(
                        f"{item.source} is {result.bytes} bytes now, {item.size} when listed"
                    )
                os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
                pending.append(_Pending(result, target, temp))
            except (OSError, TransferError) as exc:
                result.error = map_os_error(exc, item.source) if isinstance(exc, OSError) else exc
                if temp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)
                result.finished_at = datetime.now(UTC)
                on_done(result)
        if not pending:
            continue
        syncfs(Path(destination_root))
        for entry in pending:
            result = entry.result
            try:
                result.dest_checksum = hash_file(entry.temp, algorithm, buffer, result.bytes)
                if result.dest_checksum != result.source_checksum:
                    raise ChecksumMismatch(
                        f"{result.item.destination}: {algorithm} of the copy "
                        f"({result.dest_checksum}) differs from the source "
                        f"({result.source_checksum})"
                    )
                os.replace(entry.temp, entry.target)
            except (OSError, TransferError) as exc:
                result.error = (
                    map_os_error(exc, result.item.destination) if isinstance(exc, OSError) else exc
                )
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.temp)
            result.finished_at = datetime.now(UTC)
            on_done(result)
        syncfs(Path(destination_root))
    return results
