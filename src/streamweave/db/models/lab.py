"""What a lab is made of: service accounts, instruments, storage, schedules, hooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from streamweave.db.base import (
    Base,
    GranteeMixin,
    IdMixin,
    SoftDeleteMixin,
    TimestampMixin,
    live_unique_name,
)


class ServiceAccount(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "service_accounts"
    __table_args__ = (live_unique_name("service_accounts"),)

    name: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(200), default=None)
    username: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[str] = mapped_column(Text)


class Instrument(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "instruments"
    __table_args__ = (live_unique_name("instruments"),)

    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    location: Mapped[str | None] = mapped_column(String(500), default=None)
    pid: Mapped[str | None] = mapped_column(String(500), default=None)
    source_type: Mapped[str] = mapped_column(String(16), default="cifs")
    cifs_host: Mapped[str | None] = mapped_column(String(500), default=None)
    cifs_port: Mapped[int] = mapped_column(default=445)
    cifs_share: Mapped[str | None] = mapped_column(String(500), default=None)
    cifs_base_path: Mapped[str | None] = mapped_column(String(2000), default=None)
    service_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_accounts.id"), index=True, default=None
    )
    # Non-secret connection fields; the secret ones live encrypted in source_secrets.
    source_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_secrets: Mapped[str | None] = mapped_column(Text, default=None)
    completion_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    transfer_adapter: Mapped[str] = mapped_column(String(32), default="rclone")
    transfer_config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    last_harvested_at: Mapped[datetime | None] = mapped_column(default=None)


class InstrumentAccess(IdMixin, GranteeMixin, Base):
    """Who may see an instrument (and its non-secret description): a user, group or project."""

    __tablename__ = "instrument_access"
    __table_args__ = (
        UniqueConstraint("instrument_id", "grantee_type", "grantee_id"),
        Index("ix_instrument_access_grantee", "grantee_type", "grantee_id"),
    )

    instrument_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE")
    )


class StorageLocation(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "storage_locations"
    __table_args__ = (live_unique_name("storage_locations"),)

    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(16))
    connection_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets: Mapped[str | None] = mapped_column(Text, default=None)
    base_path: Mapped[str] = mapped_column(String(2000), default="")
    checksum_algorithm: Mapped[str] = mapped_column(String(16), default="xxh3-128")
    enabled: Mapped[bool] = mapped_column(default=True)


class HarvestSchedule(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "harvest_schedules"

    instrument_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instruments.id"), index=True)
    default_storage_location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storage_locations.id"), index=True
    )
    cron_expression: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(default=True)
    prefect_deployment_id: Mapped[str | None] = mapped_column(String(64), default=None)


class HookConfig(IdMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "hook_configs"
    __table_args__ = (Index("ix_hook_configs_order", "priority", "created_at", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    trigger: Mapped[str] = mapped_column(String(32))
    implementation: Mapped[str] = mapped_column(String(32))
    # The built-in's name, or the plugin's name when implementation is "plugin" (v0's
    # column, kept so that v0 clients keep working).
    builtin_name: Mapped[str | None] = mapped_column(String(100), default=None)
    script_path: Mapped[str | None] = mapped_column(String(2000), default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(Text, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instrument_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("instruments.id"), index=True, default=None
    )
    priority: Mapped[int] = mapped_column(default=100)
    enabled: Mapped[bool] = mapped_column(default=True)
    # When the hook fails on a file: true blocks the file, false lets it go on unchanged.
    fail_closed: Mapped[bool] = mapped_column(default=False)
