"""Bulk writes of file records and file grants: one statement per batch, positions kept dense."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.bulk import Insert, chunks, prepare_many, run_inserts
from streamweave.db.ids import new_id
from streamweave.db.models import FileAccessGrant, FileMetadataEntry, FileRecord
from streamweave.db.positions import FILES_COUNTER, UNPLACED, claim_positions, renumber, reserve

CHUNK = 5000


def metadata_rows(file_id: uuid.UUID, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat (key, value) copy of a file's top-level scalar metadata, which metadata
    filters search through an index."""
    return [
        {"file_id": file_id, "key": key[:200], "value": str(value)[:1000]}
        for key, value in metadata.items()
        if isinstance(value, str | int | float | bool)
    ]


@dataclass(frozen=True)
class NewFiles:
    """File records ready to insert (``prepare_files``): they are numbered when they
    are added, in the transaction that adds them, so that positions stay dense."""

    count: int
    inserts: list[Insert]

    async def number(self, session: AsyncSession) -> int:
        """Take the files' positions in ``session``'s transaction: the first of them, for
        ``run_inserts`` (the counter's row stays locked until the transaction ends)."""
        if not self.count:
            return 0
        last = await session.run_sync(lambda s: reserve(s.connection(), FILES_COUNTER, self.count))
        return last - self.count + 1

    async def add(self, session: AsyncSession) -> None:
        await run_inserts(session, self.inserts, await self.number(session))


def prepare_files(dialect: Dialect, rows: list[dict[str, Any]]) -> NewFiles:
    """File records (dicts of FileRecord columns, ``id`` included, ``seq`` left out),
    numbered in order, with the flat copy of their top-level scalar metadata that
    metadata filters search; converted and encoded ahead of their transaction."""
    entries = [e for row in rows for e in metadata_rows(row["id"], row.get("metadata_") or {})]
    inserts = prepare_many(dialect, FileRecord, rows, numbered="seq")
    # Entries after their files, for the foreign key; never numbered.
    return NewFiles(len(rows), [*inserts, *prepare_many(dialect, FileMetadataEntry, entries)])


async def add_files(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert file records as ``prepare_files`` describes."""
    await prepare_files(session.get_bind().dialect, rows).add(session)


async def grant_files(
    session: AsyncSession, grantee_type: str, grantee_id: uuid.UUID, file_ids: Sequence[uuid.UUID]
) -> int:
    """Grant one user, group or project access to many files; returns how many were new."""
    grantee = (FileAccessGrant.grantee_type == grantee_type) & (
        FileAccessGrant.grantee_id == grantee_id
    )
    # Files newer than the grantee's newest grant cannot be granted already: the usual
    # case (grants for just-harvested files) skips the lookup of existing grants.
    last = await session.scalar(select(func.max(FileAccessGrant.file_seq)).where(grantee))
    candidates: list[tuple[uuid.UUID, int]] = []
    for chunk in chunks(list(file_ids), CHUNK):
        seqs = (
            await session.execute(
                select(FileRecord.id, FileRecord.seq).where(FileRecord.id.in_(chunk))
            )
        ).tuples()
        found = list(seqs)
        granted: set[uuid.UUID] = set()
        if found and last is not None and min(seq for _, seq in found) <= last:
            granted = set(
                (
                    await session.scalars(
                        select(FileAccessGrant.file_id).where(
                            grantee, FileAccessGrant.file_id.in_(chunk)
                        )
                    )
                ).all()
            )
        candidates.extend((file_id, seq) for file_id, seq in found if file_id not in granted)
    if not candidates:
        return 0
    candidates.sort(key=lambda item: item[1])
    first = await session.run_sync(
        lambda s: claim_positions(
            s.connection(), grantee_type, grantee_id, candidates[0][1], len(candidates)
        )
    )
    rows = [
        {
            "id": new_id(),
            "file_id": file_id,
            "grantee_type": grantee_type,
            "grantee_id": grantee_id,
            "file_seq": seq,
            "ordinal": UNPLACED if first is None else first + offset,
        }
        for offset, (file_id, seq) in enumerate(candidates)
    ]
    for chunk in chunks(rows, CHUNK):
        await session.execute(insert(FileAccessGrant), list(chunk))
    if first is None:
        await session.run_sync(lambda s: renumber(s.connection(), grantee_type, grantee_id))
    return len(rows)
