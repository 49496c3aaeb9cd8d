"""The list / get / delete / restore routes every admin-managed resource shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response, status

from streamweave.api.context import AppContext
from streamweave.api.deps import Admin, AdminItem, Context, Paging, Session
from streamweave.api.schemas.common import Page
from streamweave.db.base import Base
from streamweave.services import resources
from streamweave.services.pagination import paginate


def add_soft_delete_routes(
    router: APIRouter,
    model: type[Base],
    read_model: type[Any],
    present: Callable[[Any, AppContext], Any] | None = None,
) -> None:
    """Admin-only routes; ``present`` turns a row into its response (masking secrets)."""
    show = present or (lambda obj, _context: obj)
    noun = resources.entity_name(model)

    @router.get("", response_model=Page[read_model], summary=f"List {noun}s")  # type: ignore[valid-type]
    async def list_items(
        session: Session,
        admin: Admin,
        context: Context,
        paging: Paging,
        include_deleted: bool = False,
    ) -> dict[str, Any]:
        page = await paginate(
            session, resources.listing(model, include_deleted), paging.skip, paging.limit
        )
        return {**page.__dict__, "items": [show(item, context) for item in page.items]}

    @router.get("/{item_id}", response_model=read_model, summary=f"Get a {noun}")
    async def get_item(
        item_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
    ) -> Any:
        return show(await resources.get_or_404(session, model, item_id), context)

    @router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, summary=f"Delete a {noun}")
    async def delete_item(item_id: uuid.UUID, session: Session, admin: AdminItem) -> Response:
        await resources.soft_delete(
            session, admin, await resources.get_or_404(session, model, item_id)
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post("/{item_id}/restore", response_model=read_model, summary=f"Restore a {noun}")
    async def restore_item(
        item_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
    ) -> Any:
        obj = await resources.get_or_404(session, model, item_id)
        return show(await resources.restore(session, admin, obj), context)
