"""The `harvest` flow: one schedule's harvest (instrument -> storage location), the
pipeline run in this process, batch by batch, under the instrument's concurrency slot.

The pipeline already works in batches and writes its counts to the harvest-run row
after each; the flow adds what Prefect gives: the flow run id on every transfer, a
progress artifact, logs on the run, one slot per instrument, and a clean stop when
the worker shuts down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.concurrency.asyncio import concurrency
from prefect.context import FlowRunContext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.config import Settings, load_settings
from streamweave.crypto import SecretBox
from streamweave.db.engine import create_engine, create_sessionmaker
from streamweave.db.models import HarvestSchedule, Instrument, StorageLocation
from streamweave.errors import ConfigurationError
from streamweave.harvest.layout import destination_folder
from streamweave.harvest.lease import HarvestBusy
from streamweave.harvest.pipeline import Harvest, HarvestOptions, sweep_temporaries
from streamweave.harvest.progress import HarvestSummary, Reporter
from streamweave.orchestration.connection import prefect
from streamweave.orchestration.limits import ensure_instrument_limit
from streamweave.orchestration.names import instrument_limit
from streamweave.orchestration.progress import ArtifactReporter
from streamweave.orchestration.shutdown import Control, HarvestAborted, HarvestStopped
from streamweave.services.harvest_notices import notify_harvest_finished
from streamweave.services.locations import storage_location
from streamweave.transfers import local
from streamweave.transfers.base import LOCAL_KINDS

# The Prefect slot's lease: renewed while the flow runs; a killed worker's slot comes
# back once it expires (60 s is the shortest Prefect accepts).
SLOT_LEASE_SECONDS = 60
LEASE_WAIT_POLL_SECONDS = 5
ABORT_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Target:
    schedule_id: uuid.UUID
    instrument_id: uuid.UUID
    instrument_name: str
    storage_id: uuid.UUID
    storage_name: str


async def load_target(sessions: async_sessionmaker[AsyncSession], schedule_id: uuid.UUID) -> Target:
    async with sessions() as session:
        schedule = await session.get(HarvestSchedule, schedule_id)
        if schedule is None or schedule.deleted_at is not None:
            raise ConfigurationError(
                f"harvest schedule {schedule_id} does not exist or was deleted"
            )
        instrument = await session.get(Instrument, schedule.instrument_id)
        storage = await session.get(StorageLocation, schedule.default_storage_location_id)
        assert instrument is not None and storage is not None  # foreign keys
        return Target(schedule.id, instrument.id, instrument.name, storage.id, storage.name)


def _flow_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def summary_dict(summary: HarvestSummary) -> dict[str, Any]:
    values = dataclasses.asdict(summary)
    values["run_id"] = str(summary.run_id) if summary.run_id else None
    return values


async def _sweep(sessions: async_sessionmaker[AsyncSession], box: SecretBox, target: Target) -> int:
    """Remove the temporary copies an aborted run left in the instrument's folder (local
    storage; elsewhere the next run's takeover of the lease does it)."""
    async with sessions() as session:
        storage = await session.get(StorageLocation, target.storage_id)
        assert storage is not None
        destination = storage_location(storage, box)
    if destination.kind not in LOCAL_KINDS:
        return 0
    folder = local.resolve(
        destination, destination_folder(target.instrument_name, target.instrument_id)
    )
    return await asyncio.to_thread(sweep_temporaries, folder)


async def _abort_requested(control: Control) -> None:
    # A file written by another process: there is nothing to wait on but the clock.
    while not control.abort_requested:  # noqa: ASYNC110
        await asyncio.sleep(0.5)


