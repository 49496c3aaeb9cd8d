"""Verified local copies: every byte checked, nothing unverified under a final name."""

from __future__ import annotations

import asyncio
import errno
import marshal
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from streamweave.transfers import local, tree
from streamweave.transfers.base import CopyItem, Location
from streamweave.transfers.checksums import new_hasher
from streamweave.transfers.errors import (
    ChecksumMismatch,
    DestinationExists,
    DestinationFull,
    LocationNotFound,
    PathNotFound,
    PermissionDenied,
    SourceChanged,
)
from streamweave.transfers.native import NativeAdapter
from streamweave.transfers.registry import adapter_for
from streamweave.transfers.streaming import RcloneAdapter
from tests.processes import running, wait_for

NAMES = [
    "plain.dat",
    "with spaces/and more spaces.txt",
    unicodedata.normalize("NFC", "Müller/probe.csv"),
    unicodedata.normalize("NFD", "Müller/probe.csv"),
    "/".join(f"level{i}" for i in range(25)) + "/deep.bin",
    "empty.bin",
]


def _tree(root: Path) -> dict[str, bytes]:
    contents = {}
    for index, name in enumerate(NAMES):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"" if name == "empty.bin" else os.urandom(1000 * (index + 1))
        path.write_bytes(data)
        contents[name] = data
    return contents


def _final_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(params=[NativeAdapter, RcloneAdapter], ids=["native", "streaming"])
def adapter(request: pytest.FixtureRequest) -> NativeAdapter | RcloneAdapter:
    return request.param()  # type: ignore[no-any-return]


async def test_copies_every_kind_of_name_verified(
    tmp_path: Path, adapter: NativeAdapter | RcloneAdapter
) -> None:
    source, destination = tmp_path / "src", tmp_path / "dst"
    contents = _tree(source)
    destination.mkdir()
    src, dst = Location("local", str(source)), Location("posix", str(destination))
    entries = [e async for e in adapter.listing(src) if not e.is_dir]
    assert sorted(e.path for e in entries) == sorted(NAMES)
    items = [CopyItem(e.path, e.path, e.size) for e in entries]
    results = await adapter.copy_batch(src, dst, items, algorithm="xxh3-128")
    assert all(r.verified for r in results), [r.error for r in results]
    assert _final_files(destination) == contents
    for result in results:
        expected = new_hasher("xxh3-128")
        expected.update(contents[result.item.source])
        assert result.source_checksum == result.dest_checksum == expected.hexdigest()


