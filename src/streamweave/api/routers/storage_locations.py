"""Storage locations: where harvested data is kept."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, status

from streamweave.api.context import AppContext
from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Context, Session
from streamweave.api.schemas.lab import (
    StorageLocationCreate,
    StorageLocationRead,
    StorageLocationUpdate,
    StorageTestResult,
)
from streamweave.db.models import StorageLocation
from streamweave.services import lab, resources
from streamweave.services.locations import storage_location
from streamweave.transfers.base import Location
from streamweave.transfers.errors import TransferError
from streamweave.transfers.registry import adapter_for_location

router = APIRouter(prefix="/api/storage-locations", tags=["storage locations"])


def present(storage: StorageLocation, context: AppContext) -> StorageLocationRead:
    read = StorageLocationRead.model_validate(storage)
    read.connection_config = lab.storage_connection_config(context.secrets, storage)
    return read


async def check_connection(location: Location) -> StorageTestResult:
    """Connect to ``location`` with its credentials and list it: 502 with the reason when
    that fails."""
    try:
        message = await adapter_for_location(location).test(location)
    except TransferError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    return StorageTestResult(ok=True, message=message)


add_soft_delete_routes(router, StorageLocation, StorageLocationRead, present)


@router.post("", response_model=StorageLocationRead, status_code=status.HTTP_201_CREATED)
async def create(
    data: StorageLocationCreate, session: Session, admin: Admin, context: Context
) -> Any:
    storage = await lab.create_storage(session, context.secrets, admin, data.model_dump())
    return present(storage, context)


@router.patch("/{item_id}", response_model=StorageLocationRead)
async def update(
    item_id: uuid.UUID,
    data: StorageLocationUpdate,
    session: Session,
    admin: AdminItem,
    context: Context,
) -> Any:
    storage = await resources.get_or_404(session, StorageLocation, item_id)
    values = data.model_dump(exclude_unset=True)
    return present(
        await lab.update_storage(session, context.secrets, admin, storage, values), context
    )


@router.get("/{item_id}/test", response_model=StorageTestResult)
async def test_connection(
    item_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
) -> Any:
    storage = await resources.get_or_404(session, StorageLocation, item_id, live=True)
    if not storage.enabled:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"storage location {storage.name!r} is disabled"
        )
    return await check_connection(storage_location(storage, context.secrets))