async def run_pipeline(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    target: Target,
    reporter: Reporter,
    control: Control,
) -> HarvestSummary:
    """The pipeline, waiting while another harvest holds the instrument's lease (a
    `streamweave harvest` in a terminal, or a run on a machine that died, whose lease
    expires), and stopping or aborting when the worker asks."""
    logger = get_run_logger()
    box = SecretBox(settings.fernet_keys)
    options = HarvestOptions(
        ark_naan=settings.ark_naan,
        ark_shoulder=settings.ark_shoulder,
        retry_limit=settings.harvest_retry_limit,
        flow_run_id=_flow_run_id(),
        schedule_id=target.schedule_id,
        before_batch=control.stop_between_batches,
    )
    deadline = time.monotonic() + options.lease_seconds + 60
    while True:
        harvest = Harvest(sessions, box, options, reporter)
        task = asyncio.create_task(harvest.run(target.instrument_id, target.storage_id))
        abort = asyncio.create_task(_abort_requested(control))
        try:
            await asyncio.wait({task, abort}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            abort.cancel()
        if not task.done() or _stopped_after_abort(task, control):
            if not task.done():
                await _abort(task)
            swept = await _sweep(sessions, box, target)
            raise HarvestAborted(
                f"the worker was told to stop at once: the harvest of {target.instrument_name} "
                f"stopped where it was ({swept} temporary copies removed; the next run "
                "carries on from there)"
            )
        error: Exception | None = None
        try:
            summary = task.result()
        except HarvestBusy as exc:
            started = harvest.summary is not None and harvest.summary.run_id is not None
            if not started and time.monotonic() <= deadline:
                logger.info(
                    "another harvest of %s holds its lease; waiting for it",
                    target.instrument_name,
                )
                await asyncio.sleep(LEASE_WAIT_POLL_SECONDS)
                continue
            error = exc
        except HarvestStopped:
            raise  # the worker's shutdown: nobody's failure, nothing to tell admins
        except Exception as exc:
            error = exc
        await _notify(settings, sessions, target, harvest.summary, error)
        if error is not None:
            raise error
        return summary


async def _notify(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    target: Target,
    summary: HarvestSummary | None,
    error: Exception | None,
) -> None:
    """Admins hear of failures and recoveries; a problem doing so never changes the
    harvest's own outcome."""
    try:
        await notify_harvest_finished(sessions, settings, target.instrument_id, summary, error)
    except SQLAlchemyError as exc:
        get_run_logger().warning("admins could not be notified of this harvest: %s", exc)


def _stopped_after_abort(task: asyncio.Task[HarvestSummary], control: Control) -> bool:
    """The harvest reached a batch boundary after both signals, before the abort was
    polled: that is the abort the worker asked for, with its clean-up."""
    return (
        control.abort_requested
        and not task.cancelled()
        and isinstance(task.exception(), HarvestStopped)
    )


async def _abort(task: asyncio.Task[HarvestSummary]) -> None:
    """Cancel the harvest and give it a moment to record what it can. A cancellation
    may land inside a database transaction and leave it waiting on a lock; the run is
    then left to the next harvest, which takes over its lease and marks it
    interrupted (as after a kill)."""
    task.cancel()
    # Its outcome no longer matters: retrieved here so that nothing logs it as lost.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    await asyncio.wait({task}, timeout=ABORT_GRACE_SECONDS)


@flow(name="harvest", log_prints=False, persist_result=False)
async def harvest(schedule_id: str) -> dict[str, Any]:
    """Harvest one schedule's instrument into its storage location."""
    logger = get_run_logger()
    settings = load_settings()
    engine = create_engine(settings.sqlalchemy_url)
    sessions = create_sessionmaker(engine)
    control = Control.from_env()
    try:
        target = await load_target(sessions, uuid.UUID(schedule_id))
        if control.stop_requested:
            raise HarvestStopped("the worker is shutting down; this run did not start")
        limit = instrument_limit(target.instrument_id)
        async with prefect() as client:
            await ensure_instrument_limit(client, limit)
        logger.info(
            "harvest %s -> %s: waiting for the instrument's slot",
            target.instrument_name,
            target.storage_name,
        )
        async with concurrency(limit, occupy=1, lease_duration=SLOT_LEASE_SECONDS, strict=True):
            logger.info("harvest %s -> %s: started", target.instrument_name, target.storage_name)
            reporter = ArtifactReporter(
                f"harvest-{target.schedule_id}",
                f"{target.instrument_name} -> {target.storage_name}",
            )
            async with reporter:
                summary = await run_pipeline(settings, sessions, target, reporter, control)
        logger.info(
            "harvest %s -> %s: %s; %d copied and verified, %d failed, %d waiting, %d MiB in %.1f s",
            target.instrument_name,
            target.storage_name,
            summary.status,
            summary.completed,
            summary.failed,
            summary.waiting,
            summary.bytes >> 20,
            summary.seconds,
        )
        for error in summary.errors[:20]:
            logger.warning("%s", error)
        return summary_dict(summary)
    finally:
        await engine.dispose()