@pytest.mark.parametrize("algorithm", ["xxh3-128", "sha256", "md5"])
async def test_checksum_algorithms(tmp_path: Path, algorithm: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_bytes(b"streamweave")
    (tmp_path / "dst").mkdir()
    adapter = NativeAdapter()
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    [result] = await adapter.copy_batch(src, dst, [CopyItem("a", "a")], algorithm=algorithm)
    hasher = new_hasher(algorithm)
    hasher.update(b"streamweave")
    assert result.verified and result.source_checksum == hasher.hexdigest()
    assert await adapter.checksum(dst, "a", algorithm) == hasher.hexdigest()


def _flip_a_byte_on_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """What reaches the disk differs from what was read: a bit flip on the write path."""
    write = os.pwrite

    def flipping(fd: int, data: bytes | memoryview, offset: int) -> int:
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0xFF
        return write(fd, damaged, offset)

    monkeypatch.setattr(os, "pwrite", flipping)


async def test_corrupted_copy_is_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adapter: NativeAdapter | RcloneAdapter
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.bin").write_bytes(os.urandom(50_000))
    (tmp_path / "dst").mkdir()
    _flip_a_byte_on_write(monkeypatch)
    monkeypatch.setattr(
        "streamweave.transfers.stores.LocalStore.checksum",
        lambda self, path, algorithm: _corrupt_then_hash(self, path, algorithm),
    )
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    [result] = await adapter.copy_batch(
        src, dst, [CopyItem("data.bin", "data.bin")], algorithm="xxh3-128"
    )
    assert isinstance(result.error, ChecksumMismatch)
    assert not result.verified
    assert list((tmp_path / "dst").rglob("*")) == []  # neither final nor temporary file


async def _corrupt_then_hash(store: object, path: str, algorithm: str) -> str:
    target = local.resolve(store.location, path)  # type: ignore[attr-defined]
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    hasher = new_hasher(algorithm)
    hasher.update(target.read_bytes())
    return hasher.hexdigest()


async def test_source_changed_since_listing(
    tmp_path: Path, adapter: NativeAdapter | RcloneAdapter
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "growing.raw").write_bytes(b"x" * 2000)
    (tmp_path / "dst").mkdir()
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    [result] = await adapter.copy_batch(
        src, dst, [CopyItem("growing.raw", "growing.raw", size=1000)], algorithm="xxh3-128"
    )
    assert isinstance(result.error, SourceChanged) and result.error.retryable
    assert not (tmp_path / "dst" / "growing.raw").exists()


async def test_missing_source_and_unwritable_destination(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.txt").write_text("fine")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "locked").mkdir(mode=0o500)
    adapter = NativeAdapter()
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    results = await adapter.copy_batch(
        src,
        dst,
        [
            CopyItem("gone.txt", "gone.txt"),
            CopyItem("ok.txt", "ok.txt"),
            CopyItem("ok.txt", "locked/ok.txt"),
        ],
        algorithm="xxh3-128",
    )
    assert isinstance(results[0].error, PathNotFound)
    assert results[1].verified
    if os.geteuid() != 0:  # root ignores directory permissions
        assert isinstance(results[2].error, PermissionDenied)


def test_disk_full_is_named() -> None:
    error = local.map_os_error(OSError(errno.ENOSPC, "No space left on device"), "big.raw")
    assert isinstance(error, DestinationFull)
    assert "no space left" in str(error)


async def test_paths_cannot_escape_the_location(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "secret.txt").write_text("outside")
    adapter = NativeAdapter()
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    [result] = await adapter.copy_batch(
        src, dst, [CopyItem("../secret.txt", "s.txt")], algorithm="md5"
    )
    assert isinstance(result.error, PermissionDenied)


def test_engine_choice_per_pair() -> None:
    local_a, local_b = Location("local", "/a"), Location("posix", "/b")
    smb = Location("cifs", "base", {"host": "h", "share": "s"})
    assert adapter_for(local_a, local_b).name == "native"
    assert adapter_for(smb, local_b).name == "rclone"
    assert adapter_for(local_a, smb).name == "rclone"


async def test_large_batches_run_in_worker_processes_with_progress(tmp_path: Path) -> None:
    source, destination = tmp_path / "src", tmp_path / "dst"
    for index in range(1500):
        path = source / f"run{index // 100}" / f"f{index}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(index.to_bytes(4, "big") * 64)
    destination.mkdir()
    (source / "run3" / "f300.dat").unlink()  # listed below, gone before the copy
    adapter = NativeAdapter()
    src, dst = Location("local", str(source)), Location("posix", str(destination))
    items = [
        CopyItem(f"run{i // 100}/f{i}.dat", f"run{i // 100}/f{i}.dat", 256) for i in range(1500)
    ]
    seen: list[int] = []
    results = await adapter.copy_batch(
        src,
        dst,
        items,
        algorithm="xxh3-128",
        progress=lambda p: seen.append(p.files_done + p.files_failed),
    )
    assert [r.item for r in results] == items  # results in the order asked
    assert sum(r.verified for r in results) == 1499
    assert isinstance(results[300].error, PathNotFound)
    assert seen[-1] == 1500 and seen == sorted(seen)
    assert len(list(destination.rglob("*.dat"))) == 1499


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pieces of 64 KiB: files of a few hundred KiB take the pipelined path."""
    monkeypatch.setattr(local, "CHUNK_BYTES", 64 << 10)
    return 64 << 10


def _one_file(tmp_path: Path, data: bytes) -> tuple[Location, Location, Path]:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    source = tmp_path / "src" / "big.raw"
    source.write_bytes(data)
    os.utime(source, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    return (
        Location("local", str(tmp_path / "src")),
        Location("posix", str(tmp_path / "dst")),
        source,
    )


@pytest.mark.parametrize("pieces", [1, 5, 5.5])
@pytest.mark.parametrize("algorithm", ["xxh3-128", "sha256"])
async def test_large_files_are_pipelined_verified_with_their_mtime(
    tmp_path: Path, small_chunks: int, pieces: float, algorithm: str
) -> None:
    data = os.urandom(int(small_chunks * pieces))
    src, dst, source = _one_file(tmp_path, data)
    [result] = await NativeAdapter().copy_batch(
        src, dst, [CopyItem("big.raw", "big.raw", len(data))], algorithm=algorithm
    )
    expected = new_hasher(algorithm)
    expected.update(data)
    assert result.verified and result.source_checksum == expected.hexdigest()
    copy = tmp_path / "dst" / "big.raw"
    assert copy.read_bytes() == data
    assert copy.stat().st_mtime_ns == source.stat().st_mtime_ns == 1_500_000_000_987_654_321
    assert [p.name for p in (tmp_path / "dst").iterdir()] == ["big.raw"]


@pytest.mark.parametrize(
    "size",
    [0, 1, local.SMALL_BYTES, local.SMALL_BYTES + 1, local.CHUNK_BYTES, local.CHUNK_BYTES + 1],
)
async def test_every_size_class_copies_verified_with_its_mtime(tmp_path: Path, size: int) -> None:
    """Small files go as plain bytes, files up to a piece through reused buffers, larger
    ones through the pipeline: each way ends in the same verified copy."""
    data = os.urandom(size)
    src, dst, source = _one_file(tmp_path, data)
    [result] = await NativeAdapter().copy_batch(
        src, dst, [CopyItem("big.raw", "big.raw", size)], algorithm="md5"
    )
    expected = new_hasher("md5")
    expected.update(data)
    assert result.verified and result.bytes == size
    assert result.source_checksum == result.dest_checksum == expected.hexdigest()
    copy = tmp_path / "dst" / "big.raw"
    assert copy.read_bytes() == data
    assert copy.stat().st_mtime_ns == source.stat().st_mtime_ns


async def test_pipelined_corruption_is_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: int
) -> None:
    src, dst, _ = _one_file(tmp_path, os.urandom(small_chunks * 4 + 10))
    _flip_a_byte_on_write(monkeypatch)
    [result] = await NativeAdapter().copy_batch(
        src, dst, [CopyItem("big.raw", "big.raw")], algorithm="xxh3-128"
    )
    assert isinstance(result.error, ChecksumMismatch)
    assert list((tmp_path / "dst").iterdir()) == []


@pytest.mark.parametrize("change", ["truncate", "append"])
async def test_source_changed_during_a_pipelined_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: int, change: str
) -> None:
    src, dst, source = _one_file(tmp_path, os.urandom(small_chunks * 6))
    write = os.pwrite

    def instrument_writes_meanwhile(fd: int, data: bytes | memoryview, offset: int) -> int:
        if offset == small_chunks:
            with open(source, "r+b") as handle:
                if change == "truncate":
                    handle.truncate(small_chunks * 2)
                else:
                    handle.seek(0, os.SEEK_END)
                    handle.write(b"more")
        return write(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", instrument_writes_meanwhile)
    [result] = await NativeAdapter().copy_batch(
        src, dst, [CopyItem("big.raw", "big.raw")], algorithm="xxh3-128"
    )
    assert isinstance(result.error, SourceChanged)
    assert list((tmp_path / "dst").iterdir()) == []


async def test_destination_full_during_a_pipelined_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: int
) -> None:
    src, dst, _ = _one_file(tmp_path, os.urandom(small_chunks * 8))
    write = os.pwrite

    def full_after_two_pieces(fd: int, data: bytes | memoryview, offset: int) -> int:
        if offset >= 2 * small_chunks:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", full_after_two_pieces)
    [result] = await NativeAdapter().copy_batch(
        src, dst, [CopyItem("big.raw", "big.raw")], algorithm="xxh3-128"
    )
    assert isinstance(result.error, DestinationFull)
    assert list((tmp_path / "dst").iterdir()) == []


async def test_large_files_become_final_without_waiting_for_a_full_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    for name in "abc":
        (tmp_path / "src" / name).write_bytes(os.urandom(10_000))
    monkeypatch.setattr(local, "BATCH_BYTES", 10_000)  # each file fills a batch
    seen: list[int] = []
    src, dst = Location("local", str(tmp_path / "src")), Location("posix", str(tmp_path / "dst"))
    results = await NativeAdapter().copy_batch(
        src,
        dst,
        [CopyItem(name, name) for name in "abc"],
        algorithm="xxh3-128",
        progress=lambda p: seen.append(p.files_done),
    )
    assert all(r.verified for r in results)
    assert seen == [1, 2, 3]


async def test_the_index_is_made_in_a_process_of_its_own_and_equals_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of name, a left-over temporary copy and a symlink (never followed)."""
    _tree(tmp_path)
    (tmp_path / f".plain.dat{local.TEMP_MARK}1234").write_bytes(b"half a copy")
    (tmp_path / "link").symlink_to(tmp_path / "plain.dat")
    started: list[tuple[str, ...]] = []
    spawn = asyncio.create_subprocess_exec

    async def recorded(*argv: str, **kwargs: Any) -> Any:
        started.append(argv)
        return await spawn(*argv, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recorded)
    index = await local.index(tmp_path)
    assert [argv[1:3] for argv in started] == [("-I", "-S")]
    assert index == local.scan(tmp_path)
    assert [entry.path for entry in index] == sorted(NAMES)
    assert next(entry for entry in index if entry.path == "empty.bin").size == 0
    plain = next(entry for entry in index if entry.path == "plain.dat")
    assert plain.mtime_us == (tmp_path / "plain.dat").stat().st_mtime_ns // 1000


def _deep_tree(root: Path) -> None:
    """300 files, at every depth from 0 to 4, in directories of every size."""
    for number in range(300):
        depth = "/".join(f"d{number % level}" for level in range(2, 2 + number % 5))
        path = root / depth / f"f{number}.raw" if depth else root / f"f{number}.raw"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * number)


@pytest.mark.parametrize("processes", [1, 2, 3, 5])
def test_a_tree_shared_among_processes_gives_the_same_index(tmp_path: Path, processes: int) -> None:
    """Cut breadth first and shared out by directory: the same sorted index as one walk."""
    _deep_tree(tmp_path)
    (tmp_path / "d0" / f".f0.raw{local.TEMP_MARK}99").write_bytes(b"half")
    expected = tree.file_index(str(tmp_path))
    assert len(expected) == 300
    assert marshal.loads(tree.shared_index(str(tmp_path), processes)) == ("index", expected)


@pytest.mark.parametrize("processes", [1, 2, 3, 5])
def test_a_share_that_fails_fails_the_whole_index(
    tmp_path: Path, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever process meets the unreadable directory (forks inherit the patch)."""
    _deep_tree(tmp_path)
    entries = tree._entries

    def refusing(root: str, prefix: str) -> Any:
        if prefix == "d1/d2":
            raise PermissionError(errno.EACCES, "Permission denied", f"{root}/{prefix}")
        return entries(root, prefix)

    monkeypatch.setattr(tree, "_entries", refusing)
    report = marshal.loads(tree.shared_index(str(tmp_path), processes))
    assert report == ("error", errno.EACCES, "Permission denied", f"{tmp_path}/d1/d2")


async def test_indexing_a_missing_root_names_it(tmp_path: Path) -> None:
    with pytest.raises(LocationNotFound, match="does not exist"):
        await local.index(tmp_path / "gone")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LocationNotFound, match="not a directory"):
        await local.index(tmp_path / "file")


async def test_renames_move_aside_without_replacing(tmp_path: Path) -> None:
    for name in ("a.raw", "taken.raw", "taken.raw.~1~"):
        (tmp_path / name).write_bytes(name.encode())
    outcomes = await NativeAdapter().rename(
        Location("posix", str(tmp_path)),
        [
            ("a.raw", "a.raw.~1~"),
            ("gone.raw", "gone.raw.~1~"),
            ("taken.raw", "taken.raw.~1~"),
            ("a.raw.~1~", "../outside"),
        ],
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], PathNotFound)
    assert isinstance(outcomes[2], DestinationExists)
    assert isinstance(outcomes[3], PermissionDenied)
    assert (tmp_path / "a.raw.~1~").read_bytes() == b"a.raw"
    assert (tmp_path / "taken.raw").read_bytes() == b"taken.raw"


async def test_deletes_report_each_path(tmp_path: Path) -> None:
    for name in ("a.raw", "b.raw"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "folder").mkdir()
    outcomes = await NativeAdapter().delete(
        Location("local", str(tmp_path)), ["a.raw", "gone.raw", "../outside", "b.raw"]
    )
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], PathNotFound)
    assert isinstance(outcomes[2], PermissionDenied)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


POOL_OWNER = """
import asyncio, sys
from streamweave.transfers import native

async def main() -> None:
    await native.NativeAdapter().prepare()
    print(" ".join(map(str, native._pool().pids())), flush=True)
    await asyncio.sleep(600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_copy_workers_end_when_their_harvest_is_killed(tmp_path: Path) -> None:
    """kill -9 of a harvest (an OOM kill, a crash trial) must not leave its copy
    workers running for ever."""
    script = tmp_path / "owner.py"
    script.write_text(POOL_OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert owner.stdout is not None
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert workers and all(running(pid) for pid in workers)
    finally:
        owner.kill()
        owner.wait()
    wait_for(lambda: not any(running(pid) for pid in workers), 10)
    assert not [pid for pid in workers if running(pid)]
