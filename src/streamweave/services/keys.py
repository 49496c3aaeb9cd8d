"""Encryption key rotation: re-encrypt every stored secret under the newest key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import SecretBox
from streamweave.db.models import HookConfig, Instrument, ServiceAccount, StorageLocation
from streamweave.services import audit

# (table, column) pairs that hold Fernet tokens.
ENCRYPTED_COLUMNS = (
    (ServiceAccount, "password_encrypted"),
    (Instrument, "source_secrets"),
    (StorageLocation, "secrets"),
    (HookConfig, "webhook_secret"),
)


@dataclass
class RotationReport:
    rows: int
    per_table: dict[str, int]


async def reencrypt_all(session: AsyncSession, box: SecretBox) -> RotationReport:
    """One transaction: either every secret is re-encrypted or none is."""
    per_table: dict[str, int] = {}
    for model, column in ENCRYPTED_COLUMNS:
        attribute = getattr(model, column)
        rows = (await session.scalars(select(model).where(attribute.is_not(None)))).all()
        for row in rows:
            setattr(row, column, box.rotate(getattr(row, column)))
        per_table[model.__tablename__] = len(rows)
    audit.record(session, None, "encryption_keys", None, "rotate", {"after": per_table})
    await session.commit()
    return RotationReport(rows=sum(per_table.values()), per_table=per_table)
