"""A secret that changes is audited as changed, and its value never reaches the trail."""

from __future__ import annotations

from typing import Any

import httpx


async def test_secret_change_is_audited_masked(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    headers = admin["headers"]
    created = await client.post(
        "/api/service-accounts",
        json={"name": "nmr-svc", "username": "svc", "password": "first-secret"},
        headers=headers,
    )
    account = created.json()
    response = await client.patch(
        f"/api/service-accounts/{account['id']}", json={"password": "second-secret"}, headers=headers
    )
    assert response.status_code == 200
    entries = (
        await client.get(
            "/api/admin/audit-logs",
            params={"entity_type": "service_accounts", "action": "update"},
            headers=headers,
        )
    ).json()["items"]
    assert len(entries) == 1
    assert entries[0]["changes"] == {
        "before": {"password_encrypted": "****"},
        "after": {"password_encrypted": "****"},
    }
    trail = (await client.get("/api/admin/audit-logs", headers=headers)).text
    assert "first-secret" not in trail and "second-secret" not in trail
