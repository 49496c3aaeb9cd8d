"""Files, their access grants and their transfers, as the caller may see them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import (
    Counter,
    FileAccessGrant,
    FileMetadataEntry,
    FileRecord,
    FileTransfer,
    Group,
    Project,
    User,
)
from streamweave.db.positions import FILES_COUNTER, grants_counter
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

    def any(self) -> bool:
        return any(value is not None and value != "" for value in self.__dict__.values())


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``, or None
    when there is none (the prefix ends in the highest code points)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: skip them
        following = 0xE000
    return stripped[:-1] + chr(following)


def file_query(who: Principals, filters: FileFilters) -> Select[tuple[FileRecord]]:
    stmt = select(FileRecord).where(file_visible(who))
    if filters.instrument_id is not None:
        stmt = stmt.where(FileRecord.instrument_id == filters.instrument_id)
    if filters.path_prefix:
        stmt = stmt.where(FileRecord.source_path >= filters.path_prefix)
        upper = _prefix_upper_bound(filters.path_prefix)
        if upper is not None:
            stmt = stmt.where(FileRecord.source_path < upper)
    if filters.discovered_after is not None:
        stmt = stmt.where(FileRecord.first_discovered_at >= filters.discovered_after)
    if filters.discovered_before is not None:
        stmt = stmt.where(FileRecord.first_discovered_at < filters.discovered_before)
    if filters.persistent_id:
        stmt = stmt.where(FileRecord.persistent_id == filters.persistent_id)
    if filters.metadata_key:
        entries = select(FileMetadataEntry.file_id).where(
            FileMetadataEntry.key == filters.metadata_key
        )
        if filters.metadata_value is not None:
            entries = entries.where(FileMetadataEntry.value == filters.metadata_value)
        stmt = stmt.where(FileRecord.id.in_(entries))
    return stmt.order_by(FileRecord.seq)


async def _counter(session: AsyncSession, name: str) -> int:
    return int(await session.scalar(select(Counter.value).where(Counter.name == name)) or 0)


async def _sole_grant_list(
    session: AsyncSession, who: Principals
) -> tuple[str, uuid.UUID, int] | None:
    """The grantee whose grant list is exactly what ``who`` sees, if there is one.

    True when the user owns no file and only one of their principals (themself, a
    group, a project) has any grants: the common case of access through one project.
    """
    owns = await session.scalar(
        select(FileRecord.id)
        .where(FileRecord.owner_id.is_not(None), FileRecord.owner_id == who.user_id)
        .limit(1)
    )
    if owns is not None:
        return None
    keys = {grants_counter(kind, id_): (kind, id_) for kind, id_ in who.pairs()}
    rows = (
        await session.execute(
            select(Counter.name, Counter.value).where(Counter.name.in_(keys), Counter.value > 0)
        )
    ).all()
    if len(rows) != 1:
        return None
    name, total = rows[0]
    kind, id_ = keys[name]
    return kind, id_, int(total)


async def list_files(
    session: AsyncSession, who: Principals, filters: FileFilters, skip: int, limit: int
) -> Page[FileRecord]:
    """One page of the files ``who`` may see, in discovery order.

    Unfiltered lists page by position (see db.positions): the whole catalogue for an
    admin, one grantee's list for a user whose access comes through it. Everything
    else is a filtered query with OFFSET and COUNT, which the indexes keep fast for
    the selective filters (path prefix, instrument, persistent id, metadata).
    """
    if not filters.any():
        if who.is_admin:
            total = await _counter(session, FILES_COUNTER)
            stmt = select(FileRecord).where(FileRecord.seq > skip, FileRecord.seq <= skip + limit)
            items = (await session.scalars(stmt.order_by(FileRecord.seq))).all()
            return Page(items=list(items), total=total, skip=skip, limit=limit)
        sole = await _sole_grant_list(session, who)
        if sole is not None:
            kind, grantee_id, total = sole
            stmt = (
                select(FileRecord)
                .join(FileAccessGrant, FileAccessGrant.file_id == FileRecord.id)
                .where(
                    FileAccessGrant.grantee_type == kind,
                    FileAccessGrant.grantee_id == grantee_id,
                    FileAccessGrant.ordinal > skip,
                    FileAccessGrant.ordinal <= skip + limit,
                )
                .order_by(FileAccessGrant.ordinal)
            )
            items = (await session.scalars(stmt)).all()
            return Page(items=list(items), total=total, skip=skip, limit=limit)
    return await paginate(session, file_query(who, filters), skip, limit)


async def get_file(session: AsyncSession, who: Principals, file_id: uuid.UUID) -> FileRecord:
    record = await session.scalar(
        select(FileRecord).where(FileRecord.id == file_id, file_visible(who))
    )
    if record is None:
        raise NotFound(f"file {file_id} not found")
    return record


async def list_grants(
    session: AsyncSession, file_id: uuid.UUID, skip: int, limit: int
) -> Page[Any]:
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
    grant = FileAccessGrant(
        file_id=record.id, grantee_type=grantee_type, grantee_id=grantee_id, file_seq=record.seq
    )
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


async def get_transfer(
    session: AsyncSession, who: Principals, transfer_id: uuid.UUID
) -> FileTransfer:
    transfer = await session.scalar(transfer_query(who, None).where(FileTransfer.id == transfer_id))
    if transfer is None:
        raise NotFound(f"transfer {transfer_id} not found")
    return transfer
