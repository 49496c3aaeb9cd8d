"""One harvest: an instrument's files into one storage location, verified and recorded.

discover (one recursive listing) -> plan (one merge with the database) -> pre-transfer
hooks -> identifiers -> transfer in batches (verified copies) -> post-transfer hooks ->
record (one transaction per batch) -> summary.

Crash safety comes from the order of things: a copy reaches its final name only once
verified (the adapters), and the database learns of it in the batch's transaction
afterwards. A run killed between the two leaves a verified file that the next run
copies again onto itself and records, so there are neither losses nor duplicates. The
lease keeps two harvests of one instrument from overlapping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import posixpath
import shutil
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.crypto import SecretBox
from streamweave.db.bulk import Insert, insert_many, prepare_many, prepare_rows, run_inserts
from streamweave.db.ids import new_id, new_ids
from streamweave.db.models import (
    AuditLog,
    FileTransfer,
    FileVersion,
    HarvestEntry,
    HarvestRun,
    Instrument,
    StorageLocation,
)
from streamweave.errors import ConfigurationError, InvalidInput
from streamweave.harvest import cleanup, lease, records
from streamweave.harvest.ahead import Ahead
from streamweave.harvest.layout import destination_folder, versioned_name
from streamweave.harvest.names import FOLDING_KINDS, folded
from streamweave.harvest.plan import (
    COMPLETED,
    FAILED,
    PENDING,
    PERMANENTLY_FAILED,
    SKIPPED,
    Candidate,
    Listed,
    Plan,
    Planner,
)
from streamweave.harvest.progress import HarvestSummary, Reporter, SilentReporter
from streamweave.harvest.rules import Completion, CompletionRule, waits_for_others
from streamweave.hooks import FileFacts, HookChain, PostOutcome
from streamweave.identifiers.service import mint_unique
from streamweave.services.catalog import NewFiles, prepare_files
from streamweave.services.hook_specs import hook_specs_for
from streamweave.services.locations import source_location, storage_location
from streamweave.timestamps import from_microseconds, microseconds
from streamweave.transfers import local, tree
from streamweave.transfers.base import (
    LOCAL_KINDS,
    Adapter,
    CopyItem,
    CopyResult,
    Location,
    Progress,
)
from streamweave.transfers.errors import (
    DestinationExists,
    LocationNotFound,
    PathNotFound,
    TransferError,
)
from streamweave.transfers.registry import adapter_for

CHECKSUM_COLUMNS = {"xxh3-128": "xxhash", "sha256": "sha256", "md5": "md5"}
# The columns of a version row and of a transfer row that differ from file to file (a
# version's checksum column follows, named by the algorithm).
VERSION_COLUMNS = ("id", "file_id", "version", "persistent_id", "size_bytes", "source_mtime")
TRANSFER_COLUMNS = (
    "id",
    "file_id",
    "file_version_id",
    "destination_path",
    "status",
    "attempt",
    "bytes_transferred",
    "source_checksum",
    "dest_checksum",
    "checksum_verified",
    "started_at",
    "completed_at",
    "error_message",
)
# The metadata of every new file record without any: never changed, and one object, so
# that a batch binds it once.
NO_METADATA: dict[str, Any] = {}


@dataclass(frozen=True)
class HarvestOptions:
    batch_files: int = 2000
    batch_bytes: int = 4 << 30
    retry_limit: int = 5
    retry_base_seconds: int = 60
    retry_max_seconds: int = 6 * 3600
    lease_seconds: int = 600
    concurrency: int = 8
    dry_run: bool = False
    flow_run_id: str | None = None
    schedule_id: uuid.UUID | None = None
    # Called before each batch is copied; raising stops the run there (a worker shutting
    # down): the batches before it are recorded, the next run carries on.
    before_batch: Callable[[], None] | None = None
    ark_naan: str = "99999"
    ark_shoulder: str = "fk4"


# New entries after which PostgreSQL's planner statistics are refreshed at once rather
# than when autovacuum gets to it: with stale ones, the next run's key-paged read of
# the entries sorts the whole table for every page.
ANALYZE_AFTER_NEW = 5000


def sweep_temporaries(folder: Path) -> int:
    """Remove StreamWeave's temporary copies below ``folder``; how many went."""
    removed = 0
    for directory, dirs, files in os.walk(folder):
        for name in [*files, *dirs]:
            if tree.is_temp_name(name):
                path = Path(directory, name)
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                    dirs.remove(name)
                else:
                    path.unlink(missing_ok=True)
                removed += 1
    return removed


async def sweep_remote_temporaries(adapter: Adapter, destination: Location, folder: str) -> int:
    """The same on storage reached through an adapter (S3, SMB, WebDAV, SFTP): one
    listing of ``folder``, one batch delete; how many went."""
    below = dataclasses.replace(destination, root=posixpath.join(destination.root, folder))
    try:
        found = [
            posixpath.join(folder, entry.path)
            async for entry in adapter.listing(below)
            if not entry.is_dir and tree.is_temp_name(posixpath.basename(entry.path))
        ]
    except (PathNotFound, LocationNotFound):  # nothing harvested there yet
        return 0
    # One that cannot be deleted now is left to the next sweep: it never has a final name.
    return sum(error is None for error in await adapter.delete(destination, found))


