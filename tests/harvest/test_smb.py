"""Harvests from the simlab's real Samba share (a ``cifs`` instrument read through a
service account) into posix storage, end to end: what arrives, when, and what a broken
share or a server that goes away does to it (SQLite and PostgreSQL).

Every check of the destination reads the bytes on disk and compares them with what the
test wrote on the share, independently of the harvest's own verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import select

from streamweave.db.models import FileRecord, FileTransfer, FileVersion, HarvestEntry, HarvestRun
from streamweave.harvest.pipeline import Harvest, HarvestOptions
from streamweave.transfers import pull
from streamweave.transfers.errors import HostUnreachable
from tests.harvest.conftest import tree
from tests.harvest.smb_lab import SmbLab

NFC = unicodedata.normalize("NFC", "Müller")
NFD = unicodedata.normalize("NFD", "Müller")
DEEP = "/".join(f"level{i:02d}" for i in range(22))

SAMPLE = {
    "nmr/1/acqus": b"##TITLE= Parameter file\n##$SFO1= 600.13\n",
    "nmr/1/fid": bytes(range(256)) * 64,
    "hplc/run 1/sample A.csv": b"time,signal\n0.0,1.5\n",
    f"{NFC}/probe.csv": b"nfc\n",
    "empty.dat": b"",
}


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


def fill(lab: SmbLab, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        lab.write(path, data)


def leftovers(root: Path) -> list[str]:
    """StreamWeave's temporary copies (hidden ``.swpart-`` names) left below ``root``."""
    return [p.as_posix() for p in root.rglob("*") if ".swpart-" in p.name]


async def test_first_harvest_copies_and_verifies_everything(smb_lab: SmbLab) -> None:
    fill(smb_lab, SAMPLE)
    summary = await smb_lab.harvest()

    assert (summary.status, summary.completed, summary.failed) == ("completed", len(SAMPLE), 0)
    assert tree(smb_lab.destination) == SAMPLE
    assert not leftovers(smb_lab.storage_root)
    records = await smb_lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(SAMPLE)
    for record in records:
        data = SAMPLE[record.source_path]
        assert record.persistent_id and record.persistent_id.startswith("ark:/99999/fk4")
        assert record.xxhash == xxhash.xxh3_128(data).hexdigest(), record.source_path
        assert (record.size_bytes, record.current_version) == (len(data), 1)
    assert len({r.persistent_id for r in records}) == len(SAMPLE)
    transfers = await smb_lab.rows(select(FileTransfer))
    assert len(transfers) == len(SAMPLE)
    for transfer in transfers:
        assert transfer.status == "completed" and transfer.checksum_verified
        assert transfer.source_checksum == transfer.dest_checksum
    by_id = {r.id: r for r in records}
    assert sorted(t.destination_path for t in transfers) == sorted(
        f"NMR 600/{by_id[t.file_id].source_path}" for t in transfers
    )


async def test_second_harvest_transfers_nothing(smb_lab: SmbLab) -> None:
    fill(smb_lab, SAMPLE)
    await smb_lab.harvest()
    copied = {p: p.stat().st_mtime_ns for p in smb_lab.destination.rglob("*") if p.is_file()}

    again = await smb_lab.harvest()

    assert (again.completed, again.new, again.unchanged, again.bytes) == (0, 0, len(SAMPLE), 0)
    assert await smb_lab.count(FileTransfer) == len(SAMPLE)
    assert await smb_lab.count(FileVersion) == len(SAMPLE)
    assert {p: p.stat().st_mtime_ns for p in copied} == copied  # nothing rewritten


async def test_a_modified_file_becomes_a_second_version_with_its_own_ark(
    smb_lab: SmbLab,
) -> None:
    first = smb_lab.write("hplc/run.csv", b"a,b\n1,2\n")
    await smb_lab.harvest()
    # Same size, later mtime: only the modification time says the content changed.
    mtime = first.stat().st_mtime + 30
    smb_lab.write("hplc/run.csv", b"a,b\n3,4\n", mtime=mtime)

    summary = await smb_lab.harvest()

    assert (summary.completed, summary.failed) == (1, 0)
    assert tree(smb_lab.destination) == {
        "hplc/run.csv": b"a,b\n3,4\n",
        "hplc/run.csv.~1~": b"a,b\n1,2\n",
    }
    record = (await smb_lab.rows(select(FileRecord)))[0]
    versions = await smb_lab.rows(select(FileVersion).order_by(FileVersion.version))
    assert [v.version for v in versions] == [1, 2] and record.current_version == 2
    arks = [record.persistent_id, *(v.persistent_id for v in versions)]
    assert all(arks) and len(set(arks)) == 3
    assert record.xxhash == versions[1].xxhash == xxhash.xxh3_128(b"a,b\n3,4\n").hexdigest()
    assert versions[0].xxhash == xxhash.xxh3_128(b"a,b\n1,2\n").hexdigest()
    completed = await smb_lab.rows(
        select(FileTransfer)
        .where(FileTransfer.status == "completed")
        .order_by(FileTransfer.created_at)
    )
    assert [(t.file_version_id, t.destination_path) for t in completed] == [
        (versions[0].id, "NMR 600/hplc/run.csv.~1~"),
        (versions[1].id, "NMR 600/hplc/run.csv"),
    ]


