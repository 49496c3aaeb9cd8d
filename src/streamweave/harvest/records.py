"""The harvest's reads and writes, in bulk: a few statements per batch, none per file."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.db.bulk import chunks, insert_many
from streamweave.db.models import (
    AuditLog,
    FileMetadataEntry,
    FileRecord,
    FileTransfer,
    FileVersion,
    Group,
    HarvestEntry,
    HarvestRun,
    Project,
    User,
)
from streamweave.harvest.plan import Glance, Known, Plan
from streamweave.harvest.progress import HarvestSummary
from streamweave.services.catalog import grant_files, metadata_rows

CHUNK = 2000


# Entries are read through the driver, as plain rows: SQLAlchemy's statement and row
# building cost more than the database's work when a re-harvest reads every entry.
# A re-harvest reads every entry in a narrow form (``plan.Glance``), and whole rows
# (``plan.Known``) only for the files that are not plainly unchanged.
_GLANCE_COLUMNS = (
    "source_path, seen_size, seen_mtime_us,"
    " state = 'completed' AND done_size = seen_size AND done_mtime_us = seen_mtime_us"
    " AND source_deleted_at IS NULL,"
    " source_deleted_at IS NOT NULL"
)
_KNOWN_COLUMNS = (
    "id, source_path, seen_size, seen_mtime_us, stable_since_us,"
    " source_deleted_at IS NOT NULL, state, attempts, retry_after, hooks_signature,"
    " file_id, done_size, done_mtime_us, done_version, done_path, file_ark, version_ark"
)


async def _entries(
    session: AsyncSession,
    columns: str,
    instrument_id: uuid.UUID,
    storage_id: uuid.UUID,
    condition: str,
    value: Any,
    tail: str = "",
) -> Sequence[Any]:
    """Rows of this instrument's and storage's entries: ``condition`` is a test of
    ``source_path`` against one bound ``value``, written with ``{}`` for its place."""
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    marks = ("$1", "$2", "$3") if postgresql else ("?", "?", "?")
    query = (
        f"SELECT {columns} FROM harvest_entries"  # noqa: S608 (constants only)
        f" WHERE instrument_id = {marks[0]} AND storage_location_id = {marks[1]}"
        f" AND source_path {condition.format(marks[2])} {tail}"
    )
    # The driver's own rows (asyncpg's records, sqlite3's tuples) as they come: wrapping
    # each in a Row doubles the cost.
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if postgresql:
        rows: Sequence[Any] = await driver.fetch(query, instrument_id, storage_id, value)
    else:
        rows = await driver.execute_fetchall(query, (instrument_id.hex, storage_id.hex, value))
    return rows


async def read_known(
    sessions: async_sessionmaker[AsyncSession],
    instrument_id: uuid.UUID,
    storage_id: uuid.UUID,
    page: int = 5000,
) -> AsyncGenerator[Sequence[Glance], None]:
    """Every entry of this instrument and storage at a glance, in path order, a page
    per query (by key, so the caller can write between pages without a cursor held
    open). Safe to read ahead of the writes: an entry inserted after a page was read
    sorts at or before that page's last path, so no later page can miss it."""
    after = ""  # sorts before every path
    while True:
        async with sessions() as session:
            rows = await _entries(
                session,
                _GLANCE_COLUMNS,
                instrument_id,
                storage_id,
                "> {}",
                after,
                f"ORDER BY source_path LIMIT {int(page)}",
            )
        if rows:
            yield rows
        if len(rows) < page:
            return
        after = rows[-1][0]


def entry_reader(
    sessions: async_sessionmaker[AsyncSession], instrument_id: uuid.UUID, storage_id: uuid.UUID
) -> Callable[[Sequence[str]], Awaitable[dict[str, Known]]]:
    """What the plan calls for the whole entries of the paths it must look at closely."""

    async def read(paths: Sequence[str]) -> dict[str, Known]:
        found: dict[str, Known] = {}
        async with sessions() as session:
            postgresql = (await session.connection()).dialect.name == "postgresql"
            for part in chunks(paths, CHUNK):
                if postgresql:
                    rows = await _entries(
                        session,
                        _KNOWN_COLUMNS,
                        instrument_id,
                        storage_id,
                        "= ANY({}::text[])",
                        list(part),
                    )
                else:  # one JSON array bound, for any number of paths
                    rows = await _entries(
                        session,
                        _KNOWN_COLUMNS,
                        instrument_id,
                        storage_id,
                        "IN (SELECT value FROM json_each({}))",
                        json.dumps(list(part)),
                    )
                found.update((row[1], Known.of(row)) for row in rows)
        return found

    return read


async def refresh_statistics(session: AsyncSession) -> None:
    """Bring the planner's statistics of the harvest's tables up to date (PostgreSQL;
    SQLite plans these queries from its indexes alone)."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("ANALYZE harvest_entries, file_records, file_versions"))
        await session.commit()


async def apply_plan(session: AsyncSession, plan: Plan, now: datetime) -> None:
    await insert_many(session, HarvestEntry, plan.inserts)
    await update_entries(session, plan.updates)
    for part in chunks(plan.vanished_entries, CHUNK):
        await session.execute(
            update(HarvestEntry).where(HarvestEntry.id.in_(part)).values(source_deleted_at=now)
        )
    for part in chunks(plan.vanished_files, CHUNK):
        await session.execute(
            update(FileRecord).where(FileRecord.id.in_(part)).values(source_deleted_at=now)
        )


async def update_entries(session: AsyncSession, updates: Sequence[dict[str, Any]]) -> None:
    """Per-row changes by primary key: SQLAlchemy groups the rows by the columns they
    change and sends each group as one executemany statement."""
    for part in chunks(updates, CHUNK):
        await session.execute(update(HarvestEntry), list(part))


async def update_file_records(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Current size, mtime, checksums, version and metadata of harvested files."""
    for part in chunks(rows, CHUNK):
        await session.execute(update(FileRecord), list(part))