class _Pipelined:
    """Batches recorded in the background while the next ones are copied, up to two at
    once: one prepares its rows (Python, one core) while the one before it writes them
    (the database: SQLite's thread without the GIL, or PostgreSQL's server). Writes take
    ``writing``, one batch's transaction at a time."""

    def __init__(self, depth: int = 2) -> None:
        self._depth = depth
        self._tasks: deque[asyncio.Future[None]] = deque()
        self.writing = asyncio.Lock()

    async def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Record a batch; wait for the oldest one while more than ``depth`` are."""
        self._tasks.append(asyncio.ensure_future(work))
        while len(self._tasks) > self._depth:
            await self._tasks.popleft()

    async def drain(self) -> None:
        """Wait for every batch, all of them even when one fails; raise the first error."""
        tasks, self._tasks = list(self._tasks), deque()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome


@dataclass
class _Context:
    instrument: Instrument
    storage: StorageLocation
    source: Location
    destination: Location
    adapter: Adapter
    algorithm: str
    chain: HookChain
    run_id: uuid.UUID
    holder: str
    summary: HarvestSummary
    progress: Progress = field(default_factory=Progress)
    # Folded destination -> source path, for storage that folds names.
    folded: dict[str, str] = field(default_factory=dict)


class Harvest:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        options: HarvestOptions | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.sessions = sessions
        self.box = box
        self.options = options or HarvestOptions()
        self.reporter = reporter or SilentReporter()
        # The last run's summary, kept for callers whose run raised (notices, flows).
        self.summary: HarvestSummary | None = None

    async def run(self, instrument_id: uuid.UUID, storage_id: uuid.UUID) -> HarvestSummary:
        started = time.monotonic()
        async with self.sessions() as session:
            instrument, storage = await _load(session, instrument_id, storage_id)
            summary = HarvestSummary(None, instrument.name, storage.name)
            self.summary = summary
            if self.options.dry_run:
                return await self._dry_run(session, instrument, storage, summary)
            context = await self._start(session, instrument, storage, summary)
        try:
            await self._harvest(context)
            summary.status = "completed" if not summary.failed else "completed_with_errors"
        except BaseException as exc:
            summary.status = "failed"
            summary.errors.append(_message(exc))
            raise
        finally:
            summary.seconds = time.monotonic() - started
            await context.chain.aclose()
            async with self.sessions() as session:
                await self._finish(session, context)
        return summary

    async def _start(
        self,
        session: AsyncSession,
        instrument: Instrument,
        storage: StorageLocation,
        summary: HarvestSummary,
    ) -> _Context:
        cleanup.cleanup_after(instrument.transfer_config)  # a bad setting stops here
        source = await _source(session, instrument, self.box)
        destination = storage_location(storage, self.box)
        adapter = adapter_for(source, destination, _preferred(instrument))
        chain = HookChain(await hook_specs_for(session, instrument.id, self.box))
        run_id = new_id()
        holder = lease.holder_name()
        interrupted = await lease.acquire(
            session, instrument.id, holder, self.options.lease_seconds, run_id
        )
        if interrupted is not None:
            await self._after_interruption(session, interrupted, instrument, destination, adapter)
        session.add(
            HarvestRun(
                id=run_id,
                instrument_id=instrument.id,
                storage_location_id=storage.id,
                schedule_id=self.options.schedule_id,
                status="running",
                prefect_flow_run_id=self.options.flow_run_id,
            )
        )
        await session.commit()
        summary.run_id = run_id
        return _Context(
            instrument,
            storage,
            source,
            destination,
            adapter,
            storage.checksum_algorithm,
            chain,
            run_id,
            holder,
            summary,
        )

    async def _after_interruption(
        self,
        session: AsyncSession,
        run_id: uuid.UUID,
        instrument: Instrument,
        destination: Location,
        adapter: Adapter,
    ) -> None:
        """The run that held the lease stopped without finishing: say so on it, and
        remove the temporary copies it left in this instrument's folder."""
        run = await session.get(HarvestRun, run_id)
        if run is not None and run.status == "running":
            run.status = "failed"
            run.finished_at = datetime.now(UTC)
            run.error_message = "interrupted: the harvest stopped before it finished"
        folder = destination_folder(instrument.name, instrument.id)
        if destination.kind in LOCAL_KINDS:
            await asyncio.to_thread(sweep_temporaries, local.resolve(destination, folder))
        else:
            await sweep_remote_temporaries(adapter, destination, folder)

    async def _harvest(self, context: _Context) -> None:
        await self._plan_and_copy(context)
        await self._clean_source(context)

    async def _plans(
        self,
        instrument: Instrument,
        storage: StorageLocation,
        chain: HookChain,
        adapter: Adapter,
        source: Location,
        summary: HarvestSummary,
    ) -> AsyncGenerator[tuple[Plan, datetime], None]:
        """The plan, page by page, each with the moment the listing was taken."""
        self.reporter.stage("listing")
        # Entries are read from now on, while the source is listed: 32 pages (160,000
        # entries, ~30 MB) arrive while 100,000 local files are listed; with fewer, the
        # merge would wait for the rest after the listing.
        known = Ahead(records.read_known(self.sessions, instrument.id, storage.id), depth=32)
        try:
            listing = await _list(adapter, source)
            summary.listed = len(listing)
            self.reporter.stage("planning")
            now = datetime.now(UTC)
            planner = self._planner(instrument, storage, chain, listing, now)
            read_entries = records.entry_reader(self.sessions, instrument.id, storage.id)
            async for plan in planner.pages(listing, known, read_entries):
                yield plan, now
        finally:
            await known.aclose()

    async def _settled(
        self, context: _Context, writing: asyncio.Lock
    ) -> AsyncGenerator[list[Candidate], None]:
        """The plan's pages settled (``_settle``): what each leaves to copy."""
        plans = self._plans(
            context.instrument,
            context.storage,
            context.chain,
            context.adapter,
            context.source,
            context.summary,
        )
        async with aclosing(plans):
            async for plan, now in plans:
                yield await self._settle(context, plan, now, writing)

    async def _plan_and_copy(self, context: _Context) -> None:
        waiting: list[Candidate] = []
        markers: list[Candidate] = []
        recorder = _Pipelined()
        prepared = False
        # The next page is settled (hooks, ARKs, its entries written) while this one's
        # batches are copied: the copies do not wait for it.
        pages = Ahead(self._settled(context, recorder.writing), depth=1)
        try:
            async for candidates in pages:
                if candidates and not prepared:
                    # Worker start-up overlaps the rest of the planning; a run with
                    # nothing to copy never pays for it.
                    await context.adapter.prepare()
                    prepared = True
                    self.reporter.stage("transferring")
                self.reporter.planned(len(candidates), sum(c.size for c in candidates))
                waiting += [c for c in candidates if not c.is_marker]
                markers += [c for c in candidates if c.is_marker]
                while batch := self._next_batch(waiting, final=False):
                    await self._transfer(context, batch, recorder)
            while batch := self._next_batch(waiting, final=True):
                await self._transfer(context, batch, recorder)
            await recorder.drain()
            if markers:
                ready = await self._ready_markers(context, markers)
                await self._transfer(context, ready, recorder)
        finally:
            await pages.aclose()
            # Verified copies already made are recorded even when the run stops early.
            await recorder.drain()

    async def _clean_source(self, context: _Context) -> None:
        """Remove harvested files from the instrument, when it is configured to."""
        age = cleanup.cleanup_after(context.instrument.transfer_config)
        if age is None:
            return
        self.reporter.stage("cleaning the instrument")
        async with self.sessions() as session:
            removals = await cleanup.due(
                session, context.instrument.id, context.storage.id, age, datetime.now(UTC)
            )
            context.summary.cleaned = await cleanup.remove(
                session,
                context.adapter,
                context.source,
                removals,
                context.run_id,
                context.summary.errors,
            )
            await session.commit()

    def _planner(
        self,
        instrument: Instrument,
        storage: StorageLocation,
        chain: HookChain,
        listing: list[Listed],
        now: datetime,
    ) -> Planner:
        rule = CompletionRule.from_config(instrument.completion_rule)
        completion = Completion(rule, (f.path for f in listing), microseconds(now) or 0)
        return Planner(instrument.id, storage.id, completion, chain.pre_signature, now)

    async def _settle(
        self, context: _Context, plan: Plan, now: datetime, writing: asyncio.Lock
    ) -> list[Candidate]:
        """Write one page of the plan with the pre-transfer hooks' verdicts on its
        candidates, and mint their identifiers: what is left is ready to copy. Its
        entries are not those of the batches being recorded meanwhile; the writes take
        turns with theirs."""
        _count(context.summary, plan)
        kept, writes = await self._pre_hooks(context, plan.candidates)
        await self._mint(kept)
        if plan.has_writes or writes.inserts or writes.updates:
            async with writing, self.sessions() as session:
                await records.apply_plan(session, plan, now)
                await writes.flush(session)
                await lease.renew(
                    session, context.instrument.id, context.holder, self.options.lease_seconds
                )
                await session.commit()
        return kept

    def _next_batch(self, waiting: list[Candidate], *, final: bool) -> list[Candidate]:
        """Take a batch off ``waiting`` once it is full (or whatever is left, at the end)."""
        size = 0
        for index, candidate in enumerate(waiting):
            size += candidate.size
            if index + 1 >= self.options.batch_files or size >= self.options.batch_bytes:
                batch = waiting[: index + 1]
                del waiting[: index + 1]
                return batch
        if final and waiting:
            batch = waiting[:]
            waiting.clear()
            return batch
        return []

    async def _pre_hooks(
        self, context: _Context, candidates: list[Candidate]
    ) -> tuple[list[Candidate], EntryWrites]:
        """Skips (the rule named, remembered with the hooks' signature), redirects, and
        blocking failures; returns what is to be copied and the entry rows to write."""
        _default_destinations(context.instrument, candidates)
        writes = EntryWrites(context)
        if context.chain.has_pre:
            kept = await self._pre_verdicts(context, candidates, writes)
        else:  # most instruments: no facts to build, every file kept as it is
            kept = candidates
        if context.destination.kind in FOLDING_KINDS:
            kept = await self._without_collisions(context, kept, writes)
        return kept, writes

    async def _pre_verdicts(
        self, context: _Context, candidates: list[Candidate], writes: EntryWrites
    ) -> list[Candidate]:
        outcomes = await context.chain.run_pre(
            [_pre_facts(context.instrument, c) for c in candidates]
        )
        kept: list[Candidate] = []
        for candidate, outcome in zip(candidates, outcomes, strict=True):
            if outcome.blocked:
                reason = "; ".join(f"{f.hook}: {f.message}" for f in outcome.failures)
                writes.add(
                    candidate,
                    self._failure(context, candidate, f"a pre-transfer hook failed: {reason}"),
                )
            elif outcome.skip_rule is not None:
                writes.add(
                    candidate,
                    {
                        "state": SKIPPED,
                        "skip_rule": outcome.skip_rule,
                        "hooks_signature": context.chain.pre_signature,
                    },
                )
                context.summary.skipped += 1
            else:
                candidate.destination = outcome.destination_path
                candidate.metadata = dict(outcome.metadata)
                kept.append(candidate)
        return kept

    async def _without_collisions(
        self, context: _Context, candidates: list[Candidate], writes: EntryWrites
    ) -> list[Candidate]:
        """On storage that folds names (SMB: case-insensitive), two source files whose
        destinations differ only in case or Unicode form would become one file, the
        second copy replacing the first. The second one fails instead, with the reason."""
        keys = {folded(c.destination) for c in candidates}
        async with self.sessions() as session:
            taken = await records.destinations_folding_to(
                session, context.instrument.id, context.storage.id, keys
            )
        kept = []
        for candidate in candidates:
            key = folded(candidate.destination)
            owner = context.folded.get(key) or taken.get(key)
            if owner is not None and owner != candidate.path:
                message = (
                    f"DestinationCollision: on {context.storage.name} {candidate.destination!r} "
                    f"would be the same file as the copy of {owner!r} (the names differ only "
                    "in case or Unicode form); rename one at the source or redirect it with "
                    "a file filter hook"
                )
                writes.add(candidate, self._failure(context, candidate, message))
                continue
            context.folded[key] = candidate.path
            kept.append(candidate)
        return kept

    async def _mint(self, candidates: list[Candidate]) -> None:
        """ARKs for new files and new versions, minted in bulk at discovery; they are
        stored with the file's record in the batch's transaction."""
        need_file = [c for c in candidates if c.file_ark is None]
        need_version = [c for c in candidates if c.version_ark is None]
        if not need_file and not need_version:
            return
        async with self.sessions() as session:
            arks = await mint_unique(session, len(need_file) + len(need_version), self.options)
        for candidate, ark in zip(need_file, arks, strict=False):
            candidate.file_ark = ark
        for candidate, ark in zip(need_version, arks[len(need_file) :], strict=True):
            candidate.version_ark = ark

    async def _ready_markers(self, context: _Context, markers: list[Candidate]) -> list[Candidate]:
        """Markers whose run directory is otherwise complete; the others wait."""
        async with self.sessions() as session:
            unfinished = await records.unfinished_paths(
                session, context.instrument.id, context.storage.id
            )
        ready = [m for m in markers if not waits_for_others(m.path, unfinished)]
        context.summary.waiting += len(markers) - len(ready)
        return ready

    async def _transfer(
        self, context: _Context, batch: list[Candidate], recorder: _Pipelined
    ) -> None:
        """Copy a batch; its records are written while the next batch is copied."""
        if not batch:
            return
        if self.options.before_batch is not None:
            self.options.before_batch()
        moved = await self._keep_previous_versions(context, batch)
        items = [
            CopyItem(c.path, c.destination, c.size, from_microseconds(c.mtime_us)) for c in batch
        ]
        before = Progress(
            files_done=context.progress.files_done,
            files_failed=context.progress.files_failed,
            bytes_done=context.progress.bytes_done,
        )

        def progress(state: Progress) -> None:
            self.reporter.progress(
                before.files_done + state.files_done,
                before.files_failed + state.files_failed,
                before.bytes_done + state.bytes_done,
            )

        results = await context.adapter.copy_batch(
            context.source,
            context.destination,
            items,
            algorithm=context.algorithm,
            concurrency=self.options.concurrency,
            progress=progress,
        )
        context.progress.files_done += sum(1 for r in results if r.verified)
        context.progress.files_failed += sum(1 for r in results if not r.verified)
        context.progress.bytes_done += sum(r.bytes for r in results)
        self.reporter.progress(
            context.progress.files_done, context.progress.files_failed, context.progress.bytes_done
        )
        await recorder.start(self._record(context, batch, results, moved, recorder.writing))

    async def _record(
        self,
        context: _Context,
        batch: list[Candidate],
        results: list[CopyResult],
        moved: list[tuple[Candidate, str]],
        writing: asyncio.Lock,
    ) -> None:
        """Post-transfer hooks, then the batch's records in one transaction."""
        verified = [(c, r) for c, r in zip(batch, results, strict=True) if r.verified]
        if context.chain.has_post:
            outcomes = await context.chain.run_post(
                [self._post_facts(context, c, r) for c, r in verified]
            )
        else:  # most instruments: the metadata is what the pre hooks left
            outcomes = [PostOutcome(c.metadata, [], []) for c, _ in verified]
        async with self.sessions() as session:  # reads only, before waiting to write
            rows = await Recorder(self, context).prepare(
                session, batch, results, verified, outcomes, moved
            )
        async with writing, self.sessions() as session:
            await rows.write(session)
            await records.update_run(session, context.run_id, context.summary)
            await lease.renew(
                session, context.instrument.id, context.holder, self.options.lease_seconds
            )
            await session.commit()

    async def _keep_previous_versions(
        self, context: _Context, batch: list[Candidate]
    ) -> list[tuple[Candidate, str]]:
        """Move each superseded version aside under its versioned name, before the new one
        takes its place: the batch's moves in one call (one connection to the storage).
        A move already done by an interrupted run is not an error."""
        moved = [
            (candidate, versioned_name(candidate.destination, candidate.version - 1))
            for candidate in batch
            if candidate.version >= 2 and candidate.previous_path == candidate.destination
        ]
        if not moved:  # most batches: the adapter's call would still wait for a thread
            return []
        outcomes = await context.adapter.rename(
            context.destination, [(c.destination, target) for c, target in moved]
        )
        for error in outcomes:
            # Already moved by an interrupted run: the versioned name keeps what it holds.
            if error is not None and not isinstance(error, PathNotFound | DestinationExists):
                raise error
        return moved

    def _post_facts(self, context: _Context, candidate: Candidate, result: CopyResult) -> FileFacts:
        local_copy = None
        if context.destination.kind in LOCAL_KINDS:
            root = posixpath.normpath(context.destination.root)
            local_copy = posixpath.join(root, candidate.destination)
        return FileFacts(
            source_path=candidate.path,
            size=result.bytes,
            mtime=from_microseconds(candidate.mtime_us),
            destination_path=candidate.destination,
            metadata=dict(candidate.metadata),
            instrument_id=str(context.instrument.id),
            instrument_name=context.instrument.name,
            persistent_id=candidate.file_ark,
            checksum=result.source_checksum,
            checksum_algorithm=context.algorithm,
            local_copy=local_copy,
        )

    def _failure(self, context: _Context, candidate: Candidate, message: str) -> dict[str, Any]:
        """The entry's state after a failed attempt: retried later with backoff, or
        flagged once it has failed ``retry_limit`` times in a row."""
        attempts = candidate.attempts + 1
        final = attempts >= self.options.retry_limit
        delay = min(
            self.options.retry_base_seconds * 2 ** (attempts - 1), self.options.retry_max_seconds
        )
        context.summary.failed += 1
        context.summary.permanently_failed += final
        if len(context.summary.errors) < 20:
            context.summary.errors.append(f"{candidate.path}: {message}")
        return {
            "state": PERMANENTLY_FAILED if final else FAILED,
            "attempts": attempts,
            "retry_after": None if final else datetime.now(UTC) + timedelta(seconds=delay),
            "last_error": message[:4000],
        }

    async def _finish(self, session: AsyncSession, context: _Context) -> None:
        summary = context.summary
        await records.update_run(session, context.run_id, summary)
        run = await session.get(HarvestRun, context.run_id)
        if run is not None:
            run.status = summary.status
            run.finished_at = datetime.now(UTC)
            run.error_message = "\n".join(summary.errors)[:8000] or None
        instrument = await session.get(Instrument, context.instrument.id)
        if instrument is not None and summary.status != "failed":
            instrument.last_harvested_at = datetime.now(UTC)
        await records.audit(
            session,
            [
                {
                    "id": new_id(),
                    "entity_type": "harvest_run",
                    "entity_id": context.run_id,
                    "action": "harvest",
                    "changes": {
                        "instrument": summary.instrument,
                        "storage": summary.storage,
                        "status": summary.status,
                        "completed": summary.completed,
                        "failed": summary.failed,
                        "bytes": summary.bytes,
                    },
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        await session.commit()
        await lease.release(session, context.instrument.id, context.holder)
        if summary.new >= max(ANALYZE_AFTER_NEW, summary.listed // 10):
            await records.refresh_statistics(session)

    async def _dry_run(
        self,
        session: AsyncSession,
        instrument: Instrument,
        storage: StorageLocation,
        summary: HarvestSummary,
    ) -> HarvestSummary:
        """What a harvest would do now, changing nothing (no lease, no rows, no copies)."""
        source = await _source(session, instrument, self.box)
        destination = storage_location(storage, self.box)
        adapter = adapter_for(source, destination, _preferred(instrument))
        chain = HookChain(await hook_specs_for(session, instrument.id, self.box))
        try:
            plans = self._plans(instrument, storage, chain, adapter, source, summary)
            async with aclosing(plans):
                async for plan, _ in plans:
                    _count(summary, plan)
                    _default_destinations(instrument, plan.candidates)
                    outcomes = await chain.run_pre(
                        [_pre_facts(instrument, c) for c in plan.candidates]
                    )
                    for candidate, outcome in zip(plan.candidates, outcomes, strict=True):
                        if outcome.skip_rule is not None:
                            summary.skipped += 1
                        elif not outcome.blocked:
                            summary.completed += 1  # would be copied
                            summary.bytes += candidate.size
            summary.status = "dry_run"
        finally:
            await chain.aclose()
        return summary


class EntryWrites:
    """Harvest entry rows to write: inserted for files seen for the first time (their
    row is written with their first outcome), updated for the others."""

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def add(self, candidate: Candidate, changes: dict[str, Any]) -> None:
        if not candidate.is_new:
            self.updates.append({"id": candidate.entry_id, **changes})
            return
        self.inserts.append(
            {
                "id": candidate.entry_id,
                "instrument_id": self.context.instrument.id,
                "storage_location_id": self.context.storage.id,
                "source_path": candidate.path,
                "seen_size": candidate.size,
                "seen_mtime_us": candidate.mtime_us,
                "stable_since_us": candidate.stable_since_us,
                "state": PENDING,
                "file_ark": candidate.file_ark,
                "version_ark": candidate.version_ark,
                **changes,
            }
        )
        candidate.is_new = False

    async def flush(self, session: AsyncSession) -> None:
        await insert_many(session, HarvestEntry, self.inserts)
        await records.update_entries(session, self.updates)
        self.inserts, self.updates = [], []


@dataclass
class BatchRows:
    """One batch's records, ready to write: what ``Recorder.prepare`` decided."""

    summary: HarvestSummary
    new_files: NewFiles
    file_updates: list[dict[str, Any]]
    # Files already on record whose flat metadata copy is replaced.
    metadata: dict[uuid.UUID, dict[str, Any]]
    # (file id, old destination path, new destination path) of superseded versions.
    moves: list[tuple[uuid.UUID, str, str]]
    grants: dict[tuple[str, uuid.UUID], list[uuid.UUID]]
    entry_updates: list[dict[str, Any]]
    # Versions, transfers, new entries and the audit entry, encoded in advance.
    inserts: list[Insert]
    completed: int
    bytes: int

    async def write(self, session: AsyncSession) -> None:
        """Statements only, in the caller's transaction: nothing is read, decided or
        encoded here, so the next batch prepares while this one writes."""
        first = await self.new_files.number(session)
        # Files already on record; before this batch's transfers exist, so that only
        # earlier ones point at a moved version's old name.
        await records.update_file_records(session, self.file_updates)
        await records.replace_metadata_entries(session, self.metadata)
        await records.move_previous_versions(session, self.moves)
        # Every new row at once (one call on SQLite): new files before what refers to them.
        await run_inserts(session, [*self.new_files.inserts, *self.inserts], first)
        await records.grant(session, self.grants)
        await records.update_entries(session, self.entry_updates)
        self.summary.completed += self.completed
        self.summary.bytes += self.bytes


class Recorder:
    """One batch's records: one statement per kind of row."""

    def __init__(self, harvest: Harvest, context: _Context) -> None:
        self.harvest = harvest
        self.context = context
        self.now = datetime.now(UTC)
        self.column = CHECKSUM_COLUMNS[context.algorithm]

    async def prepare(
        self,
        session: AsyncSession,
        batch: list[Candidate],
        results: list[CopyResult],
        verified: list[tuple[Candidate, CopyResult]],
        outcomes: Sequence[Any],
        moved: list[tuple[Candidate, str]],
    ) -> BatchRows:
        """The rows, from the batch's outcomes and what ``session`` reads of the files
        already on record (their latest versions, the grantees hooks name)."""
        context = self.context
        post = {id(c): o for (c, _), o in zip(verified, outcomes, strict=True)}
        good: list[tuple[Candidate, CopyResult, Any]] = []
        failed: list[tuple[Candidate, CopyResult, str]] = []
        for candidate, result in zip(batch, results, strict=True):
            outcome = post.get(id(candidate))
            if outcome is None:
                failed.append((candidate, result, _message(result.error) or "not verified"))
            elif outcome.blocked:
                reason = "; ".join(f"{f.hook}: {f.message}" for f in outcome.failures)
                failed.append((candidate, result, f"a post-transfer hook failed: {reason}"))
            else:
                good.append((candidate, result, outcome))
        unnamed = [c for c in batch if c.file_id is None]
        new_files = set(map(id, unnamed))
        for candidate, file_id in zip(unnamed, new_ids(len(unnamed)), strict=True):
            candidate.file_id = file_id
        existing = [c.file_id for c, _, _ in good if id(c) not in new_files and c.file_id]
        latest = await records.latest_versions(session, existing)
        inserts, updates, versions, metadata, version_ids = self._files_and_versions(
            good, failed, new_files, latest
        )
        writes = EntryWrites(context)
        for candidate, _, _ in good:
            writes.add(candidate, self._completed_entry(candidate))
        for candidate, _, message in failed:
            changes = self.harvest._failure(context, candidate, message)
            writes.add(candidate, {**changes, "file_id": candidate.file_id})
        grants = await self._grants(session, good)
        dialect = session.get_bind().dialect
        # The event loop runs what waits between tables: the previous batch's write
        # goes on after each of its statements, not after this whole batch.
        await asyncio.sleep(0)
        files = prepare_files(dialect, inserts)
        await asyncio.sleep(0)
        statements = prepare_rows(
            dialect,
            FileVersion,
            (*VERSION_COLUMNS, self.column),
            versions,
            {"discovered_at": self.now},
        )
        await asyncio.sleep(0)
        statements += self._transfers(dialect, batch, results, post, version_ids)
        await asyncio.sleep(0)
        statements += prepare_many(dialect, HarvestEntry, writes.inserts)
        statements += prepare_many(dialect, AuditLog, self._audit_rows(good, failed))
        return BatchRows(
            summary=context.summary,
            new_files=files,
            file_updates=updates,
            metadata=metadata,
            moves=[(c.file_id, c.destination, target) for c, target in moved if c.file_id],
            grants=grants,
            entry_updates=writes.updates,
            inserts=statements,
            completed=len(good),
            bytes=sum(r.bytes for r in results),
        )

    def _files_and_versions(
        self,
        good: list[tuple[Candidate, CopyResult, Any]],
        failed: list[tuple[Candidate, CopyResult, str]],
        new_files: set[int],
        latest: dict[uuid.UUID, FileVersion],
    ) -> tuple[
        list[dict[str, Any]],
        list[dict[str, Any]],
        list[tuple[Any, ...]],
        dict[uuid.UUID, dict[str, Any]],
        dict[int, uuid.UUID],
    ]:
        """File records to insert (a file whose first attempt failed gets one too, at
        version 0, so its failed transfer is on record) and to update, content versions,
        the flat metadata copies to replace, and each good candidate's version id."""
        fresh = iter(new_ids(len(good)))
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        versions: list[tuple[Any, ...]] = []
        metadata: dict[uuid.UUID, dict[str, Any]] = {}
        ids: dict[int, uuid.UUID] = {}
        for candidate, result, outcome in good:
            assert candidate.file_id is not None
            current = latest.get(candidate.file_id)
            same = (
                current is not None
                and current.size_bytes == result.bytes
                and getattr(current, self.column) == result.source_checksum
            )
            if current is not None and same:
                candidate.version, ids[id(candidate)] = current.version, current.id
            else:
                candidate.version = current.version + 1 if current else 1
                ids[id(candidate)] = next(fresh)
                versions.append(self._version_row(candidate, result, ids[id(candidate)]))
            if id(candidate) in new_files:
                inserts.append(self._new_record(candidate, result, dict(outcome.metadata)))
            else:
                values = self._record_values(candidate, result, dict(outcome.metadata))
                updates.append({"id": candidate.file_id, **values})
                metadata[candidate.file_id] = values["metadata_"]
        for candidate, _, _ in failed:
            if id(candidate) in new_files:
                inserts.append(self._new_record(candidate, None, {}))
        return inserts, updates, versions, metadata, ids

    def _version_row(
        self, candidate: Candidate, result: CopyResult, version_id: uuid.UUID
    ) -> tuple[Any, ...]:
        """A ``VERSION_COLUMNS`` row."""
        return (
            version_id,
            candidate.file_id,
            candidate.version,
            candidate.version_ark,
            result.bytes,
            candidate.mtime_us,
            result.source_checksum,
        )

    def _record_values(
        self, candidate: Candidate, result: CopyResult, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        checksums: dict[str, str | None] = {"xxhash": None, "sha256": None, "md5": None}
        checksums[self.column] = result.source_checksum
        return {
            "size_bytes": result.bytes,
            "source_mtime": from_microseconds(candidate.mtime_us),
            **checksums,
            "current_version": candidate.version,
            "metadata_": metadata,
            "source_deleted_at": None,
            "updated_at": self.now,
        }

    def _new_record(
        self, candidate: Candidate, result: CopyResult | None, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """A new file's record; without a verified ``result``, at version 0."""
        row = {
            "id": candidate.file_id,
            "persistent_id": candidate.file_ark,
            "persistent_id_type": "ark",
            "instrument_id": self.context.instrument.id,
            "source_path": candidate.path,
            "filename": posixpath.basename(candidate.path),
            "size_bytes": candidate.size,
            "source_mtime": candidate.mtime_us,  # bulk inserts take microseconds
            "first_discovered_at": self.now,
            "updated_at": self.now,
            # One object for every file without metadata: the batch binds it once.
            "metadata_": metadata or NO_METADATA,
            "current_version": 0,
        }
        if result is not None:
            row.update(
                size_bytes=result.bytes,
                current_version=candidate.version,
                **{self.column: result.source_checksum},
            )
        return row

    def _transfers(
        self,
        dialect: Dialect,
        batch: list[Candidate],
        results: list[CopyResult],
        post: dict[int, Any],
        version_ids: dict[int, uuid.UUID],
    ) -> list[Insert]:
        """One transfer per attempt: rows of the values that differ from file to file."""
        rows = []
        for candidate, result, transfer_id in zip(batch, results, new_ids(len(batch)), strict=True):
            outcome = post.get(id(candidate))
            notes = [_message(result.error)] if result.error else []
            if outcome is not None:
                notes += [f"{f.hook}: {f.message}" for f in outcome.failures]
            version_id = version_ids.get(id(candidate))
            rows.append(
                (
                    transfer_id,
                    candidate.file_id,
                    version_id,
                    candidate.destination,
                    "failed" if version_id is None else "completed",
                    candidate.attempts + 1,
                    result.bytes,
                    result.source_checksum,
                    result.dest_checksum,
                    result.verified,
                    result.started_at,
                    result.finished_at,
                    "; ".join(notes) or None,
                )
            )
        context = self.context
        shared = {
            "storage_location_id": context.storage.id,
            "harvest_run_id": context.run_id,
            "transfer_adapter": context.adapter.name,
            "checksum_algorithm": context.algorithm,
            "prefect_flow_run_id": self.harvest.options.flow_run_id,
            "created_at": self.now,
        }
        return prepare_rows(dialect, FileTransfer, TRANSFER_COLUMNS, rows, shared)

    async def _grants(
        self, session: AsyncSession, good: list[tuple[Candidate, CopyResult, Any]]
    ) -> dict[tuple[str, uuid.UUID], list[uuid.UUID]]:
        """The files each grantee named by the access hooks is to be granted."""
        grants: dict[tuple[str, uuid.UUID], list[uuid.UUID]] = defaultdict(list)
        wanted = {(g.grantee_type, g.value) for _, _, o in good for g in o.grants}
        if not wanted:
            return grants
        resolved = await records.resolve_grantees(session, wanted)
        errors = self.context.summary.errors
        for candidate, _, outcome in good:
            for request in outcome.grants:
                grantee = resolved.get((request.grantee_type, request.value))
                if grantee is None:
                    note = f"access assignment: no {request.grantee_type} {request.value!r}"
                    if note not in errors and len(errors) < 20:
                        errors.append(note)
                    continue
                assert candidate.file_id is not None
                grants[(request.grantee_type, grantee)].append(candidate.file_id)
        return grants

    def _completed_entry(self, candidate: Candidate) -> dict[str, Any]:
        return {
            "state": COMPLETED,
            "attempts": 0,
            "retry_after": None,
            "last_error": None,
            "skip_rule": None,
            "file_id": candidate.file_id,
            "file_ark": candidate.file_ark,
            "done_size": candidate.size,
            "done_mtime_us": candidate.mtime_us,
            "done_version": candidate.version,
            "done_path": candidate.destination,
            "done_key": folded(candidate.destination),
            "done_at": self.now,
            "version_ark": None,
        }

    def _audit_rows(
        self,
        good: list[tuple[Candidate, CopyResult, Any]],
        failed: list[tuple[Candidate, CopyResult, str]],
    ) -> list[dict[str, Any]]:
        """One audit entry per batch: the file, version and transfer rows are the
        per-file trail, and the entry ties them to the run that wrote them."""
        if not good and not failed:
            return []
        created = [c for c, _, _ in good if c.version == 1]
        return [
            {
                "id": new_id(),
                "entity_type": "harvest_run",
                "entity_id": self.context.run_id,
                "action": "record",
                "changes": {
                    "instrument": self.context.instrument.name,
                    "storage": self.context.storage.name,
                    "files_created": len(created),
                    "versions_added": len(good) - len(created),
                    "failed": len(failed),
                    "bytes": sum(r.bytes for _, r, _ in good),
                    "paths": sorted(c.path for c, _, _ in [*good, *failed])[:3],
                },
                "created_at": self.now,
            }
        ]


async def _load(
    session: AsyncSession, instrument_id: uuid.UUID, storage_id: uuid.UUID
) -> tuple[Instrument, StorageLocation]:
    instrument = await session.get(Instrument, instrument_id)
    if instrument is None or instrument.deleted_at is not None:
        raise ConfigurationError("the instrument does not exist or was deleted")
    if not instrument.enabled:
        raise ConfigurationError(f"instrument {instrument.name!r} is disabled; enable it first")
    storage = await session.get(StorageLocation, storage_id)
    if storage is None or storage.deleted_at is not None:
        raise ConfigurationError("the storage location does not exist or was deleted")
    if not storage.enabled:
        raise ConfigurationError(f"storage location {storage.name!r} is disabled; enable it first")
    return instrument, storage


async def _source(session: AsyncSession, instrument: Instrument, box: SecretBox) -> Location:
    """The instrument's source; a missing or deleted service account is a configuration
    error here (the run cannot start), as it is for the API a 422."""
    try:
        return await source_location(session, instrument, box)
    except InvalidInput as exc:
        raise ConfigurationError(str(exc)) from None


def _preferred(instrument: Instrument) -> str | None:
    """The adapter an instrument asks for; "rclone", v0's default, means the fastest
    built-in for the pair."""
    return None if instrument.transfer_adapter == "rclone" else instrument.transfer_adapter


def _default_destinations(instrument: Instrument, candidates: list[Candidate]) -> None:
    """Each file's place in storage unless a pre hook redirects it: the instrument's
    folder, then the file's path on the instrument."""
    folder = destination_folder(instrument.name, instrument.id)
    for candidate in candidates:
        candidate.destination = f"{folder}/{candidate.path}"


def _pre_facts(instrument: Instrument, candidate: Candidate) -> FileFacts:
    return FileFacts(
        source_path=candidate.path,
        size=candidate.size,
        mtime=from_microseconds(candidate.mtime_us),
        destination_path=candidate.destination,
        metadata={},
        instrument_id=str(instrument.id),
        instrument_name=instrument.name,
        persistent_id=candidate.file_ark,
    )


def _count(summary: HarvestSummary, plan: Plan) -> None:
    summary.new += plan.new
    summary.unchanged += plan.unchanged
    summary.waiting += plan.waiting
    summary.retry_later += plan.retry_later
    summary.skipped += plan.skipped
    summary.permanently_failed += plan.permanently_failed
    summary.vanished += len(plan.vanished_entries)


async def _list(adapter: Adapter, source: Location) -> list[Listed]:
    return await adapter.index(source)


def _message(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, TransferError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc) or type(exc).__name__
