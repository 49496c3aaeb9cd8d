"""Dense list positions for files and per-grantee grant lists.

``FileRecord.seq`` numbers files 1, 2, 3... in insertion (discovery) order and
``FileAccessGrant.ordinal`` numbers each grantee's grants 1, 2, 3... in file order.
With dense numbers, "page k" is a seek and "how many" is one counter row, so file
lists stay fast at millions of rows where OFFSET and COUNT(*) would scan.

Numbers come from ``counters`` rows updated in the writing transaction: concurrent
writers queue on the row lock, and a rollback returns the numbers, so there are no
gaps. The events below keep the invariant for every ORM write; bulk writers use
``place_grants`` after inserting grants with ``ordinal = 0``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import set_committed_value

from streamweave.db.models import Counter, FileAccessGrant, FileRecord

FILES_COUNTER = "file_records"
UNPLACED = 0


def grants_counter(grantee_type: str, grantee_id: uuid.UUID) -> str:
    return f"grants:{grantee_type}:{grantee_id}"


def reserve(connection: Connection, name: str, count: int) -> int:
    """Add ``count`` to counter ``name`` (created at 0) and return its new value."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Counter).values(name=name, value=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + count}
    ).returning(Counter.value)
    return int(connection.execute(stmt).scalar_one())


def set_counter(connection: Connection, name: str, value: int) -> None:
    reserve(connection, name, 0)
    connection.execute(update(Counter).where(Counter.name == name).values(value=value))


def _grantee(grantee_type: str, grantee_id: uuid.UUID) -> Any:
    return (FileAccessGrant.grantee_type == grantee_type) & (
        FileAccessGrant.grantee_id == grantee_id
    )


def renumber(connection: Connection, grantee_type: str, grantee_id: uuid.UUID) -> None:
    """Rewrite one grantee's ordinals from scratch (after removals or out-of-order adds)."""
    key = grants_counter(grantee_type, grantee_id)
    reserve(connection, key, 0)  # takes the counter's row lock before reading the list
    ranked = (
        select(
            FileAccessGrant.id,
            func.row_number().over(order_by=FileAccessGrant.file_seq).label("position"),
        )
        .where(_grantee(grantee_type, grantee_id))
        .subquery()
    )
    connection.execute(
        update(FileAccessGrant)
        .where(FileAccessGrant.id == ranked.c.id)
        .values(ordinal=ranked.c.position)
    )
    total = connection.execute(
        select(func.count()).select_from(FileAccessGrant).where(_grantee(grantee_type, grantee_id))
    ).scalar_one()
    set_counter(connection, key, int(total))


def claim_positions(
    connection: Connection, grantee_type: str, grantee_id: uuid.UUID, first_new_seq: int, count: int
) -> int | None:
    """Reserve ``count`` positions in a grantee's list for new grants whose smallest file
    seq is ``first_new_seq``. Returns the first ordinal when they all come after the
    grants already placed (the usual case: newly harvested files), else None, and the
    caller renumbers the list once the grants are in."""
    total = reserve(connection, grants_counter(grantee_type, grantee_id), count)
    last_placed = connection.execute(
        select(func.max(FileAccessGrant.file_seq)).where(
            _grantee(grantee_type, grantee_id), FileAccessGrant.ordinal != UNPLACED
        )
    ).scalar()
    if last_placed is not None and first_new_seq < last_placed:
        return None
    return total - count + 1


def place_grants(
    connection: Connection,
    grantee_type: str,
    grantee_id: uuid.UUID,
    new: list[tuple[uuid.UUID, int]],
) -> None:
    """Give ordinals to grants ``(grant id, file seq)`` inserted with ``ordinal = 0``."""
    if not new:
        return
    ordered = sorted(new, key=lambda item: item[1])
    first = claim_positions(connection, grantee_type, grantee_id, ordered[0][1], len(ordered))
    if first is None:
        renumber(connection, grantee_type, grantee_id)
        return
    for offset, (grant_id, _seq) in enumerate(ordered):
        connection.execute(
            update(FileAccessGrant)
            .where(FileAccessGrant.id == grant_id)
            .values(ordinal=first + offset)
        )


@event.listens_for(FileRecord, "before_insert")
def _number_file(_mapper: Mapper[Any], connection: Connection, target: FileRecord) -> None:
    if target.seq is None:
        target.seq = reserve(connection, FILES_COUNTER, 1)


@event.listens_for(FileAccessGrant, "before_insert")
def _stage_grant(_mapper: Mapper[Any], connection: Connection, target: FileAccessGrant) -> None:
    if target.file_seq is None:
        target.file_seq = connection.execute(
            select(FileRecord.seq).where(FileRecord.id == target.file_id)
        ).scalar_one()
    if target.ordinal is None:
        target.ordinal = UNPLACED


@event.listens_for(Session, "after_flush")
def _place_flushed_grants(session: Session, _context: Any) -> None:
    added: dict[tuple[str, uuid.UUID], list[tuple[uuid.UUID, int]]] = defaultdict(list)
    removed: set[tuple[str, uuid.UUID]] = set()
    for obj in session.new:
        if isinstance(obj, FileAccessGrant) and obj.ordinal == UNPLACED:
            added[(obj.grantee_type, obj.grantee_id)].append((obj.id, obj.file_seq))
    for obj in session.deleted:
        if isinstance(obj, FileAccessGrant):
            removed.add((obj.grantee_type, obj.grantee_id))
    if not added and not removed:
        return
    connection = session.connection()
    for grantee in removed:
        renumber(connection, *grantee)
    for grantee, new in added.items():
        if grantee in removed:
            continue  # renumbered above, new rows included
        place_grants(connection, *grantee, new)
    # Refresh the new objects' ordinals now: a lazy load later would be I/O outside
    # the flush, which asyncio sessions forbid.
    fresh = {obj.id: obj for obj in session.new if isinstance(obj, FileAccessGrant)}
    if fresh:
        placed = connection.execute(
            select(FileAccessGrant.id, FileAccessGrant.ordinal).where(FileAccessGrant.id.in_(fresh))
        )
        for grant_id, ordinal in placed:
            set_committed_value(fresh[grant_id], "ordinal", ordinal)
