"""Reconcile in the API process: at startup, after every committed change to
schedules, instruments, storage locations or service accounts, and periodically.

The API's changes are seen at the session level (an ``after_commit`` of a session
that flushed one of those rows), so every route, service and future caller is
covered without each one remembering to ask. A reconcile never runs inside the
request: the change is committed whatever Prefect's state, and a Prefect that cannot
be reached is logged and shown in ``status`` until a later pass succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from streamweave.db.models import HarvestSchedule, Instrument, ServiceAccount, StorageLocation
from streamweave.orchestration.reconcile import ReconcileReport, reconcile

log = logging.getLogger(__name__)

WATCHED = (HarvestSchedule, Instrument, StorageLocation, ServiceAccount)
_FLAG = "streamweave_orchestration_touched"
_watchers: dict[Engine, Callable[[], None]] = {}


def _after_flush(session: Session, _context: Any) -> None:
    if any(isinstance(obj, WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_FLAG] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        callback = _watchers.get(session.bind) if isinstance(session.bind, Engine) else None
        if callback is not None:
            callback()


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_FLAG, None)


def watch(engine: AsyncEngine, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after each commit, on ``engine``, that changed a watched row;
    returns the function that stops watching."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
    _watchers[engine.sync_engine] = callback

    def stop() -> None:
        _watchers.pop(engine.sync_engine, None)

    return stop


@dataclass
class Status:
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_report: str | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_attempt": self.last_attempt,
            "last_success": self.last_success,
            "last_report": self.last_report,
            "last_error": self.last_error,
        }


class Reconciler:
    """Single-flight: changes arriving during a pass make one more pass, not one each."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        url: str,
        interval: float = 60.0,
        debounce: float = 0.2,
    ) -> None:
        self.sessions = sessions
        self.url = url
        self.interval = interval
        self.debounce = debounce
        self.status = Status()
        self.passes = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()

    def kick(self) -> None:
        """Ask for a pass soon; safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_once(self) -> ReconcileReport | None:
        self.status.last_attempt = datetime.now(UTC)
        started = time.monotonic()
        try:
            report = await reconcile(self.sessions, self.url)
        except Exception as exc:
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "could not bring Prefect in line with the database (retried in %.0f s): %s",
                self.interval,
                self.status.last_error,
            )
            return None
        finally:
            self.passes += 1
        self.status.last_success = datetime.now(UTC)
        self.status.last_error = None
        self.status.last_report = str(report)
        if report.changed:
            log.info("%s (%.2f s)", report, time.monotonic() - started)
        return report

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            self._idle.clear()
            await self.run_once()
            self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            await asyncio.sleep(self.debounce)

    async def settled(self, within: float = 30.0) -> None:
        """Wait until no pass is due or running (for callers that must see the result)."""
        deadline = time.monotonic() + within
        while self._wake.is_set() or not self._idle.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("reconcile did not settle")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def reconciling(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    interval: float = 60.0,
) -> AsyncIterator[Reconciler]:
    """A running reconciler watching ``engine`` for the life of the block."""
    reconciler = Reconciler(sessions, url, interval)
    stop_watching = watch(engine, reconciler.kick)
    task = asyncio.create_task(reconciler.run())
    try:
        yield reconciler
    finally:
        stop_watching()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
