"""The hooks that apply to an instrument, as the domain core runs them."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import SecretBox
from streamweave.db.models import HookConfig
from streamweave.hooks import HookSpec, no_secret


class StoredSecret:
    """A webhook secret left encrypted until a request is signed; its repr shows nothing."""

    __slots__ = ("_box", "_token")

    def __init__(self, box: SecretBox, token: str) -> None:
        self._box = box
        self._token = token

    def __call__(self) -> str | None:
        return self._box.decrypt(self._token)

    def __repr__(self) -> str:
        return "StoredSecret(****)"


def _target(hook: HookConfig) -> str:
    if hook.implementation == "http_webhook":
        return hook.webhook_url or ""
    # Built-ins and plugins are both named in builtin_name.
    return hook.builtin_name or ""


def spec_of(hook: HookConfig, box: SecretBox) -> HookSpec:
    return HookSpec(
        id=str(hook.id),
        name=hook.name,
        trigger=hook.trigger,
        implementation=hook.implementation,
        target=_target(hook),
        config=dict(hook.config or {}),
        priority=hook.priority,
        fail_closed=hook.fail_closed,
        secret=StoredSecret(box, hook.webhook_secret) if hook.webhook_secret else no_secret,
    )


async def hook_specs_for(
    session: AsyncSession, instrument_id: uuid.UUID | str, box: SecretBox
) -> list[HookSpec]:
    """Enabled, live hooks that are global or the instrument's, in run order."""
    if not isinstance(instrument_id, uuid.UUID):
        instrument_id = uuid.UUID(str(instrument_id))
    rows = await session.scalars(
        select(HookConfig)
        .where(
            HookConfig.enabled.is_(True),
            HookConfig.deleted_at.is_(None),
            or_(HookConfig.instrument_id.is_(None), HookConfig.instrument_id == instrument_id),
        )
        .order_by(HookConfig.priority, HookConfig.name, HookConfig.id)
    )
    return [spec_of(hook, box) for hook in rows]
