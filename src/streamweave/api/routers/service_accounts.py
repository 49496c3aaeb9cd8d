"""Service accounts: the identities StreamWeave uses to read instrument shares."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, status

from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Context, Session
from streamweave.api.schemas.lab import (
    ServiceAccountCreate,
    ServiceAccountRead,
    ServiceAccountUpdate,
)
from streamweave.db.models import ServiceAccount
from streamweave.services import audit, lab, resources

router = APIRouter(prefix="/api/service-accounts", tags=["service accounts"])
add_soft_delete_routes(router, ServiceAccount, ServiceAccountRead)


@router.post("", response_model=ServiceAccountRead, status_code=status.HTTP_201_CREATED)
async def create(
    data: ServiceAccountCreate, session: Session, admin: Admin, context: Context
) -> Any:
    return await lab.create_service_account(session, context.secrets, admin, data.model_dump())


@router.patch("/{item_id}", response_model=ServiceAccountRead)
async def update(
    item_id: uuid.UUID,
    data: ServiceAccountUpdate,
    session: Session,
    admin: AdminItem,
    context: Context,
) -> Any:
    account = await resources.get_or_404(session, ServiceAccount, item_id)
    return await lab.update_service_account(
        session, context.secrets, admin, account, data.model_dump(exclude_unset=True)
    )


@router.get("/{item_id}/password")
async def reveal_password(
    item_id: uuid.UUID, session: Session, admin: AdminItem, context: Context
) -> dict[str, str]:
    """The v0 reveal route: admin-only, audited, and off unless enabled by configuration."""
    if not context.settings.password_reveal_enabled:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Revealing service-account passwords is disabled (STREAMWEAVE_ALLOW_PASSWORD_REVEAL)",
        )
    account = await resources.get_or_404(session, ServiceAccount, item_id)
    audit.record(session, admin, "service_accounts", account.id, "reveal_secret", None)
    await resources.commit(session)
    return {"password": context.secrets.decrypt(account.password_encrypted)}
