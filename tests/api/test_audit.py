"""The audit trail: every mutation, in the same transaction, JSON-safe, secrets masked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from streamweave.db.models import AuditLog
from tests.api.conftest import User, add_file, instrument, ok
from tests.conftest import PASSWORD

AUDIT = "/api/admin/audit-logs"
SA_PASSWORD = "sa-first-secret"
SA_PASSWORD_2 = "sa-second-secret"
S3_KEY_ID = "AKIAEXAMPLEKEYID0001"
S3_SECRET = "s3-secret-access-key-one"
S3_SECRET_2 = "s3-secret-access-key-two"
WEBHOOK_SECRET = "webhook-signing-secret-0123"
SECRETS = (SA_PASSWORD, SA_PASSWORD_2, S3_KEY_ID, S3_SECRET, S3_SECRET_2, WEBHOOK_SECRET, PASSWORD)


async def trail(
    client: httpx.AsyncClient, admin: dict[str, Any], **filters: Any
) -> list[dict[str, Any]]:
    page = ok(await client.get(AUDIT, params={"limit": 500, **filters}, headers=admin["headers"]))
    assert page["total"] == len(page["items"])
    return list(page["items"])


async def stored_trail(app: Any) -> str:
    """Every audit entry's changes as the database holds them, as one string."""
    async with app.state.context.sessionmaker() as session:
        changes = (await session.scalars(select(AuditLog.changes))).all()
    return json.dumps(changes)


# --- a transaction observer ------------------------------------------------------------


@dataclass
class Transactions:
    """The tables each committed ORM transaction wrote to."""

    committed: list[set[str]] = field(default_factory=list)
    open: dict[int, set[str]] = field(default_factory=dict)

    def on_flush(self, session: Session, _context: Any) -> None:
        tables = self.open.setdefault(id(session), set())
        changed = [
            *session.new,
            *session.deleted,
            *(o for o in session.dirty if session.is_modified(o)),
        ]
        tables.update(type(obj).__tablename__ for obj in changed)

    def on_commit(self, session: Session) -> None:
        tables = self.open.pop(id(session), set())
        if tables:
            self.committed.append(tables)

    def on_rollback(self, session: Session) -> None:
        self.open.pop(id(session), None)


@contextmanager
def observed_transactions() -> Iterator[Transactions]:
    observer = Transactions()
    hooks = [
        ("after_flush", observer.on_flush),
        ("after_commit", observer.on_commit),
        ("after_rollback", observer.on_rollback),
    ]
    for name, hook in hooks:
        event.listen(Session, name, hook)
    try:
        yield observer
    finally:
        for name, hook in hooks:
            event.remove(Session, name, hook)


# --- every mutation --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    actor: str
    request: str  # "METHOD path"
    body: Any
    audited: str  # "entity_type action"
    save: str | None = None  # remember the created id under this name


def s3_config(secret: str, key_id: str = S3_KEY_ID) -> dict[str, str]:
    return {"bucket": "lab-archive", "access_key_id": key_id, "secret_access_key": secret}


ACCOUNT = {"name": "smb", "username": "svc", "password": SA_PASSWORD}
INSTRUMENT = {
    "name": "tem",
    "cifs_host": "smb",
    "cifs_share": "d",
    "service_account_id": "{account}",
}
SCHEDULE = {
    "instrument_id": "{instrument}",
    "default_storage_location_id": "{storage}",
    "cron_expression": "0 * * * *",
}
HOOK = {
    "name": "notify",
    "trigger": "post_transfer",
    "implementation": "http_webhook",
    "webhook_url": "https://hooks.example.org/x",
    "webhook_secret": WEBHOOK_SECRET,
}
REQUEST = {"name": "SEM", "location": "B12", "harvest_frequency": "daily", "justification": "EM"}
TO_ALICE = {"grantee_type": "user", "grantee_id": "{alice}"}

