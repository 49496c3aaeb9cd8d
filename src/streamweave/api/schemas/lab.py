from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from streamweave.api.schemas.common import InputModel, ORMModel

SourceType = Literal["cifs", "local", "sftp", "s3", "webdav"]
StorageType = Literal["posix", "nfs", "cifs", "s3", "sftp", "webdav"]
ChecksumAlgorithm = Literal["xxh3-128", "sha256", "md5"]
TransferAdapter = Literal["rclone", "native", "globus", "rsync"]
Trigger = Literal["pre_transfer", "post_transfer"]
# "python_script" is kept so that v0 clients get a clear refusal instead of a 422 on the enum.
Implementation = Literal["builtin", "python_script", "http_webhook", "plugin"]
NAME = Field(min_length=1, max_length=200)


class ServiceAccountCreate(InputModel):
    name: str = NAME
    domain: str | None = Field(default=None, max_length=200)
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class ServiceAccountUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=1, max_length=1000)


class ServiceAccountRead(ORMModel):
    id: uuid.UUID
    name: str
    domain: str | None
    username: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class CompletionNone(InputModel):
    mode: Literal["none"]


class CompletionQuietPeriod(InputModel):
    mode: Literal["quiet_period"]
    seconds: int = Field(ge=0, le=7 * 24 * 3600)


class CompletionMarker(InputModel):
    mode: Literal["marker"]
    marker: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\]+$")
    scope: Literal["directory"] = "directory"


CompletionRule = CompletionNone | CompletionQuietPeriod | CompletionMarker
DEFAULT_COMPLETION_RULE: dict[str, Any] = {"mode": "quiet_period", "seconds": 60}


class _InstrumentFields(InputModel):
    description: str | None = Field(default=None, max_length=5000)
    location: str | None = Field(default=None, max_length=500)
    pid: str | None = Field(default=None, max_length=500)
    cifs_host: str | None = Field(default=None, max_length=500)
    cifs_port: int | None = Field(default=None, ge=1, le=65535)
    cifs_share: str | None = Field(default=None, max_length=500)
    cifs_base_path: str | None = Field(default=None, max_length=2000)
    service_account_id: uuid.UUID | None = None
    transfer_adapter: TransferAdapter | None = None
    transfer_config: dict[str, Any] | None = None
    source_type: SourceType | None = None
    source_config: dict[str, Any] | None = None
    completion_rule: CompletionRule | None = Field(default=None, discriminator="mode")
    enabled: bool | None = None


class InstrumentCreate(_InstrumentFields):
    name: str = NAME


