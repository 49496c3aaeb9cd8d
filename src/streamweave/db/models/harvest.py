"""The harvest's own memory: what it saw of each source path, and who is harvesting.

A ``HarvestEntry`` exists for every path ever listed on an instrument, per storage
location it is harvested into. It holds the last observation (for quiet periods and
change detection), what was last harvested (the current version at the destination)
and what happens next (state, attempts, retry time, the rule that skipped it), so
every discovered file is in a visible state and a failed or changed file is taken up
again. File records are written only once a file's transfer is attempted.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from streamweave.db.base import Base, IdMixin, utcnow

# Byte order in PostgreSQL too: the plan merges the listing and the entries by path,
# and both sides must sort alike (SQLite compares TEXT bytewise already).
PATH = String(4000).with_variant(String(4000, collation="C"), "postgresql")


class HarvestEntry(IdMixin, Base):
    __tablename__ = "harvest_entries"
    __table_args__ = (
        UniqueConstraint("instrument_id", "storage_location_id", "source_path"),
        Index("ix_harvest_entries_state", "instrument_id", "storage_location_id", "state"),
        Index("ix_harvest_entries_done_key", "instrument_id", "storage_location_id", "done_key"),
    )

    instrument_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instruments.id"))
    storage_location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("storage_locations.id"), index=True
    )
    source_path: Mapped[str] = mapped_column(PATH)
    # The last observation, and since when the file has looked exactly like this.
    # Microseconds since the epoch, not timestamps: every run compares these for every
    # file, and parsing 100,000 timestamps back from SQLite costs more than the diff.
    seen_size: Mapped[int] = mapped_column(BigInteger)
    seen_mtime_us: Mapped[int | None] = mapped_column(BigInteger, default=None)
    stable_since_us: Mapped[int] = mapped_column(BigInteger)
    source_deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    # waiting | pending | completed | failed | permanently_failed | skipped
    state: Mapped[str] = mapped_column(String(24), default="waiting")
    attempts: Mapped[int] = mapped_column(default=0)
    retry_after: Mapped[datetime | None] = mapped_column(default=None)
    skip_rule: Mapped[str | None] = mapped_column(Text, default=None)
    hooks_signature: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Identifiers minted at discovery, published with the file record and its version.
    file_ark: Mapped[str | None] = mapped_column(String(200), default=None)
    version_ark: Mapped[str | None] = mapped_column(String(200), default=None)
    # What is at the destination now (its current version).
    file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("file_records.id", ondelete="CASCADE"), index=True, default=None
    )
    done_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    done_mtime_us: Mapped[int | None] = mapped_column(BigInteger, default=None)
    done_version: Mapped[int] = mapped_column(default=0)
    done_path: Mapped[str | None] = mapped_column(String(4000), default=None)
    # done_path as storage that folds names sees it (harvest/names.py): collisions on SMB.
    done_key: Mapped[str | None] = mapped_column(String(4000), default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HarvestLease(Base):
    """At most one harvest per instrument: the holder renews ``expires_at`` as it works,
    and a lease whose holder died (kill -9, lost machine) expires and is taken over."""

    __tablename__ = "harvest_leases"

    instrument_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(200))
    harvest_run_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
