"""The StreamWeave v0 provisioning flow, over HTTP, against a running `streamweave serve`.

What the v0 dev seed script does to set up a lab: log in as admin, create service
accounts, storage locations of every type, instruments, two schedules for one
instrument, hooks (two without config), users registered with the admin token, groups
and projects with members; then read everything back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STORAGE = {
    "posix": {"connection_config": {}, "base_path": "/srv/archive"},
    "nfs": {
        "connection_config": {"host": "nas.lab", "export_path": "/export/data"},
        "base_path": "/mnt/nas",
    },
    "cifs": {
        "connection_config": {
            "host": "files.lab",
            "share": "archive",
            "username": "svc",
            "password": "smb-secret",
        },
        "base_path": "streamweave",
    },
    "s3": {
        "connection_config": {
            "bucket": "lab-archive",
            "region": "eu-central-1",
            "endpoint_url": "http://127.0.0.1:9000",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "s3-secret-value",
        },
        "base_path": "raw",
    },
    "sftp": {
        "connection_config": {"host": "sftp.lab", "username": "svc", "password": "sftp-secret"},
        "base_path": "data",
    },
    "webdav": {
        "connection_config": {
            "url": "https://dav.lab/remote.php/dav",
            "username": "svc",
            "password": "dav-secret",
        },
        "base_path": "data",
    },
}
SECRETS = [
    "smb-secret",
    "s3-secret-value",
    "AKIAEXAMPLE",
    "sftp-secret",
    "dav-secret",
    "svc-password-1",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(database_url: str, tmp_path: Path, clean_database: Any) -> Iterator[dict[str, Any]]:
    """A real server process on the test database (migrated, empty, emptied afterwards)."""
    port = _free_port()
    env = {
        **os.environ,
        "STREAMWEAVE_DATA_DIR": str(tmp_path / "data"),
        "STREAMWEAVE_DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "streamweave", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            if process.poll() is not None:
                pytest.fail(
                    f"streamweave serve exited: {process.stdout.read() if process.stdout else ''}"
                )
        else:
            pytest.fail("streamweave serve did not become healthy within 60 s")
        email, password = (tmp_path / "data" / "initial-admin.txt").read_text().split()
        yield {"base": base, "email": email, "password": password, "process": process}
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        # The server log must not carry any secret that went through the API.
        for secret in SECRETS:
            assert secret not in output


def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json() if response.content else {}


def _list(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    body = _ok(http.get(path, params={"limit": 500}), 200)
    assert set(body) == {"items", "total", "skip", "limit"}
    assert body["total"] == len(body["items"])
    return body["items"]


def test_v0_provisioning_flow(server: dict[str, Any]) -> None:
    token = _ok(
        httpx.post(
            f"{server['base']}/auth/jwt/login",
            data={"username": server["email"], "password": server["password"]},
        ),
        200,
    )["access_token"]
    http = httpx.Client(
        base_url=server["base"], headers={"Authorization": f"Bearer {token}"}, timeout=30
    )

    accounts = [
        _ok(
            http.post(
                "/api/service-accounts",
                json={
                    "name": f"svc-{i}",
                    "domain": "LAB",
                    "username": f"svc{i}",
                    "password": f"svc-password-{i}",
                },
            )
        )
        for i in (1, 2)
    ]
    assert all("password" not in account for account in accounts)

    storages = {
        kind: _ok(
            http.post(
                "/api/storage-locations", json={"name": f"{kind} archive", "type": kind, **spec}
            )
        )
        for kind, spec in STORAGE.items()
    }
    assert storages["s3"]["connection_config"]["secret_access_key"] == "****"
    assert storages["cifs"]["connection_config"]["password"] == "****"

    nmr = _ok(
        http.post(
            "/api/instruments",
            json={
                "name": "Bruker NMR 600",
                "description": "600 MHz spectrometer",
                "location": "Room 1.23",
                "cifs_host": "nmr600.lab",
                "cifs_share": "data",
                "cifs_base_path": "/nmr",
                "service_account_id": accounts[0]["id"],
                "transfer_adapter": "rclone",
                "enabled": True,
            },
        )
    )
    tem = _ok(
        http.post(
            "/api/instruments",
            json={
                "name": "TEM",
                "cifs_host": "tem.lab",
                "cifs_share": "images",
                "service_account_id": accounts[1]["id"],
            },
        )
    )
    assert nmr["completion_rule"] == {"mode": "quiet_period", "seconds": 60}

    schedules = [
        _ok(
            http.post(
                "/api/schedules",
                json={
                    "instrument_id": nmr["id"],
                    "default_storage_location_id": storages[kind]["id"],
                    "cron_expression": cron,
                },
            )
        )
        for kind, cron in (("posix", "*/15 * * * *"), ("s3", "0 2 * * *"))
    ]
    assert schedules[0]["id"] != schedules[1]["id"]

    hooks = [
        _ok(
            http.post(
                "/api/hooks",
                json={
                    "name": "skip temp files",
                    "trigger": "pre_transfer",
                    "implementation": "builtin",
                    "builtin_name": "file_filter",
                    "config": {"exclude_patterns": ["*.tmp", "~*"]},
                    "priority": 10,
                },
            )
        ),
        _ok(
            http.post(
                "/api/hooks",
                json={
                    "name": "enrich",
                    "trigger": "post_transfer",
                    "implementation": "builtin",
                    "builtin_name": "metadata_enrichment",
                    "instrument_id": nmr["id"],
                },
            )
        ),
        _ok(
            http.post(
                "/api/hooks",
                json={
                    "name": "grant",
                    "trigger": "post_transfer",
                    "implementation": "builtin",
                    "builtin_name": "access_assignment",
                    "priority": 200,
                },
            )
        ),
    ]
    assert hooks[1]["config"] == {} and hooks[2]["config"] == {}

    users = [
        _ok(
            http.post(
                "/auth/register",
                json={
                    "email": f"researcher{i}@lab.example.org",
                    "password": f"researcher-pass-{i}",
                },
            )
        )
        for i in (1, 2, 3)
    ]
    assert all(user["role"] == "user" for user in users)

    group = _ok(
        http.post("/api/groups", json={"name": "NMR users", "description": "everyone on the NMR"})
    )
    for user in users[:2]:
        member = _ok(http.post(f"/api/groups/{group['id']}/members", json={"user_id": user["id"]}))
        assert member["email"] == user["email"]
    assert (
        http.post(
            f"/api/groups/{group['id']}/members", json={"user_id": users[0]["id"]}
        ).status_code
        == 409
    )

    project = _ok(http.post("/api/projects", json={"name": "Metabolomics 2026"}))
    _ok(
        http.post(
            f"/api/projects/{project['id']}/members",
            json={"member_type": "group", "member_id": group["id"]},
        )
    )
    member = _ok(
        http.post(
            f"/api/projects/{project['id']}/members",
            json={"member_type": "user", "member_id": users[2]["id"]},
        )
    )
    assert member["email"] == users[2]["email"]

    # Everything reads back.
    assert {a["id"] for a in _list(http, "/api/service-accounts")} == {a["id"] for a in accounts}
    assert {s["type"] for s in _list(http, "/api/storage-locations")} == set(STORAGE)
    assert {i["name"] for i in _list(http, "/api/instruments")} == {"Bruker NMR 600", "TEM"}
    assert {s["instrument_id"] for s in _list(http, "/api/schedules")} == {nmr["id"]}
    assert len(_list(http, "/api/schedules")) == 2
    assert [h["name"] for h in _list(http, "/api/hooks")] == ["skip temp files", "enrich", "grant"]
    assert {u["email"] for u in _list(http, "/api/admin/users")} >= {u["email"] for u in users}
    assert len(_list(http, f"/api/groups/{group['id']}/members")) == 2
    assert len(_list(http, f"/api/projects/{project['id']}/members")) == 2
    assert [g["name"] for g in _list(http, "/api/groups")] == ["NMR users"]
    assert [p["name"] for p in _list(http, "/api/projects")] == ["Metabolomics 2026"]
    assert tem["id"] in {i["id"] for i in _list(http, "/api/instruments")}
    audit = _ok(http.get("/api/admin/audit-logs", params={"limit": 500}), 200)
    assert audit["total"] >= 20
    for secret in SECRETS:
        assert secret not in str(audit["items"])