# fmt: off
TOUR = [
    Step("admin", "POST /api/service-accounts", ACCOUNT, "service_accounts create", save="account"),
    Step("admin", "PATCH /api/service-accounts/{account}", {"password": SA_PASSWORD_2},
         "service_accounts update"),
    Step("admin", "GET /api/service-accounts/{account}/password", None,
         "service_accounts reveal_secret"),
    Step("admin", "POST /api/storage-locations",
         {"name": "s3", "type": "s3", "connection_config": s3_config(S3_SECRET)},
         "storage_locations create", save="storage"),
    Step("admin", "PATCH /api/storage-locations/{storage}",
         {"connection_config": s3_config(S3_SECRET_2, key_id="****")}, "storage_locations update"),
    Step("admin", "POST /api/instruments", INSTRUMENT, "instruments create", save="instrument"),
    Step("admin", "PATCH /api/instruments/{instrument}", {"pid": "x"}, "instruments update"),
    Step("admin", "POST /api/instruments/{instrument}/access", TO_ALICE, "instrument_access create",
         save="instrument_grant"),
    Step("admin", "DELETE /api/instruments/{instrument}/access/{instrument_grant}", None,
         "instrument_access delete"),
    Step("admin", "DELETE /api/instruments/{instrument}", None, "instruments delete"),
    Step("admin", "POST /api/instruments/{instrument}/restore", None, "instruments restore"),
    Step("admin", "POST /api/schedules", SCHEDULE, "harvest_schedules create", save="schedule"),
    Step("admin", "PATCH /api/schedules/{schedule}", {"cron_expression": "15 * * * *"},
         "harvest_schedules update"),
    Step("admin", "POST /api/hooks", HOOK, "hook_configs create", save="hook"),
    Step("admin", "DELETE /api/hooks/{hook}", None, "hook_configs delete"),
    Step("admin", "POST /api/hooks/{hook}/restore", None, "hook_configs restore"),
    Step("admin", "POST /api/groups", {"name": "imaging"}, "groups create", save="group"),
    Step("admin", "PATCH /api/groups/{group}", {"description": "EM"}, "groups update"),
    Step("admin", "POST /api/groups/{group}/members", {"user_id": "{alice}"},
         "group_members add_member"),
    Step("admin", "DELETE /api/groups/{group}/members/{alice}", None,
         "group_members remove_member"),
    Step("admin", "DELETE /api/groups/{group}", None, "groups delete"),
    Step("admin", "POST /api/groups/{group}/restore", None, "groups restore"),
    Step("admin", "POST /api/projects", {"name": "cryo"}, "projects create", save="project"),
    Step("admin", "POST /api/projects/{project}/members",
         {"member_type": "user", "member_id": "{alice}"}, "project_members add_member",
         save="membership"),
    Step("admin", "DELETE /api/projects/{project}/members/{membership}", None,
         "project_members remove_member"),
    Step("admin", "POST /api/files/{file}/access", TO_ALICE, "file_access_grants create",
         save="file_grant"),
    Step("admin", "DELETE /api/files/{file}/access/{file_grant}", None,
         "file_access_grants delete"),
    Step("admin", "PATCH /users/{bob}", {"is_verified": True}, "users update"),
    Step("admin", "PATCH /users/{bob}", {"role": "admin"}, "users role_change"),
    Step("admin", "DELETE /api/admin/users/{bob}", None, "users delete"),
    Step("admin", "POST /api/admin/users/{bob}/restore", None, "users restore"),
    Step("alice", "POST /api/tokens", {"name": "notebook"}, "api_tokens create", save="token"),
    Step("alice", "DELETE /api/tokens/{token}", None, "api_tokens revoke"),
    Step("alice", "POST /api/instrument-requests", REQUEST, "instrument_requests create",
         save="request"),
    Step("admin", "PATCH /api/instrument-requests/{request}", {"status": "approved"},
         "instrument_requests update"),
    Step("anonymous", "POST /auth/register", {"email": "eve@example.org", "password": PASSWORD},
         "users create"),
    Step("alice", "PATCH /users/me", {"password": "a brand new passphrase"}, "users update"),
]
# fmt: on


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@asynccontextmanager
async def expect_audit(
    client: httpx.AsyncClient, admin: dict[str, Any], entity_type: str, action: str
) -> AsyncIterator[list[dict[str, Any]]]:
    """Exactly one new entry, of this entity type and action, appears during the block."""
    seen = {entry["id"] for entry in await trail(client, admin)}
    added: list[dict[str, Any]] = []
    yield added
    added.extend(entry for entry in await trail(client, admin) if entry["id"] not in seen)
    assert [(e["entity_type"], e["action"]) for e in added] == [(entity_type, action)]


async def test_every_mutation_is_audited_in_the_same_transaction(
    app: Any, client: httpx.AsyncClient, users: dict[str, User]
) -> None:
    ids = {name: user["id"] for name, user in users.items()}
    ids["file"] = await add_file(app, (await instrument(client, users["admin"]))["id"])

    with observed_transactions() as transactions:
        for step in TOUR:
            await take(client, step, users, ids)

    unaudited = [tables for tables in transactions.committed if "audit_logs" not in tables]
    assert unaudited == [], "transactions that changed data without an audit entry"


