"""The v0 pagination envelope, computed in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 500


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int


async def paginate(
    session: AsyncSession, stmt: Select[Any], skip: int, limit: int, *, scalars: bool = True
) -> Page[Any]:
    """Run ``stmt`` (already ordered) for one page, plus its total count."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page = stmt.offset(skip).limit(limit)
    result = await session.execute(page)
    items = list(result.scalars().all()) if scalars else list(result.all())
    return Page(items=items, total=int(total or 0), skip=skip, limit=limit)
