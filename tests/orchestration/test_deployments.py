"""Deployments follow the database: created, updated, paused, removed and recreated as
schedules, instruments and storage locations change through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from streamweave.db.models import HarvestSchedule
from streamweave.orchestration.reconcile import reconcile
from tests.orchestration.conftest import LocalLab, deployment, settle


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Runs on SQLite and on PostgreSQL."""


async def make_schedule(
    api: httpx.AsyncClient, admin: dict[str, Any], lab: LocalLab, cron: str, **extra: Any
) -> dict[str, Any]:
    response = await api.post(
        "/api/schedules",
        json={
            "instrument_id": str(lab.instrument_id),
            "default_storage_location_id": str(lab.storage_id),
            "cron_expression": cron,
            **extra,
        },
        headers=admin["headers"],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def cron_of(found: Any) -> tuple[str, str | None, bool]:
    (schedule,) = found.schedules
    return schedule.schedule.cron, schedule.schedule.timezone, schedule.active


async def test_a_schedule_makes_a_deployment_with_its_cron_and_time_zone(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedule = await make_schedule(api, admin, lab, "15 3 * * *", timezone="Europe/Berlin")
    await settle(app)
    found = await deployment(orchestrated, schedule["id"])
    assert found is not None
    assert cron_of(found) == ("15 3 * * *", "Europe/Berlin", True)
    assert not found.paused
    assert found.work_pool_name == "streamweave"
    assert found.parameters == {"schedule_id": schedule["id"]}
    # The schedule records its deployment.
    read = (await api.get(f"/api/schedules/{schedule['id']}", headers=admin["headers"])).json()
    assert read["prefect_deployment_id"] == str(found.id)


async def test_two_schedules_of_one_instrument_make_two_deployments(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    first = await make_schedule(api, admin, lab, "0 * * * *")
    second = await make_schedule(api, admin, lab, "30 2 * * 1")
    await settle(app)
    one, two = (
        await deployment(orchestrated, first["id"]),
        await deployment(orchestrated, second["id"]),
    )
    assert one is not None and two is not None and one.id != two.id
    assert cron_of(one)[0] == "0 * * * *"
    assert cron_of(two)[0] == "30 2 * * 1"


async def test_disabling_pauses_and_a_cron_edit_keeps_it_paused(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedule = await make_schedule(api, admin, lab, "0 1 * * *")
    url = f"/api/schedules/{schedule['id']}"
    response = await api.patch(url, json={"enabled": False}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    await settle(app)
    found = await deployment(orchestrated, schedule["id"])
    assert found.paused and cron_of(found) == ("0 1 * * *", "UTC", False)

    response = await api.patch(url, json={"cron_expression": "0 5 * * *"}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    await settle(app)
    found = await deployment(orchestrated, schedule["id"])
    assert found.paused, "a cron edit re-enabled a disabled schedule"
    assert cron_of(found) == ("0 5 * * *", "UTC", False)

    await api.patch(url, json={"enabled": True}, headers=admin["headers"])
    await settle(app)
    found = await deployment(orchestrated, schedule["id"])
    assert not found.paused and cron_of(found) == ("0 5 * * *", "UTC", True)


async def test_delete_removes_and_restore_recreates(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedule = await make_schedule(api, admin, lab, "0 2 * * *")
    await settle(app)
    before = await deployment(orchestrated, schedule["id"])
    assert before is not None
    response = await api.delete(f"/api/schedules/{schedule['id']}", headers=admin["headers"])
    assert response.status_code == 204
    await settle(app)
    assert await deployment(orchestrated, schedule["id"]) is None
    rows = await lab.rows(select(HarvestSchedule))
    assert rows[0].prefect_deployment_id is None

    response = await api.post(f"/api/schedules/{schedule['id']}/restore", headers=admin["headers"])
    assert response.status_code == 200, response.text
    await settle(app)
    after = await deployment(orchestrated, schedule["id"])
    assert after is not None and not after.paused and after.id != before.id
    assert cron_of(after)[0] == "0 2 * * *"


async def test_deleting_the_instrument_pauses_its_schedules_and_restoring_resumes(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedules = [await make_schedule(api, admin, lab, f"{m} 4 * * *") for m in (0, 30)]
    await settle(app)
    response = await api.delete(f"/api/instruments/{lab.instrument_id}", headers=admin["headers"])
    assert response.status_code == 204
    await settle(app)
    for schedule in schedules:
        found = await deployment(orchestrated, schedule["id"])
        assert found.paused and "instrument was deleted" in (found.description or "")
    await api.post(f"/api/instruments/{lab.instrument_id}/restore", headers=admin["headers"])
    await settle(app)
    for schedule in schedules:
        assert not (await deployment(orchestrated, schedule["id"])).paused


async def test_a_disabled_storage_location_pauses_its_schedules(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    schedule = await make_schedule(api, admin, lab, "0 6 * * *")
    response = await api.patch(
        f"/api/storage-locations/{lab.storage_id}",
        json={"enabled": False},
        headers=admin["headers"],
    )
    assert response.status_code == 200, response.text
    await settle(app)
    assert (await deployment(orchestrated, schedule["id"])).paused


async def test_reconcile_is_idempotent_and_reports_what_it_changed(
    api: httpx.AsyncClient, app: Any, admin: dict[str, Any], lab: LocalLab, orchestrated: str
) -> None:
    await make_schedule(api, admin, lab, "0 7 * * *")
    await settle(app)
    sessions = app.state.context.sessionmaker
    first = await reconcile(sessions, orchestrated)
    assert not first.changed, str(first)
    # Prefect drifted (someone paused it by hand): the next pass puts it back.
    (schedule,) = await lab.rows(select(HarvestSchedule))
    from streamweave.orchestration.connection import prefect

    async with prefect(orchestrated) as client:
        await client.pause_deployment(schedule.prefect_deployment_id)
    second = await reconcile(sessions, orchestrated)
    assert second.resumed == [str(schedule.id)], str(second)
    assert not (await reconcile(sessions, orchestrated)).changed


async def test_prefect_unreachable_never_fails_the_change_and_shows(
    api: httpx.AsyncClient,
    app: Any,
    admin: dict[str, Any],
    lab: LocalLab,
    orchestrated: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamweave.orchestration.server import free_port

    dead = f"http://127.0.0.1:{free_port()}/api"
    app.state.reconciler.url = dead
    monkeypatch.setenv("PREFECT_API_URL", dead)
    schedule = await make_schedule(api, admin, lab, "0 8 * * *")
    await settle(app)
    status = app.state.reconciler.status
    assert status.last_error and "cannot be reached" in status.last_error
    shown = await api.get("/api/schedules/orchestration/status", headers=admin["headers"])
    assert shown.status_code == 200 and "cannot be reached" in shown.json()["last_error"]
    rows = await lab.rows(select(HarvestSchedule))
    assert [str(r.id) for r in rows] == [schedule["id"]]
    response = await api.post(f"/api/schedules/{schedule['id']}/trigger", headers=admin["headers"])
    assert response.status_code == 503, response.text
    assert "cannot be reached" in response.json()["detail"]
    # Back: the next pass catches up.
    app.state.reconciler.url = orchestrated
    await app.state.reconciler.run_once()
    assert status.last_error is None
    assert await deployment(orchestrated, schedule["id"]) is not None
