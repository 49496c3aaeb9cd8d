"""E-mail about harvests without a storm: per instrument, at most one e-mail per
aggregation window.

Every notable event (a failure, a recovery) is first *held* on the instrument's
``harvest_notice_states`` row. An instrument's held events are *due* when its last
e-mail is older than the window (or it never had one), or when they report the
recovery of an instrument whose last e-mail said it was failing (admins hear of that
at once). Due events go out as one e-mail, a digest when there are several.

Every ``send_due_digests`` call sends whatever is due across all instruments. It is
made after every harvest, of any instrument, by ``notify_harvest_finished``, and every
minute by each orchestration worker (``send_periodically``), so that a digest goes out
when its window ends even if no harvest finishes then. A digest is claimed in the
database before it is sent (the row's version guards against two workers sending it
twice) and put back when the SMTP server fails, so the next call retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from streamweave.config import Settings
from streamweave.db.models import HarvestNoticeState, User
from streamweave.services import notice_messages
from streamweave.services.mail import send_each
from streamweave.services.notice_messages import RECOVERY, HarvestEvent

log = logging.getLogger(__name__)

# How often each worker looks for due digests (their windows are in minutes).
PERIOD_SECONDS = 60.0
# A version conflict means another worker changed the row meanwhile: read it again.
ATTEMPTS = 5
CONFLICTS = (StaleDataError, IntegrityError)


async def admin_contacts(session: AsyncSession) -> list[tuple[Any, str]]:
    """(id, e-mail) of every admin who can log in."""
    rows = await session.execute(
        select(User.id, User.email)
        .where(User.role == "admin", User.is_active.is_(True), User.deleted_at.is_(None))
        .order_by(User.email)
    )
    return [(row.id, row.email) for row in rows]


def hold(state: HarvestNoticeState, event: HarvestEvent, now: datetime) -> None:
    """Queue ``event`` for the instrument's next e-mail."""
    state.held = [*(state.held or []), event.to_json()]
    state.held_since = state.held_since or now


def is_due(state: HarvestNoticeState, now: datetime, window: timedelta) -> bool:
    if state.held_since is None or not state.held:
        return False
    if state.last_mail_at is None or now - state.last_mail_at >= window:
        return True
    told_failing = state.mailed_failing and state.failing_since is None
    return told_failing and state.held[-1]["kind"] == RECOVERY


@dataclass(frozen=True)
class _Claim:
    """A digest taken off a state row, and what the row said before (to put it back)."""

    instrument_id: Any
    events: list[dict[str, Any]]
    held_since: datetime | None
    last_mail_at: datetime | None
    mailed_failing: bool


async def send_due_digests(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Send every instrument's due e-mail; how many e-mails went out."""
    if not settings.smtp_configured:
        return 0
    window = timedelta(minutes=settings.notice_aggregation_minutes)
    claims, recipients = await _claim_due(sessions, now, window)
    sent = 0
    for claim in claims:
        events = [HarvestEvent.from_json(e) for e in claim.events]
        subject, body = notice_messages.mail(events, settings.notice_aggregation_minutes)
        if await send_each(settings, recipients, subject, body):
            sent += 1
        else:
            await _put_back(sessions, claim)
    return sent


async def send_periodically(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
    every: float = PERIOD_SECONDS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """``send_due_digests`` every ``every`` seconds until ``stop`` is set. Whatever
    stops one round (the database away for a while) is logged, and the next round
    tries again: the timer outlives any one failure."""
    while not stop.is_set():
        try:
            await send_due_digests(sessions, settings, clock())
        except Exception:
            log.exception("due notice e-mails were not sent this round; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def _claim_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime, window: timedelta
) -> tuple[list[_Claim], list[str]]:
    for _ in range(ATTEMPTS):
        async with sessions() as session:
            try:
                recipients = [email for _, email in await admin_contacts(session)]
                states = (
                    await session.scalars(
                        select(HarvestNoticeState).where(HarvestNoticeState.held_since.is_not(None))
                    )
                ).all()
                claims = [_claim(s, now) for s in states if is_due(s, now, window)]
                if claims and not recipients:
                    log.warning("harvest notices not mailed: there is no active admin")
                await session.commit()
                return claims, recipients
            except CONFLICTS:
                await session.rollback()
    log.warning("harvest notice e-mails postponed: their records kept changing")
    return [], []


def _claim(state: HarvestNoticeState, now: datetime) -> _Claim:
    claim = _Claim(
        state.instrument_id,
        list(state.held),
        state.held_since,
        state.last_mail_at,
        state.mailed_failing,
    )
    state.held, state.held_since = [], None
    state.last_mail_at = now
    state.mailed_failing = state.failing_since is not None
    return claim


async def _put_back(sessions: async_sessionmaker[AsyncSession], claim: _Claim) -> None:
    """The e-mail was not sent: its events go back in front of any held since, and the
    window counts from the e-mail before, so the next call tries again."""
    for _ in range(ATTEMPTS):
        async with sessions() as session:
            try:
                state = await session.get(HarvestNoticeState, claim.instrument_id)
                if state is None:
                    return
                state.held = [*claim.events, *(state.held or [])]
                state.held_since = _earliest(claim.held_since, state.held_since)
                state.last_mail_at = claim.last_mail_at
                state.mailed_failing = claim.mailed_failing
                await session.commit()
                return
            except CONFLICTS:
                await session.rollback()


def _earliest(*moments: datetime | None) -> datetime | None:
    known: Sequence[datetime] = [m for m in moments if m is not None]
    return min(known) if known else None
