"""Plan: the listing against what the database remembers, in one merge.

Both sides are sorted by path (the listing in memory, the entries streamed from the
database in byte order), so classifying a million files is one pass with no query per
file: new, changed, unchanged, vanished; then the completion rule, the retry policy and
the skip memory decide which changed or new files are candidates for this run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from streamweave.harvest.rules import Completion
from streamweave.transfers.base import EPOCH, MICROSECOND, IndexEntry, microseconds

WAITING = "waiting"
PENDING = "pending"
COMPLETED = "completed"
FAILED = "failed"
PERMANENTLY_FAILED = "permanently_failed"
SKIPPED = "skipped"


def from_us(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + value * MICROSECOND


# A listed file: (path, size, mtime in microseconds), as the adapter indexed it.
Listed = IndexEntry


class Known(Protocol):
    """An entry as the plan reads it: a row of ``harvest_entries`` (see
    ``records.read_known``). Ids come as the driver gives them (``as_uuid``)."""

    @property
    def id(self) -> Any: ...
    @property
    def path(self) -> str: ...
    @property
    def seen_size(self) -> int: ...
    @property
    def seen_mtime_us(self) -> int | None: ...
    @property
    def stable_since_us(self) -> int: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def retry_after(self) -> datetime | None: ...
    @property
    def hooks_signature(self) -> str | None: ...
    @property
    def file_id(self) -> Any: ...
    @property
    def done_size(self) -> int | None: ...
    @property
    def done_mtime_us(self) -> int | None: ...
    @property
    def done_version(self) -> int: ...
    @property
    def done_path(self) -> str | None: ...
    @property
    def file_ark(self) -> str | None: ...
    @property
    def version_ark(self) -> str | None: ...

    def __getitem__(self, index: int) -> Any: ...


# Positions in a Known row (the column order of ``records.read_known``).
_SEEN_SIZE, _SEEN_MTIME, _DELETED, _STATE, _DONE_SIZE, _DONE_MTIME = 2, 3, 5, 6, 11, 12


def as_uuid(value: Any) -> uuid.UUID:
    """An id as read raw (SQLite: hex text): converted only for the rows that need it."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


@dataclass(slots=True)
class Candidate:
    """A file whose current content is to be harvested in this run."""

    entry_id: uuid.UUID
    path: str
    size: int
    mtime_us: int | None
    attempts: int
    file_id: uuid.UUID | None
    version: int
    previous_path: str | None
    file_ark: str | None
    version_ark: str | None
    is_marker: bool = False
    # No entry row yet: written with the outcome, in the batch's transaction.
    is_new: bool = False
    stable_since_us: int = 0
    destination: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    vanished_entries: list[uuid.UUID] = field(default_factory=list)
    vanished_files: list[uuid.UUID] = field(default_factory=list)
    new: int = 0
    unchanged: int = 0
    waiting: int = 0
    retry_later: int = 0
    permanently_failed: int = 0
    skipped: int = 0

    @property
    def has_writes(self) -> bool:
        return bool(self.inserts or self.updates or self.vanished_entries)


