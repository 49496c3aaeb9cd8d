"""The parts of a pull (remote -> local) that need no server: how a batch is cut into
jobs and byte ranges, and how ranges are checked. The pull itself runs against the
simlab's servers in test_integration.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from streamweave.transfers import pull, rclone
from streamweave.transfers.base import CopyItem
from streamweave.transfers.checksums import ALGORITHMS, new_hasher


def _items(*sizes: int) -> list[CopyItem]:
    return [CopyItem(f"f{n}", f"f{n}", size) for n, size in enumerate(sizes)]


def test_jobs_are_cut_by_files_and_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "JOB_FILES", 3)
    monkeypatch.setattr(pull, "JOB_BYTES", 100)
    items = _items(1, 1, 1, 50, 60, 1)
    chunks = list(pull._chunks(items))
    assert [len(c) for c in chunks] == [3, 2, 1]
    assert [i for c in chunks for i in c] == items


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 1000, (1 << 20) + 3])
def test_ranges_cover_every_byte_once(size: int) -> None:
    ranges = pull._ranges(size)
    assert len(ranges) <= pull.RANGES
    position = 0
    for start, count in ranges:
        assert start == position and count > 0
        position += count
    assert position == size


def test_range_hashes_and_whole_hash_in_one_read(tmp_path: Path) -> None:
    data = os.urandom((3 << 20) + 5)
    path = tmp_path / "data"
    path.write_bytes(data)
    ranges = pull._ranges(len(data))
    whole, parts = pull.hash_ranges(str(path), "xxh3-128", ranges)

    def digest(chunk: bytes) -> str:
        hasher = new_hasher("xxh3-128")
        hasher.update(chunk)
        return hasher.hexdigest()

    assert whole == digest(data)
    assert parts == [digest(data[start : start + count]) for start, count in ranges]


@pytest.mark.parametrize("missing", [1, 60_000])
def test_range_hashes_of_a_short_file_differ(tmp_path: Path, missing: int) -> None:
    """A copy missing its tail bytes (a part of a page, or whole pages, which are not
    there to map) cannot match the ranges read from the source."""
    data = os.urandom(1 << 16)
    full, short = tmp_path / "full", tmp_path / "short"
    full.write_bytes(data)
    short.write_bytes(data[:-missing])
    ranges = pull._ranges(len(data))
    assert (
        pull.hash_ranges(str(full), "sha256", ranges)[1]
        != pull.hash_ranges(str(short), "sha256", ranges)[1]
    )


def test_split_sends_what_a_job_cannot_express_to_one_by_one_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pull, "RANGED_BYTES", 1000)
    items = [
        CopyItem("a.dat", "a.dat", 10),
        CopyItem("big.raw", "big.raw", 5000),
        CopyItem("line\nbreak.txt", "line\nbreak.txt", 10),
        CopyItem("a.dat", "copy-of-a.dat", 10),  # one source, two destinations
    ]
    splitter = pull.Pull.__new__(pull.Pull)
    bulk, ranged, left = splitter._split(items)
    assert bulk == [items[0]]
    assert ranged == [items[1]]
    assert left == [items[2], items[3]]


def test_every_offered_algorithm_has_an_rclone_name() -> None:
    assert set(pull.RCLONE_HASHES) == set(ALGORITHMS)
    assert all(pull.can_pull(name) for name in ALGORITHMS)


def test_staging_is_in_the_deepest_folder_all_destinations_share(tmp_path: Path) -> None:
    def staging(*destinations: str) -> Path:
        items = [CopyItem(d, d, 1) for d in destinations]
        return pull._staging_under(tmp_path, items).parent

    assert staging("nmr/run1/a", "nmr/run2/b") == tmp_path / "nmr"
    assert staging("nmr/run1/a", "nmr/run1/b") == tmp_path / "nmr/run1"
    assert staging("a", "nmr/b") == tmp_path
    assert pull._staging_under(tmp_path, []).name.startswith(".swpart-")


@pytest.mark.parametrize("value", ["x", 'not-a-secret, with "quotes" and ümlauts', "a" * 200])
def test_rclone_reveals_what_we_obscure(value: str) -> None:
    """Every pull obscures the source's password in-process (no ``rclone obscure``
    process per batch): rclone itself must read it back. Test values only: ``reveal``
    takes its input on the command line."""
    obscured = rclone.obscure(value)
    assert obscured != rclone.obscure(value)  # a fresh IV each time
    revealed = subprocess.run(
        # One obscured value in 64 starts with "-": after "--", never read as an option.
        [rclone.rclone_binary(), "reveal", "--", obscured],
        capture_output=True,
        text=True,
        env=rclone.clean_environment(),
        timeout=30,
        check=True,
    )
    assert revealed.stdout.rstrip("\n") == value
