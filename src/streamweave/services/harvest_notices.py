"""Telling admins about harvests: call ``notify_harvest_finished`` after every harvest,
whether it completed or raised (CLI, Prefect flow, anything with a sessionmaker).

A harvest that failed, or in which files reached their retry limit, is a *failure*; a
harvest that completed without errors after failed harvests of the instrument is a
*recovery* (files at the retry limit are reported once and do not make the instrument
"failing": they wait for a change at the source). Each is at once an in-app notice to
every active admin (v0 ``/api/notifications``) and, when SMTP is configured, an e-mail
held back per instrument by ``notice_digests`` so that a failing instrument sends at
most one e-mail per aggregation window. Links point under ``STREAMWEAVE_PUBLIC_URL``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streamweave.config import Settings
from streamweave.db.models import HarvestEntry, HarvestNoticeState, HarvestRun, Instrument
from streamweave.db.models import Notification as NotificationRow
from streamweave.harvest.lease import HarvestBusy
from streamweave.harvest.plan import PERMANENTLY_FAILED
from streamweave.harvest.progress import HarvestSummary
from streamweave.services import notice_digests, notice_messages
from streamweave.services.notice_digests import CONFLICTS, admin_contacts, hold
from streamweave.services.notice_messages import FAILURE, RECOVERY, FlaggedFile, HarvestEvent

log = logging.getLogger(__name__)

# How much of a failure a notice carries: the rest is one click away.
NAMED_FILES = 10
NAMED_ERRORS = 5
ERROR_CHARS = 300


@dataclass(frozen=True)
class NoticeReport:
    """What one call did: the event it saw (or None), how many admins were notified in
    the application, and how many e-mails (any instrument's due ones) went out."""

    event: str | None
    admins_notified: int
    mails_sent: int


class _Finished(NamedTuple):
    """One harvest as it ended: what ``notify_harvest_finished`` was told about it."""

    instrument_id: uuid.UUID
    summary: HarvestSummary | None
    error: BaseException | None
    now: datetime


async def notify_harvest_finished(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    instrument_id: uuid.UUID,
    summary: HarvestSummary | None,
    error: BaseException | None = None,
    *,
    now: datetime | None = None,
) -> NoticeReport:
    """Notify admins of this harvest's failure or recovery, and send due e-mails.

    ``summary`` is ``Harvest.summary`` (None when the run stopped before it had one);
    ``error`` what ``run()`` raised, if it did. SMTP errors are logged, never raised;
    database errors are raised.
    """
    now = now or datetime.now(UTC)
    event: HarvestEvent | None = None
    notified = 0
    if _reportable(summary, error):
        finished = _Finished(instrument_id, summary, error, now)
        event, notified = await _record(sessions, settings, finished)
    mails = await notice_digests.send_due_digests(sessions, settings, now)
    return NoticeReport(event.kind if event else None, notified, mails)


def _reportable(summary: HarvestSummary | None, error: BaseException | None) -> bool:
    if summary is not None and summary.status == "dry_run":
        return False
    started = summary is not None and summary.status != "running"
    if not started and isinstance(error, HarvestBusy):
        return False  # another harvest of the instrument is on it: nothing went wrong
    return started or error is not None


async def _record(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, finished: _Finished
) -> tuple[HarvestEvent | None, int]:
    for _ in range(notice_digests.ATTEMPTS):
        async with sessions() as session:
            try:
                event, notified = await _record_once(session, settings, finished)
                await session.commit()
                return event, notified
            except CONFLICTS:
                await session.rollback()
    log.warning(
        "harvest notice for instrument %s not recorded: its record kept changing",
        finished.instrument_id,
    )
    return None, 0


async def _record_once(
    session: AsyncSession, settings: Settings, finished: _Finished
) -> tuple[HarvestEvent | None, int]:
    instrument_id, summary, error, now = finished
    instrument = await session.get(Instrument, instrument_id)
    if instrument is None:
        return None, 0
    state = await session.get(HarvestNoticeState, instrument_id) or HarvestNoticeState(
        instrument_id=instrument_id, held=[], mailed_failing=False
    )
    run = await session.get(HarvestRun, summary.run_id) if summary and summary.run_id else None
    flagged, flagged_files = await _flagged_in(session, run)
    status = summary.status if summary and summary.status != "running" else "failed"
    base: dict[str, Any] = {
        "at": now,
        "instrument": instrument.name,
        "storage": summary.storage if summary else "",
        "run_id": run.id if run else None,
        "status": status,
        "link": _link(settings, instrument_id, run),
    }
    event: HarvestEvent | None = None
    if status == "failed" or flagged:
        event = HarvestEvent(
            kind=FAILURE,
            errors=_errors(summary, error) if status == "failed" else (),
            flagged=flagged,
            flagged_files=flagged_files,
            **base,
        )
        if status == "failed":  # flagged files alone are told once, not a failing state
            state.failing_since = state.failing_since or now
    elif status == "completed" and state.failing_since is not None:
        event = HarvestEvent(
            kind=RECOVERY,
            still_flagged=summary.permanently_failed if summary else 0,
            **base,
        )
        state.failing_since = None
    if event is None:
        return None, 0
    session.add(state)
    admins = await admin_contacts(session)
    await _notify_in_app(session, [admin_id for admin_id, _ in admins], event)
    if settings.smtp_configured:
        hold(state, event, now)
    return event, len(admins)


async def _flagged_in(
    session: AsyncSession, run: HarvestRun | None
) -> tuple[int, tuple[FlaggedFile, ...]]:
    """Files that reached the retry limit during ``run``: entries flagged since it began
    (a flagged entry is written again only when its file changes, which unflags it)."""
    if run is None:
        return 0, ()
    rows = (
        await session.execute(
            select(HarvestEntry.source_path, HarvestEntry.last_error, func.count().over())
            .where(
                HarvestEntry.instrument_id == run.instrument_id,
                HarvestEntry.storage_location_id == run.storage_location_id,
                HarvestEntry.state == PERMANENTLY_FAILED,
                HarvestEntry.source_deleted_at.is_(None),
                HarvestEntry.updated_at >= run.started_at,
            )
            .order_by(HarvestEntry.source_path)
            .limit(NAMED_FILES)
        )
    ).all()
    if not rows:
        return 0, ()
    return int(rows[0][2]), tuple(FlaggedFile(path, _short(error or "")) for path, error, _ in rows)


def _errors(summary: HarvestSummary | None, error: BaseException | None) -> tuple[str, ...]:
    """The reason the run stopped first (the pipeline appends it last), then file errors."""
    recorded = list(summary.errors) if summary else []
    if summary is not None and summary.status == "failed" and recorded:
        reason, files = recorded[-1], recorded[:-1]
    else:
        reason = _describe(error) if error is not None else "the harvest stopped"
        files = recorded
    return tuple(_short(e) for e in [reason, *files[: NAMED_ERRORS - 1]])


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _link(settings: Settings, instrument_id: uuid.UUID, run: HarvestRun | None) -> str:
    # The web UI's pages: the run with its files, or the runs list when none began.
    base = settings.public_url.rstrip("/")
    if run is not None:
        return f"{base}/harvest-runs/{run.id}"
    return f"{base}/harvest-runs"


async def _notify_in_app(
    session: AsyncSession, admin_ids: list[uuid.UUID], event: HarvestEvent
) -> None:
    if not admin_ids:
        return
    title = notice_messages.title(event)[:500]
    message = notice_messages.details(event)
    kind = "harvest_failed" if event.kind == FAILURE else "harvest_recovered"
    await session.execute(
        insert(NotificationRow),
        [
            {
                "user_id": admin_id,
                "type": kind,
                "title": title,
                "message": message,
                "link": event.link,
            }
            for admin_id in admin_ids
        ],
    )