class Planner:
    def __init__(
        self,
        instrument_id: uuid.UUID,
        storage_id: uuid.UUID,
        completion: Completion,
        signature: str,
        now: datetime,
    ) -> None:
        self.instrument_id = instrument_id
        self.storage_id = storage_id
        self.completion = completion
        self.signature = signature
        self.now = now
        self.now_us = microseconds(now) or 0
        self.plan = Plan()

    async def pages(
        self,
        listing: Sequence[Listed],
        known: AsyncIterator[Sequence[Known]],
        size: int = 5000,
    ) -> AsyncIterator[Plan]:
        """Plans for consecutive stretches of about ``size`` paths. ``listing`` and the
        pages of ``known`` are both sorted by path; the caller may write each plan
        before asking for the next (``known`` must read by key, not hold a cursor)."""
        position = 0
        seen = 0
        end = len(listing)
        async for page in known:
            for entry in page:
                path = entry.path
                while position < end and listing[position].path < path:
                    self._file(listing[position], None)
                    position += 1
                    seen += 1
                if position < end and listing[position].path == path:
                    self._file(listing[position], entry)
                    position += 1
                elif not entry.deleted:
                    self.plan.vanished_entries.append(as_uuid(entry.id))
                    if entry.file_id is not None:
                        self.plan.vanished_files.append(as_uuid(entry.file_id))
                seen += 1
            if seen >= size:
                yield self._take()
                seen = 0
        for start in range(position, end, size):
            for listed in listing[start : start + size]:
                self._file(listed, None)
            yield self._take()
        yield self._take()

    def _take(self) -> Plan:
        plan, self.plan = self.plan, Plan()
        return plan

    def _file(self, listed: Listed, known: Known | None) -> None:
        plan = self.plan
        if known is None:
            entry_id = uuid.uuid4()
            plan.new += 1
            if self.completion.complete(listed.path, self.now_us, first_seen_now=True):
                candidate = self._candidate(listed, entry_id, None)
                candidate.is_new, candidate.stable_since_us = True, self.now_us
                plan.candidates.append(candidate)
                return
            plan.waiting += 1
            plan.inserts.append(
                {
                    "id": entry_id,
                    "instrument_id": self.instrument_id,
                    "storage_location_id": self.storage_id,
                    "source_path": listed.path,
                    "seen_size": listed.size,
                    "seen_mtime_us": listed.mtime_us,
                    "stable_since_us": self.now_us,
                    "state": WAITING,
                }
            )
            return
        seen = (listed.size, listed.mtime_us)
        # The common case of a re-harvest, decided first and by position: attribute
        # access on a row costs more than the rest of the comparison.
        if (
            known[_STATE] == COMPLETED
            and seen == (known[_DONE_SIZE], known[_DONE_MTIME])
            and seen == (known[_SEEN_SIZE], known[_SEEN_MTIME])
            and not known[_DELETED]
        ):
            plan.unchanged += 1
            return
        changes: dict[str, Any] = {}
        moved = seen != (known.seen_size, known.seen_mtime_us)
        stable_since_us, attempts = known.stable_since_us, known.attempts
        if moved:
            stable_since_us, attempts = self.now_us, 0  # new content: fresh attempts
            changes.update(
                seen_size=listed.size,
                seen_mtime_us=listed.mtime_us,
                stable_since_us=stable_since_us,
                attempts=0,
            )
        if known.deleted:
            changes["source_deleted_at"] = None
        next_state = self._decide(listed, known, moved, stable_since_us, attempts)
        if next_state is not None and next_state != known.state:
            changes["state"] = next_state
        if changes:
            changes["id"] = as_uuid(known.id)
            plan.updates.append(changes)

    def _decide(
        self, listed: Listed, known: Known, moved: bool, stable_since_us: int, attempts: int
    ) -> str | None:
        """The entry's state after this observation; candidates are queued here."""
        plan = self.plan
        if known.done_version and (known.done_size, known.done_mtime_us) == (
            listed.size,
            listed.mtime_us,
        ):
            plan.unchanged += 1
            return COMPLETED
        if not moved:
            if known.state == SKIPPED and known.hooks_signature == self.signature:
                plan.skipped += 1
                return None
            if known.state == PERMANENTLY_FAILED:
                plan.permanently_failed += 1
                return None
            if known.state == FAILED and known.retry_after and known.retry_after > self.now:
                plan.retry_later += 1
                return None
        if not self.completion.complete(listed.path, stable_since_us, moved):
            plan.waiting += 1
            return WAITING
        plan.candidates.append(self._candidate(listed, as_uuid(known.id), known, attempts))
        return None

    def _candidate(
        self, listed: Listed, entry_id: uuid.UUID, known: Known | None, attempts: int = 0
    ) -> Candidate:
        done = known.done_version if known else 0
        return Candidate(
            entry_id=entry_id,
            path=listed.path,
            size=listed.size,
            mtime_us=listed.mtime_us,
            attempts=attempts,
            file_id=as_uuid(known.file_id) if known and known.file_id else None,
            version=done + 1,
            previous_path=known.done_path if known and done else None,
            file_ark=known.file_ark if known else None,
            version_ark=known.version_ark if known else None,
            is_marker=self.completion.is_marker(listed.path),
        )