class DestinationWatch:
    """Reads one destination file over and over in a thread: every content it held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                self.seen.add(self.path.read_bytes())
            time.sleep(0.005)

    def __enter__(self) -> DestinationWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def test_a_file_still_being_appended_to_is_never_copied_before_it_is_complete(
    smb_lab: SmbLab,
) -> None:
    await smb_lab.set_rule({"mode": "quiet_period", "seconds": 1})
    chunk = b"0123456789abcdef" * 64
    appends = 10
    smb_lab.write("ms/acquisition.raw", chunk)
    final = chunk * (appends + 1)
    done = threading.Event()

    def instrument_writes() -> None:
        for _ in range(appends):
            time.sleep(0.25)  # well inside the quiet period: the file is never quiet
            smb_lab.append("ms/acquisition.raw", chunk)
        done.set()

    writer = threading.Thread(target=instrument_writes, daemon=True)
    runs = 0
    with DestinationWatch(smb_lab.destination / "ms/acquisition.raw") as watch:
        writer.start()
        while not done.is_set():
            summary = await smb_lab.harvest()
            runs += 1
            assert (summary.completed, summary.failed) == (0, 0), summary
        writer.join()
        assert runs >= 3, f"only {runs} harvests ran while the file grew"
        # Quiet now: seen unchanged for a second across two observations, then copied.
        for _ in range(3):
            await asyncio.sleep(1.1)
            if (await smb_lab.harvest()).completed:
                break

    assert tree(smb_lab.destination) == {"ms/acquisition.raw": final}
    assert watch.seen <= {final}, sorted(len(s) for s in watch.seen)
    versions = await smb_lab.rows(select(FileVersion))
    assert [(v.version, v.size_bytes) for v in versions] == [(1, len(final))]


async def test_a_run_directory_is_copied_after_its_marker_appears_the_marker_last(
    smb_lab: SmbLab,
) -> None:
    await smb_lab.set_rule({"mode": "marker", "marker": "RTAComplete.txt"})
    run = {
        "run42/RunInfo.xml": b"<RunInfo/>",
        "run42/Data/Intensities/L001/C1.1/s_1_1101.bcl": b"\x01" * 4000,
        "run42/Data/Intensities/L001/C2.1/s_1_1101.bcl": b"\x02" * 4000,
        "run42/InterOp/QMetrics.bin": b"\x03" * 100,
    }
    fill(smb_lab, run)
    waiting = await smb_lab.harvest()
    assert (waiting.completed, waiting.waiting) == (0, len(run))
    assert not smb_lab.destination.exists()

    smb_lab.write("run42/RTAComplete.txt", b"RTA 3.4.4 completed")
    summary = await smb_lab.harvest()

    assert (summary.completed, summary.failed) == (len(run) + 1, 0)
    assert tree(smb_lab.destination) == {**run, "run42/RTAComplete.txt": b"RTA 3.4.4 completed"}
    transfers = await smb_lab.rows(select(FileTransfer))
    marker = next(t for t in transfers if t.destination_path.endswith("/RTAComplete.txt"))
    others = [t for t in transfers if t is not marker]
    assert len(others) == len(run)
    assert marker.started_at is not None
    # The marker's copy began only once every other file of the run was verified.
    assert all(t.completed_at is not None and t.completed_at <= marker.started_at for t in others)


async def test_unicode_spaces_deep_paths_and_empty_files_arrive_intact(smb_lab: SmbLab) -> None:
    files = {
        f"{NFC}/probe.csv": b"the NFC name\n",
        f"{NFD}/probe.csv": b"the NFD name, another file\n",
        unicodedata.normalize("NFC", "tem/été.tif"): b"II*\x00nfc",
        unicodedata.normalize("NFD", "tem/été.tif"): b"II*\x00nfd",
        "hplc/run 7/sample  two  spaces.csv": b"x,y\n",
        "hplc/ leading space.csv": b"lead\n",
        "蛋白质/样品 1.raw": b"cjk",
        f"{DEEP}/deep.bin": b"deep down",
        f"{DEEP}/empty.bin": b"",
        "empty.dat": b"",
    }
    fill(smb_lab, files)
    summary = await smb_lab.harvest()

    assert (summary.completed, summary.failed) == (len(files), 0), summary.errors
    assert tree(smb_lab.destination) == files  # exact names: NFC and NFD stay apart
    records = await smb_lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(files)
    for record in records:
        assert record.filename == record.source_path.rsplit("/", 1)[-1]
        assert record.size_bytes == len(files[record.source_path])
        assert record.xxhash == xxhash.xxh3_128(files[record.source_path]).hexdigest()
    assert (await smb_lab.harvest()).unchanged == len(files)  # names read back the same


async def test_a_file_the_service_account_cannot_read_fails_with_a_reason(
    smb_lab: SmbLab,
) -> None:
    fill(smb_lab, SAMPLE)
    smb_lab.write("nmr/1/locked.ser", b"private")
    smb_lab.forbid("nmr/1/locked.ser")

    summary = await smb_lab.harvest()

    assert (summary.completed, summary.failed, summary.exit_code) == (len(SAMPLE), 1, 1)
    assert tree(smb_lab.destination) == SAMPLE  # the rest arrived, nothing of the locked one
    assert not leftovers(smb_lab.storage_root)
    locked = HarvestEntry.source_path == "nmr/1/locked.ser"
    entry = (await smb_lab.rows(select(HarvestEntry).where(locked)))[0]
    assert entry.state == "failed" and entry.retry_after is not None
    failed = await smb_lab.rows(select(FileTransfer).where(FileTransfer.status == "failed"))
    assert len(failed) == 1 and not failed[0].checksum_verified
    # The reason names the cause an admin can act on: the account's rights on the file.
    for reason in (entry.last_error, failed[0].error_message, *summary.errors):
        assert reason and "PermissionDenied" in reason and "locked.ser" in reason, reason


class StopAfter:
    """A progress reporter that stops the share's server once ``files`` are copied."""

    def __init__(self, lab: SmbLab, files: int) -> None:
        self.lab = lab
        self.files = files
        self.stopped = False

    def stage(self, name: str) -> None:
        return None

    def planned(self, files: int, nbytes: int) -> None:
        return None

    def progress(self, files_done: int, files_failed: int, nbytes: int) -> None:
        if files_done >= self.files and not self.stopped:
            self.stopped = True
            self.lab.share.stop()  # at once, before the harvest goes on


