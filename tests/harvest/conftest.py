"""A lab on disk for harvest tests: a local instrument directory, a posix storage
location, and the rows that describe them, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from streamweave.config import Settings
from streamweave.crypto import SecretBox
from streamweave.db.engine import create_sessionmaker
from streamweave.db.models import HookConfig, Instrument, StorageLocation
from streamweave.harvest.pipeline import Harvest, HarvestOptions
from streamweave.harvest.progress import HarvestSummary


@dataclass
class LocalLab:
    source: Path
    storage_root: Path
    instrument_id: uuid.UUID
    storage_id: uuid.UUID
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox

    @property
    def destination(self) -> Path:
        """Where this instrument's files land: its folder in the storage location."""
        return self.storage_root / "microscope"

    def write(self, path: str, data: bytes, mtime: float | None = None) -> Path:
        target = self.source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if mtime is not None:
            os.utime(target, (mtime, mtime))
        return target

    async def harvest(self, **options: Any) -> HarvestSummary:
        harvest = Harvest(self.sessions, self.box, HarvestOptions(**options))
        return await harvest.run(self.instrument_id, self.storage_id)

    async def set_rule(self, rule: dict[str, Any]) -> None:
        async with self.sessions() as session:
            instrument = await session.get(Instrument, self.instrument_id)
            assert instrument is not None
            instrument.completion_rule = rule
            await session.commit()

    async def add_hook(self, builtin: str, config: dict[str, Any], **fields: Any) -> uuid.UUID:
        async with self.sessions() as session:
            hook = HookConfig(
                name=fields.pop("name", builtin),
                trigger=fields.pop("trigger", "pre_transfer"),
                implementation="builtin",
                builtin_name=builtin,
                config=config,
                **fields,
            )
            session.add(hook)
            await session.commit()
            return hook.id

    async def count(self, model: Any, *where: Any) -> int:
        async with self.sessions() as session:
            return int(
                await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
            )

    async def rows(self, query: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())


def tree(root: Path) -> dict[str, bytes]:
    """Visible files below ``root`` (StreamWeave's hidden temporary names left out)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and ".swpart-" not in path.name:
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest_asyncio.fixture(loop_scope="session")
async def lab(
    clean_database: AsyncEngine, settings: Settings, tmp_path: Path
) -> AsyncIterator[LocalLab]:
    source, storage_root = tmp_path / "instrument", tmp_path / "storage"
    source.mkdir()
    storage_root.mkdir()
    sessions = create_sessionmaker(clean_database)
    async with sessions() as session:
        instrument = Instrument(
            name="microscope",
            source_type="local",
            source_config={"path": str(source)},
            completion_rule={"mode": "none"},
        )
        storage = StorageLocation(name="archive", type="posix", base_path=str(storage_root))
        session.add_all([instrument, storage])
        await session.commit()
        ids = instrument.id, storage.id
    yield LocalLab(source, storage_root, *ids, sessions, SecretBox(settings.fernet_keys))


# The simlab's Samba share as an instrument (``smb_share`` per module, ``smb_lab`` per
# test): defined in smb_lab.py, which builds on LocalLab above.
from tests.harvest.smb_lab import smb_lab as smb_lab  # noqa: E402
from tests.harvest.smb_lab import smb_share as smb_share  # noqa: E402
