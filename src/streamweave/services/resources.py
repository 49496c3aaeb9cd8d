"""Create / update / soft delete / restore with audit, for every soft-deletable table."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.base import Base, utcnow
from streamweave.db.models import User
from streamweave.errors import Conflict, InvalidInput, NotFound
from streamweave.services import audit

M = TypeVar("M", bound=Base)


def entity_name(model: type[Base]) -> str:
    return str(model.__tablename__).removesuffix("s").replace("_", " ")


async def get_or_404(
    session: AsyncSession, model: type[M], id: uuid.UUID, *, live: bool = False
) -> M:
    obj = await session.get(model, id)
    if obj is None or (live and getattr(obj, "deleted_at", None) is not None):
        raise NotFound(f"{entity_name(model)} {id} not found")
    return obj


async def require_live(session: AsyncSession, model: type[M], id: uuid.UUID, field: str) -> M:
    """A referenced row that must exist and not be deleted (a 422, not a 404: it is input)."""
    obj = await session.get(model, id)
    if obj is None or getattr(obj, "deleted_at", None) is not None:
        raise InvalidInput(f"{field}: no live {entity_name(model)} with id {id}")
    return obj


def listing(model: type[M], include_deleted: bool) -> Select[tuple[M]]:
    stmt = select(model)
    if not include_deleted:
        stmt = stmt.where(model.deleted_at.is_(None))  # type: ignore[attr-defined]
    return stmt.order_by(model.created_at, model.id)  # type: ignore[attr-defined]


async def ensure_unique_name(
    session: AsyncSession, model: type[Base], name: str, exclude: uuid.UUID | None = None
) -> None:
    # Called only with tables that have a name and soft delete (see the callers).
    live = model.deleted_at.is_(None)  # type: ignore[attr-defined]
    stmt = select(model.id).where(model.name == name, live)  # type: ignore[attr-defined]
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)  # type: ignore[attr-defined]
    if await session.scalar(stmt.limit(1)) is not None:
        raise Conflict(f"a {entity_name(model)} named {name!r} already exists")


async def commit(session: AsyncSession) -> None:
    """Commit, turning a uniqueness race into a 409 instead of a 500."""
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(
            "the change conflicts with an existing record (duplicate name or membership)"
        ) from exc


async def create(session: AsyncSession, actor: User | None, obj: M) -> M:
    session.add(obj)
    await session.flush()
    audit.record(
        session,
        actor,
        str(obj.__tablename__),
        getattr(obj, "id", None),
        "create",
        {"after": audit.snapshot(obj)},
    )
    await commit(session)
    return obj


async def update(session: AsyncSession, actor: User | None, obj: M, values: dict[str, Any]) -> M:
    before = audit.snapshot(obj)
    for key, value in values.items():
        setattr(obj, key, value)
    await session.flush()
    changes = audit.diff(before, audit.snapshot(obj))
    if changes["after"]:
        audit.record(
            session, actor, str(obj.__tablename__), getattr(obj, "id", None), "update", changes
        )
    await commit(session)
    return obj


async def soft_delete(session: AsyncSession, actor: User | None, obj: M) -> None:
    if getattr(obj, "deleted_at", None) is not None:
        raise NotFound(f"{entity_name(type(obj))} {getattr(obj, 'id', '')} not found")
    obj.deleted_at = utcnow()  # type: ignore[attr-defined]
    audit.record(session, actor, str(obj.__tablename__), getattr(obj, "id", None), "delete", None)
    await commit(session)


async def restore(session: AsyncSession, actor: User | None, obj: M) -> M:
    if getattr(obj, "deleted_at", None) is None:
        raise Conflict(f"{entity_name(type(obj))} {getattr(obj, 'id', '')} is not deleted")
    if hasattr(obj, "name"):
        await ensure_unique_name(session, type(obj), obj.name, exclude=getattr(obj, "id", None))
    obj.deleted_at = None  # type: ignore[attr-defined]
    audit.record(session, actor, str(obj.__tablename__), getattr(obj, "id", None), "restore", None)
    await commit(session)
    return obj
