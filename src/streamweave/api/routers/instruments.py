"""Instruments: admins manage them; users see the ones granted to them, without secrets."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select

from streamweave.api.context import AppContext
from streamweave.api.deps import Admin, AdminItem, Context, CurrentUser, Paging, Session, Who
from streamweave.api.routers.listing import oldest_first
from streamweave.api.routers.storage_locations import check_connection
from streamweave.api.schemas.common import Page
from streamweave.api.schemas.lab import (
    DEFAULT_COMPLETION_RULE,
    AccessGrantCreate,
    InstrumentAccessRead,
    InstrumentCreate,
    InstrumentPublicRead,
    InstrumentRead,
    InstrumentUpdate,
    StorageTestResult,
)
from streamweave.db.models import HarvestSchedule, Instrument, InstrumentAccess
from streamweave.errors import Conflict, NotFound
from streamweave.orchestration import api as orchestration
from streamweave.services import audit, files, lab, resources
from streamweave.services.access import instrument_visible
from streamweave.services.locations import source_location
from streamweave.services.pagination import paginate

router = APIRouter(prefix="/api/instruments", tags=["instruments"])


def present(instrument: Instrument, context: AppContext, admin: bool) -> InstrumentPublicRead:
    if not admin:
        return InstrumentPublicRead.model_validate(instrument)
    read = InstrumentRead.model_validate(instrument)
    read.source_config = lab.instrument_source_config(context.secrets, instrument)
    return read


@router.get("", response_model=Page[InstrumentRead | InstrumentPublicRead])
async def list_instruments(
    session: Session,
    user: CurrentUser,
    who: Who,
    context: Context,
    paging: Paging,
    include_deleted: bool = False,
) -> Any:
    stmt = resources.listing(Instrument, include_deleted and user.is_admin)
    stmt = stmt.where(instrument_visible(who))
    page = await paginate(session, stmt, paging.skip, paging.limit)
    page.items = [present(i, context, user.is_admin) for i in page.items]
    return page


@router.post("", response_model=InstrumentRead, status_code=status.HTTP_201_CREATED)
async def create_instrument(
    data: InstrumentCreate, session: Session, admin: Admin, context: Context
) -> Any:
    values = data.model_dump(exclude_none=True)
    instrument = await lab.create_instrument(
        session, context.secrets, admin, values, DEFAULT_COMPLETION_RULE
    )
    return present(instrument, context, True)


async def _visible(session: Session, who: Any, instrument_id: uuid.UUID) -> Instrument:
    instrument = await session.scalar(
        select(Instrument).where(Instrument.id == instrument_id, instrument_visible(who))
    )
    if instrument is None or (instrument.deleted_at is not None and not who.is_admin):
        raise NotFound(f"instrument {instrument_id} not found")
    return instrument


@router.get("/{instrument_id}", response_model=InstrumentRead | InstrumentPublicRead)
async def get_instrument(
    instrument_id: uuid.UUID, session: Session, user: CurrentUser, who: Who, context: Context
) -> Any:
    return present(await _visible(session, who, instrument_id), context, user.is_admin)


@router.patch("/{instrument_id}", response_model=InstrumentRead)
async def update_instrument(
    instrument_id: uuid.UUID,
    data: InstrumentUpdate,
    session: Session,
    admin: AdminItem,
    context: Context,
) -> Any:
    instrument = await resources.get_or_404(session, Instrument, instrument_id)
    values = data.model_dump(exclude_unset=True)
    updated = await lab.update_instrument(session, context.secrets, admin, instrument, values)
    return present(updated, context, True)


@router.delete("/{instrument_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_instrument(
    instrument_id: uuid.UUID, session: Session, admin: AdminItem
) -> Response:
    await resources.soft_delete(
        session, admin, await resources.get_or_404(session, Instrument, instrument_id)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{instrument_id}/restore", response_model=InstrumentRead)
async def restore_instrument(
    instrument_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
) -> Any:
    instrument = await resources.get_or_404(session, Instrument, instrument_id)
    return present(await resources.restore(session, admin, instrument), context, True)


@router.post("/{instrument_id}/harvest")
async def harvest_now(
    instrument_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
) -> Any:
    """Run every enabled schedule of the instrument now: one flow run each."""
    instrument = await resources.get_or_404(session, Instrument, instrument_id, live=True)
    schedules = (
        await session.scalars(
            select(HarvestSchedule.id).where(
                HarvestSchedule.instrument_id == instrument.id,
                HarvestSchedule.enabled.is_(True),
                HarvestSchedule.deleted_at.is_(None),
            )
        )
    ).all()
    if not schedules:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"instrument {instrument.name!r} has no enabled schedule; create or enable one first",
        )
    return await orchestration.harvest_now(context.sessionmaker, list(schedules))


@router.get("/{instrument_id}/test", response_model=StorageTestResult)
async def test_connection(
    instrument_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
) -> Any:
    """Connect to the instrument's source with its credentials and list it: 502 with the
    reason when that fails."""
    instrument = await resources.get_or_404(session, Instrument, instrument_id, live=True)
    return await check_connection(await source_location(session, instrument, context.secrets))


# --- who may see the instrument ------------------------------------------------------


@router.get("/{instrument_id}/access", response_model=Page[InstrumentAccessRead])
async def list_access(
    instrument_id: uuid.UUID, session: Session, admin: AdminItem, paging: Paging
) -> Any:
    await resources.get_or_404(session, Instrument, instrument_id)
    return await oldest_first(
        session, paging, InstrumentAccess, InstrumentAccess.instrument_id == instrument_id
    )


@router.post(
    "/{instrument_id}/access",
    response_model=InstrumentAccessRead,
    status_code=status.HTTP_201_CREATED,
)
async def grant_access(
    instrument_id: uuid.UUID, data: AccessGrantCreate, session: Session, admin: AdminItem
) -> Any:
    instrument = await resources.get_or_404(session, Instrument, instrument_id, live=True)
    await files.require_grantee(session, data.grantee_type, data.grantee_id)
    exists = await session.scalar(
        select(InstrumentAccess.id).where(
            InstrumentAccess.instrument_id == instrument.id,
            InstrumentAccess.grantee_type == data.grantee_type,
            InstrumentAccess.grantee_id == data.grantee_id,
        )
    )
    if exists is not None:
        raise Conflict(
            f"this {data.grantee_type} already has access to instrument {instrument.name!r}"
        )
    grant = InstrumentAccess(instrument_id=instrument.id, **data.model_dump())
    return await resources.create(session, admin, grant)


@router.delete("/{instrument_id}/access/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_access(
    instrument_id: uuid.UUID, grant_id: uuid.UUID, session: Session, admin: AdminItem
) -> Response:
    grant = await session.get(InstrumentAccess, grant_id)
    if grant is None or grant.instrument_id != instrument_id:
        raise NotFound(f"access grant {grant_id} not found on instrument {instrument_id}")
    before = audit.snapshot(grant)
    await session.delete(grant)
    audit.record(session, admin, "instrument_access", grant.id, "delete", {"before": before})
    await resources.commit(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