class InstrumentUpdate(_InstrumentFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class InstrumentPublicRead(ORMModel):
    """What a regular user granted the instrument sees: no connection details."""

    id: uuid.UUID
    name: str
    description: str | None
    location: str | None
    pid: str | None
    source_type: str
    enabled: bool
    last_harvested_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class InstrumentRead(InstrumentPublicRead):
    cifs_host: str | None
    cifs_port: int
    cifs_share: str | None
    cifs_base_path: str | None
    service_account_id: uuid.UUID | None
    transfer_adapter: str
    transfer_config: dict[str, Any] | None
    source_config: dict[str, Any]
    completion_rule: dict[str, Any]


class AccessGrantCreate(InputModel):
    grantee_type: Literal["user", "group", "project"]
    grantee_id: uuid.UUID


class AccessGrantRead(ORMModel):
    id: uuid.UUID
    grantee_type: str
    grantee_id: uuid.UUID
    created_at: datetime


class InstrumentAccessRead(AccessGrantRead):
    instrument_id: uuid.UUID


class StorageLocationCreate(InputModel):
    name: str = NAME
    type: StorageType
    connection_config: dict[str, Any] | None = None
    base_path: str = Field(default="", max_length=2000)
    checksum_algorithm: ChecksumAlgorithm = "xxh3-128"
    enabled: bool = True


class StorageLocationUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    type: StorageType | None = None
    connection_config: dict[str, Any] | None = None
    base_path: str | None = Field(default=None, max_length=2000)
    checksum_algorithm: ChecksumAlgorithm | None = None
    enabled: bool | None = None


class StorageLocationRead(ORMModel):
    id: uuid.UUID
    name: str
    type: str
    connection_config: dict[str, Any]
    base_path: str
    checksum_algorithm: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class StorageTestResult(BaseModel):
    ok: bool
    message: str


class ScheduleCreate(InputModel):
    instrument_id: uuid.UUID
    default_storage_location_id: uuid.UUID
    cron_expression: str = Field(min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64, description="default: the server's")
    enabled: bool = True


class ScheduleUpdate(InputModel):
    instrument_id: uuid.UUID | None = None
    default_storage_location_id: uuid.UUID | None = None
    cron_expression: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None


class ScheduleRead(ORMModel):
    id: uuid.UUID
    instrument_id: uuid.UUID
    default_storage_location_id: uuid.UUID
    cron_expression: str
    timezone: str
    enabled: bool
    prefect_deployment_id: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class BuiltinHookRead(BaseModel):
    name: str
    display_name: str
    description: str
    trigger: str
    config_schema: dict[str, Any]


class PluginHookRead(BaseModel):
    name: str
    trigger: str
    description: str
    config_schema: dict[str, Any] | None


class _HookFields(InputModel):
    description: str | None = Field(default=None, max_length=5000)
    builtin_name: str | None = Field(
        default=None,
        max_length=100,
        description=(
            "The built-in hook's name, or the plugin's name when implementation is 'plugin' "
            "(GET /api/hooks/plugins lists the installed ones)."
        ),
    )
    script_path: str | None = Field(default=None, max_length=2000)
    webhook_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=500)
    config: dict[str, Any] | None = None
    instrument_id: uuid.UUID | None = None
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    enabled: bool | None = None
    fail_closed: bool | None = Field(
        default=None,
        description=(
            "When the hook fails on a file: true blocks the file (not transferred, or "
            "flagged after transfer), false (default) lets it go on unchanged by this hook."
        ),
    )


class HookCreate(_HookFields):
    name: str = NAME
    trigger: Trigger
    implementation: Implementation

    @model_validator(mode="after")
    def _target(self) -> HookCreate:
        needed = {
            "builtin": "builtin_name",
            "http_webhook": "webhook_url",
            "python_script": "script_path",
            "plugin": "builtin_name",
        }
        field = needed[self.implementation]
        if not getattr(self, field):
            raise ValueError(f"implementation {self.implementation!r} requires {field}")
        return self


class HookUpdate(_HookFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: Trigger | None = None
    implementation: Implementation | None = None
    # "****" keeps the stored secret, as for every other secret.
    webhook_secret: str | None = Field(default=None, max_length=500)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_length(cls, value: str | None) -> str | None:
        if value is not None and value != "****" and len(value) < 16:
            raise ValueError("must have at least 16 characters (or be '****': keep the stored one)")
        return value


class HookRead(ORMModel):
    id: uuid.UUID
    name: str
    description: str | None
    trigger: str
    implementation: str
    builtin_name: str | None
    script_path: str | None
    webhook_url: str | None
    has_webhook_secret: bool = False
    config: dict[str, Any]
    instrument_id: uuid.UUID | None
    priority: int
    enabled: bool
    fail_closed: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @field_validator("config", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or {}


class HookDryRun(InputModel):
    instrument_id: uuid.UUID
    # As the harvest sees it: relative to the instrument root, '/'-separated.
    source_path: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00]+$")
    size_bytes: int = Field(default=0, ge=0, le=2**63 - 1)


class HookFailureRead(BaseModel):
    hook: str
    message: str
    blocking: bool


class HookDryRunResult(BaseModel):
    action: Literal["transfer", "skip", "blocked"]
    skip_rule: str | None
    destination_path: str
    metadata: dict[str, Any]
    failures: list[HookFailureRead]
    pre_signature: str