@pytest.mark.parametrize("where", ["between batches", "within a batch"])
async def test_server_stopped_in_the_middle_of_a_harvest_then_restarted(
    smb_lab: SmbLab, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The server goes away once ten files are copied: before the next batch starts
    (which then stops the run), or while the rest of a batch is still being copied
    (those files fail). Restarted, the next run completes the harvest exactly once."""
    files = {f"batch/{i:03d}.dat": f"file {i}\n".encode() * (i + 1) for i in range(60)}
    fill(smb_lab, files)
    if where == "between batches":
        options = HarvestOptions(batch_files=10)
    else:
        # One batch, which rclone copies in jobs of ten files, one job at a time: the
        # server stops between two jobs. (A job in flight when the server dies makes
        # rclone retry for a minute or more before the batch gives up.)
        monkeypatch.setattr(pull, "JOB_FILES", 10)
        monkeypatch.setattr(pull, "JOBS", 1)
        options = HarvestOptions(batch_files=len(files))
    # Due again at once: this test is about what is recorded, not about backoff.
    options = dataclasses.replace(options, retry_base_seconds=0)
    stopper = StopAfter(smb_lab, 10)
    harvest = Harvest(smb_lab.sessions, smb_lab.box, options, stopper)
    try:
        await harvest.run(smb_lab.instrument_id, smb_lab.storage_id)
    except HostUnreachable:  # the next batch's connection check found the server gone
        assert where == "between batches"
    finally:
        if stopper.stopped:
            smb_lab.share.restart()  # from the main thread: smbd dies with this process
    assert stopper.stopped, "the harvest ended before the server was stopped"
    interrupted = (await smb_lab.rows(select(HarvestRun)))[0]
    expected = "failed" if where == "between batches" else "completed_with_errors"
    assert interrupted.status == expected
    assert 10 <= interrupted.files_completed < len(files)
    if where == "within a batch":
        assert interrupted.files_failed == len(files) - interrupted.files_completed
    assert not leftovers(smb_lab.storage_root)

    summary = await smb_lab.harvest()

    assert summary.status == "completed" and summary.failed == 0, summary.errors
    assert summary.completed == len(files) - interrupted.files_completed
    assert tree(smb_lab.destination) == files
    records = await smb_lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(files)
    assert {r.current_version for r in records} == {1}
    completed = await smb_lab.rows(select(FileTransfer).where(FileTransfer.status == "completed"))
    per_version = Counter(t.file_version_id for t in completed)
    assert len(per_version) == len(files) and set(per_version.values()) == {1}
    assert await smb_lab.count(FileVersion) == len(files)
    assert all(t.checksum_verified for t in completed)
