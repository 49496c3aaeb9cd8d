"""Locations from the management plane's rows: an instrument's source, a storage location.

Secrets stay encrypted in the row; the Location's ``secrets()`` decrypts them when an
adapter connects, so they live in memory only while they are used.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import SecretBox
from streamweave.db.models import Instrument, ServiceAccount, StorageLocation
from streamweave.errors import InvalidInput
from streamweave.transfers.base import Location, no_secrets


def _decrypting(box: SecretBox, token: str | None) -> Any:
    if token is None:
        # Nothing to decrypt (local paths): the default keeps the Location picklable,
        # which the native adapter's worker processes need.
        return no_secrets
    return lambda: box.decrypt_json(token)


def storage_location(storage: StorageLocation, box: SecretBox) -> Location:
    config = dict(storage.connection_config)
    root = storage.base_path
    if storage.type == "nfs":
        # An NFS export is used where the host has mounted it: base_path.
        return Location("nfs", root, config, name=storage.name)
    return Location(storage.type, root, config, _decrypting(box, storage.secrets), storage.name)


async def source_location(
    session: AsyncSession, instrument: Instrument, box: SecretBox
) -> Location:
    if instrument.source_type == "cifs":
        account = (
            await session.get(ServiceAccount, instrument.service_account_id)
            if instrument.service_account_id
            else None
        )
        if account is None or account.deleted_at is not None:
            raise InvalidInput(
                f"instrument {instrument.name!r} has no live service account to read its share with"
            )
        config = {
            "host": instrument.cifs_host,
            "port": instrument.cifs_port,
            "share": instrument.cifs_share,
            "username": account.username,
            "domain": account.domain,
        }
        token = account.password_encrypted
        return Location(
            "cifs",
            (instrument.cifs_base_path or "").replace("\\", "/").strip("/"),
            config,
            lambda: {"password": box.decrypt(token)},
            instrument.name,
        )
    config = dict(instrument.source_config)
    root = str(config.pop("path", None) or config.pop("prefix", None) or "")
    return Location(
        instrument.source_type,
        root,
        config,
        _decrypting(box, instrument.source_secrets),
        instrument.name,
    )
