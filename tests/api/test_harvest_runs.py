"""GET /api/harvest-runs: runs of the instruments a caller may see, newest first,
filtered by instrument and status, with rates computed from their counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from streamweave.db.models import HarvestRun, Instrument, InstrumentAccess, StorageLocation


async def world(app: Any, alice: dict[str, Any]) -> dict[str, uuid.UUID]:
    """Two instruments, alice granted the first; three runs."""
    now = datetime.now(UTC)
    async with app.state.context.sessionmaker() as session:
        seen = Instrument(name="seen", source_type="local", source_config={"path": "/x"})
        hidden = Instrument(name="hidden", source_type="local", source_config={"path": "/y"})
        storage = StorageLocation(name="archive", type="posix", base_path="/archive")
        session.add_all([seen, hidden, storage])
        await session.flush()
        session.add(
            InstrumentAccess(
                instrument_id=seen.id, grantee_type="user", grantee_id=uuid.UUID(alice["id"])
            )
        )
        old = HarvestRun(
            instrument_id=seen.id,
            storage_location_id=storage.id,
            status="completed",
            started_at=now - timedelta(hours=1),
            finished_at=now - timedelta(hours=1) + timedelta(seconds=10),
            files_completed=50,
            bytes_transferred=5000,
        )
        running = HarvestRun(instrument_id=seen.id, storage_location_id=storage.id, started_at=now)
        other = HarvestRun(instrument_id=hidden.id, storage_location_id=storage.id, status="failed")
        session.add_all([old, running, other])
        await session.commit()
        return {"seen": seen.id, "old": old.id, "running": running.id, "other": other.id}


async def ids(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_runs_follow_instrument_visibility_newest_first(
    app: Any,
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    alice: dict[str, Any],
    bob: dict[str, Any],
) -> None:
    made = await world(app, alice)
    mine = [str(made["running"]), str(made["old"])]
    assert await ids(client, "/api/harvest-runs", alice["headers"]) == mine
    assert await ids(client, "/api/harvest-runs", bob["headers"]) == []
    assert len(await ids(client, "/api/harvest-runs", admin["headers"])) == 3
    hidden = await client.get(f"/api/harvest-runs/{made['other']}", headers=alice["headers"])
    assert hidden.status_code == 404


async def test_filters_and_rates(
    app: Any, client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    made = await world(app, alice)
    headers = admin["headers"]
    by_status = await ids(client, "/api/harvest-runs?status=failed", headers)
    assert by_status == [str(made["other"])]
    by_instrument = await ids(client, f"/api/harvest-runs?instrument_id={made['seen']}", headers)
    assert set(by_instrument) == {str(made["old"]), str(made["running"])}
    bad = await client.get("/api/harvest-runs?status=exploded", headers=headers)
    assert bad.status_code == 422

    old = (await client.get(f"/api/harvest-runs/{made['old']}", headers=headers)).json()
    assert old["duration_seconds"] == 10.0
    assert old["files_per_second"] == 5.0 and old["bytes_per_second"] == 500.0
    running = (await client.get(f"/api/harvest-runs/{made['running']}", headers=headers)).json()
    assert running["status"] == "running" and running["finished_at"] is None
    assert running["duration_seconds"] >= 0
