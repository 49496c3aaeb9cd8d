"""Authorization matrix: every route of the app against four callers.

The callers are anonymous, alice (a regular user who was granted an instrument and a
file), bob (a regular user who was granted nothing) and an admin. Each row of MATRIX
names one route exactly as the app declares it and the status each caller must get.
A route missing from the matrix fails ``test_every_route_is_in_the_matrix``.

The rules the rows follow:

- anonymous callers get 401 everywhere except the public auth routes and /health;
- admin-only collections (list, create) answer 403 to regular users;
- a route naming one admin-only resource by id answers 404 to regular users: what a
  caller may not see does not exist for them;
- instruments, files and transfers are visible to whoever they are granted to (files
  also to their owner) and 404 to anyone else; notifications, instrument requests and
  API tokens belong to their owner;
- the ARK resolver answers 404, not 401, to anonymous callers: an ARK names nothing
  to whoever may not see its file, signed in or not.

Every case runs against its own freshly built lab (``world``), so a case that deletes
or revokes something cannot change the answer of another.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi_users.password import PasswordHelper
from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.api.app import create_app
from streamweave.auth.manager import UserManager
from streamweave.config import Settings
from streamweave.db.base import Base
from streamweave.db.models import FileRecord, FileTransfer, HarvestRun, Notification
from streamweave.identifiers import mint, parse
from tests.api.conftest import User, ok
from tests.conftest import PASSWORD, UserFactory

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before included routers were resolved lazily

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


CALLERS = ("anonymous", "alice", "bob", "admin")
UNDOCUMENTED = ("/docs", "/redoc", "/swagger", "/openapi.json")
NEW_PASSWORD = "a brand new passphrase"


# --- the matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    anonymous: int
    alice: int
    bob: int
    admin: int


def public(code: int) -> Expect:
    return Expect(code, code, code, code)


def signed_in(code: int) -> Expect:
    return Expect(401, code, code, code)


def admin_list(code: int) -> Expect:
    """An admin-only collection: regular users are told they may not."""
    return Expect(401, 403, 403, code)


def admin_item(code: int) -> Expect:
    """One admin-only resource: to regular users it does not exist."""
    return Expect(401, 404, 404, code)


def alices(code: int, admin: int) -> Expect:
    """Something granted to (or owned by) alice: bob cannot see it."""
    return Expect(401, code, 404, admin)


def alices_ark(code: int) -> Expect:
    """The ARK of alice's file: it names nothing for anyone else, anonymous included."""
    return Expect(404, code, 404, code)