async def take(
    client: httpx.AsyncClient, step: Step, users: dict[str, dict[str, Any]], ids: dict[str, str]
) -> None:
    """Make the step's request; check it added exactly its audit entry, by the right actor."""
    actor = users.get(step.actor)
    method, path = step.request.split(" ", 1)
    entity_type, action = step.audited.split()
    async with expect_audit(client, users["admin"], entity_type, action) as added:
        response = await client.request(
            method,
            fill(path, ids),
            json=fill(step.body, ids),
            headers=actor["headers"] if actor else {},
        )
        assert response.is_success, f"{step.request}: {response.text}"
    (entry,) = added
    if action == "create":
        assert entry["entity_id"] == response.json()["id"], step
    # Self-registration is done by the new user themself.
    assert entry["actor_id"] == (actor["id"] if actor else entry["entity_id"]), step
    if step.save:
        ids[step.save] = response.json()["id"]


# --- what an entry holds ---------------------------------------------------------------


async def test_entries_are_json_safe_and_updates_record_only_what_changed(
    app: Any, client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    instrument_id = (await instrument(client, admin))["id"]
    storage = ok(
        await client.post(
            "/api/storage-locations",
            json={"name": "nas", "type": "posix", "base_path": "/srv/nas"},
            headers=admin["headers"],
        )
    )["id"]
    body = {
        "instrument_id": instrument_id,
        "default_storage_location_id": storage,
        "cron_expression": "0 * * * *",
    }
    schedule = ok(await client.post("/api/schedules", json=body, headers=admin["headers"]))
    ok(
        await client.patch(
            f"/api/schedules/{schedule['id']}", json={"enabled": False}, headers=admin["headers"]
        )
    )

    update, create = await trail(client, admin, entity_type="harvest_schedules")
    assert create["action"] == "create" and create["entity_id"] == schedule["id"]
    after = create["changes"]["after"]
    # UUIDs and timestamps, which v0 could not even insert, arrive as JSON strings.
    assert after["id"] == schedule["id"]
    assert after["instrument_id"] == instrument_id
    assert after["default_storage_location_id"] == storage
    assert datetime.fromisoformat(after["created_at"]).tzinfo is not None
    assert update["changes"] == {"before": {"enabled": True}, "after": {"enabled": False}}

    async with app.state.context.sessionmaker() as session:
        stored = await session.scalar(select(AuditLog.changes).where(AuditLog.action == "update"))
    assert json.loads(json.dumps(stored)) == update["changes"]


async def test_secrets_never_reach_the_trail(
    app: Any, client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    headers = admin["headers"]
    account = ok(
        await client.post(
            "/api/service-accounts",
            json={"name": "smb", "username": "svc", "password": SA_PASSWORD},
            headers=headers,
        )
    )
    ok(
        await client.patch(
            f"/api/service-accounts/{account['id']}",
            json={"password": SA_PASSWORD_2},
            headers=headers,
        )
    )
    storage = ok(
        await client.post(
            "/api/storage-locations",
            json={"name": "s3", "type": "s3", "connection_config": s3_config(S3_SECRET)},
            headers=headers,
        )
    )
    ok(
        await client.patch(
            f"/api/storage-locations/{storage['id']}",
            json={"connection_config": s3_config(S3_SECRET_2, "****")},
            headers=headers,
        )
    )

    account_update, account_create = await trail(client, admin, entity_type="service_accounts")
    assert account_create["changes"]["after"]["password_encrypted"] == "****"
    assert account_update["changes"] == {
        "before": {"password_encrypted": "****"},
        "after": {"password_encrypted": "****"},
    }
    storage_update, storage_create = await trail(client, admin, entity_type="storage_locations")
    assert storage_create["changes"]["after"]["secrets"] == "****"
    assert storage_create["changes"]["after"]["connection_config"]["bucket"] == "lab-archive"
    assert storage_update["changes"]["after"] == {"secrets": "****"}

    everything = (
        await client.get(AUDIT, params={"limit": 500}, headers=headers)
    ).text + await stored_trail(app)
    for secret in (*SECRETS, *(await ciphertexts(app))):
        assert secret not in everything


async def ciphertexts(app: Any) -> list[str]:
    """The encrypted forms, which must not leak either."""
    from streamweave.db.models import ServiceAccount, StorageLocation

    async with app.state.context.sessionmaker() as session:
        passwords = (await session.scalars(select(ServiceAccount.password_encrypted))).all()
        secrets = (await session.scalars(select(StorageLocation.secrets))).all()
    return [value for value in (*passwords, *secrets) if value]


# --- reading the trail -----------------------------------------------------------------


def utc_day(entry: dict[str, Any], offset: int = 0) -> str:
    """The UTC date an entry was written on, shifted by ``offset`` days."""
    written = datetime.fromisoformat(entry["created_at"]).astimezone(UTC)
    return (written + timedelta(days=offset)).date().isoformat()


async def test_filters(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    group = ok(await client.post("/api/groups", json={"name": "imaging"}, headers=admin["headers"]))
    request = {
        "name": "SEM",
        "location": "B12",
        "harvest_frequency": "daily",
        "justification": "imaging",
    }
    ok(await client.post("/api/instrument-requests", json=request, headers=alice["headers"]))
    ok(await client.delete(f"/api/groups/{group['id']}", headers=admin["headers"]))
    everything = await trail(client, admin)

    def pairs(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(e["entity_type"], e["action"]) for e in entries]

    assert pairs(await trail(client, admin, entity_type="groups")) == [
        ("groups", "delete"),
        ("groups", "create"),
    ]
    assert pairs(await trail(client, admin, action="delete")) == [("groups", "delete")]
    assert pairs(await trail(client, admin, entity_type="groups", action="create")) == [
        ("groups", "create")
    ]
    assert await trail(client, admin, entity_type="no_such_thing") == []
    by_alice = await trail(client, admin, actor_id=alice["id"])
    assert ("instrument_requests", "create") in pairs(by_alice)
    assert {e["actor_id"] for e in by_alice} == {alice["id"]}
    assert {e["actor_email"] for e in by_alice} == {alice["email"]}

    # A bare date means the whole of that day, on both ends (v0 dropped `until`'s day).
    # "Today" is taken from the entries, in case the test straddles midnight UTC.
    newest, oldest = everything[0], everything[-1]
    assert await trail(client, admin, until=utc_day(newest)) == everything
    assert await trail(client, admin, since=utc_day(oldest), until=utc_day(newest)) == everything
    assert await trail(client, admin, since=utc_day(oldest, -1)) == everything
    assert await trail(client, admin, until=utc_day(oldest, -1)) == []
    assert await trail(client, admin, since=utc_day(newest, +1)) == []

    # A timestamp is taken as is.
    delete = everything[0]
    at = datetime.fromisoformat(delete["created_at"])
    assert pairs(await trail(client, admin, since=delete["created_at"])) == [("groups", "delete")]
    assert delete not in await trail(
        client, admin, until=(at - timedelta(microseconds=1)).isoformat()
    )


async def test_newest_first(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    for name in ("first", "second", "third"):
        ok(await client.post("/api/groups", json={"name": name}, headers=admin["headers"]))

    entries = await trail(client, admin, entity_type="groups")
    assert [e["changes"]["after"]["name"] for e in entries] == ["third", "second", "first"]
    stamps = [datetime.fromisoformat(e["created_at"]) for e in await trail(client, admin)]
    assert stamps == sorted(stamps, reverse=True)
    page = ok(
        await client.get(
            AUDIT, params={"entity_type": "groups", "skip": 1, "limit": 1}, headers=admin["headers"]
        )
    )
    assert [e["changes"]["after"]["name"] for e in page["items"]] == ["second"]
    assert page["total"] == 3


async def test_failed_logins_are_audited_without_the_password(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    for email in (alice["email"], "nobody@example.org"):
        response = await client.post(
            "/auth/jwt/login", data={"username": email, "password": "guess-123456"}
        )
        assert response.status_code == 400

    entries = await trail(client, admin, action="login_failed")
    assert [e["changes"]["email"] for e in entries] == ["nobody@example.org", alice["email"]]
    for entry in entries:
        assert entry["entity_type"] == "auth" and entry["actor_id"] is None
        assert entry["changes"]["address"] == "127.0.0.1"
        assert "guess-123456" not in json.dumps(entry)


async def test_role_change_is_audited_as_such(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    ok(
        await client.patch(
            f"/users/{alice['id']}", json={"role": "admin"}, headers=admin["headers"]
        )
    )

    (entry,) = await trail(client, admin, action="role_change")
    assert (entry["entity_type"], entry["entity_id"], entry["actor_id"]) == (
        "users",
        alice["id"],
        admin["id"],
    )
    assert entry["changes"]["before"] == {"role": "user", "is_superuser": False}
    assert entry["changes"]["after"] == {"role": "admin", "is_superuser": True}


async def test_token_creation_and_revocation_are_audited(
    client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    created = ok(
        await client.post("/api/tokens", json={"name": "notebook"}, headers=alice["headers"])
    )
    ok(await client.delete(f"/api/tokens/{created['id']}", headers=alice["headers"]))

    revoke, create = await trail(client, admin, entity_type="api_tokens")
    for entry, action in ((create, "create"), (revoke, "revoke")):
        assert (entry["action"], entry["entity_id"], entry["actor_id"]) == (
            action,
            created["id"],
            alice["id"],
        )
        assert created["token"] not in json.dumps(entry)
    assert create["changes"]["after"]["prefix"] == created["prefix"]
    assert create["changes"]["after"]["token_hash"] == "****"


async def test_only_admins_read_the_trail(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    assert (await client.get(AUDIT, headers=alice["headers"])).status_code == 403
    assert (await client.get(AUDIT)).status_code == 401
