"""Pages of the rows that belong to something (its members, grants or tokens)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.api.deps import PageParams
from streamweave.db.base import Base
from streamweave.services.pagination import Page, paginate


async def oldest_first(
    session: AsyncSession, paging: PageParams, model: type[Base], *criteria: ColumnElement[bool]
) -> Page[Any]:
    """One page of the ``model`` rows that match ``criteria``, in the order they were
    created (ids break ties), so that pages stay stable while rows are added."""
    stmt = select(model).where(*criteria)
    stmt = stmt.order_by(model.created_at, model.id)  # type: ignore[attr-defined]
    return await paginate(session, stmt, paging.skip, paging.limit)
