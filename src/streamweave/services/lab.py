"""Service accounts, instruments, storage locations, schedules and hooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import SecretBox
from streamweave.db.models import (
    HarvestSchedule,
    HookConfig,
    Instrument,
    ServiceAccount,
    StorageLocation,
    User,
)
from streamweave.errors import InvalidInput
from streamweave.hooks.validation import validate_hook
from streamweave.services import resources
from streamweave.services.validation import (
    check_cron,
    check_path,
    check_timezone,
    server_timezone,
)
from streamweave.transfers.configs import SOURCE_CONFIGS, STORAGE_CONFIGS, masked, split_config


async def create_service_account(
    session: AsyncSession, box: SecretBox, actor: User, data: dict[str, Any]
) -> ServiceAccount:
    await resources.ensure_unique_name(session, ServiceAccount, data["name"])
    password = data.pop("password")
    account = ServiceAccount(**data, password_encrypted=box.encrypt(password))
    return await resources.create(session, actor, account)


async def update_service_account(
    session: AsyncSession,
    box: SecretBox,
    actor: User,
    account: ServiceAccount,
    data: dict[str, Any],
) -> ServiceAccount:
    # null for a column that cannot be empty means "unchanged", as for every other resource.
    data = {k: v for k, v in data.items() if v is not None or k == "domain"}
    if "name" in data:
        await resources.ensure_unique_name(
            session, ServiceAccount, data["name"], exclude=account.id
        )
    password = data.pop("password", None)
    if password is not None and password != "****":
        data["password_encrypted"] = box.encrypt(password)
    return await resources.update(session, actor, account, data)


# --- instruments -------------------------------------------------------------------


def _check_instrument(merged: dict[str, Any]) -> None:
    if merged["source_type"] == "cifs":
        missing = [f for f in ("cifs_host", "cifs_share") if not merged.get(f)]
        if missing:
            raise InvalidInput(
                f"an SMB/CIFS instrument needs {' and '.join(missing)} (the file server and share)"
            )
    if merged.get("cifs_base_path"):
        # A path inside the share: leading separators are harmless, climbing out is not.
        relative = merged["cifs_base_path"].replace("\\", "/").lstrip("/")
        if relative:
            check_path(relative, field="cifs_base_path", absolute=False)


async def _instrument_values(
    session: AsyncSession, box: SecretBox, data: dict[str, Any], current: Instrument | None
) -> dict[str, Any]:
    values = dict(data)
    if values.get("service_account_id") is not None:
        await resources.require_live(
            session, ServiceAccount, values["service_account_id"], "service_account_id"
        )
    source_type = values.get("source_type") or (current.source_type if current else "cifs")
    values["source_type"] = source_type
    if "source_config" in values or current is None or "source_type" in data:
        raw = values.pop("source_config", None)
        if raw is None and current is not None and source_type == current.source_type:
            raw = masked(current.source_config, box.decrypt_json(current.source_secrets))
        stored = box.decrypt_json(current.source_secrets) if current else {}
        plain, secrets = split_config(
            SOURCE_CONFIGS, source_type, raw, stored, field="source_config"
        )
        values["source_config"] = plain
        values["source_secrets"] = box.encrypt_json(secrets)
    if "completion_rule" in values and values["completion_rule"] is None:
        values.pop("completion_rule")
    for key in ("name", "cifs_port", "transfer_adapter", "enabled"):
        if key in values and values[key] is None:
            values.pop(key)
    merged = {
        "source_type": source_type,
        "cifs_host": values.get("cifs_host", current.cifs_host if current else None),
        "cifs_share": values.get("cifs_share", current.cifs_share if current else None),
        "cifs_base_path": values.get("cifs_base_path", current.cifs_base_path if current else None),
    }
    _check_instrument(merged)
    return values


async def create_instrument(
    session: AsyncSession,
    box: SecretBox,
    actor: User,
    data: dict[str, Any],
    default_rule: dict[str, Any],
) -> Instrument:
    await resources.ensure_unique_name(session, Instrument, data["name"])
    values = await _instrument_values(session, box, data, None)
    values.setdefault("completion_rule", default_rule)
    return await resources.create(session, actor, Instrument(**values))


async def update_instrument(
    session: AsyncSession, box: SecretBox, actor: User, instrument: Instrument, data: dict[str, Any]
) -> Instrument:
    if data.get("name"):
        await resources.ensure_unique_name(session, Instrument, data["name"], exclude=instrument.id)
    values = await _instrument_values(session, box, data, instrument)
    return await resources.update(session, actor, instrument, values)


def instrument_source_config(box: SecretBox, instrument: Instrument) -> dict[str, Any]:
    return masked(instrument.source_config, box.decrypt_json(instrument.source_secrets))


# --- storage -----------------------------------------------------------------------


def _storage_values(
    box: SecretBox, data: dict[str, Any], current: StorageLocation | None
) -> dict[str, Any]:
    values = {k: v for k, v in data.items() if v is not None or k == "connection_config"}
    kind = values.get("type") or (current.type if current else None)
    assert kind is not None
    if "connection_config" in values or current is None or "type" in data:
        raw = values.pop("connection_config", None)
        if raw is None and current is not None and kind == current.type:
            raw = masked(current.connection_config, box.decrypt_json(current.secrets))
        stored = box.decrypt_json(current.secrets) if current else {}
        plain, secrets = split_config(STORAGE_CONFIGS, kind, raw, stored)
        values["connection_config"] = plain
        values["secrets"] = box.encrypt_json(secrets)
    base_path = values.get("base_path", current.base_path if current else "")
    if kind in ("posix", "nfs"):
        if not base_path:
            raise InvalidInput(f"base_path: a {kind} storage location needs an absolute base_path")
        check_path(base_path, field="base_path", absolute=True)
    elif base_path:
        check_path(base_path.lstrip("/"), field="base_path", absolute=False)
    return values


async def create_storage(
    session: AsyncSession, box: SecretBox, actor: User, data: dict[str, Any]
) -> StorageLocation:
    await resources.ensure_unique_name(session, StorageLocation, data["name"])
    return await resources.create(
        session, actor, StorageLocation(**_storage_values(box, data, None))
    )


async def update_storage(
    session: AsyncSession,
    box: SecretBox,
    actor: User,
    storage: StorageLocation,
    data: dict[str, Any],
) -> StorageLocation:
    if data.get("name"):
        await resources.ensure_unique_name(
            session, StorageLocation, data["name"], exclude=storage.id
        )
    return await resources.update(session, actor, storage, _storage_values(box, data, storage))


def storage_connection_config(box: SecretBox, storage: StorageLocation) -> dict[str, Any]:
    return masked(storage.connection_config, box.decrypt_json(storage.secrets))


# --- schedules ---------------------------------------------------------------------


async def _schedule_values(session: AsyncSession, data: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in data.items() if v is not None}
    if "cron_expression" in values:
        values["cron_expression"] = check_cron(values["cron_expression"])
    if "timezone" in values:
        check_timezone(values["timezone"])
    if "instrument_id" in values:
        await resources.require_live(session, Instrument, values["instrument_id"], "instrument_id")
    if "default_storage_location_id" in values:
        await resources.require_live(
            session,
            StorageLocation,
            values["default_storage_location_id"],
            "default_storage_location_id",
        )
    return values


async def create_schedule(
    session: AsyncSession, actor: User, data: dict[str, Any]
) -> HarvestSchedule:
    values = await _schedule_values(session, data)
    values.setdefault("timezone", server_timezone())
    return await resources.create(session, actor, HarvestSchedule(**values))


async def update_schedule(
    session: AsyncSession, actor: User, schedule: HarvestSchedule, data: dict[str, Any]
) -> HarvestSchedule:
    return await resources.update(session, actor, schedule, await _schedule_values(session, data))


# --- hooks -------------------------------------------------------------------------


async def _hook_values(
    session: AsyncSession, box: SecretBox, data: dict[str, Any], current: HookConfig | None
) -> dict[str, Any]:
    values = {
        k: v for k, v in data.items() if v is not None or k in ("instrument_id", "description")
    }
    implementation = values.get("implementation") or (current.implementation if current else None)
    trigger = values.get("trigger", current.trigger if current else None)
    config = values.get("config", current.config if current else None) or {}
    # Built-ins and plugins are named in builtin_name, webhooks by their URL.
    target_field = "webhook_url" if implementation == "http_webhook" else "builtin_name"
    target = values.get(target_field, getattr(current, target_field) if current else None)
    values["config"] = validate_hook(implementation, trigger, target, config)
    if values.get("instrument_id") is not None:
        await resources.require_live(session, Instrument, values["instrument_id"], "instrument_id")
    secret = values.pop("webhook_secret", None)
    if secret is not None and secret != "****":
        values["webhook_secret"] = box.encrypt(secret)
    return values


async def create_hook(
    session: AsyncSession, box: SecretBox, actor: User, data: dict[str, Any]
) -> HookConfig:
    values = await _hook_values(session, box, data, None)
    values.setdefault("priority", 100)
    values.setdefault("enabled", True)
    values.setdefault("fail_closed", False)
    return await resources.create(session, actor, HookConfig(**values))


async def update_hook(
    session: AsyncSession, box: SecretBox, actor: User, hook: HookConfig, data: dict[str, Any]
) -> HookConfig:
    return await resources.update(
        session, actor, hook, await _hook_values(session, box, data, hook)
    )
