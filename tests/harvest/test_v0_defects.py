"""StreamWeave v0's harvesting defects, each as a test that v0's behaviour fails
("Known v0 defects" in the v0 API reference), run as v0 ran: an SMB instrument read
through a service account (the simlab's Samba share), on SQLite and PostgreSQL.

- v0 wrote a file's record before the transfer: a failed or skipped file was never
  retried, and a file modified after its harvest was never harvested again;
- metadata from ``metadata_enrichment`` never reached ``access_assignment``;
- deleting an instrument, a storage location or a service account had no effect on
  harvests;
- passwords reached rclone command lines.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from streamweave.db.models import (
    FileRecord,
    FileTransfer,
    FileVersion,
    HarvestEntry,
    HarvestRun,
    HookConfig,
    Instrument,
    ServiceAccount,
    StorageLocation,
)
from streamweave.errors import ConfigurationError
from tests.conftest import UserFactory, record_obscured
from tests.harvest.conftest import tree
from tests.harvest.smb_lab import SmbLab
from tests.transfers.test_integration import ArgumentWatch


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


async def test_a_failed_file_is_retried_on_a_later_run(smb_lab: SmbLab) -> None:
    smb_lab.write("ms/ok.raw", b"fine")
    smb_lab.write("ms/locked.raw", b"locked for now")
    smb_lab.forbid("ms/locked.raw")
    first = await smb_lab.harvest()
    assert (first.completed, first.failed) == (1, 1)
    locked = select(FileRecord).where(FileRecord.source_path == "ms/locked.raw")
    failed_record = (await smb_lab.rows(locked))[0]

    smb_lab.allow("ms/locked.raw")  # the admin fixes the file's permissions
    async with smb_lab.sessions() as session:  # and its retry falls due
        await session.execute(update(HarvestEntry).values(retry_after=datetime.now(UTC)))
        await session.commit()
    again = await smb_lab.harvest()

    assert (again.completed, again.failed) == (1, 0), again.errors
    assert tree(smb_lab.destination) == {"ms/ok.raw": b"fine", "ms/locked.raw": b"locked for now"}
    records = await smb_lab.rows(locked)
    assert len(records) == 1  # the same record, now holding the copy
    assert records[0].current_version == 1
    assert records[0].persistent_id == failed_record.persistent_id  # its ARK is kept
    transfers = await smb_lab.rows(
        select(FileTransfer)
        .where(FileTransfer.file_id == records[0].id)
        .order_by(FileTransfer.created_at)
    )
    assert [(t.status, t.checksum_verified) for t in transfers] == [
        ("failed", False),
        ("completed", True),
    ]


async def test_a_skipped_file_is_reconsidered_when_hooks_change(smb_lab: SmbLab) -> None:
    smb_lab.write("scan.tif", b"II*\x00scan")
    smb_lab.write("scan.tif.tmp", b"partial")
    hook = await smb_lab.add_hook("file_filter", {"exclude_patterns": ["*.tmp"]}, name="no tmp")
    assert (await smb_lab.harvest()).skipped == 1
    assert (await smb_lab.harvest()).skipped == 1  # the same hooks: the same verdict

    async with smb_lab.sessions() as session:  # the admin disables the filter
        await session.execute(update(HookConfig).where(HookConfig.id == hook).values(enabled=False))
        await session.commit()
    summary = await smb_lab.harvest()

    assert (summary.completed, summary.skipped) == (1, 0)
    assert tree(smb_lab.destination) == {"scan.tif": b"II*\x00scan", "scan.tif.tmp": b"partial"}


async def test_a_file_modified_after_its_harvest_is_harvested_again(smb_lab: SmbLab) -> None:
    contents = [b"first", b"second take", b"third and last take"]
    for content in contents:
        smb_lab.write("hplc/run.csv", content)
        summary = await smb_lab.harvest()
        assert (summary.completed, summary.failed) == (1, 0)

    assert tree(smb_lab.destination) == {
        "hplc/run.csv": contents[2],
        "hplc/run.csv.~1~": contents[0],
        "hplc/run.csv.~2~": contents[1],
    }
    assert await smb_lab.count(FileRecord) == 1
    versions = await smb_lab.rows(select(FileVersion).order_by(FileVersion.version))
    assert [(v.version, v.size_bytes) for v in versions] == [
        (number, len(content)) for number, content in enumerate(contents, start=1)
    ]
    assert len({v.persistent_id for v in versions}) == 3


async def test_metadata_from_enrichment_reaches_access_assignment(
    smb_lab: SmbLab, client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    alice = await make_user("alice@example.org")
    bob = await make_user("bob@example.org")
    carol = await make_user("carol@example.org")
    await smb_lab.add_hook(
        "metadata_enrichment",
        {"rules": [{"pattern": r"^users/(?P<owner>[^/@]+@[^/]+)/", "source": "path"}]},
        trigger="post_transfer",
        priority=10,
    )
    await smb_lab.add_hook(
        "access_assignment",
        {"grants": [{"grantee_type": "user", "match_field": "owner"}]},
        trigger="post_transfer",
        priority=20,
    )
    smb_lab.write("users/alice@example.org/2026-03-14/scan 1.tif", b"alice's scan")
    smb_lab.write("users/bob@example.org/scan 2.tif", b"bob's scan")
    smb_lab.write("shared/blank.tif", b"nobody's")
    summary = await smb_lab.harvest()
    assert (summary.completed, summary.failed) == (3, 0), summary.errors

    async def visible(user: dict[str, Any]) -> list[str]:
        response = await client.get("/api/files", headers=user["headers"])
        assert response.status_code == 200, response.text
        return sorted(item["source_path"] for item in response.json()["items"])

    assert await visible(alice) == ["users/alice@example.org/2026-03-14/scan 1.tif"]
    assert await visible(bob) == ["users/bob@example.org/scan 2.tif"]
    assert await visible(carol) == []
    record = (
        await smb_lab.rows(select(FileRecord).where(FileRecord.source_path.startswith("users/a")))
    )[0]
    assert record.metadata_.get("owner") == "alice@example.org"


DELETABLE: dict[str, type[Instrument | StorageLocation | ServiceAccount]] = {
    "instrument": Instrument,
    "storage location": StorageLocation,
    "service account": ServiceAccount,
}


@pytest.mark.parametrize("what", list(DELETABLE))
async def test_a_deleted_instrument_storage_or_service_account_stops_harvests(
    smb_lab: SmbLab, what: str
) -> None:
    smb_lab.write("nmr/1/fid", b"\x00\x01" * 100)
    model = DELETABLE[what]
    row_id = {
        "instrument": smb_lab.instrument_id,
        "storage location": smb_lab.storage_id,
        "service account": smb_lab.account_id,
    }[what]

    async def set_deleted(moment: datetime | None) -> None:
        async with smb_lab.sessions() as session:
            await session.execute(update(model).where(model.id == row_id).values(deleted_at=moment))
            await session.commit()

    await set_deleted(datetime.now(UTC))
    with pytest.raises(ConfigurationError):
        await smb_lab.harvest()

    assert not smb_lab.destination.exists()
    for table in (FileRecord, FileTransfer, HarvestEntry, HarvestRun):
        assert await smb_lab.count(table) == 0, table.__name__
    await set_deleted(None)  # restored: harvests work again
    assert (await smb_lab.harvest()).completed == 1


class Spawned:
    """The argument lists of every process this test's Python process starts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.argvs: list[list[str]] = []
        spawned = self.argvs

        class RecordingPopen(subprocess.Popen[Any]):
            def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
                spawned.append([os.fsdecode(a) for a in args])
                super().__init__(args, *rest, **options)

        monkeypatch.setattr(subprocess, "Popen", RecordingPopen)

    def rclone(self, command: str) -> list[list[str]]:
        return [a for a in self.argvs if "rclone" in a[0] and command in a[1:]]