async def replace_metadata_entries(
    session: AsyncSession, metadata: dict[uuid.UUID, dict[str, Any]]
) -> None:
    """The flat (key, value) copy that metadata filters search, for these files."""
    ids = list(metadata)
    for part in chunks(ids, CHUNK):
        await session.execute(delete(FileMetadataEntry).where(FileMetadataEntry.file_id.in_(part)))
    rows = [
        entry for file_id, values in metadata.items() for entry in metadata_rows(file_id, values)
    ]
    await insert_many(session, FileMetadataEntry, rows)


async def move_previous_versions(
    session: AsyncSession, moves: Sequence[tuple[uuid.UUID, str, str]]
) -> None:
    """Completed transfers of a file's previous version now point at its versioned name.

    ``moves``: (file id, old destination path, new destination path)."""
    table = cast(Table, FileTransfer.__table__)
    statement = (
        update(table)
        .where(
            table.c.file_id == bindparam("moved_file"),
            table.c.destination_path == bindparam("old_path"),
            table.c.status == "completed",
        )
        .values(destination_path=bindparam("new_path"))
    )
    params = [{"moved_file": f, "old_path": old, "new_path": new} for f, old, new in moves]
    for part in chunks(params, CHUNK):
        await session.execute(statement, list(part))


async def resolve_grantees(
    session: AsyncSession, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], uuid.UUID]:
    """(grantee type, id or e-mail or name) -> id of a live user, group or project; one
    query per grantee type. Names and e-mails match case-insensitively."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for grantee_type, value in wanted:
        by_type[grantee_type].add(value)
    found: dict[tuple[str, str], uuid.UUID] = {}
    for grantee_type, values in by_type.items():
        model: Any = {"user": User, "group": Group, "project": Project}.get(grantee_type)
        if model is None:
            continue
        label = model.email if model is User else model.name
        ids = {i for i in map(_as_uuid, values) if i is not None}
        names = {v.lower() for v in values if _as_uuid(v) is None}
        query = select(model.id, label).where(
            or_(model.id.in_(ids), func.lower(label).in_(names)), model.deleted_at.is_(None)
        )
        if model is User:
            query = query.where(model.is_active.is_(True))
        keys = {v.lower(): v for v in values}
        keys.update({str(i): v for v in values if (i := _as_uuid(v)) is not None})
        for row_id, row_label in await session.execute(query):
            for key in (str(row_id), str(row_label).lower()):
                if key in keys:
                    found[(grantee_type, keys[key])] = row_id
    return found


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def grant(session: AsyncSession, grants: dict[tuple[str, uuid.UUID], list[uuid.UUID]]) -> int:
    added = 0
    for (grantee_type, grantee_id), file_ids in grants.items():
        added += await grant_files(session, grantee_type, grantee_id, file_ids)
    return added


async def audit(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await insert_many(session, AuditLog, rows)


async def unfinished_paths(
    session: AsyncSession, instrument_id: uuid.UUID, storage_id: uuid.UUID
) -> list[str]:
    """The paths of this instrument's files that are not done (neither harvested nor
    skipped), sorted: what a marker's run directory may still be waiting for."""
    e = HarvestEntry
    query = select(e.source_path).where(
        e.instrument_id == instrument_id,
        e.storage_location_id == storage_id,
        e.source_deleted_at.is_(None),
        e.state.not_in(("completed", "skipped")),
    )
    return sorted((await session.scalars(query)).all())


async def latest_versions(
    session: AsyncSession, file_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FileVersion]:
    found: dict[uuid.UUID, FileVersion] = {}
    for part in chunks(list(file_ids), CHUNK):
        latest = (
            select(FileVersion.file_id, func.max(FileVersion.version).label("version"))
            .where(FileVersion.file_id.in_(part))
            .group_by(FileVersion.file_id)
            .subquery()
        )
        rows = await session.scalars(
            select(FileVersion).join(
                latest,
                (FileVersion.file_id == latest.c.file_id)
                & (FileVersion.version == latest.c.version),
            )
        )
        for version in rows:
            found[version.file_id] = version
    return found


async def destinations_folding_to(
    session: AsyncSession, instrument_id: uuid.UUID, storage_id: uuid.UUID, keys: set[str]
) -> dict[str, str]:
    """Folded destination -> source path, for files already harvested whose destination
    folds to one of ``keys`` (``names.folded``)."""
    e = HarvestEntry
    found: dict[str, str] = {}
    for part in chunks(sorted(keys), CHUNK):
        rows = await session.execute(
            select(e.done_key, e.source_path).where(
                e.instrument_id == instrument_id,
                e.storage_location_id == storage_id,
                e.done_key.in_(part),
            )
        )
        found.update((key, path) for key, path in rows.tuples() if key is not None)
    return found


async def update_run(session: AsyncSession, run_id: uuid.UUID, summary: HarvestSummary) -> None:
    """The run's counts so far: what `GET /api/harvest-runs/{id}` shows while it runs."""
    await session.execute(
        update(HarvestRun)
        .where(HarvestRun.id == run_id)
        .values(
            files_discovered=summary.listed,
            files_completed=summary.completed,
            files_failed=summary.failed,
            files_skipped=summary.skipped,
            files_waiting=summary.waiting + summary.retry_later,
            files_unchanged=summary.unchanged,
            files_vanished=summary.vanished,
            files_permanently_failed=summary.permanently_failed,
            bytes_transferred=summary.bytes,
        )
    )
