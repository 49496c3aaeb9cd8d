"""Audit trail: every mutation writes one row in the same transaction as the change."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import MASK
from streamweave.db.models import AuditLog, User

# Columns whose values never enter the trail, whatever table they are on.
SECRET_COLUMNS = frozenset(
    {
        "hashed_password",
        "password_encrypted",
        "secrets",
        "source_secrets",
        "webhook_secret",
        "token_hash",
        "password",
        "secret_access_key",
        "access_key_id",
        "private_key",
        "key_passphrase",
    }
)


def _plain(value: Any, mask: bool) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {
            str(k): MASK
            if mask and k in SECRET_COLUMNS and v not in (None, "")
            else _plain(v, mask)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set):
        return [_plain(v, mask) for v in value]
    return value


def json_safe(value: Any) -> Any:
    """``value`` with UUIDs, dates and enums as JSON values and secrets masked."""
    return _plain(value, mask=True)


def snapshot(obj: Any) -> dict[str, Any]:
    """The row's column values, JSON-safe but unmasked: diff them, then ``record`` masks.
    (Masking first would hide that a secret changed.)"""
    mapper = inspect(obj).mapper
    values = {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs}
    return dict(_plain(values, mask=False))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = [k for k in after if before.get(k) != after.get(k) and k != "updated_at"]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after[k] for k in keys}}


def record(
    session: AsyncSession,
    actor: User | None,
    entity_type: str,
    entity_id: uuid.UUID | None,
    action: str,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        changes=json_safe(changes) if changes is not None else None,
    )
    session.add(entry)
    return entry
