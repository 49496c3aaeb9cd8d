"""Hook configurations and the catalogue of built-in hooks."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from streamweave.api.context import AppContext
from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Context, Session
from streamweave.api.schemas.lab import BuiltinHookRead, HookCreate, HookRead, HookUpdate
from streamweave.db.models import HookConfig
from streamweave.hooks.builtins import BUILTINS
from streamweave.services import lab, resources

router = APIRouter(prefix="/api/hooks", tags=["hooks"])


@router.get("/builtins", response_model=list[BuiltinHookRead])
async def list_builtins(admin: Admin) -> Any:
    return [hook.__dict__ for hook in BUILTINS.values()]


def present(hook: HookConfig, _context: AppContext) -> HookRead:
    read = HookRead.model_validate(hook)
    read.has_webhook_secret = hook.webhook_secret is not None
    return read


add_soft_delete_routes(router, HookConfig, HookRead, present)


@router.post("", response_model=HookRead, status_code=status.HTTP_201_CREATED)
async def create(data: HookCreate, session: Session, admin: Admin, context: Context) -> Any:
    hook = await lab.create_hook(
        session, context.secrets, admin, data.model_dump(exclude_none=True)
    )
    return present(hook, context)


@router.patch("/{item_id}", response_model=HookRead)
async def update(
    item_id: uuid.UUID, data: HookUpdate, session: Session, admin: AdminItem, context: Context
) -> Any:
    hook = await resources.get_or_404(session, HookConfig, item_id)
    values = data.model_dump(exclude_unset=True)
    return present(await lab.update_hook(session, context.secrets, admin, hook, values), context)
