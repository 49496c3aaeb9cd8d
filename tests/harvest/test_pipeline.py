"""The harvest pipeline from a local instrument directory into posix storage: what it
copies, when it waits, how it versions, retries and remembers (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from streamweave.db.models import (
    AuditLog,
    FileRecord,
    FileTransfer,
    FileVersion,
    HarvestEntry,
    HarvestLease,
    HarvestRun,
)
from streamweave.harvest import lease
from streamweave.transfers.errors import PermissionDenied
from streamweave.transfers.native import NativeAdapter
from tests.harvest.conftest import LocalLab, tree

SAMPLE = {
    "run1/sample A.raw": b"spectrum" * 1000,
    unicodedata.normalize("NFC", "Müller/probe.csv"): b"a,b\n1,2\n",
    unicodedata.normalize("NFD", "Müller/probé.csv"): b"c,d\n3,4\n",
    "/".join(f"d{i}" for i in range(20)) + "/deep.bin": b"deep",
    "empty.dat": b"",
}


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


def fill(lab: LocalLab, files: dict[str, bytes] = SAMPLE) -> None:
    for path, data in files.items():
        lab.write(path, data)


async def test_first_harvest_copies_verifies_and_records_everything(lab: LocalLab) -> None:
    fill(lab)
    summary = await lab.harvest()

    assert summary.status == "completed" and summary.exit_code == 0
    assert summary.completed == len(SAMPLE) and summary.failed == 0
    assert tree(lab.destination) == SAMPLE
    records = await lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(SAMPLE)
    for record in records:
        assert record.persistent_id and record.persistent_id.startswith("ark:/99999/fk4")
        assert record.current_version == 1 and record.xxhash
        assert record.size_bytes == len(SAMPLE[record.source_path])
    transfers = await lab.rows(select(FileTransfer))
    assert len(transfers) == len(SAMPLE)
    assert all(t.status == "completed" and t.checksum_verified for t in transfers)
    assert all(t.source_checksum == t.dest_checksum for t in transfers)
    versions = await lab.rows(select(FileVersion))
    assert len({v.persistent_id for v in versions} | {r.persistent_id for r in records}) == 2 * len(
        SAMPLE
    )
    run = (await lab.rows(select(HarvestRun)))[0]
    assert (run.status, run.files_completed, run.files_discovered) == (
        "completed",
        len(SAMPLE),
        len(SAMPLE),
    )
    recorded = await lab.rows(select(AuditLog).where(AuditLog.action == "record"))
    assert sum(a.changes["files_created"] for a in recorded) == len(SAMPLE)
    assert all(a.entity_id == run.id for a in recorded)
    assert await lab.count(HarvestLease) == 0  # released


async def test_second_harvest_transfers_nothing(lab: LocalLab) -> None:
    fill(lab)
    await lab.harvest()
    again = await lab.harvest()
    assert (again.completed, again.unchanged, again.new) == (0, len(SAMPLE), 0)
    assert await lab.count(FileTransfer) == len(SAMPLE)


async def test_a_modified_file_becomes_a_new_version_with_its_own_ark(lab: LocalLab) -> None:
    lab.write("run1/a.raw", b"first")
    await lab.harvest()
    lab.write("run1/a.raw", b"second, longer")
    summary = await lab.harvest()

    assert summary.completed == 1
    assert (lab.destination / "run1/a.raw").read_bytes() == b"second, longer"
    assert (lab.destination / "run1/a.raw.~1~").read_bytes() == b"first"
    record = (await lab.rows(select(FileRecord)))[0]
    versions = await lab.rows(select(FileVersion).order_by(FileVersion.version))
    assert [v.version for v in versions] == [1, 2] and record.current_version == 2
    assert versions[0].persistent_id != versions[1].persistent_id
    assert record.persistent_id not in {v.persistent_id for v in versions}
    completed = await lab.rows(
        select(FileTransfer)
        .where(FileTransfer.status == "completed")
        .order_by(FileTransfer.created_at)
    )
    # The first version's transfer now says where that version is kept.
    assert [t.destination_path for t in completed] == [
        "microscope/run1/a.raw.~1~",
        "microscope/run1/a.raw",
    ]


async def test_quiet_period_waits_for_a_file_that_is_still_growing(lab: LocalLab) -> None:
    await lab.set_rule({"mode": "quiet_period", "seconds": 1})
    lab.write("growing.raw", b"part one")
    first = await lab.harvest()
    assert (first.waiting, first.completed) == (1, 0)  # seen once: not yet known quiet

    await asyncio.sleep(1.1)
    lab.write("growing.raw", b"part one, part two")  # still being written
    second = await lab.harvest()
    assert (second.waiting, second.completed) == (1, 0)
    assert not (lab.destination / "growing.raw").exists()

    await asyncio.sleep(1.1)
    third = await lab.harvest()
    assert third.completed == 1
    assert (lab.destination / "growing.raw").read_bytes() == b"part one, part two"


async def test_marker_rule_waits_for_the_marker_and_copies_it_last(lab: LocalLab) -> None:
    await lab.set_rule({"mode": "marker", "marker": "RTAComplete.txt"})
    lab.write("run7/data/1.bcl", b"1")
    lab.write("run7/data/2.bcl", b"2")
    lab.write("other/loose.txt", b"no marker here")
    first = await lab.harvest()
    assert (first.completed, first.waiting) == (0, 3)

    lab.write("run7/RTAComplete.txt", b"done")
    second = await lab.harvest()
    assert second.completed == 3 and second.waiting == 1  # other/ has no marker
    transfers = await lab.rows(
        select(FileTransfer).order_by(FileTransfer.created_at, FileTransfer.destination_path)
    )
    assert transfers[-1].destination_path == "microscope/run7/RTAComplete.txt"
    assert transfers[-1].created_at > max(t.created_at for t in transfers[:-1])


async def test_vanished_files_are_marked_and_never_deleted_at_the_destination(
    lab: LocalLab,
) -> None:
    fill(lab, {"keep.txt": b"k", "gone.txt": b"g"})
    await lab.harvest()
    (lab.source / "gone.txt").unlink()
    summary = await lab.harvest()

    assert summary.vanished == 1
    assert (lab.destination / "gone.txt").read_bytes() == b"g"
    gone = (await lab.rows(select(FileRecord).where(FileRecord.source_path == "gone.txt")))[0]
    assert gone.source_deleted_at is not None


class FailingFor(NativeAdapter):
    """The native adapter, except that some paths cannot be read."""

    def __init__(self, paths: set[str]) -> None:
        self.paths = paths

    async def copy_batch(self, source: Any, destination: Any, items: Any, **kw: Any) -> Any:
        results = await super().copy_batch(
            source, destination, [i for i in items if i.source not in self.paths], **kw
        )
        from streamweave.transfers.base import CopyResult

        by_source = {r.item.source: r for r in results}
        return [
            by_source.get(i.source)
            or CopyResult(i, error=PermissionDenied(f"{i.source}: permission denied"))
            for i in items
        ]


async def test_failed_files_are_retried_with_backoff_then_given_up(
    lab: LocalLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(lab, {"ok.txt": b"fine", "locked.txt": b"secret"})
    failing = FailingFor({"locked.txt"})
    monkeypatch.setattr("streamweave.harvest.pipeline.adapter_for", lambda *a: failing)

    first = await lab.harvest(retry_limit=3, retry_base_seconds=3600)
    assert (first.completed, first.failed, first.exit_code) == (1, 1, 1)
    assert any("permission denied" in e for e in first.errors)
    entry = (await lab.rows(select(HarvestEntry).where(HarvestEntry.source_path == "locked.txt")))[
        0
    ]
    assert (entry.state, entry.attempts) == ("failed", 1) and entry.retry_after

    waiting = await lab.harvest(retry_limit=3)
    assert (waiting.failed, waiting.retry_later) == (0, 1)  # backoff not over yet

    async with lab.sessions() as session:  # time passes
        await session.execute(update(HarvestEntry).values(retry_after=datetime.now(UTC)))
        await session.commit()
    for _ in range(2):
        await lab.harvest(retry_limit=3, retry_base_seconds=0)
    entry = (await lab.rows(select(HarvestEntry).where(HarvestEntry.source_path == "locked.txt")))[
        0
    ]
    assert (entry.state, entry.attempts) == ("permanently_failed", 3)
    assert "PermissionDenied" in (entry.last_error or "")
    failed = await lab.rows(select(FileTransfer).where(FileTransfer.status == "failed"))
    assert len(failed) == 3 and all("permission denied" in (t.error_message or "") for t in failed)

    after = await lab.harvest(retry_limit=3)
    assert (after.permanently_failed, after.failed) == (1, 0)
    monkeypatch.undo()
    lab.write("locked.txt", b"secret, rewritten")  # new content: a fresh set of attempts
    fixed = await lab.harvest(retry_limit=3)
    assert fixed.completed == 1


async def test_a_skip_names_its_rule_and_is_reconsidered_when_hooks_change(
    lab: LocalLab,
) -> None:
    fill(lab, {"keep.raw": b"k", "scratch.tmp": b"t"})
    hook = await lab.add_hook("file_filter", {"exclude_patterns": ["*.tmp"]}, name="no temp")
    summary = await lab.harvest()
    assert (summary.completed, summary.skipped) == (1, 1)
    entry = (await lab.rows(select(HarvestEntry).where(HarvestEntry.source_path == "scratch.tmp")))[
        0
    ]
    assert entry.state == "skipped" and "no temp" in (entry.skip_rule or "")
    assert (await lab.harvest()).skipped == 1  # same hooks: not reconsidered

    from streamweave.db.models import HookConfig

    async with lab.sessions() as session:
        row = await session.get(HookConfig, hook)
        assert row is not None
        row.config = {"exclude_patterns": ["*.bak"]}
        await session.commit()
    again = await lab.harvest()
    assert again.completed == 1
    assert (lab.destination / "scratch.tmp").read_bytes() == b"t"


async def test_a_second_harvest_of_the_instrument_cannot_start_while_one_runs(
    lab: LocalLab,
) -> None:
    async with lab.sessions() as session:
        await lease.acquire(session, lab.instrument_id, "other-worker", 60)
    with pytest.raises(lease.HarvestBusy, match="other-worker"):
        await lab.harvest()

    async with lab.sessions() as session:  # that worker died: its lease runs out
        await session.execute(
            update(HarvestLease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    fill(lab, {"a.txt": b"a"})
    assert (await lab.harvest()).completed == 1


async def test_dry_run_changes_nothing(lab: LocalLab) -> None:
    fill(lab)
    summary = await lab.harvest(dry_run=True)
    assert summary.status == "dry_run" and summary.completed == len(SAMPLE)
    assert not lab.destination.exists()
    assert await lab.count(HarvestEntry) == 0 and await lab.count(FileRecord) == 0


async def test_many_files_with_few_statements(lab: LocalLab) -> None:
    """Bulk, not per row: 3,000 files cost a handful of statements per batch."""
    fill(lab, {f"bulk/{i // 100:02d}/{i:05d}.dat": b"x" * (i % 7) for i in range(3000)})
    statements = 0

    from sqlalchemy import event

    engine = lab.sessions.kw["bind"]

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        summary = await lab.harvest(batch_files=1000)
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert summary.completed == 3000
    assert statements < 400, statements  # executemany counts once per chunk
    assert elapsed < 60


async def test_harvest_refuses_a_deleted_or_disabled_instrument(lab: LocalLab) -> None:
    from streamweave.db.models import Instrument
    from streamweave.errors import ConfigurationError

    async with lab.sessions() as session:
        row = await session.get(Instrument, lab.instrument_id)
        assert row is not None
        row.enabled = False
        await session.commit()
    with pytest.raises(ConfigurationError, match="disabled"):
        await lab.harvest()


async def set_cleanup(lab: LocalLab, hours: float | None) -> None:
    from streamweave.db.models import Instrument

    async with lab.sessions() as session:
        row = await session.get(Instrument, lab.instrument_id)
        assert row is not None
        row.transfer_config = None if hours is None else {"source_cleanup_after_hours": hours}
        await session.commit()


LATE = b"copied in the run that cleans up: removed once verified"


async def test_source_cleanup_removes_only_verified_files_and_audits(lab: LocalLab) -> None:
    fill(lab, {"a.raw": b"a", "b.raw": b"b"})
    await lab.harvest()
    assert tree(lab.source) == {"a.raw": b"a", "b.raw": b"b"}  # off by default

    await set_cleanup(lab, 1)
    await lab.harvest()
    assert len(tree(lab.source)) == 2  # copied less than an hour ago: kept

    await set_cleanup(lab, 0)
    lab.write("c.raw", LATE)
    summary = await lab.harvest()
    assert summary.cleaned == 3 and tree(lab.source) == {}
    assert tree(lab.destination) == {"a.raw": b"a", "b.raw": b"b", "c.raw": LATE}
    audited = await lab.rows(select(AuditLog).where(AuditLog.action == "source_cleanup"))
    assert sorted(a.changes["source_path"] for a in audited) == ["a.raw", "b.raw", "c.raw"]
    records = await lab.rows(select(FileRecord))
    assert all(r.source_deleted_at is not None for r in records)
    assert (await lab.harvest()).vanished == 0  # removed on purpose, not vanished


async def test_source_cleanup_waits_for_every_scheduled_storage(lab: LocalLab) -> None:
    from streamweave.db.models import HarvestSchedule, StorageLocation

    async with lab.sessions() as session:
        other = StorageLocation(name="mirror", type="posix", base_path=str(lab.storage_root))
        session.add(other)
        await session.flush()
        session.add(
            HarvestSchedule(
                instrument_id=lab.instrument_id,
                default_storage_location_id=other.id,
                cron_expression="0 * * * *",
            )
        )
        await session.commit()
    await set_cleanup(lab, 0)
    fill(lab, {"a.raw": b"a"})
    summary = await lab.harvest()
    assert summary.cleaned == 0 and tree(lab.source) == {"a.raw": b"a"}


async def test_a_bad_cleanup_setting_is_a_configuration_error(lab: LocalLab) -> None:
    from streamweave.errors import ConfigurationError

    await set_cleanup(lab, -1)
    with pytest.raises(ConfigurationError, match="source_cleanup_after_hours"):
        await lab.harvest()


async def test_names_a_folding_storage_would_merge_fail_instead_of_overwriting(
    lab: LocalLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if the storage were SMB (case-insensitive): the posix one here keeps both, so
    what is checked is that the second name is refused, never copied over the first."""
    monkeypatch.setattr("streamweave.harvest.pipeline.FOLDING_KINDS", frozenset({"posix"}))
    nfc, nfd = (unicodedata.normalize(form, "Müller.csv") for form in ("NFC", "NFD"))
    fill(lab, {"Data.txt": b"upper", "data.txt": b"lower", nfc: b"nfc", nfd: b"nfd"})
    summary = await lab.harvest(retry_base_seconds=0)
    assert (summary.completed, summary.failed) == (2, 2)
    assert all("DestinationCollision" in e for e in summary.errors)
    assert len(tree(lab.destination)) == 2

    again = await lab.harvest(retry_base_seconds=0)
    assert (again.completed, again.failed) == (0, 2)  # the first copies are remembered


async def test_names_folding_alike_beyond_ascii_collide_across_runs(
    lab: LocalLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name folding to one already harvested in an earlier run is refused too, for
    case beyond ASCII (SQLite's lower() leaves Ä alone) and full case folding (ß)."""
    monkeypatch.setattr("streamweave.harvest.pipeline.FOLDING_KINDS", frozenset({"posix"}))
    fill(lab, {"Ärger.txt": b"first", "Straße.txt": b"first"})
    assert (await lab.harvest()).completed == 2
    fill(lab, {"ärger.txt": b"second", "STRASSE.TXT": b"second"})
    summary = await lab.harvest(retry_base_seconds=0)
    assert (summary.completed, summary.failed) == (0, 2)
    assert all("DestinationCollision" in e for e in summary.errors)
