"""The simlab's Samba server as an instrument share, for harvest tests.

One smbd per test module serves a directory the tests write into; each test gets its own
folder of that share (the instrument's base path), a ``cifs`` instrument reading it
through a service account, and a posix storage location in ``tmp_path``.

The simlab's smbd maps every login to root (``force user``) so that it can serve
datasets under private temporary directories; root reads any file whatever its mode.
Here the instrument share runs as the service account's own unix user instead, the way
a NAS maps a login, so that a file the account may not read is refused by smbd: the
share's directory is world-readable, and ``SmbLab.forbid`` takes a file's permissions
away.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.config import Settings
from streamweave.crypto import SecretBox
from streamweave.db.engine import create_sessionmaker
from streamweave.db.models import Instrument, ServiceAccount, StorageLocation
from streamweave.simlab import rclone, samba, servers
from streamweave.simlab.endpoints import ARCHIVE, INSTRUMENT, SmbServer
from streamweave.simlab.processes import wait_until_ready
from tests.harvest.conftest import LocalLab
from tests.transfers.conftest import require_samba

READABLE_DIR = 0o755
READABLE_FILE = 0o644


def _as_the_account(smb_conf: Callable[..., str]) -> Callable[..., str]:
    """``smb_conf`` without ``force user`` in the instrument share: smbd then reads it
    as the unix account the service account maps to."""

    def conf(
        workdir: Path, port: int, shares: Mapping[str, tuple[Path, bool]], username: str
    ) -> str:
        lines, section, dropped = [], "", 0
        for line in smb_conf(workdir, port, shares, username).splitlines():
            if line.startswith("["):
                section = line
            if section == f"[{INSTRUMENT}]" and line.startswith("force user"):
                dropped += 1
                continue
            lines.append(line)
        assert dropped == 1, "the simlab's smb.conf changed: revisit tests/harvest/smb_lab.py"
        return "\n".join(lines) + "\n"

    return conf


@dataclass
class SmbShare:
    """One smbd serving ``root`` as the ``instrument`` share, stoppable and restartable
    at the same address with the same account (a NAS that reboots)."""

    root: Path
    archive: Path
    server: SmbServer

    def stop(self) -> None:
        self.server.process.stop()

    def restart(self) -> None:
        """A new smbd on the same port with the same account and password."""
        old = self.server
        workdir = Path(tempfile.mkdtemp(prefix="sw-harvest-smb-"))
        shares = {INSTRUMENT: (self.root, False), ARCHIVE: (self.archive, True)}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(samba, "smb_conf", _as_the_account(samba.smb_conf))
            process = samba.start_smbd(
                workdir, old.port, shares, old.username, old.password, rclone.base_env()
            )
        shutil.rmtree(old.workdir, ignore_errors=True)
        self.server = dataclasses.replace(old, process=process, workdir=workdir)
        env = self.server.rclone_env("probe")

        def probe() -> str | None:
            try:
                rclone.lsjson(f"probe:{INSTRUMENT}", env, recursive=False, timeout=10)
            except rclone.RcloneError as exc:
                return str(exc)
            return None

        try:
            wait_until_ready(process, old.host, old.port, probe, 30)
        except BaseException:
            process.stop()
            raise

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.archive, ignore_errors=True)


@pytest.fixture(scope="module")
def smb_share() -> Iterator[SmbShare]:
    """One Samba server per test module; skipped where Samba cannot run (failed in CI)."""
    require_samba()
    root = Path(tempfile.mkdtemp(prefix="sw-harvest-share-"))
    archive = Path(tempfile.mkdtemp(prefix="sw-harvest-archive-"))
    root.chmod(READABLE_DIR)  # the service account's unix user walks it
    workdir = Path(tempfile.mkdtemp(prefix="sw-harvest-smb-"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(samba, "smb_conf", _as_the_account(samba.smb_conf))
            server = servers.start_smb(
                root, archive, workdir, servers.DEFAULT_START_TIMEOUT_SECONDS
            )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    share = SmbShare(root, archive, server)
    try:
        yield share
    finally:
        share.close()


@dataclass
class SmbLab(LocalLab):
    """A ``cifs`` instrument on the share (``source`` is its folder on disk)."""

    share: SmbShare
    instrument_name: str
    account_id: uuid.UUID

    @property
    def destination(self) -> Path:
        return self.storage_root / self.instrument_name

    def write(self, path: str, data: bytes, mtime: float | None = None) -> Path:
        target = super().write(path, data, mtime)
        self._readable(target)
        return target

    def append(self, path: str, data: bytes) -> None:
        with (self.source / path).open("ab") as handle:
            handle.write(data)

    def forbid(self, path: str) -> None:
        """The service account may no longer read ``path`` (its owner is root)."""
        (self.source / path).chmod(0)

    def allow(self, path: str) -> None:
        (self.source / path).chmod(READABLE_FILE)

    def _readable(self, target: Path) -> None:
        target.chmod(READABLE_FILE)
        for parent in target.parents:
            if parent == self.source.parent:
                break
            mode = stat.S_IMODE(parent.stat().st_mode)
            if mode != READABLE_DIR:
                parent.chmod(READABLE_DIR)


@pytest_asyncio.fixture(loop_scope="session")
async def smb_lab(
    smb_share: SmbShare, clean_database: AsyncEngine, settings: Settings, tmp_path: Path
) -> AsyncIterator[SmbLab]:
    """An instrument reading its own new folder of the module's share into posix storage."""
    folder = f"lab-{uuid.uuid4().hex[:8]}"
    source = smb_share.root / folder
    source.mkdir(mode=READABLE_DIR)
    os.chmod(source, READABLE_DIR)  # whatever the umask
    storage_root = tmp_path / "storage"
    storage_root.mkdir()
    box = SecretBox(settings.fernet_keys)
    server = smb_share.server
    sessions = create_sessionmaker(clean_database)
    async with sessions() as session:
        account = ServiceAccount(
            name="lab share reader",
            username=server.username,
            password_encrypted=box.encrypt(server.password),
        )
        session.add(account)
        await session.flush()
        instrument = Instrument(
            name="NMR 600",
            source_type="cifs",
            cifs_host=server.host,
            cifs_port=server.port,
            cifs_share=server.share,
            cifs_base_path=folder,
            service_account_id=account.id,
            completion_rule={"mode": "none"},
        )
        storage = StorageLocation(name="archive", type="posix", base_path=str(storage_root))
        session.add_all([instrument, storage])
        await session.commit()
        ids = instrument.id, storage.id
    try:
        yield SmbLab(
            source,
            storage_root,
            *ids,
            sessions,
            box,
            share=smb_share,
            instrument_name="NMR 600",
            account_id=account.id,
        )
    finally:
        shutil.rmtree(source, ignore_errors=True)
