"""GET /api/cron/preview: the next runs of a schedule's cron in its time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx


async def test_next_runs_in_the_time_zone(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    response = await client.get(
        "/api/cron/preview",
        params={"cron_expression": "30 2 * * 1-5", "timezone": "Europe/Berlin", "count": 7},
        headers=admin["headers"],
    )
    assert response.status_code == 200
    runs = [datetime.fromisoformat(item) for item in response.json()["next_runs"]]
    assert len(runs) == 7
    assert runs == sorted(runs)
    for run in runs:
        local = run.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (2, 30)
        assert local.isoweekday() <= 5


async def test_bad_input_is_explained(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    bad_cron = await client.get(
        "/api/cron/preview", params={"cron_expression": "every day"}, headers=admin["headers"]
    )
    assert bad_cron.status_code == 422
    assert "not a valid cron expression" in bad_cron.json()["detail"]
    bad_zone = await client.get(
        "/api/cron/preview",
        params={"cron_expression": "0 * * * *", "timezone": "Mars/Olympus"},
        headers=admin["headers"],
    )
    assert bad_zone.status_code == 422
    assert "IANA time zone" in bad_zone.json()["detail"]


async def test_admins_only(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    response = await client.get(
        "/api/cron/preview", params={"cron_expression": "0 * * * *"}, headers=alice["headers"]
    )
    assert response.status_code == 403
