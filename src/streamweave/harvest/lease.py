"""One harvest per instrument at a time, across processes and machines.

The lease is a row keyed by instrument: taking it is one INSERT, or one UPDATE of the
row still naming the holder that was seen, so two workers racing for it cannot both
win (the primary key and the conditional update decide, on SQLite and PostgreSQL
alike). The holder renews it after every batch; a holder killed with -9 stops
renewing and the next harvest takes over once it expires, or at once when the holder
was a process on the same machine that no longer exists.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import HarvestLease
from streamweave.errors import Conflict


class HarvestBusy(Conflict):
    """Another harvest of this instrument holds the lease."""


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` was a process on this machine that no longer exists: its lease
    can be taken at once instead of waiting for it to expire."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def acquire(
    session: AsyncSession,
    instrument_id: uuid.UUID,
    holder: str,
    seconds: int,
    run_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Take the lease (committing), or raise ``HarvestBusy`` naming who holds it.

    Returns the run of a holder that stopped without releasing the lease (killed,
    crashed), if there was one: that run was interrupted."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=seconds)
    values = {"holder": holder, "harvest_run_id": run_id, "acquired_at": now, "expires_at": expires}
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    inserted = await session.execute(
        dialect.insert(HarvestLease)
        .values(instrument_id=instrument_id, **values)
        .on_conflict_do_nothing(index_elements=[HarvestLease.instrument_id])
    )
    if inserted.rowcount == 1:  # type: ignore[attr-defined]
        await session.commit()
        return None
    current = (
        await session.execute(
            select(HarvestLease.holder, HarvestLease.expires_at, HarvestLease.harvest_run_id).where(
                HarvestLease.instrument_id == instrument_id
            )
        )
    ).first()
    if current is not None and (current.expires_at < now or _dead_here(current.holder)):
        taken = await session.execute(
            update(HarvestLease)
            .where(
                HarvestLease.instrument_id == instrument_id, HarvestLease.holder == current.holder
            )
            .values(**values)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            await session.commit()
            return cast(uuid.UUID | None, current.harvest_run_id)
    await session.rollback()
    until = current.expires_at.isoformat(timespec="seconds") if current else "soon"
    who = current.holder if current else "another harvest"
    raise HarvestBusy(
        f"a harvest of this instrument is already running ({who}); "
        f"its lease expires at {until} if it has stopped"
    )


async def renew(session: AsyncSession, instrument_id: uuid.UUID, holder: str, seconds: int) -> None:
    """Extend the lease in the caller's transaction; raise if it was taken over (this
    harvest stalled past its expiry and another one started)."""
    renewed = await session.execute(
        update(HarvestLease)
        .where(HarvestLease.instrument_id == instrument_id, HarvestLease.holder == holder)
        .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise HarvestBusy(
            "this harvest lost its lease to another one (it stalled longer than the lease); "
            "it stops here and the other harvest carries on"
        )


async def release(session: AsyncSession, instrument_id: uuid.UUID, holder: str) -> None:
    await session.execute(
        delete(HarvestLease).where(
            HarvestLease.instrument_id == instrument_id, HarvestLease.holder == holder
        )
    )
    await session.commit()
