"""The admin dashboard: counts, throughput and the files that need attention, from a
real harvest (one file fails), on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from streamweave.db.models import AuditLog, HarvestEntry, HarvestSchedule, Instrument
from streamweave.services.dashboard import overdue_instruments
from tests.harvest.conftest import LocalLab
from tests.harvest.conftest import lab as lab
from tests.harvest.test_pipeline import FailingFor


@pytest.fixture
def failing_lock(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    failing = FailingFor({"locked.txt"})
    monkeypatch.setattr("streamweave.harvest.pipeline.adapter_for", lambda *a: failing)
    return monkeypatch


async def test_counts_throughput_and_attention(
    lab: LocalLab,
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    failing_lock: pytest.MonkeyPatch,
) -> None:
    lab.write("a.txt", b"a" * 1000)
    lab.write("b.txt", b"b" * 500)
    lab.write("locked.txt", b"l")
    summary = await lab.harvest()
    assert (summary.completed, summary.failed) == (2, 1)
    headers = admin["headers"]

    counts = (await client.get("/api/dashboard", headers=headers)).json()
    files_total = (await client.get("/api/files", headers=headers)).json()["total"]
    assert counts["files"] == files_total
    assert (counts["instruments"], counts["instruments_enabled"]) == (1, 1)
    assert counts["storage_locations"] == 1
    assert (counts["files_failed"], counts["files_permanently_failed"]) == (1, 0)
    assert counts["runs_failed_last_24h"] == 1  # completed with errors
    assert counts["runs_running"] == 0
    assert counts["orchestration_ui_url"] is None  # no Prefect server in these tests

    hourly = (await client.get("/api/dashboard/throughput", headers=headers)).json()
    assert hourly["bucket"] == "hour" and len(hourly["points"]) == 48
    assert hourly["points"][-1] == {
        "start": hourly["points"][-1]["start"],
        "files": 2,
        "bytes": 1500,
    }
    assert sum(point["files"] for point in hourly["points"]) == 2
    starts = [datetime.fromisoformat(point["start"]) for point in hourly["points"]]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    daily = (
        await client.get("/api/dashboard/throughput", params={"bucket": "day"}, headers=headers)
    ).json()
    assert len(daily["points"]) == 30 and daily["points"][-1]["bytes"] == 1500

    attention = (await client.get("/api/dashboard/attention", headers=headers)).json()
    assert attention["total"] == 1
    [entry] = attention["items"]
    assert (entry["source_path"], entry["state"], entry["attempts"]) == ("locked.txt", "failed", 1)
    assert entry["instrument_name"] == "microscope"
    assert "permission denied" in entry["last_error"]
    assert entry["retry_after"] is not None

    retried = await client.post(
        "/api/dashboard/attention/retry", json={"entry_ids": [entry["id"]]}, headers=headers
    )
    assert retried.json() == {"retried": 1}
    [row] = await lab.rows(select(HarvestEntry).where(HarvestEntry.source_path == "locked.txt"))
    assert (row.state, row.attempts, row.retry_after) == ("failed", 0, None)
    assert await lab.rows(select(AuditLog).where(AuditLog.action == "retry"))

    # The retry is taken by the next harvest at once (no backoff), and it now succeeds.
    failing_lock.undo()
    again = await lab.harvest()
    assert (again.completed, again.failed) == (1, 0)
    after = (await client.get("/api/dashboard/attention", headers=headers)).json()
    assert after["total"] == 0


async def test_retry_changes_only_failed_entries(
    lab: LocalLab, client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    lab.write("fine.txt", b"f")
    await lab.harvest()
    [entry] = await lab.rows(select(HarvestEntry))
    answer = await client.post(
        "/api/dashboard/attention/retry",
        json={"entry_ids": [str(entry.id)]},
        headers=admin["headers"],
    )
    assert answer.json() == {"retried": 0}
    [row] = await lab.rows(select(HarvestEntry))
    assert row.state == "completed"
    empty = await client.post(
        "/api/dashboard/attention/retry", json={"entry_ids": []}, headers=admin["headers"]
    )
    assert empty.status_code == 422


async def test_the_orchestration_ui_is_linked_when_configured(
    client: httpx.AsyncClient, admin: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    counts = (await client.get("/api/dashboard", headers=admin["headers"])).json()
    assert counts["orchestration_ui_url"] == "http://127.0.0.1:4200"


async def test_admins_only(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    for path in ("/api/dashboard", "/api/dashboard/throughput", "/api/dashboard/attention"):
        assert (await client.get(path, headers=alice["headers"])).status_code == 403
    retry = await client.post(
        "/api/dashboard/attention/retry",
        json={"entry_ids": ["00000000-0000-0000-0000-000000000000"]},
        headers=alice["headers"],
    )
    assert retry.status_code == 403


async def test_an_instrument_that_missed_its_schedule_is_overdue(lab: LocalLab) -> None:
    last = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    async with lab.sessions() as session:
        instrument = await session.get(Instrument, lab.instrument_id)
        assert instrument is not None
        instrument.last_harvested_at = last
        session.add(
            HarvestSchedule(
                instrument_id=lab.instrument_id,
                default_storage_location_id=lab.storage_id,
                cron_expression="0 * * * *",
                timezone="Europe/Berlin",
                created_at=last - timedelta(days=1),
            )
        )
        await session.commit()
        # Due at 12:00 UTC; half an hour of slack for a harvest that is starting.
        [overdue] = await overdue_instruments(session, datetime(2026, 1, 5, 12, 40, tzinfo=UTC))
        assert overdue.instrument_name == "microscope"
        assert overdue.due_at == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        assert overdue.last_harvested_at == last
        assert await overdue_instruments(session, datetime(2026, 1, 5, 12, 20, tzinfo=UTC)) == []
        instrument.last_harvested_at = datetime(2026, 1, 5, 12, 1, tzinfo=UTC)
        await session.commit()
        assert await overdue_instruments(session, datetime(2026, 1, 5, 12, 40, tzinfo=UTC)) == []
        instrument.enabled = False
        instrument.last_harvested_at = last
        await session.commit()
        assert await overdue_instruments(session, datetime(2026, 1, 5, 12, 40, tzinfo=UTC)) == []


async def test_a_runs_files_and_retrying_its_failures(
    lab: LocalLab,
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    alice: dict[str, Any],
    failing_lock: pytest.MonkeyPatch,
) -> None:
    lab.write("a.txt", b"a")
    lab.write("locked.txt", b"l")
    await lab.harvest()
    headers = admin["headers"]
    [run] = (await client.get("/api/harvest-runs", headers=headers)).json()["items"]
    everything = (
        await client.get(f"/api/harvest-runs/{run['id']}/transfers", headers=headers)
    ).json()
    assert sorted(item["status"] for item in everything["items"]) == ["completed", "failed"]
    failed = (
        await client.get(
            f"/api/harvest-runs/{run['id']}/transfers", params={"status": "failed"}, headers=headers
        )
    ).json()
    [transfer] = failed["items"]
    assert "permission denied" in transfer["error_message"]
    assert transfer["harvest_run_id"] == run["id"]

    # A user who may not see the instrument sees neither the run nor its files.
    hidden = await client.get(f"/api/harvest-runs/{run['id']}/transfers", headers=alice["headers"])
    assert hidden.status_code == 404
    refused = await client.post(
        f"/api/harvest-runs/{run['id']}/retry-failed", headers=alice["headers"]
    )
    assert refused.status_code == 404

    retried = await client.post(f"/api/harvest-runs/{run['id']}/retry-failed", headers=headers)
    assert retried.json() == {"retried": 1}
    [entry] = await lab.rows(select(HarvestEntry).where(HarvestEntry.source_path == "locked.txt"))
    assert (entry.state, entry.attempts, entry.retry_after) == ("failed", 0, None)
    again = await client.post(f"/api/harvest-runs/{run['id']}/retry-failed", headers=headers)
    assert again.json() == {"retried": 1}  # still failed, so retried again