# Which world object fills a path parameter, unless a row says otherwise.
DEFAULT_IDS = {
    "user_id": "carol",
    "instrument_id": "instrument",
    "file_id": "file",
    "transfer_id": "transfer",
    "run_id": "harvest_run",
    "notification_id": "notification",
    "request_id": "instrument_request",
    "token_id": "token",
    "group_id": "group",
    "project_id": "project",
    "member_id": "project_member",
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: Expect
    json: Any = None
    form: dict[str, str] | None = None
    ids: dict[str, str] = field(default_factory=dict)
    # An admin request made first, e.g. deleting what the row then restores.
    before: str | None = None
    # Send the caller's session as the browser does (cookie) instead of a bearer header.
    cookie: bool = False

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


def granted(item: str, grant_key: str) -> list[Row]:
    """The three access routes of something admins grant to users, groups or projects:
    list, grant to bob, revoke (the world's grant named ``grant_key``)."""
    return [
        Row("GET", f"{item}/access", admin_item(200)),
        Row("POST", f"{item}/access", admin_item(201), json=TO_BOB),
        Row("DELETE", f"{item}/access/{{grant_id}}", admin_item(204), ids={"grant_id": grant_key}),
    ]


def soft_deleted(item: str, ids: dict[str, str] | None = None) -> list[Row]:
    """Deleting one admin-managed resource, and restoring it: the restore row has an
    admin delete it first, so that there is something to restore."""
    ids = ids or {}
    return [
        Row("DELETE", item, admin_item(204), ids=ids),
        Row("POST", f"{item}/restore", admin_item(200), ids=ids, before=f"DELETE {item}"),
    ]


def managed(prefix: str, key: str, create: dict[str, Any], update: dict[str, Any]) -> list[Row]:
    """The six routes of an admin-managed, soft-deletable resource."""
    item = f"{prefix}/{{item_id}}"
    ids = {"item_id": key}
    return [
        Row("GET", prefix, admin_list(200)),
        Row("POST", prefix, admin_list(201), json=create),
        Row("GET", item, admin_item(200), ids=ids),
        Row("PATCH", item, admin_item(200), json=update, ids=ids),
        *soft_deleted(item, ids),
    ]


ALICE_LOGIN = {"username": "alice@example.org", "password": PASSWORD}
REGISTER = {"email": "new@example.org", "password": PASSWORD}
RESET = {"token": "{reset_token}", "password": NEW_PASSWORD}
REQUEST = {
    "name": "New SEM",
    "location": "Building 12",
    "harvest_frequency": "daily",
    "justification": "The group moves its imaging there",
}
TO_BOB = {"grantee_type": "user", "grantee_id": "{bob}"}
DRY_RUN = {"instrument_id": "{instrument}", "source_path": "run-1/image.tmp"}
RETRY_RUN = {"entry_ids": ["{harvest_run}"]}
ARK_IDS = {"naan": "ark_naan", "name": "ark_name"}

MATRIX: list[Row] = [
    Row("GET", "/health", public(200)),
    # Public auth routes: the answer depends on the request, never on the caller.
    Row("POST", "/auth/jwt/login", public(200), form=ALICE_LOGIN),
    Row("POST", "/auth/cookie/login", public(204), form=ALICE_LOGIN),
    Row("POST", "/auth/register", public(201), json=REGISTER),
    Row("POST", "/auth/forgot-password", public(202), json={"email": "alice@example.org"}),
    Row("POST", "/auth/reset-password", public(200), json=RESET),
    Row("POST", "/auth/request-verify-token", public(202), json={"email": "alice@example.org"}),
    Row("POST", "/auth/verify", public(200), json={"token": "{verify_token}"}),
    Row("POST", "/auth/jwt/logout", signed_in(204)),
    Row("POST", "/auth/cookie/logout", signed_in(204), cookie=True),
    # The caller themself.
    Row("GET", "/users/me", signed_in(200)),
    Row("PATCH", "/users/me", signed_in(200), json={"password": NEW_PASSWORD}),
    Row("GET", "/api/me", signed_in(200)),
    Row("GET", "/api/auth/check-admin", admin_list(200)),
    Row("GET", "/api/tokens", signed_in(200)),
    Row("POST", "/api/tokens", signed_in(201), json={"name": "ci"}),
    Row("DELETE", "/api/tokens/{token_id}", alices(204, admin=404)),
    # User management: carol is a regular user the rows act on.
    Row("GET", "/users/{user_id}", admin_item(200)),
    Row("PATCH", "/users/{user_id}", admin_item(200), json={"is_verified": True}),
    Row("DELETE", "/users/{user_id}", admin_item(204)),
    Row("GET", "/api/admin/users", admin_list(200)),
    *soft_deleted("/api/admin/users/{user_id}"),
    Row("GET", "/api/admin/users/{user_id}/groups", admin_item(200)),
    Row("GET", "/api/admin/users/{user_id}/projects", admin_item(200)),
    # Lab configuration.
    *managed(
        "/api/service-accounts",
        "service_account",
        create={"name": "backup-reader", "username": "backup", "password": "pw-backup"},
        update={"domain": "LAB2"},
    ),
    Row(
        "GET",
        "/api/service-accounts/{item_id}/password",
        admin_item(200),
        ids={"item_id": "service_account"},
    ),
    *managed(
        "/api/storage-locations",
        "storage",
        create={"name": "scratch", "type": "posix", "base_path": "/srv/scratch"},
        update={"name": "archive-2"},
    ),
    Row(
        "GET", "/api/storage-locations/{item_id}/test", admin_item(200), ids={"item_id": "storage"}
    ),
    *managed(
        "/api/schedules",
        "schedule",
        create={
            "instrument_id": "{instrument}",
            "default_storage_location_id": "{storage}",
            "cron_expression": "30 2 * * *",
        },
        update={"enabled": False},
    ),
    # 503 until a harvest orchestrator is configured: authorized, then refused for that.
    Row("POST", "/api/schedules/{item_id}/trigger", admin_item(503), ids={"item_id": "schedule"}),
    Row("GET", "/api/schedules/orchestration/status", admin_list(200)),
    Row("GET", "/api/hooks/builtins", admin_list(200)),
    Row("GET", "/api/hooks/plugins", admin_list(200)),
    Row("POST", "/api/hooks/dry-run", admin_list(200), json=DRY_RUN),
    *managed(
        "/api/hooks",
        "hook",
        create={
            "name": "notify",
            "trigger": "post_transfer",
            "implementation": "http_webhook",
            "webhook_url": "https://hooks.example.org/done",
        },
        update={"priority": 5},
    ),
    # Instruments: users see the ones granted to them.
    Row("GET", "/api/instruments", signed_in(200)),
    Row(
        "POST",
        "/api/instruments",
        admin_list(201),
        json={"name": "microscope-2", "cifs_host": "smb2", "cifs_share": "d"},
    ),
    Row("GET", "/api/instruments/{instrument_id}", alices(200, admin=200)),
    Row("PATCH", "/api/instruments/{instrument_id}", admin_item(200), json={"description": "TEM"}),
    *soft_deleted("/api/instruments/{instrument_id}"),
    Row("POST", "/api/instruments/{instrument_id}/harvest", admin_item(503)),
    Row(
        "GET",
        "/api/instruments/{instrument_id}/test",
        admin_item(200),
        ids={"instrument_id": "local_instrument"},
    ),
    *granted("/api/instruments/{instrument_id}", "instrument_grant"),
    # Groups and projects.
    *managed("/api/groups", "group", create={"name": "new-group"}, update={"description": "EM"}),
    Row("GET", "/api/groups/{group_id}/members", admin_item(200)),
    Row("POST", "/api/groups/{group_id}/members", admin_item(201), json={"user_id": "{bob}"}),
    Row(
        "DELETE",
        "/api/groups/{group_id}/members/{user_id}",
        admin_item(204),
        ids={"user_id": "alice"},
    ),
    *managed(
        "/api/projects", "project", create={"name": "new-project"}, update={"description": "p"}
    ),
    Row("GET", "/api/projects/{project_id}/members", admin_item(200)),
    Row(
        "POST",
        "/api/projects/{project_id}/members",
        admin_item(201),
        json={"member_type": "user", "member_id": "{bob}"},
    ),
    Row("DELETE", "/api/projects/{project_id}/members/{member_id}", admin_item(204)),
    # Files and transfers: visible to their owner and grantees.
    Row("GET", "/api/files", signed_in(200)),
    Row("GET", "/api/files/{file_id}", alices(200, admin=200)),
    *granted("/api/files/{file_id}", "file_grant"),
    Row("GET", "/api/transfers", signed_in(200)),
    Row("GET", "/api/transfers/{transfer_id}", alices(200, admin=200)),
    # Harvest runs: visible with the instrument (alice is granted it, bob is not).
    Row("GET", "/api/harvest-runs", signed_in(200)),
    Row("GET", "/api/harvest-runs/{run_id}", alices(200, admin=200)),
    Row("GET", "/api/harvest-runs/{run_id}/transfers", alices(200, admin=200)),
    Row("POST", "/api/harvest-runs/{run_id}/retry-failed", admin_item(200)),
    # The web UI's admin dashboard and cron preview (tests/ui checks their answers).
    Row("GET", "/api/dashboard", admin_list(200)),
    Row("GET", "/api/dashboard/throughput", admin_list(200)),
    Row("GET", "/api/dashboard/attention", admin_list(200)),
    Row("POST", "/api/dashboard/attention/retry", admin_list(200), json=RETRY_RUN),
    # Without the required cron expression: authorized, then refused as invalid.
    Row("GET", "/api/cron/preview", admin_list(422)),
    # The ARK resolver, both ways of writing an ARK.
    Row("GET", "/ark:/{naan}/{name}", alices_ark(200), ids=ARK_IDS),
    Row("GET", "/ark:{naan}/{name}", alices_ark(200), ids=ARK_IDS),
    # Audit, notifications, instrument requests.
    Row("GET", "/api/admin/audit-logs", admin_list(200)),
    Row("GET", "/api/notifications", signed_in(200)),
    Row("GET", "/api/notifications/unread-count", signed_in(200)),
    Row("POST", "/api/notifications/read-all", signed_in(204)),
    Row("POST", "/api/notifications/{notification_id}/read", alices(200, admin=404)),
    Row("POST", "/api/notifications/{notification_id}/dismiss", alices(200, admin=404)),
    Row("POST", "/api/instrument-requests", signed_in(201), json=REQUEST),
    Row("GET", "/api/instrument-requests", signed_in(200)),
    Row("GET", "/api/instrument-requests/{request_id}", alices(200, admin=200)),
    # Alice sees her request but only admins review it: 403 to her, 404 to bob.
    Row(
        "PATCH",
        "/api/instrument-requests/{request_id}",
        alices(403, admin=200),
        json={"status": "approved"},
    ),
]


# --- the lab every case runs against ---------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shared_app(settings: Settings, migrated: AsyncEngine) -> AsyncIterator[Any]:
    application = create_app(settings)
    yield application
    await application.state.context.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def app(shared_app: Any, migrated: AsyncEngine) -> AsyncIterator[Any]:
    """One app for the whole module (FastAPI resolves ~100 routes on an app's first
    request, ~0.4 s); the database is still emptied after every case, by DELETE (the
    tables are tiny, and a PostgreSQL TRUNCATE of them all costs ~0.3 s)."""
    yield shared_app
    async with migrated.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _hash_each_password_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 costs ~0.15 s a hash and every case creates four users: reuse the hash
    of a password already seen (still a valid argon2 hash of it; verifying stays real)."""
    original = PasswordHelper.hash

    def hash_once(self: PasswordHelper, password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = original(self, password)
        return _HASHES[password]

    monkeypatch.setattr(PasswordHelper, "hash", hash_once)


@dataclass
class World:
    ids: dict[str, str]
    headers: dict[str, dict[str, str]]
    tokens: dict[str, str]


async def insert(app: Any, *rows: Any) -> None:
    async with app.state.context.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()


async def mailed_token(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, route: str
) -> str:
    """The token alice would find in her mailbox after asking at ``route``."""
    hook = "on_after_forgot_password" if "forgot" in route else "on_after_request_verify"
    sent: list[str] = []

    async def capture(self: UserManager, user: Any, token: str, request: Any = None) -> None:
        sent.append(token)

    with monkeypatch.context() as patch:
        patch.setattr(UserManager, hook, capture)
        ok(await client.post(route, json={"email": "alice@example.org"}))
    assert len(sent) == 1
    return sent[0]


@pytest_asyncio.fixture(loop_scope="session")
async def world(
    app: Any,
    client: httpx.AsyncClient,
    users: dict[str, User],
    callers: dict[str, dict[str, str]],
    carol: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    admin, alice = users["admin"], users["alice"]
    ids = {name: user["id"] for name, user in {**users, "carol": carol}.items()}

    async def create(url: str, body: dict[str, Any], by: dict[str, Any] = admin) -> str:
        """POST (as the admin unless said otherwise); the new resource's id."""
        return str(ok(await client.post(url, json=body, headers=by["headers"]))["id"])

    ids["service_account"] = await create(
        "/api/service-accounts",
        {"name": "smb-reader", "domain": "LAB", "username": "svc", "password": "s3cret-pw"},
    )
    ids["instrument"] = await create(
        "/api/instruments",
        {
            "name": "microscope-1",
            "cifs_host": "smb.lab.example",
            "cifs_share": "data",
            "service_account_id": ids["service_account"],
        },
    )
    (tmp_path / "source").mkdir()
    ids["local_instrument"] = await create(
        "/api/instruments",
        {
            "name": "plate-reader",
            "source_type": "local",
            "source_config": {"path": str(tmp_path / "source")},
        },
    )
    ids["instrument_grant"] = await create(
        f"/api/instruments/{ids['instrument']}/access",
        {"grantee_type": "user", "grantee_id": alice["id"]},
    )
    ids["storage"] = await create(
        "/api/storage-locations",
        {"name": "archive", "type": "posix", "base_path": str(tmp_path)},
    )
    ids["schedule"] = await create(
        "/api/schedules",
        {
            "instrument_id": ids["instrument"],
            "default_storage_location_id": ids["storage"],
            "cron_expression": "0 * * * *",
        },
    )
    ids["hook"] = await create(
        "/api/hooks",
        {
            "name": "skip-temp",
            "trigger": "pre_transfer",
            "implementation": "builtin",
            "builtin_name": "file_filter",
            "config": {"exclude_patterns": ["*.tmp"]},
        },
    )
    ids["group"] = await create("/api/groups", {"name": "imaging"})
    ok(
        await client.post(
            f"/api/groups/{ids['group']}/members",
            json={"user_id": alice["id"]},
            headers=admin["headers"],
        )
    )
    ids["project"] = await create("/api/projects", {"name": "cryo"})
    ids["project_member"] = await create(
        f"/api/projects/{ids['project']}/members",
        {"member_type": "user", "member_id": alice["id"]},
    )

    # Harvested data has no create API: the rows the harvester would write.
    (file_ark,) = mint(1, naan="99999", shoulder="fk4")
    file = FileRecord(
        persistent_id=file_ark,
        instrument_id=uuid.UUID(ids["instrument"]),
        source_path="/run-1/image.tif",
        filename="image.tif",
        size_bytes=1024,
    )
    await insert(app, file)
    transfer = FileTransfer(
        file_id=file.id, storage_location_id=uuid.UUID(ids["storage"]), status="completed"
    )
    notification = Notification(user_id=uuid.UUID(alice["id"]), title="Harvest finished")
    run = HarvestRun(
        instrument_id=uuid.UUID(ids["instrument"]), storage_location_id=uuid.UUID(ids["storage"])
    )
    await insert(app, transfer, notification, run)
    ids.update(file=str(file.id), transfer=str(transfer.id), notification=str(notification.id))
    ids["harvest_run"] = str(run.id)
    ark = parse(file_ark)
    ids.update(ark_naan=ark.naan, ark_name=ark.name)
    ids["file_grant"] = await create(
        f"/api/files/{ids['file']}/access",
        {"grantee_type": "user", "grantee_id": alice["id"]},
    )

    ids["instrument_request"] = await create("/api/instrument-requests", REQUEST, by=alice)
    ids["token"] = await create("/api/tokens", {"name": "notebook"}, by=alice)
    ids["reset_token"] = await mailed_token(client, monkeypatch, "/auth/forgot-password")
    ids["verify_token"] = await mailed_token(client, monkeypatch, "/auth/request-verify-token")

    return World(
        ids=ids,
        headers=callers,
        tokens={name: user["token"] for name, user in users.items()},
    )


# --- running a row ---------------------------------------------------------------------


def fill(value: Any, ids: dict[str, str]) -> Any:
    """Replace "{name}" placeholders in a request body by the world's ids."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def url(path: str, row: Row, ids: dict[str, str]) -> str:
    names = {**DEFAULT_IDS, **row.ids}
    return path.format_map({param: ids[key] for param, key in names.items()})


async def call(client: httpx.AsyncClient, world: World, row: Row, caller: str) -> httpx.Response:
    if row.before:
        method, path = row.before.split(" ", 1)
        ok(await client.request(method, url(path, row, world.ids), headers=world.headers["admin"]))
    headers = dict(world.headers[caller])
    if row.cookie and caller != "anonymous":
        headers = {"Cookie": f"streamweave_auth={world.tokens[caller]}"}
    return await client.request(
        row.method,
        url(row.path, row, world.ids),
        headers=headers,
        json=fill(row.json, world.ids),
        data=row.form,
    )


CASES = [
    pytest.param(row, caller, id=f"{row.route} as {caller}") for row in MATRIX for caller in CALLERS
]


@pytest.mark.parametrize(("row", "caller"), CASES)
async def test_route_answers_caller(
    client: httpx.AsyncClient, world: World, row: Row, caller: str
) -> None:
    response = await call(client, world, row, caller)
    expected = getattr(row.expect, caller)
    assert response.status_code == expected, f"{row.route} as {caller}: {response.text}"


def declared_routes(app: Any) -> set[str]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        if route.path.startswith(UNDOCUMENTED):
            continue
        routes.update(
            f"{method} {route.path}" for method in route.methods or () if method != "HEAD"
        )
    return routes


def test_every_route_is_in_the_matrix(app: Any) -> None:
    in_matrix = [row.route for row in MATRIX]
    assert len(in_matrix) == len(set(in_matrix)), "a route appears twice in the matrix"
    declared = declared_routes(app)
    assert sorted(declared - set(in_matrix)) == [], "routes without a row in the matrix"
    assert sorted(set(in_matrix) - declared) == [], "matrix rows for routes the app does not have"


# --- what the allowed callers see ------------------------------------------------------


async def items(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    return list(ok(await client.get(path, headers=headers))["items"])


CONNECTION_FIELDS = (
    "cifs_host",
    "cifs_share",
    "cifs_base_path",
    "service_account_id",
    "source_config",
)


async def test_user_sees_granted_instrument_without_connection_details(
    client: httpx.AsyncClient, world: World
) -> None:
    (listed,) = await items(client, "/api/instruments", world.headers["alice"])
    single = ok(
        await client.get(
            f"/api/instruments/{world.ids['instrument']}", headers=world.headers["alice"]
        )
    )
    for instrument in (listed, single):
        assert instrument["id"] == world.ids["instrument"]
        assert not set(CONNECTION_FIELDS) & set(instrument), instrument
    assert await items(client, "/api/instruments", world.headers["bob"]) == []
    as_admin = ok(
        await client.get(
            f"/api/instruments/{world.ids['instrument']}", headers=world.headers["admin"]
        )
    )
    assert as_admin["cifs_host"] == "smb.lab.example"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/files", "file"),
        ("/api/transfers", "transfer"),
        ("/api/notifications", "notification"),
        ("/api/instrument-requests", "instrument_request"),
        ("/api/tokens", "token"),
    ],
    ids=["files", "transfers", "notifications", "instrument requests", "tokens"],
)
async def test_lists_show_alice_hers_and_bob_nothing(
    client: httpx.AsyncClient, world: World, path: str, key: str
) -> None:
    assert [item["id"] for item in await items(client, path, world.headers["alice"])] == [
        world.ids[key]
    ]
    assert await items(client, path, world.headers["bob"]) == []


# --- every way a file can be visible ---------------------------------------------------


async def share_with_bob(client: httpx.AsyncClient, world: World, file_id: str, how: str) -> None:
    """Make the file visible to bob in one of the ways the access rules allow."""
    admin = world.headers["admin"]

    async def grant(grantee_type: str, grantee_id: str) -> None:
        body = {"grantee_type": grantee_type, "grantee_id": grantee_id}
        ok(await client.post(f"/api/files/{file_id}/access", json=body, headers=admin))

    async def new(kind: str) -> str:
        return str(
            ok(await client.post(f"/api/{kind}", json={"name": f"{kind}-{how}"}, headers=admin))[
                "id"
            ]
        )

    if how == "user grant":
        await grant("user", world.ids["bob"])
    elif how == "group grant":
        group = await new("groups")
        ok(
            await client.post(
                f"/api/groups/{group}/members", json={"user_id": world.ids["bob"]}, headers=admin
            )
        )
        await grant("group", group)
    elif how in ("project grant", "project grant through a group"):
        project = await new("projects")
        member = {"member_type": "user", "member_id": world.ids["bob"]}
        if how == "project grant through a group":
            group = await new("groups")
            ok(
                await client.post(
                    f"/api/groups/{group}/members",
                    json={"user_id": world.ids["bob"]},
                    headers=admin,
                )
            )
            member = {"member_type": "group", "member_id": group}
        ok(await client.post(f"/api/projects/{project}/members", json=member, headers=admin))
        await grant("project", project)


@pytest.mark.parametrize(
    "how", ["owner", "user grant", "group grant", "project grant", "project grant through a group"]
)
async def test_file_and_its_transfers_are_visible_to_owner_and_grantees(
    app: Any, client: httpx.AsyncClient, world: World, make_user: UserFactory, how: str
) -> None:
    file = FileRecord(
        persistent_id=f"ark:/99999/fk4{uuid.uuid4().hex[:10]}",
        instrument_id=uuid.UUID(world.ids["instrument"]),
        source_path=f"/run-2/{how}.tif",
        filename=f"{how}.tif",
        owner_id=uuid.UUID(world.ids["bob"]) if how == "owner" else None,
    )
    await insert(app, file)
    transfer = FileTransfer(file_id=file.id, storage_location_id=uuid.UUID(world.ids["storage"]))
    await insert(app, transfer)
    await share_with_bob(client, world, str(file.id), how)
    stranger = await make_user()

    for headers, status in ((world.headers["bob"], 200), (stranger["headers"], 404)):
        assert (await client.get(f"/api/files/{file.id}", headers=headers)).status_code == status
        assert (
            await client.get(f"/api/transfers/{transfer.id}", headers=headers)
        ).status_code == status
    assert [f["id"] for f in await items(client, "/api/files", world.headers["bob"])] == [
        str(file.id)
    ]
    assert [t["id"] for t in await items(client, "/api/transfers", world.headers["bob"])] == [
        str(transfer.id)
    ]
    assert await items(client, "/api/files", stranger["headers"]) == []


async def test_deleted_group_grants_nothing(client: httpx.AsyncClient, world: World) -> None:
    admin = world.headers["admin"]
    ok(
        await client.post(
            f"/api/instruments/{world.ids['instrument']}/access",
            json={"grantee_type": "group", "grantee_id": world.ids["group"]},
            headers=admin,
        )
    )
    ok(
        await client.post(
            f"/api/groups/{world.ids['group']}/members",
            json={"user_id": world.ids["bob"]},
            headers=admin,
        )
    )
    instrument = f"/api/instruments/{world.ids['instrument']}"
    assert (await client.get(instrument, headers=world.headers["bob"])).status_code == 200

    ok(await client.delete(f"/api/groups/{world.ids['group']}", headers=admin))
    assert (await client.get(instrument, headers=world.headers["bob"])).status_code == 404