async def test_no_password_on_any_rclone_command_line_during_an_smb_harvest(
    smb_lab: SmbLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    obscured = record_obscured(monkeypatch)
    files = {f"run/{i:02d}.dat": bytes([i]) * 5000 for i in range(30)}
    for path, data in files.items():
        smb_lab.write(path, data)
    spawned = Spawned(monkeypatch)  # what StreamWeave starts, deterministically

    with ArgumentWatch() as watch:  # every process on the machine, their children too
        summary = await smb_lab.harvest()

    assert (summary.completed, summary.failed) == (len(files), 0), summary.errors
    assert tree(smb_lab.destination) == files
    assert obscured, "the harvest passed the password through rclone obscure"
    assert spawned.rclone("lsjson") and spawned.rclone("rcd"), spawned.argvs
    assert any(b"\0rcd\0" in argv for argv in watch.seen), "the watch saw the rclone engine"
    account = (await smb_lab.rows(select(ServiceAccount)))[0]
    secrets = [smb_lab.share.server.password, account.password_encrypted, *obscured]
    command_lines = [*watch.seen, *("\0".join(argv).encode() for argv in spawned.argvs)]
    for argv in command_lines:
        program = argv.split(b"\0")[0]
        for secret in secrets:
            assert secret.encode() not in argv, f"a secret in the arguments of {program!r}"
