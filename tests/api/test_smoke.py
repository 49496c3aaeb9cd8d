from __future__ import annotations

from typing import Any

import httpx


async def test_health_checks_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_login_and_me(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    response = await client.post(
        "/auth/jwt/login", data={"username": admin["email"], "password": "correct horse battery"}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "admin"
    assert me.json()["is_superuser"] is True
