"""What was harvested: files, their content versions, transfers, grants, runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from streamweave.db.base import Base, GranteeMixin, IdMixin, utcnow


class FileRecord(IdMixin, Base):
    """One per source path per instrument; points at its current content version."""

    __tablename__ = "file_records"
    __table_args__ = (
        UniqueConstraint("instrument_id", "source_path"),
        Index("ix_file_records_path", "source_path", "seq"),
        Index("ix_file_records_instrument_order", "instrument_id", "seq"),
        Index("ix_file_records_discovered", "first_discovered_at", "seq"),
        # Partial: most files may have no owner, and a full index on NULLs misleads planners.
        Index(
            "ix_file_records_owner",
            "owner_id",
            "seq",
            sqlite_where=text("owner_id IS NOT NULL"),
            postgresql_where=text("owner_id IS NOT NULL"),
        ),
    )

    # Dense list position (1, 2, 3...) in the order files are recorded: page k of the
    # full list is a seek, and the count is the counter's value. Never deleted.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    persistent_id: Mapped[str] = mapped_column(String(200), unique=True)
    persistent_id_type: Mapped[str] = mapped_column(String(16), default="ark")
    instrument_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instruments.id"))
    # Byte order in PostgreSQL too, so a prefix filter is an exact index range scan.
    source_path: Mapped[str] = mapped_column(
        String(4000).with_variant(String(4000, collation="C"), "postgresql")
    )
    filename: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    source_mtime: Mapped[datetime | None] = mapped_column(default=None)
    xxhash: Mapped[str | None] = mapped_column(String(64), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    md5: Mapped[str | None] = mapped_column(String(32), default=None)
    first_discovered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    source_deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    current_version: Mapped[int] = mapped_column(default=1)


class FileMetadataEntry(Base):
    """Flat (key, value) copy of each file's top-level metadata, so filters use an index."""

    __tablename__ = "file_metadata_entries"
    __table_args__ = (Index("ix_file_metadata_lookup", "key", "value", "file_id"),)

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("file_records.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))


class FileVersion(IdMixin, Base):
    __tablename__ = "file_versions"
    __table_args__ = (UniqueConstraint("file_id", "version"),)

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("file_records.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    persistent_id: Mapped[str] = mapped_column(String(200), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    source_mtime: Mapped[datetime | None] = mapped_column(default=None)
    xxhash: Mapped[str | None] = mapped_column(String(64), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    md5: Mapped[str | None] = mapped_column(String(32), default=None)
    discovered_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileTransfer(IdMixin, Base):
    """One per attempt to put one version of a file into one storage location."""

    __tablename__ = "file_transfers"
    __table_args__ = (
        Index("ix_file_transfers_order", "created_at", "id"),
        Index("ix_file_transfers_file", "file_id", "created_at"),
        # A run's transfers of one status, in list order. No index on the status alone:
        # SQLite, without statistics, would prefer it to the file's (migration 0003).
        Index("ix_file_transfers_run", "harvest_run_id", "status", "created_at", "id"),
    )

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("file_records.id", ondelete="CASCADE"))
    file_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("file_versions.id", ondelete="CASCADE"), index=True, default=None
    )
    storage_location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storage_locations.id"), index=True
    )
    harvest_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("harvest_runs.id"), default=None
    )
    destination_path: Mapped[str | None] = mapped_column(String(4000), default=None)
    transfer_adapter: Mapped[str] = mapped_column(String(32), default="rclone")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempt: Mapped[int] = mapped_column(default=1)
    bytes_transferred: Mapped[int] = mapped_column(BigInteger, default=0)
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16), default=None)
    source_checksum: Mapped[str | None] = mapped_column(String(128), default=None)
    dest_checksum: Mapped[str | None] = mapped_column(String(128), default=None)
    checksum_verified: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    prefect_flow_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FileAccessGrant(IdMixin, GranteeMixin, Base):
    __tablename__ = "file_access_grants"
    __table_args__ = (
        UniqueConstraint("file_id", "grantee_type", "grantee_id"),
        Index("ix_file_access_grants_position", "grantee_type", "grantee_id", "ordinal"),
        Index("ix_file_access_grants_file_seq", "grantee_type", "grantee_id", "file_seq"),
    )

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("file_records.id", ondelete="CASCADE"))
    # The file's seq, and this grant's dense position among its grantee's grants in file
    # order: each grantee's grants form a list that pages by seek (see services.catalog).
    file_seq: Mapped[int] = mapped_column(BigInteger)
    ordinal: Mapped[int] = mapped_column(BigInteger)


class Counter(Base):
    """Named counters, incremented in the transaction that consumes them (no gaps)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class HarvestRun(IdMixin, Base):
    __tablename__ = "harvest_runs"
    __table_args__ = (Index("ix_harvest_runs_order", "started_at", "id"),)

    instrument_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instruments.id"), index=True)
    storage_location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storage_locations.id"), index=True
    )
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("harvest_schedules.id"), index=True, default=None
    )
    status: Mapped[str] = mapped_column(String(32), default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    files_discovered: Mapped[int] = mapped_column(default=0)
    files_completed: Mapped[int] = mapped_column(default=0)
    files_failed: Mapped[int] = mapped_column(default=0)
    files_skipped: Mapped[int] = mapped_column(default=0)
    files_waiting: Mapped[int] = mapped_column(default=0)
    files_unchanged: Mapped[int] = mapped_column(default=0)
    files_vanished: Mapped[int] = mapped_column(default=0)
    files_permanently_failed: Mapped[int] = mapped_column(default=0)
    bytes_transferred: Mapped[int] = mapped_column(BigInteger, default=0)
    prefect_flow_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
