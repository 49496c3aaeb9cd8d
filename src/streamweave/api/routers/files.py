"""Files and transfers, as the caller may see them; file access grants (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from streamweave.api.deps import AdminItem, Paging, Session, Who
from streamweave.api.schemas.common import Page, UTCDateTime
from streamweave.api.schemas.files import FileAccessCreate, FileAccessRead, FileRead, TransferRead
from streamweave.services import files
from streamweave.services.pagination import paginate

router = APIRouter(tags=["files"])


@router.get("/api/files", response_model=Page[FileRead])
async def list_files(
    session: Session,
    who: Who,
    paging: Paging,
    instrument_id: uuid.UUID | None = None,
    path_prefix: Annotated[str | None, Query(max_length=4000)] = None,
    discovered_after: UTCDateTime | None = None,
    discovered_before: UTCDateTime | None = None,
    metadata_key: Annotated[str | None, Query(max_length=200)] = None,
    metadata_value: Annotated[str | None, Query(max_length=1000)] = None,
    persistent_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    filters = files.FileFilters(
        instrument_id=instrument_id,
        path_prefix=path_prefix,
        discovered_after=discovered_after,
        discovered_before=discovered_before,
        metadata_key=metadata_key,
        metadata_value=metadata_value,
        persistent_id=persistent_id,
    )
    return await files.list_files(session, who, filters, paging.skip, paging.limit)


@router.get("/api/files/{file_id}", response_model=FileRead)
async def get_file(file_id: uuid.UUID, session: Session, who: Who) -> Any:
    return await files.get_file(session, who, file_id)


@router.get("/api/files/{file_id}/access", response_model=Page[FileAccessRead])
async def list_file_access(
    file_id: uuid.UUID, session: Session, admin: AdminItem, who: Who, paging: Paging
) -> Any:
    await files.get_file(session, who, file_id)
    return await files.list_grants(session, file_id, paging.skip, paging.limit)


@router.post(
    "/api/files/{file_id}/access",
    response_model=FileAccessRead,
    status_code=status.HTTP_201_CREATED,
)
async def grant_file_access(
    file_id: uuid.UUID, data: FileAccessCreate, session: Session, admin: AdminItem, who: Who
) -> Any:
    record = await files.get_file(session, who, file_id)
    return await files.add_grant(session, admin, record, data.grantee_type, data.grantee_id)


@router.delete("/api/files/{file_id}/access/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_file_access(
    file_id: uuid.UUID, grant_id: uuid.UUID, session: Session, admin: AdminItem, who: Who
) -> Response:
    record = await files.get_file(session, who, file_id)
    await files.remove_grant(session, admin, record, grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/transfers", response_model=Page[TransferRead], tags=["transfers"])
async def list_transfers(
    session: Session, who: Who, paging: Paging, file_id: uuid.UUID | None = None
) -> Any:
    return await paginate(session, files.transfer_query(who, file_id), paging.skip, paging.limit)


@router.get("/api/transfers/{transfer_id}", response_model=TransferRead, tags=["transfers"])
async def get_transfer(transfer_id: uuid.UUID, session: Session, who: Who) -> Any:
    return await files.get_transfer(session, who, transfer_id)
