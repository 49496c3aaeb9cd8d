"""Plan: the listing against what the database remembers, in one merge.

Both sides are sorted by path (the listing in memory, the entries streamed from the
database in byte order), so classifying a million files is one pass with no query per
file: new, changed, unchanged, vanished; then the completion rule, the retry policy and
the skip memory decide which changed or new files are candidates for this run.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from streamweave.db.ids import new_id
from streamweave.harvest.rules import Completion
from streamweave.timestamps import microseconds
from streamweave.transfers.base import IndexEntry

WAITING = "waiting"
PENDING = "pending"
COMPLETED = "completed"
FAILED = "failed"
PERMANENTLY_FAILED = "permanently_failed"
SKIPPED = "skipped"


# A listed file: (path, size, mtime in microseconds), as the adapter indexed it.
Listed = IndexEntry


class Known(NamedTuple):
    """An entry as the plan reads it: a row of ``harvest_entries`` (see
    ``records.read_known``), for the files that are not plainly unchanged. Ids and
    ``retry_after`` come as the driver gives them: see ``as_uuid`` and ``of``."""

    id: Any
    path: str
    seen_size: int
    seen_mtime_us: int | None
    stable_since_us: int
    deleted: bool
    state: str
    attempts: int
    retry_after: datetime | None
    hooks_signature: str | None
    file_id: Any
    done_size: int | None
    done_mtime_us: int | None
    done_version: int
    done_path: str | None
    file_ark: str | None
    version_ark: str | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> Known:
        known = cls._make(row)
        if isinstance(known.retry_after, str):  # SQLite's text form, naive UTC
            retry_after = datetime.fromisoformat(known.retry_after).replace(tzinfo=UTC)
            known = known._replace(retry_after=retry_after)
        return known


# An entry at a glance, as ``records.read_known`` returns it (a tuple or a record):
# (path, seen size, seen mtime in µs, settled, deleted), where settled means harvested,
# with the size and mtime last seen, and not marked deleted. A listed file that matches
# a settled glance is unchanged: the common case of a re-harvest, decided from the
# glance alone; every other entry the plan reads whole (``Known``).
Glance = Sequence[Any]
_PATH, _SIZE, _MTIME, _SETTLED, _DELETED = 0, 1, 2, 3, 4
_LISTED_FORM = itemgetter(_PATH, _SIZE, _MTIME)  # a glance as the listing has it
_settled = itemgetter(_SETTLED)
_path_of = attrgetter("path")
# Whole entries of the paths asked for (``records.entry_reader``).
ReadEntries = Callable[[Sequence[str]], Awaitable[dict[str, Known]]]


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


def _all_unchanged(page: Sequence[Glance], listed: Sequence[Listed]) -> bool:
    """Whether a page of glances and the listing's stretch up to its last path are the
    same files, all settled and unchanged: most pages of a re-harvest, recognised with
    no Python step per file."""
    return (
        len(page) == len(listed)
        and all(map(_settled, page))
        and list(map(_LISTED_FORM, page)) == listed
    )


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
        known: AsyncIterable[Sequence[Glance]],
        read_entries: ReadEntries,
        size: int = 5000,
    ) -> AsyncIterator[Plan]:
        """Plans for consecutive stretches of about ``size`` paths. ``listing`` and the
        pages of ``known`` are both sorted by path; the caller may write each plan
        before asking for the next (``known`` must read by key, not hold a cursor)."""
        position = 0
        seen = 0
        end = len(listing)
        async for page in known:
            stop = bisect_right(listing, page[-1][_PATH], position, end, key=_path_of)
            if _all_unchanged(page, listing[position:stop]):
                self.plan.unchanged += len(page)
                position = stop
                seen += len(page)
                if seen >= size:
                    yield self._take()
                    seen = 0
                continue
            closer: list[tuple[Listed | None, str]] = []  # changed, or vanished
            for glance in page:
                path = glance[_PATH]
                while position < end and listing[position].path < path:
                    self._file(listing[position], None)
                    position += 1
                    seen += 1
                if position < end and listing[position].path == path:
                    listed = listing[position]
                    if (
                        glance[_SETTLED]
                        and listed.size == glance[_SIZE]
                        and (listed.mtime_us == glance[_MTIME])
                    ):
                        self.plan.unchanged += 1
                    else:
                        closer.append((listed, path))
                    position += 1
                elif not glance[_DELETED]:
                    closer.append((None, path))
                seen += 1
            if closer:
                await self._look_closer(closer, read_entries)
            if seen >= size:
                yield self._take()
                seen = 0
        for start in range(position, end, size):
            for listed in listing[start : start + size]:
                self._file(listed, None)
            yield self._take()
        yield self._take()

    async def _look_closer(
        self, closer: list[tuple[Listed | None, str]], read_entries: ReadEntries
    ) -> None:
        entries = await read_entries([path for _, path in closer])
        for listed, path in closer:
            known = entries.get(path)
            if known is None:  # removed since the glance: this run holds the lease, so never
                continue
            if listed is not None:
                self._file(listed, known)
            else:
                self.plan.vanished_entries.append(as_uuid(known.id))
                if known.file_id is not None:
                    self.plan.vanished_files.append(as_uuid(known.file_id))

    def _take(self) -> Plan:
        plan, self.plan = self.plan, Plan()
        return plan

    def _file(self, listed: Listed, known: Known | None) -> None:
        plan = self.plan
        if known is None:
            entry_id = new_id()
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
