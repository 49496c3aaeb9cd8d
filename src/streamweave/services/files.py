"""Files, their access grants and their transfers, as the caller may see them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import (
    FileAccessGrant,
    FileMetadataEntry,
    FileRecord,
    FileTransfer,
    Group,
    Project,
    User,
)
from streamweave.errors import Conflict, NotFound
from streamweave.services import audit, resources
from streamweave.services.access import Principals, file_visible
from streamweave.services.pagination import Page, paginate


@dataclass
class FileFilters:
    instrument_id: uuid.UUID | None = None
    path_prefix: str | None = None
    discovered_after: datetime | None = None
    discovered_before: datetime | None = None
    metadata_key: str | None = None
    metadata_value: str | None = None
    persistent_id: str | None = None


def _prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def file_query(who: Principals, filters: FileFilters) -> Select[tuple[FileRecord]]:
    stmt = select(FileRecord).where(file_visible(who))
    if filters.instrument_id is not None:
        stmt = stmt.where(FileRecord.instrument_id == filters.instrument_id)
    if filters.path_prefix:
        stmt = stmt.where(
            FileRecord.source_path >= filters.path_prefix,
            FileRecord.source_path < _prefix_upper_bound(filters.path_prefix),
        )
    if filters.discovered_after is not None:
        stmt = stmt.where(FileRecord.first_discovered_at >= filters.discovered_after)
    if filters.discovered_before is not None:
        stmt = stmt.where(FileRecord.first_discovered_at < filters.discovered_before)
    if filters.persistent_id:
        stmt = stmt.where(FileRecord.persistent_id == filters.persistent_id)
    if filters.metadata_key:
        entries = select(FileMetadataEntry.file_id).where(FileMetadataEntry.key == filters.metadata_key)
        if filters.metadata_value is not None:
            entries = entries.where(FileMetadataEntry.value == filters.metadata_value)
        stmt = stmt.where(FileRecord.id.in_(entries))
    return stmt.order_by(FileRecord.first_discovered_at, FileRecord.id)


async def list_files(
    session: AsyncSession, who: Principals, filters: FileFilters, skip: int, limit: int
) -> Page[FileRecord]:
    return await paginate(session, file_query(who, filters), skip, limit)


async def get_file(session: AsyncSession, who: Principals, file_id: uuid.UUID) -> FileRecord:
    record = await session.scalar(
        select(FileRecord).where(FileRecord.id == file_id, file_visible(who))
    )
    if record is None:
        raise NotFound(f"file {file_id} not found")
    return record


async def list_grants(session: AsyncSession, file_id: uuid.UUID, skip: int, limit: int) -> Page[Any]:
    stmt = (
        select(FileAccessGrant)
        .where(FileAccessGrant.file_id == file_id)
        .order_by(FileAccessGrant.created_at, FileAccessGrant.id)
    )
    return await paginate(session, stmt, skip, limit)


_GRANTEES: dict[str, type[User] | type[Group] | type[Project]] = {
    "user": User,
    "group": Group,
    "project": Project,
}


async def require_grantee(session: AsyncSession, grantee_type: str, grantee_id: uuid.UUID) -> None:
    await resources.require_live(session, _GRANTEES[grantee_type], grantee_id, "grantee_id")


async def add_grant(
    session: AsyncSession, actor: User, record: FileRecord, grantee_type: str, grantee_id: uuid.UUID
) -> FileAccessGrant:
    await require_grantee(session, grantee_type, grantee_id)
    existing = await session.scalar(
        select(FileAccessGrant.id).where(
            FileAccessGrant.file_id == record.id,
            FileAccessGrant.grantee_type == grantee_type,
            FileAccessGrant.grantee_id == grantee_id,
        )
    )
    if existing is not None:
        raise Conflict(f"this {grantee_type} already has access to the file")
    grant = FileAccessGrant(file_id=record.id, grantee_type=grantee_type, grantee_id=grantee_id)
    return await resources.create(session, actor, grant)


async def remove_grant(
    session: AsyncSession, actor: User, record: FileRecord, grant_id: uuid.UUID
) -> None:
    grant = await session.get(FileAccessGrant, grant_id)
    if grant is None or grant.file_id != record.id:
        raise NotFound(f"access grant {grant_id} not found on file {record.id}")
    before = audit.snapshot(grant)
    await session.delete(grant)
    audit.record(session, actor, "file_access_grants", grant.id, "delete", {"before": before})
    await resources.commit(session)


def transfer_query(who: Principals, file_id: uuid.UUID | None) -> Select[tuple[FileTransfer]]:
    stmt = select(FileTransfer)
    if not who.is_admin:
        stmt = stmt.where(FileTransfer.file_id.in_(select(FileRecord.id).where(file_visible(who))))
    if file_id is not None:
        stmt = stmt.where(FileTransfer.file_id == file_id)
    return stmt.order_by(FileTransfer.created_at, FileTransfer.id)


async def get_transfer(session: AsyncSession, who: Principals, transfer_id: uuid.UUID) -> FileTransfer:
    transfer = await session.scalar(transfer_query(who, None).where(FileTransfer.id == transfer_id))
    if transfer is None:
        raise NotFound(f"transfer {transfer_id} not found")
    return transfer
