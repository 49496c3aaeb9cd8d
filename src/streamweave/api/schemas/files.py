from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from streamweave.api.schemas.common import InputModel, ORMModel


class FileRead(ORMModel):
    id: uuid.UUID
    persistent_id: str
    persistent_id_type: str
    instrument_id: uuid.UUID
    source_path: str
    filename: str
    size_bytes: int
    source_mtime: datetime | None
    xxhash: str | None
    sha256: str | None
    md5: str | None
    first_discovered_at: datetime
    updated_at: datetime
    source_deleted_at: datetime | None
    current_version: int
    metadata_: dict[str, Any] = Field(default_factory=dict)
    owner_id: uuid.UUID | None


class FileAccessRead(ORMModel):
    id: uuid.UUID
    file_id: uuid.UUID
    grantee_type: str
    grantee_id: uuid.UUID
    created_at: datetime


class FileAccessCreate(InputModel):
    grantee_type: Literal["user", "group", "project"]
    grantee_id: uuid.UUID


class TransferRead(ORMModel):
    id: uuid.UUID
    file_id: uuid.UUID
    file_version_id: uuid.UUID | None
    storage_location_id: uuid.UUID
    harvest_run_id: uuid.UUID | None
    destination_path: str | None
    transfer_adapter: str
    status: str
    attempt: int
    bytes_transferred: int
    checksum_algorithm: str | None
    source_checksum: str | None
    dest_checksum: str | None
    checksum_verified: bool
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    prefect_flow_run_id: str | None
    created_at: datetime


class AuditLogRead(ORMModel):
    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID | None
    action: str
    actor_id: uuid.UUID | None
    actor_email: str | None
    changes: dict[str, Any] | None
    created_at: datetime


class NotificationRead(ORMModel):
    id: uuid.UUID
    type: str
    title: str
    message: str
    link: str | None
    read: bool
    dismissed: bool
    created_at: datetime


class UnreadCount(BaseModel):
    count: int


class InstrumentRequestCreate(InputModel):
    name: str = Field(min_length=1, max_length=200)
    location: str = Field(min_length=1, max_length=500)
    harvest_frequency: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    justification: str = Field(min_length=1, max_length=5000)


class InstrumentRequestReview(InputModel):
    status: Literal["pending", "approved", "rejected"]
    admin_notes: str | None = Field(default=None, max_length=5000)


class InstrumentRequestRead(ORMModel):
    id: uuid.UUID
    requester_id: uuid.UUID
    name: str
    location: str
    harvest_frequency: str
    description: str | None
    justification: str
    status: str
    admin_notes: str | None
    created_at: datetime
    updated_at: datetime


class HarvestRunRead(ORMModel):
    """One harvest of one instrument into one storage location, live while it runs."""

    id: uuid.UUID
    instrument_id: uuid.UUID
    storage_location_id: uuid.UUID
    schedule_id: uuid.UUID | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    files_discovered: int
    files_completed: int
    files_failed: int
    files_skipped: int
    files_waiting: int
    files_unchanged: int
    files_vanished: int
    files_permanently_failed: int
    bytes_transferred: int
    prefect_flow_run_id: str | None
    error_message: str | None
    duration_seconds: float
    files_per_second: float
    bytes_per_second: float
