"""The lab resources through HTTP: validation, secrets, soft delete, pagination.

Storage locations, service accounts, instruments, schedules, hooks, groups and projects.
Every rejected request must be a 422 (or 409) with a message that says what is wrong,
and must change nothing in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import Uuid, bindparam, text

from streamweave.db.models import (
    HarvestSchedule,
    HookConfig,
    Instrument,
    ServiceAccount,
    StorageLocation,
)
from streamweave.services.validation import server_timezone
from tests.api.conftest import (
    Json,
    Refuse,
    add_file,
    builtin_hook,
    count,
    created,
    instrument,
    redirect_to,
    webhook,
)
from tests.conftest import BACKEND

# --- helpers ---------------------------------------------------------------------------


async def raw_row(app: Any, table: str, row_id: str) -> str:
    """The row as the database holds it, every column rendered as text."""
    async with app.state.context.sessionmaker() as session:
        query = text(f"SELECT * FROM {table} WHERE id = :id").bindparams(
            bindparam("id", type_=Uuid())
        )
        result = await session.execute(query, {"id": uuid.UUID(row_id)})
        row = result.mappings().one()
    return " ".join(str(value) for value in row.values())


async def storage(client: httpx.AsyncClient, admin: Json, path: str, name: str = "archive") -> Json:
    body = {"name": name, "type": "posix", "base_path": path}
    return await created(client, "/api/storage-locations", admin["headers"], body)


async def service_account(client: httpx.AsyncClient, admin: Json, **fields: Any) -> Json:
    """A service account "svc" created by the admin; ``fields`` add to or override it."""
    body = {"name": "svc", "username": "harvester", "password": "pw", **fields}
    return await created(client, "/api/service-accounts", admin["headers"], body)


# --- storage locations -----------------------------------------------------------------

S3 = {
    "bucket": "lab-data",
    "region": "eu-central-1",
    "endpoint_url": "https://s3.example.org",
    "access_key_id": "AKIAEXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG",
}

VALID_STORAGE = {
    "posix": ({}, "/srv/archive"),
    "nfs": (
        {"host": "nas.example.org", "export_path": "/export/lab", "mount_options": "vers=4"},
        "/mnt/lab",
    ),
    "cifs": (
        {
            "host": "files.example.org",
            "share": "archive",
            "domain": "LAB",
            "username": "svc",
            "password": "pw1",
        },
        "",
    ),
    "s3": (S3, "raw"),
    "sftp": (
        {
            "host": "sftp.example.org",
            "port": 2222,
            "username": "lab",
            "password": "pw2",
            "path": "incoming",
        },
        "",
    ),
    "webdav": (
        {
            "url": "https://dav.example.org/remote.php",
            "vendor": "nextcloud",
            "username": "lab",
            "password": "pw3",
        },
        "data",
    ),
}


async def s3_storage(client: httpx.AsyncClient, admin: Json) -> Json:
    """An S3 location named "bucket": one whose connection config holds secrets."""
    body = {"name": "bucket", "type": "s3", "connection_config": S3}
    return await created(client, "/api/storage-locations", admin["headers"], body)


SECRETS_BY_TYPE = {
    "posix": set(),
    "nfs": set(),
    "cifs": {"password"},
    "s3": {"access_key_id", "secret_access_key"},
    "sftp": {"password"},
    "webdav": {"password"},
}


@pytest.mark.parametrize("kind", sorted(VALID_STORAGE))
async def test_every_storage_type_accepts_a_valid_config_and_masks_its_secrets(
    client: httpx.AsyncClient, app: Any, admin: Json, kind: str
) -> None:
    config, base_path = VALID_STORAGE[kind]
    body = {
        "name": f"{kind} store",
        "type": kind,
        "connection_config": config,
        "base_path": base_path,
    }
    location = await created(client, "/api/storage-locations", admin["headers"], body)
    assert location["type"] == kind
    assert location["base_path"] == base_path
    shown = location["connection_config"]
    for key, value in config.items():
        assert shown[key] == ("****" if key in SECRETS_BY_TYPE[kind] else value)
    fetched = await client.get(f"/api/storage-locations/{location['id']}", headers=admin["headers"])
    assert fetched.json()["connection_config"] == shown
    listed = await client.get("/api/storage-locations", headers=admin["headers"])
    assert [item["connection_config"] for item in listed.json()["items"]] == [shown]
    # What is stored decrypts to exactly what was sent.
    async with app.state.context.sessionmaker() as session:
        row = await session.get(StorageLocation, uuid.UUID(location["id"]))
        assert row is not None
        stored = app.state.context.secrets.decrypt_json(row.secrets)
    assert stored == {key: config[key] for key in SECRETS_BY_TYPE[kind]}


INVALID_STORAGE = [
    ("posix", {}, "", "base_path"),
    ("posix", {}, "relative/dir", "absolute"),
    ("posix", {}, "/srv/../etc", "'..'"),
    ("posix", {"host": "x"}, "/srv", "host"),
    ("nfs", {"export_path": "/export"}, "/mnt", "host"),
    ("nfs", {"host": "nas", "export_path": "/export/../root"}, "/mnt", "'..'"),
    ("nfs", {"host": "nas", "export_path": "/export"}, "", "base_path"),
    ("cifs", {"host": "files", "username": "u", "password": "p"}, "", "share"),
    (
        "cifs",
        {"host": "files", "share": "s", "username": "u", "password": "p", "port": 70000},
        "",
        "port",
    ),
    ("cifs", {"host": "files", "share": "s", "username": "u"}, "", "password"),
    ("s3", {**S3, "bucket": "Not_A_Bucket"}, "", "bucket"),
    (
        "s3",
        {key: v for key, v in S3.items() if key != "secret_access_key"},
        "",
        "secret_access_key",
    ),
    ("s3", {**S3, "endpoint_url": "ftp://s3.example.org"}, "", "endpoint_url"),
    ("s3", {**S3, "prefix": "a/../b"}, "", "'..'"),
    ("s3", S3, "../up", "'..'"),
    ("sftp", {"host": "sftp"}, "", "username"),
    ("sftp", {"host": "sftp", "username": "u", "path": "../etc"}, "", "'..'"),
    ("sftp", {"host": "sftp", "username": "u", "port": 0}, "", "port"),
    ("webdav", {"url": "dav.example.org"}, "", "url"),
    ("webdav", {"url": "https://dav.example.org", "vendor": "dropbox"}, "", "vendor"),
    ("webdav", {"url": "https://dav.example.org", "path": "x/../../y"}, "", "'..'"),
    ("webdav", {"url": "https://dav.example.org", "color": "blue"}, "", "color"),
    pytest.param("ftp", {}, "/srv", "type", id="unknown storage type"),
]


@pytest.mark.parametrize(("kind", "config", "base_path", "mentions"), INVALID_STORAGE)
async def test_invalid_storage_configs_are_rejected_and_change_nothing(
    refused: Refuse, kind: str, config: Json, base_path: str, mentions: str
) -> None:
    body = {"name": "bad", "type": kind, "connection_config": config, "base_path": base_path}
    await refused("POST", "/api/storage-locations", body, model=StorageLocation, mentions=mentions)


async def test_invalid_storage_patch_changes_nothing(
    client: httpx.AsyncClient, app: Any, admin: Json, refused: Refuse
) -> None:
    location = await s3_storage(client, admin)
    url = f"/api/storage-locations/{location['id']}"
    before = await raw_row(app, "storage_locations", location["id"])
    for body, mentions in (
        ({"connection_config": {**S3, "bucket": "x"}}, "bucket"),
        ({"type": "posix"}, "base_path"),
    ):
        await refused("PATCH", url, body, model=StorageLocation, mentions=mentions)
    assert await raw_row(app, "storage_locations", location["id"]) == before


async def test_masked_secret_in_a_patch_keeps_the_stored_one(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    location = await s3_storage(client, admin)
    url = f"/api/storage-locations/{location['id']}"
    # A client sends back what it read, with one field changed.
    echoed = {**location["connection_config"], "region": "us-west-2"}
    assert echoed["secret_access_key"] == "****"
    response = await client.patch(url, json={"connection_config": echoed}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["connection_config"]["region"] == "us-west-2"
    assert response.json()["connection_config"]["secret_access_key"] == "****"

    async def stored() -> Json:
        async with app.state.context.sessionmaker() as session:
            row = await session.get(StorageLocation, uuid.UUID(location["id"]))
            assert row is not None
            return app.state.context.secrets.decrypt_json(row.secrets)

    assert await stored() == {
        "access_key_id": S3["access_key_id"],
        "secret_access_key": S3["secret_access_key"],
    }
    # A PATCH without connection_config keeps everything too.
    response = await client.patch(url, json={"name": "renamed"}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert (await stored())["secret_access_key"] == S3["secret_access_key"]
    # A new value replaces the secret.
    response = await client.patch(
        url,
        json={"connection_config": {**echoed, "secret_access_key": "rotated-key"}},
        headers=admin["headers"],
    )
    assert response.status_code == 200, response.text
    assert (await stored())["secret_access_key"] == "rotated-key"
    assert (await stored())["access_key_id"] == S3["access_key_id"]


async def test_masked_secret_without_a_stored_one_is_rejected(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    body = {"name": "sftp", "type": "sftp", "connection_config": {"host": "h", "username": "u"}}
    location = await created(client, "/api/storage-locations", admin["headers"], body)
    await refused(
        "PATCH",
        f"/api/storage-locations/{location['id']}",
        {"connection_config": {"host": "h", "username": "u", "password": "****"}},
        model=StorageLocation,
        mentions=("password", "none is stored"),
    )


async def test_secrets_are_encrypted_at_rest(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    location = await s3_storage(client, admin)
    account = await service_account(client, admin, password="plain-service-password")
    sftp = {"host": "seq.example.org", "username": "u", "password": "plain-sftp-password"}
    body = {"name": "seq", "source_type": "sftp", "source_config": sftp}
    source = await created(client, "/api/instruments", admin["headers"], body)
    assert source["source_config"]["password"] == "****"
    storage_row = await raw_row(app, "storage_locations", location["id"])
    assert S3["secret_access_key"] not in storage_row
    assert S3["access_key_id"] not in storage_row
    assert "plain-service-password" not in await raw_row(app, "service_accounts", account["id"])
    assert "plain-sftp-password" not in await raw_row(app, "instruments", source["id"])
    # ...and no API answer carries them either.
    for url in (
        f"/api/storage-locations/{location['id']}",
        f"/api/service-accounts/{account['id']}",
        f"/api/instruments/{source['id']}",
        "/api/admin/audit-logs?limit=500",
    ):
        body = (await client.get(url, headers=admin["headers"])).text
        for secret in (S3["secret_access_key"], "plain-service-password", "plain-sftp-password"):
            assert secret not in body, (url, secret)


async def test_service_account_password_is_write_only_and_kept_on_masked_patch(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    account = await service_account(client, admin, domain="LAB", password="first-password")
    assert "password" not in account
    url = f"/api/service-accounts/{account['id']}"

    async def revealed() -> str:
        response = await client.get(f"{url}/password", headers=admin["headers"])
        assert response.status_code == 200, response.text
        return str(response.json()["password"])

    assert await revealed() == "first-password"
    response = await client.patch(
        url, json={"password": "****", "username": "h2"}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "h2"
    assert await revealed() == "first-password"
    response = await client.patch(
        url, json={"password": "second-password"}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert await revealed() == "second-password"
    # null means "unchanged" for the columns that cannot be empty; domain can be cleared.
    response = await client.patch(
        url, json={"name": None, "username": None, "domain": None}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["username"], response.json()["domain"]) == (
        "svc",
        "h2",
        None,
    )
    async with app.state.context.sessionmaker() as session:
        row = await session.get(ServiceAccount, uuid.UUID(account["id"]))
        assert row is not None
        assert app.state.context.secrets.decrypt(row.password_encrypted) == "second-password"


async def test_password_reveal_is_admin_only_and_audited(
    client: httpx.AsyncClient, admin: Json, alice: Json
) -> None:
    account = await service_account(client, admin)
    url = f"/api/service-accounts/{account['id']}/password"
    assert (await client.get(url, headers=alice["headers"])).status_code == 404
    assert (await client.get(url, headers=admin["headers"])).status_code == 200
    logs = await client.get(
        "/api/admin/audit-logs", params={"action": "reveal_secret"}, headers=admin["headers"]
    )
    assert [entry["entity_id"] for entry in logs.json()["items"]] == [account["id"]]


# --- instruments -----------------------------------------------------------------------


async def test_cifs_instrument_needs_host_and_share(
    client: httpx.AsyncClient, app: Any, admin: Json, refused: Refuse
) -> None:
    for body, mentions in (
        ({"name": "scope", "cifs_host": "files.example.org"}, ("cifs_share",)),
        ({"name": "scope"}, ("cifs_host", "cifs_share")),
    ):
        await refused("POST", "/api/instruments", body, model=Instrument, mentions=mentions)
    made = await instrument(client, admin, cifs_base_path="/runs/2024")
    assert (made["source_type"], made["cifs_host"], made["cifs_share"]) == (
        "cifs",
        "files.example.org",
        "data",
    )
    assert made["cifs_port"] == 445
    # Removing the share of a live SMB instrument is refused too, and changes nothing.
    before = await raw_row(app, "instruments", made["id"])
    url = f"/api/instruments/{made['id']}"
    await refused("PATCH", url, {"cifs_share": None}, model=Instrument, mentions="cifs_share")
    assert await raw_row(app, "instruments", made["id"]) == before


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        ({"path": "data/runs"}, "absolute"),
        ({"path": "/data/../etc"}, "'..'"),
        ({}, "path"),
        ({"path": "/data", "host": "x"}, "host"),
    ],
)
async def test_local_source_needs_an_absolute_path(
    refused: Refuse, config: Json, mentions: str
) -> None:
    body = {"name": "local", "source_type": "local", "source_config": config}
    await refused(
        "POST", "/api/instruments", body, model=Instrument, mentions=("source_config", mentions)
    )


async def test_local_source_with_an_absolute_path_is_accepted(
    client: httpx.AsyncClient, admin: Json
) -> None:
    body = {"name": "local", "source_type": "local", "source_config": {"path": "/data/instrument"}}
    made = await created(client, "/api/instruments", admin["headers"], body)
    assert made["source_type"] == "local"
    assert made["source_config"] == {"path": "/data/instrument"}


DOTDOT_INSTRUMENTS = [
    {"name": "i", "cifs_host": "h", "cifs_share": "s", "cifs_base_path": "runs/../../secret"},
    {"name": "i", "cifs_host": "h", "cifs_share": "s", "cifs_base_path": "\\runs\\..\\x"},
    {"name": "i", "source_type": "local", "source_config": {"path": "/data/.."}},
    {
        "name": "i",
        "source_type": "sftp",
        "source_config": {"host": "h", "username": "u", "path": "../x"},
    },
    {"name": "i", "source_type": "s3", "source_config": {**S3, "prefix": "raw/../../"}},
    {"name": "i", "source_type": "webdav", "source_config": {"url": "https://d", "path": "a/.."}},
]


@pytest.mark.parametrize("body", DOTDOT_INSTRUMENTS)
async def test_dotdot_is_rejected_in_every_instrument_path(refused: Refuse, body: Json) -> None:
    await refused("POST", "/api/instruments", body, model=Instrument, mentions="'..'")


async def test_dotdot_is_rejected_when_patching_a_path(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    made = await instrument(client, admin)
    location = await storage(client, admin, "/srv/archive")
    for url, body, model in (
        (f"/api/instruments/{made['id']}", {"cifs_base_path": "a/../../b"}, Instrument),
        (f"/api/storage-locations/{location['id']}", {"base_path": "/srv/../etc"}, StorageLocation),
    ):
        await refused("PATCH", url, body, model=model, mentions="'..'")


async def test_completion_rule_defaults_to_a_sixty_second_quiet_period(
    client: httpx.AsyncClient, admin: Json
) -> None:
    made = await instrument(client, admin)
    assert made["completion_rule"] == {"mode": "quiet_period", "seconds": 60}


@pytest.mark.parametrize(
    "rule",
    [
        {"mode": "none"},
        {"mode": "quiet_period", "seconds": 0},
        {"mode": "quiet_period", "seconds": 3600},
        {"mode": "marker", "marker": "RTAComplete.txt", "scope": "directory"},
    ],
)
async def test_completion_rule_variants_are_stored(
    client: httpx.AsyncClient, admin: Json, rule: Json
) -> None:
    made = await instrument(client, admin, completion_rule=rule)
    assert made["completion_rule"] == rule
    other = {"mode": "quiet_period", "seconds": 5}
    response = await client.patch(
        f"/api/instruments/{made['id']}", json={"completion_rule": other}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["completion_rule"] == other


async def test_marker_rule_defaults_its_scope(client: httpx.AsyncClient, admin: Json) -> None:
    made = await instrument(client, admin, completion_rule={"mode": "marker", "marker": ".done"})
    assert made["completion_rule"] == {"mode": "marker", "marker": ".done", "scope": "directory"}


@pytest.mark.parametrize(
    "rule",
    [
        {"mode": "quiet_period", "seconds": -1},
        {"mode": "quiet_period"},
        {"mode": "quiet_period", "seconds": 10**9},
        {"mode": "marker", "marker": "sub/RTAComplete.txt"},
        {"mode": "marker", "marker": ""},
        {"mode": "marker", "marker": "x", "scope": "tree"},
        {"mode": "eventually"},
        {"mode": "none", "seconds": 1},
    ],
)
async def test_invalid_completion_rules_are_rejected(refused: Refuse, rule: Json) -> None:
    body = {"name": "i", "cifs_host": "h", "cifs_share": "s", "completion_rule": rule}
    await refused("POST", "/api/instruments", body, model=Instrument, mentions="completion_rule")


async def test_instrument_names_are_unique_among_live_ones(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    async def name_taken(method: str, url: str, body: Json) -> None:
        await refused(method, url, body, model=Instrument, status=409, mentions="microscope")

    first = await instrument(client, admin, "microscope")
    await name_taken(
        "POST", "/api/instruments", {"name": "microscope", "cifs_host": "h", "cifs_share": "s"}
    )
    other = await instrument(client, admin, "sequencer")
    await name_taken("PATCH", f"/api/instruments/{other['id']}", {"name": "microscope"})
    # Once deleted, the name is free again...
    response = await client.delete(f"/api/instruments/{first['id']}", headers=admin["headers"])
    assert response.status_code == 204
    second = await instrument(client, admin, "microscope")
    assert second["id"] != first["id"]
    # ...and the deleted one cannot come back while a live one holds its name.
    await name_taken("POST", f"/api/instruments/{first['id']}/restore", {})
    listed = await client.get("/api/instruments", headers=admin["headers"])
    assert sorted(item["id"] for item in listed.json()["items"]) == sorted(
        [second["id"], other["id"]]
    )
    # After the live one is renamed, the restore goes through.
    response = await client.patch(
        f"/api/instruments/{second['id']}", json={"name": "microscope-2"}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        f"/api/instruments/{first['id']}/restore", headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["deleted_at"] is None


async def test_instrument_patch_with_null_name_keeps_the_name(
    client: httpx.AsyncClient, admin: Json
) -> None:
    made = await instrument(client, admin, "microscope")
    response = await client.patch(
        f"/api/instruments/{made['id']}",
        json={"name": None, "description": "x"},
        headers=admin["headers"],
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("microscope", "x")


async def test_instrument_with_a_deleted_service_account_is_rejected(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    account = await service_account(client, admin, username="u", password="p")
    await client.delete(f"/api/service-accounts/{account['id']}", headers=admin["headers"])
    body = {"name": "i", "cifs_host": "h", "cifs_share": "s", "service_account_id": account["id"]}
    await refused("POST", "/api/instruments", body, model=Instrument, mentions="service_account_id")


async def test_text_that_cannot_be_stored_is_rejected_on_every_backend(
    client: httpx.AsyncClient, app: Any, admin: Json, refused: Refuse
) -> None:
    share = {"cifs_host": "h", "cifs_share": "s"}
    for body, mentions in (
        ({"name": "scope\x00", **share}, ("name", "NUL")),
        (
            {"name": "scope", **share, "transfer_config": {"flags": ["-v", "\x00"]}},
            ("transfer_config.flags.1", "NUL"),
        ),
    ):
        await refused("POST", "/api/instruments", body, model=Instrument, mentions=mentions)
    rows = await count(app, Instrument)
    raw_share = b'"cifs_host": "h", "cifs_share": "s"'
    for raw, mentions in (
        # A lone surrogate is valid JSON ("\udc00") but not Unicode that UTF-8 can carry.
        (b'{"name": "scope\\udc00", ' + raw_share + b"}", "surrogate"),
        # Python's JSON parser takes NaN and Infinity; JSON (and so the answer) cannot
        # hold them.
        (b'{"name": NaN, ' + raw_share + b"}", "name"),
        (
            b'{"name": "i", "transfer_config": {"x": Infinity}, ' + raw_share + b"}",
            "transfer_config.x",
        ),
        (b'{"name": "i", "cifs_port": -Infinity, ' + raw_share + b"}", "cifs_port"),
    ):
        response = await client.post(
            "/api/instruments",
            content=raw,
            headers={**admin["headers"], "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert mentions in response.text
        assert await count(app, Instrument) == rows


# --- schedules -------------------------------------------------------------------------


async def schedule_body(
    client: httpx.AsyncClient, admin: Json, tmp_path: Any, **fields: Any
) -> Json:
    """A valid schedule (hourly) of a new instrument into a new storage location;
    ``fields`` add to or override it."""
    source = await instrument(client, admin)
    target = await storage(client, admin, str(tmp_path))
    return {
        "instrument_id": source["id"],
        "default_storage_location_id": target["id"],
        "cron_expression": "0 * * * *",
        **fields,
    }


async def test_valid_schedule_is_created(
    client: httpx.AsyncClient, admin: Json, tmp_path: Any
) -> None:
    body = await schedule_body(
        client, admin, tmp_path, cron_expression="  */15   *  * * *", timezone="Europe/Berlin"
    )
    schedule = await created(client, "/api/schedules", admin["headers"], body)
    assert schedule["cron_expression"] == "*/15 * * * *"
    assert schedule["timezone"] == "Europe/Berlin"
    assert schedule["enabled"] is True


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [
        ({"cron_expression": "every hour"}, "cron_expression"),
        ({"cron_expression": "61 * * * *"}, "cron_expression"),
        ({"cron_expression": "* * * *"}, "cron_expression"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
    ],
)
async def test_invalid_cron_and_timezone_are_rejected(
    client: httpx.AsyncClient,
    admin: Json,
    refused: Refuse,
    tmp_path: Any,
    fields: Json,
    mentions: str,
) -> None:
    body = await schedule_body(client, admin, tmp_path, **fields)
    await refused("POST", "/api/schedules", body, model=HarvestSchedule, mentions=mentions)


async def test_schedule_cannot_reference_deleted_or_missing_resources(
    client: httpx.AsyncClient, admin: Json, refused: Refuse, tmp_path: Any
) -> None:
    body = await schedule_body(client, admin, tmp_path)
    schedule = await created(client, "/api/schedules", admin["headers"], body)
    source_id = body["instrument_id"]
    await client.delete(f"/api/instruments/{source_id}", headers=admin["headers"])
    for method, url, request in (
        ("POST", "/api/schedules", body),
        ("PATCH", f"/api/schedules/{schedule['id']}", {"instrument_id": source_id}),
        ("POST", "/api/schedules", {**body, "instrument_id": str(uuid.uuid4())}),
    ):
        await refused(method, url, request, model=HarvestSchedule, mentions="instrument_id")
    other = await instrument(client, admin, "other")
    target_id = body["default_storage_location_id"]
    await client.delete(f"/api/storage-locations/{target_id}", headers=admin["headers"])
    await refused(
        "POST",
        "/api/schedules",
        {**body, "instrument_id": other["id"]},
        model=HarvestSchedule,
        mentions="default_storage_location_id",
    )


async def test_schedule_patch_validates_cron_and_timezone(
    client: httpx.AsyncClient, admin: Json, refused: Refuse, tmp_path: Any
) -> None:
    body = await schedule_body(client, admin, tmp_path)
    schedule = await created(client, "/api/schedules", admin["headers"], body)
    url = f"/api/schedules/{schedule['id']}"
    for change, mentions in (
        ({"cron_expression": "nope"}, "cron_expression"),
        ({"timezone": "Nowhere/Land"}, "timezone"),
    ):
        await refused("PATCH", url, change, model=HarvestSchedule, mentions=mentions)
    response = await client.get(url, headers=admin["headers"])
    # Unchanged by the rejected edits; the time zone is the server's, the default.
    assert (response.json()["cron_expression"], response.json()["timezone"]) == (
        "0 * * * *",
        server_timezone(),
    )


# --- hooks -----------------------------------------------------------------------------


async def test_builtin_hooks_are_listed_with_their_json_schemas(
    client: httpx.AsyncClient, admin: Json, alice: Json
) -> None:
    response = await client.get("/api/hooks/builtins", headers=admin["headers"])
    assert response.status_code == 200, response.text
    builtins = {hook["name"]: hook for hook in response.json()}
    assert set(builtins) == {"file_filter", "metadata_enrichment", "access_assignment"}
    assert builtins["file_filter"]["trigger"] == "pre_transfer"
    assert builtins["metadata_enrichment"]["trigger"] == "post_transfer"
    assert builtins["access_assignment"]["trigger"] == "post_transfer"
    for hook in builtins.values():
        assert hook["display_name"] and hook["description"]
        Draft202012Validator.check_schema(hook["config_schema"])
        assert hook["config_schema"]["type"] == "object"
    assert set(builtins["file_filter"]["config_schema"]["properties"]) >= {
        "exclude_patterns",
        "include_patterns",
        "redirect_rules",
        "min_size_bytes",
    }
    assert (await client.get("/api/hooks/builtins", headers=alice["headers"])).status_code == 403


@pytest.mark.parametrize("name", ["file_filter", "metadata_enrichment", "access_assignment"])
async def test_builtin_config_may_be_omitted(
    client: httpx.AsyncClient, admin: Json, name: str
) -> None:
    hook = await created(client, "/api/hooks", admin["headers"], builtin_hook(name))
    assert hook["config"] == {}
    assert hook["priority"] == 100
    assert hook["enabled"] is True
    assert hook["instrument_id"] is None


VALID_HOOK_CONFIGS = [
    (
        "file_filter",
        {
            "exclude_patterns": ["*.tmp", "~$*"],
            "include_patterns": ["*.raw"],
            "min_size_bytes": 1,
            "redirect_rules": [{"pattern": "*.log", "destination": "logs/instrument"}],
        },
    ),
    (
        "metadata_enrichment",
        {
            "rules": [{"pattern": r"(?P<sample>S\d+)_(?P<run>\d+)", "source": "filename"}],
            "extractors": ["tiff_tags"],
        },
    ),
    (
        "access_assignment",
        {
            "grants": [
                {"grantee_type": "user", "match_field": "owner_email"},
                {"grantee_type": "project", "match_field": "study", "source": "literal"},
            ],
        },
    ),
]


@pytest.mark.parametrize(("name", "config"), VALID_HOOK_CONFIGS)
async def test_valid_builtin_configs_are_stored(
    client: httpx.AsyncClient, admin: Json, name: str, config: Json
) -> None:
    hook = await created(client, "/api/hooks", admin["headers"], builtin_hook(name, config=config))
    assert hook["config"] == config


INVALID_HOOKS = [
    # (builtin, trigger, config, mentions)
    ("file_filter", "pre_transfer", {"exclude_patterns": "*.tmp"}, "exclude_patterns"),
    ("file_filter", "pre_transfer", {"unknown_option": True}, "unknown_option"),
    ("file_filter", "pre_transfer", {"min_size_bytes": -1}, "min_size_bytes"),
    ("file_filter", "pre_transfer", {"redirect_rules": [{"pattern": "*.log"}]}, "destination"),
    ("file_filter", "pre_transfer", redirect_to("../outside"), "destination"),
    ("file_filter", "pre_transfer", redirect_to("a/../../b"), "destination"),
    ("file_filter", "pre_transfer", redirect_to("/etc"), "destination"),
    ("file_filter", "pre_transfer", redirect_to("logs/.."), "destination"),
    (
        "metadata_enrichment",
        "post_transfer",
        {"rules": [{"pattern": "(?P<x>[a-"}]},
        "regular expression",
    ),
    (
        "metadata_enrichment",
        "post_transfer",
        {"rules": [{"pattern": "x", "source": "header"}]},
        "source",
    ),
    ("metadata_enrichment", "post_transfer", {"extractors": ["exif"]}, "extractors"),
    (
        "access_assignment",
        "post_transfer",
        {"grants": [{"grantee_type": "team", "match_field": "x"}]},
        "grantee_type",
    ),
    ("access_assignment", "post_transfer", {"grants": [{"grantee_type": "user"}]}, "match_field"),
    # The trigger must be the built-in's own.
    ("file_filter", "post_transfer", {}, "pre_transfer"),
    ("metadata_enrichment", "pre_transfer", {}, "post_transfer"),
    ("no_such_hook", "post_transfer", {}, "no_such_hook"),
]


@pytest.mark.parametrize(("name", "trigger", "config", "mentions"), INVALID_HOOKS)
async def test_invalid_hooks_are_rejected(
    refused: Refuse, name: str, trigger: str, config: Json, mentions: str
) -> None:
    body = builtin_hook(name, trigger, name="h", config=config)
    await refused("POST", "/api/hooks", body, model=HookConfig, mentions=mentions)


async def test_hook_patch_is_validated_against_the_builtin(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    body = builtin_hook("file_filter", name="filter")
    hook = await created(client, "/api/hooks", admin["headers"], body)
    url = f"/api/hooks/{hook['id']}"
    for change, mentions in (
        ({"trigger": "post_transfer"}, "pre_transfer"),
        ({"config": redirect_to("../x")}, "destination"),
        ({"builtin_name": "metadata_enrichment"}, "post_transfer"),
    ):
        await refused("PATCH", url, change, model=HookConfig, mentions=mentions)
    response = await client.patch(
        url, json={"config": {"exclude_patterns": ["*.bak"]}}, headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["config"] == {"exclude_patterns": ["*.bak"]}


async def test_hook_implementations_need_their_target(refused: Refuse) -> None:
    for body, mentions in (
        ({"implementation": "builtin"}, "builtin_name"),
        ({"implementation": "http_webhook"}, "webhook_url"),
        ({"implementation": "http_webhook", "webhook_url": "file:///etc/passwd"}, "webhook_url"),
        ({"implementation": "python_script", "script_path": "/opt/hook.py"}, "python_script"),
    ):
        body = {"name": "h", "trigger": "post_transfer", **body}
        await refused("POST", "/api/hooks", body, model=HookConfig, mentions=mentions)


async def test_webhook_secret_is_encrypted_and_never_returned(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    secret = "a-long-webhook-signing-secret"
    hook = await created(client, "/api/hooks", admin["headers"], webhook(webhook_secret=secret))
    assert hook["has_webhook_secret"] is True
    assert "webhook_secret" not in hook
    assert secret not in await raw_row(app, "hook_configs", hook["id"])
    response = await client.patch(
        f"/api/hooks/{hook['id']}",
        json={"webhook_secret": "****", "priority": 5},
        headers=admin["headers"],
    )
    assert response.status_code == 200, response.text
    async with app.state.context.sessionmaker() as session:
        row = await session.get(HookConfig, uuid.UUID(hook["id"]))
        assert row is not None and row.webhook_secret is not None
        assert app.state.context.secrets.decrypt(row.webhook_secret) == secret


# --- soft delete with consequences -----------------------------------------------------


async def _visible(client: httpx.AsyncClient, user: Json, file_id: str) -> bool:
    single = await client.get(f"/api/files/{file_id}", headers=user["headers"])
    listed = await client.get("/api/files", headers=user["headers"])
    assert listed.status_code == 200, listed.text
    in_list = file_id in [item["id"] for item in listed.json()["items"]]
    assert single.status_code in (200, 404), single.text
    assert in_list == (single.status_code == 200), "list and single lookup disagree"
    assert listed.json()["total"] == len(listed.json()["items"])
    return in_list


async def with_member(
    client: httpx.AsyncClient, admin: Json, kind: str, name: str, member: Json
) -> Json:
    """A new group or project (``kind``: "groups" or "projects") with one member."""
    made = await created(client, f"/api/{kind}", admin["headers"], {"name": name})
    await created(client, f"/api/{kind}/{made['id']}/members", admin["headers"], member)
    return made


async def file_granted_to(
    client: httpx.AsyncClient, app: Any, admin: Json, grantee_type: str, grantee_id: str
) -> str:
    """A harvested file of a new instrument, granted to one grantee only: who sees it
    then depends on nothing but how they reach that grantee."""
    source = await instrument(client, admin)
    file_id = await add_file(app, source["id"])
    grant = {"grantee_type": grantee_type, "grantee_id": grantee_id}
    await created(client, f"/api/files/{file_id}/access", admin["headers"], grant)
    return file_id


@asynccontextmanager
async def deleted(client: httpx.AsyncClient, admin: Json, url: str) -> AsyncIterator[None]:
    """The resource at ``url`` soft-deleted for the block and restored after it: what it
    granted must be gone inside and back after."""
    response = await client.delete(url, headers=admin["headers"])
    assert response.status_code == 204
    yield
    response = await client.post(f"{url}/restore", headers=admin["headers"])
    assert response.status_code == 200, response.text


async def test_a_deleted_group_grants_nothing_until_restored(
    client: httpx.AsyncClient, app: Any, admin: Json, alice: Json, bob: Json
) -> None:
    group = await with_member(client, admin, "groups", "lab", {"user_id": alice["id"]})
    file_id = await file_granted_to(client, app, admin, "group", group["id"])
    assert await _visible(client, alice, file_id)
    assert not await _visible(client, bob, file_id)
    async with deleted(client, admin, f"/api/groups/{group['id']}"):
        assert not await _visible(client, alice, file_id)
        me = await client.get("/api/me", headers=alice["headers"])
        assert me.json()["groups"] == []
    assert await _visible(client, alice, file_id)
    assert not await _visible(client, bob, file_id)


async def test_a_deleted_project_grants_nothing_until_restored(
    client: httpx.AsyncClient, app: Any, admin: Json, alice: Json
) -> None:
    member = {"member_type": "user", "member_id": alice["id"]}
    project = await with_member(client, admin, "projects", "study", member)
    file_id = await file_granted_to(client, app, admin, "project", project["id"])
    assert await _visible(client, alice, file_id)
    async with deleted(client, admin, f"/api/projects/{project['id']}"):
        assert not await _visible(client, alice, file_id)
        assert (await client.get("/api/me", headers=alice["headers"])).json()["projects"] == []
    assert await _visible(client, alice, file_id)


async def test_a_project_reached_through_a_deleted_group_grants_nothing(
    client: httpx.AsyncClient, app: Any, admin: Json, alice: Json
) -> None:
    group = await with_member(client, admin, "groups", "lab", {"user_id": alice["id"]})
    member = {"member_type": "group", "member_id": group["id"]}
    project = await with_member(client, admin, "projects", "study", member)
    file_id = await file_granted_to(client, app, admin, "project", project["id"])
    assert await _visible(client, alice, file_id)
    async with deleted(client, admin, f"/api/groups/{group['id']}"):
        assert not await _visible(client, alice, file_id)
    assert await _visible(client, alice, file_id)


async def test_deleted_resources_are_hidden_from_lists_but_not_from_include_deleted(
    client: httpx.AsyncClient, admin: Json, alice: Json
) -> None:
    group = await created(client, "/api/groups", admin["headers"], {"name": "lab"})
    await client.delete(f"/api/groups/{group['id']}", headers=admin["headers"])
    live = await client.get("/api/groups", headers=admin["headers"])
    assert live.json()["total"] == 0
    everything = await client.get(
        "/api/groups", params={"include_deleted": "true"}, headers=admin["headers"]
    )
    assert [item["id"] for item in everything.json()["items"]] == [group["id"]]
    assert everything.json()["items"][0]["deleted_at"] is not None
    # Deleting twice is a 404, restoring a live one a 409.
    assert (
        await client.delete(f"/api/groups/{group['id']}", headers=admin["headers"])
    ).status_code == 404
    await client.post(f"/api/groups/{group['id']}/restore", headers=admin["headers"])
    assert (
        await client.post(f"/api/groups/{group['id']}/restore", headers=admin["headers"])
    ).status_code == 409
    assert (await client.get("/api/groups", headers=alice["headers"])).status_code == 403


# --- pagination ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/groups", "/api/projects", "/api/service-accounts", "/api/hooks"]
)
async def test_pagination_envelope_and_stable_order(
    client: httpx.AsyncClient, admin: Json, url: str
) -> None:
    for index in range(7):
        if url == "/api/service-accounts":
            body: Json = {"name": f"item-{index}", "username": "u", "password": "p"}
        elif url == "/api/hooks":
            body = builtin_hook("metadata_enrichment", name=f"item-{index}")
        else:
            body = {"name": f"item-{index}"}
        await created(client, url, admin["headers"], body)
    everything = await client.get(url, params={"limit": 500}, headers=admin["headers"])
    assert everything.status_code == 200, everything.text
    full = everything.json()
    assert set(full) == {"items", "total", "skip", "limit"}
    assert (full["total"], full["skip"], full["limit"], len(full["items"])) == (7, 0, 500, 7)
    order = [item["id"] for item in full["items"]]
    assert sorted(item["name"] for item in full["items"]) == [f"item-{i}" for i in range(7)]

    pages: list[str] = []
    for skip in range(0, 8, 3):
        page = await client.get(url, params={"skip": skip, "limit": 3}, headers=admin["headers"])
        body = page.json()
        assert (body["total"], body["skip"], body["limit"]) == (7, skip, 3)
        pages += [item["id"] for item in body["items"]]
    assert pages == order
    again = await client.get(url, params={"limit": 500}, headers=admin["headers"])
    assert [item["id"] for item in again.json()["items"]] == order
    beyond = await client.get(url, params={"skip": 100}, headers=admin["headers"])
    assert (beyond.json()["items"], beyond.json()["total"]) == ([], 7)
    default = await client.get(url, headers=admin["headers"])
    assert (default.json()["skip"], default.json()["limit"]) == (0, 25)


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"limit": -1}, {"skip": -1}, {"limit": "ten"}],
)
@pytest.mark.parametrize(
    "url", ["/api/groups", "/api/instruments", "/api/storage-locations", "/api/files"]
)
async def test_pagination_bounds_are_enforced(
    client: httpx.AsyncClient, admin: Json, url: str, params: Json
) -> None:
    response = await client.get(url, params=params, headers=admin["headers"])
    assert response.status_code == 422, response.text
    assert set(response.json()["detail"][0]["loc"]) & {"limit", "skip"}


async def test_limit_of_500_is_accepted(client: httpx.AsyncClient, admin: Json) -> None:
    response = await client.get("/api/instruments", params={"limit": 500}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["limit"] == 500


# --- storage connectivity test ---------------------------------------------------------


async def test_storage_test_of_a_writable_directory_succeeds(
    client: httpx.AsyncClient, admin: Json, tmp_path: Any
) -> None:
    location = await storage(client, admin, str(tmp_path))
    response = await client.get(
        f"/api/storage-locations/{location['id']}/test", headers=admin["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert str(tmp_path) in response.json()["message"]
    assert list(tmp_path.iterdir()) == [], "the probe file must be removed"


async def test_storage_test_of_a_missing_directory_is_a_bad_gateway(
    client: httpx.AsyncClient, admin: Json, tmp_path: Any
) -> None:
    missing = tmp_path / "not-there"
    location = await storage(client, admin, str(missing))
    response = await client.get(
        f"/api/storage-locations/{location['id']}/test", headers=admin["headers"]
    )
    assert response.status_code == 502, response.text
    assert "does not exist" in response.json()["detail"]


async def test_storage_test_of_a_disabled_or_deleted_location(
    client: httpx.AsyncClient, admin: Json, alice: Json, tmp_path: Any
) -> None:
    location = await storage(client, admin, str(tmp_path))
    url = f"/api/storage-locations/{location['id']}"
    response = await client.patch(url, json={"enabled": False}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    response = await client.get(f"{url}/test", headers=admin["headers"])
    assert response.status_code == 409, response.text
    assert "disabled" in response.json()["detail"]
    assert (await client.get(f"{url}/test", headers=alice["headers"])).status_code == 404
    await client.patch(url, json={"enabled": True}, headers=admin["headers"])
    await client.delete(url, headers=admin["headers"])
    assert (await client.get(f"{url}/test", headers=admin["headers"])).status_code == 404


# --- values the database itself refuses ------------------------------------------------


async def test_a_nul_in_a_query_filter_is_never_a_server_error(
    client: httpx.AsyncClient, admin: Json
) -> None:
    """PostgreSQL refuses NUL in text parameters (SQLite just finds nothing): a 422 that
    names the problem, without the SQL statement or its parameters."""
    for url, params in (
        ("/api/admin/audit-logs", {"entity_type": "users\x00"}),
        ("/api/files", {"metadata_key": "sample\x00"}),
    ):
        response = await client.get(url, params=params, headers=admin["headers"])
        if BACKEND == "postgresql":
            assert response.status_code == 422, response.text
            detail = response.json()["detail"]
            assert "cannot be stored or compared" in detail
            assert "SELECT" not in detail and "users" not in detail
        else:
            assert response.status_code == 200, response.text
            assert response.json()["total"] == 0
    login = await client.post("/auth/jwt/login", data={"username": "a\x00@x.org", "password": "p"})
    assert login.status_code in (400, 422), login.text


async def test_other_database_errors_stay_server_errors() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from streamweave.api.app import _database_data_error

    for error in (
        IntegrityError("INSERT ...", {}, Exception("duplicate key")),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ):
        with pytest.raises(type(error)):
            await _database_data_error(None, error)  # type: ignore[arg-type]


async def test_dates_at_the_edge_of_the_calendar(client: httpx.AsyncClient, admin: Json) -> None:
    for url, params, status in (
        ("/api/admin/audit-logs", {"until": "9999-12-31"}, 200),
        ("/api/admin/audit-logs", {"since": "0001-01-01"}, 200),
        ("/api/admin/audit-logs", {"until": "9999-12-31T23:00:00-14:00"}, 422),
        ("/api/files", {"discovered_after": "0001-01-01T00:30:00+14:00"}, 422),
        ("/api/files", {"discovered_before": "9999-12-31T23:59:59-01:00"}, 422),
        ("/api/files", {"discovered_after": "2024-05-01T12:00:00"}, 200),
    ):
        response = await client.get(url, params=params, headers=admin["headers"])
        assert response.status_code == status, (url, params, response.text)
    logs = await client.get(
        "/api/admin/audit-logs", params={"until": "9999-12-31"}, headers=admin["headers"]
    )
    assert logs.json()["total"] >= 1, "a far-away 'until' date includes everything"
