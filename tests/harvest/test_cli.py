"""`python -m streamweave harvest` and `files` as an operator runs them: a subprocess
against the test database, with the exit codes scripts rely on (0: every eligible file
verified, 1: some failed, 2: the configuration cannot work) (SQLite and PostgreSQL).

Output goes to a pipe, as in a cron job or ``| grep``: no terminal, no COLUMNS.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from streamweave.config import Settings
from streamweave.db.models import (
    FileRecord,
    FileTransfer,
    FileVersion,
    HarvestEntry,
    HarvestRun,
    StorageLocation,
)
from streamweave.simlab import formats
from tests.conftest import postgres_database
from tests.harvest.conftest import LocalLab, tree

IMAGE = b"".join(
    formats.tiff(
        random.Random(7),
        8,
        8,
        description="grid 3, square 12",
        software="SerialEM",
        datetime="2026:03:14 08:00:00",
        pixels_per_cm=10_000,
    )
)
FILES = {
    "run1/sample A.raw": b"spectrum" * 500,
    "run1/blank.raw": b"",
    "tem/grid 3/image.tif": IMAGE,
}


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


def streamweave(
    settings: Settings, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STREAMWEAVE_DATABASE_URL": database_url or settings.database_url or "",
        "STREAMWEAVE_DATA_DIR": str(settings.data_dir),
        "STREAMWEAVE_ENV": "test",
    }
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "streamweave", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fill(lab: LocalLab, files: dict[str, bytes] = FILES) -> None:
    for path, data in files.items():
        lab.write(path, data)


async def nothing_recorded(lab: LocalLab) -> None:
    for table in (FileRecord, FileVersion, FileTransfer, HarvestEntry, HarvestRun):
        assert await lab.count(table) == 0, table.__name__


async def test_exit_0_when_every_eligible_file_is_verified(
    lab: LocalLab, settings: Settings
) -> None:
    fill(lab)
    done = streamweave(settings, "harvest", "microscope", "--storage", "archive")

    assert done.returncode == 0, done.stderr
    assert "microscope -> archive: completed" in done.stdout
    assert tree(lab.destination) == FILES
    records = await lab.rows(select(FileRecord))
    assert sorted(r.source_path for r in records) == sorted(FILES)
    assert all(r.persistent_id.startswith("ark:/") for r in records)

    again = streamweave(settings, "harvest", "microscope", "--storage", "archive")
    assert again.returncode == 0, again.stderr
    assert await lab.count(FileTransfer) == len(FILES)  # nothing copied twice


async def test_exit_1_when_some_files_failed(lab: LocalLab, settings: Settings) -> None:
    fill(lab)
    lab.write("tem/grid 3/broken.tif", b"II*\x00" + b"\xff" * 20)  # not a readable TIFF
    await lab.add_hook(
        "metadata_enrichment",
        {"extractors": ["tiff_tags"]},
        name="TIFF tags, required",
        trigger="post_transfer",
        fail_closed=True,
    )
    done = streamweave(settings, "harvest", "microscope", "--storage", "archive")

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "completed_with_errors" in done.stdout
    assert "broken.tif" in done.stderr
    failed = await lab.rows(select(HarvestEntry).where(HarvestEntry.state == "failed"))
    assert [e.source_path for e in failed] == ["tem/grid 3/broken.tif"]
    assert await lab.count(FileTransfer, FileTransfer.status == "completed") == len(FILES)


async def test_exit_2_for_an_unknown_instrument(lab: LocalLab, settings: Settings) -> None:
    fill(lab)
    done = streamweave(settings, "harvest", "microscop", "--storage", "archive")

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no instrument named 'microscop'" in done.stderr
    assert "microscope" in done.stderr  # the names there are
    assert not lab.destination.exists()
    await nothing_recorded(lab)


async def test_exit_2_for_a_deleted_storage_location(lab: LocalLab, settings: Settings) -> None:
    fill(lab)
    async with lab.sessions() as session:
        await session.execute(
            update(StorageLocation)
            .where(StorageLocation.id == lab.storage_id)
            .values(deleted_at=datetime.now(UTC))
        )
        await session.commit()

    for args in (["--storage", "archive"], []):  # named, or the only one there was
        done = streamweave(settings, "harvest", "microscope", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "configuration error" in done.stderr
    assert not lab.destination.exists()
    await nothing_recorded(lab)


@contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database StreamWeave was never migrated into, on this pass's backend."""
    if backend == "postgresql":
        with postgres_database("sw_unmigrated") as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}"


def sqlite_tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [name for (name,) in rows]


def test_exit_2_for_an_unmigrated_database(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    with empty_database(backend, tmp_path) as url:
        done = streamweave(settings, "harvest", "microscope", database_url=url)

        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "streamweave migrate" in done.stderr
        if backend == "sqlite":  # nothing created behind the operator's back
            assert sqlite_tables(tmp_path / "unmigrated.db") == []


async def test_dry_run_changes_nothing(lab: LocalLab, settings: Settings) -> None:
    fill(lab)
    done = streamweave(settings, "harvest", "microscope", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert "dry_run" in done.stdout and "would be copied" in done.stdout
    assert not lab.destination.exists()
    await nothing_recorded(lab)


async def test_files_list_and_show_print_the_files_and_their_arks(
    lab: LocalLab, settings: Settings
) -> None:
    fill(lab)
    await lab.harvest()
    lab.write("run1/sample A.raw", b"spectrum, reprocessed")  # a second version
    await lab.harvest()
    records = {r.source_path: r for r in await lab.rows(select(FileRecord))}

    listed = streamweave(settings, "files", "list")

    assert listed.returncode == 0, listed.stderr
    for path, record in records.items():
        assert path in listed.stdout, listed.stdout
        assert record.persistent_id in listed.stdout, listed.stdout  # whole, not cut short

    record = records["run1/sample A.raw"]
    versions = await lab.rows(
        select(FileVersion).where(FileVersion.file_id == record.id).order_by(FileVersion.version)
    )
    shown = streamweave(settings, "files", "show", record.persistent_id)

    assert shown.returncode == 0, shown.stderr
    assert "run1/sample A.raw" in shown.stdout and record.persistent_id in shown.stdout
    for version in versions:
        assert version.persistent_id in shown.stdout and version.xxhash in shown.stdout
    by_version = streamweave(settings, "files", "show", versions[0].persistent_id)
    assert by_version.returncode == 0 and record.persistent_id in by_version.stdout

    unknown = streamweave(settings, "files", "show", "ark:/99999/fk4nothing")
    assert unknown.returncode == 2 and "no harvested file" in unknown.stderr
