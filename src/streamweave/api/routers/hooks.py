"""Hook configurations, the catalogue of built-in hooks and plugins, and the dry run."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from streamweave.api.context import AppContext
from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Context, Session
from streamweave.api.schemas.lab import (
    BuiltinHookRead,
    HookCreate,
    HookDryRun,
    HookDryRunResult,
    HookRead,
    HookUpdate,
    PluginHookRead,
)
from streamweave.db.models import HookConfig
from streamweave.hooks import plugins
from streamweave.hooks.builtins import BUILTINS
from streamweave.services import hook_dry_run, lab, resources

router = APIRouter(prefix="/api/hooks", tags=["hooks"])


@router.get("/builtins", response_model=list[BuiltinHookRead])
async def list_builtins(admin: Admin) -> Any:
    return [hook.__dict__ for hook in BUILTINS.values()]


@router.get("/plugins", response_model=list[PluginHookRead])
async def list_plugins(admin: Admin) -> Any:
    """Installed hook plugins (entry-point group ``streamweave.hooks``): a hook runs one
    with ``implementation: "plugin"`` and the plugin's name in ``builtin_name``."""
    return [
        {
            "name": name,
            "trigger": plugin.trigger,
            "description": str(getattr(plugin, "description", "") or ""),
            "config_schema": plugins.config_schema(plugin),
        }
        for name, plugin in sorted(plugins.installed().plugins.items())
    ]


@router.post("/dry-run", response_model=HookDryRunResult)
async def dry_run(data: HookDryRun, session: Session, admin: Admin, context: Context) -> Any:
    """What the instrument's pre-transfer hooks would decide for one file: transfer or
    skip (with the rule), the destination path, the metadata and any failures.

    This runs the real chain: **webhooks are called** with the made-up file's facts, so
    their receivers must tolerate a file that does not exist. Nothing is stored.
    """
    result = await hook_dry_run.dry_run(
        session, context.secrets, data.instrument_id, data.source_path, data.size_bytes
    )
    outcome = result.outcome
    return {
        "action": result.action,
        "skip_rule": outcome.skip_rule,
        "destination_path": outcome.destination_path,
        "metadata": outcome.metadata,
        "failures": [failure.__dict__ for failure in outcome.failures],
        "pre_signature": result.signature,
    }


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
