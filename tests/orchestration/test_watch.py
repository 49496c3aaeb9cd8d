"""The API hears of committed changes to what deployments are made from, and of nothing
else: a rolled-back change is forgotten, and a rollback is never an error."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.db.engine import create_sessionmaker
from streamweave.db.models import Instrument
from streamweave.orchestration.service import watch


def _instrument(name: str) -> Instrument:
    return Instrument(name=name, source_type="local", source_config={"path": "/data"})


async def test_only_committed_changes_to_watched_rows_are_heard(
    clean_database: AsyncEngine,
) -> None:
    heard: list[str] = []
    stop = watch(clean_database, lambda: heard.append("changed"))
    try:
        sessions = create_sessionmaker(clean_database)
        async with sessions() as session:
            session.add(_instrument("rolled-back"))
            await session.flush()
            await session.rollback()  # SQLAlchemy's after_soft_rollback: two arguments
            await session.commit()  # nothing of the rolled-back flush is left to report
            assert heard == []
            session.add(_instrument("kept"))
            await session.commit()
        assert heard == ["changed"]
    finally:
        stop()
