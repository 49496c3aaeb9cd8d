"""Sessions, accounts and tokens: login, logout, registration, roles, throttling, reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from streamweave.api.app import create_app
from streamweave.auth.manager import UserManager
from streamweave.config import Settings
from tests.conftest import PASSWORD, UserFactory

COOKIE = "streamweave_auth"
NEW_PASSWORD = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, kind: str = "jwt"
) -> httpx.Response:
    return await client.post(f"/auth/{kind}/login", data={"username": email, "password": password})


async def login_token(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    """A client calling from ``address`` (the throttle counts per client address)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


# --- bearer and cookie sessions --------------------------------------------------------


async def test_jwt_logout_revokes_that_token_only(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    token = await login_token(client, alice["email"])
    assert await me_status(client, bearer(token)) == 200

    assert (await client.post("/auth/jwt/logout", headers=bearer(token))).status_code == 204

    assert await me_status(client, bearer(token)) == 401
    assert (await client.post("/auth/jwt/logout", headers=bearer(token))).status_code == 401
    assert await me_status(client, alice["headers"]) == 200, "another session of alice ended too"


async def test_cookie_login_sets_httponly_cookie_and_logout_revokes_it(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await login(client, alice["email"], kind="cookie")
    assert response.status_code == 204, response.text
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    assert "httponly" in set_cookie.lower()
    assert "samesite=lax" in set_cookie.lower()
    session = client.cookies[COOKIE]

    me = await client.get("/users/me")  # the client's jar sends the cookie
    assert me.status_code == 200
    assert me.json()["email"] == alice["email"]

    logout = await client.post("/auth/cookie/logout")
    assert logout.status_code == 204
    assert "max-age=0" in logout.headers["set-cookie"].lower()
    assert await me_status(client, {"Cookie": f"{COOKIE}={session}"}) == 401


# --- accounts that may no longer log in ------------------------------------------------


Request = tuple[str, str, dict[str, Any] | None]  # method, path ({id}: the user), JSON body

DELETE = ("DELETE", "/api/admin/users/{id}", None)
RESTORE = ("POST", "/api/admin/users/{id}/restore", None)
LOCKOUTS = [
    pytest.param(DELETE, RESTORE, id="soft-deleted"),
    pytest.param(("DELETE", "/users/{id}", None), RESTORE, id="soft-deleted via /users"),
    pytest.param(
        ("PATCH", "/users/{id}", {"is_active": False}),
        ("PATCH", "/users/{id}", {"is_active": True}),
        id="deactivated",
    ),
]


async def as_admin(
    client: httpx.AsyncClient, admin: dict[str, Any], request: Request, user_id: str
) -> None:
    method, path, body = request
    response = await client.request(
        method, path.format(id=user_id), json=body, headers=admin["headers"]
    )
    assert response.is_success, response.text


@pytest.mark.parametrize(("lock", "unlock"), LOCKOUTS)
async def test_locked_out_user_cannot_log_in_and_loses_sessions_until_let_back_in(
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    alice: dict[str, Any],
    lock: Request,
    unlock: Request,
) -> None:
    created = await client.post("/api/tokens", json={"name": "nb"}, headers=alice["headers"])
    api_token = created.json()["token"]

    await as_admin(client, admin, lock, alice["id"])

    assert await me_status(client, alice["headers"]) == 401
    assert await me_status(client, bearer(api_token)) == 401
    assert (await login(client, alice["email"])).status_code == 400
    assert (await login(client, alice["email"], kind="cookie")).status_code == 400

    await as_admin(client, admin, unlock, alice["id"])

    token = await login_token(client, alice["email"])
    assert await me_status(client, bearer(token)) == 200


# --- roles -----------------------------------------------------------------------------


async def test_self_registration_ignores_role_and_flags(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    body = {"password": PASSWORD, "role": "admin", "is_superuser": True, "is_verified": True}
    for email, headers in (("eve@example.org", {}), ("mallory@example.org", alice["headers"])):
        response = await client.post(
            "/auth/register", json={**body, "email": email}, headers=headers
        )
        assert response.status_code == 201, response.text
        user = response.json()
        assert (user["role"], user["is_superuser"], user["is_verified"]) == ("user", False, False)

        token = await login_token(client, email)
        assert (await client.get("/api/auth/check-admin", headers=bearer(token))).status_code == 403


async def test_users_cannot_give_themselves_a_role(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    response = await client.patch(
        "/users/me", json={"role": "admin", "is_superuser": True}, headers=alice["headers"]
    )
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["is_superuser"]) == ("user", False)
    me = (await client.get("/api/me", headers=alice["headers"])).json()
    assert (me["role"], me["is_superuser"]) == ("user", False)
    assert (await client.get("/api/auth/check-admin", headers=alice["headers"])).status_code == 403


async def test_admin_registers_an_admin(client: httpx.AsyncClient, admin: dict[str, Any]) -> None:
    body = {"email": "root2@example.org", "password": PASSWORD, "role": "admin"}
    response = await client.post("/auth/register", json=body, headers=admin["headers"])
    assert response.status_code == 201, response.text
    assert (response.json()["role"], response.json()["is_superuser"]) == ("admin", True)

    token = await login_token(client, "root2@example.org")
    assert (await client.get("/api/auth/check-admin", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("change", "admin_after"),
    [
        ({"role": "admin"}, True),
        ({"is_superuser": True}, True),
        ({"role": "admin", "is_superuser": False}, True),
        ({"role": "user"}, False),
        ({"is_superuser": False}, False),
        ({"role": "user", "is_superuser": True}, False),
    ],
    ids=str,
)
async def test_role_and_superuser_flag_always_agree(
    client: httpx.AsyncClient,
    admin: dict[str, Any],
    make_user: UserFactory,
    change: dict[str, Any],
    admin_after: bool,
) -> None:
    # Start from the opposite of the expected result, so that every case is a change.
    user = await make_user(admin=not admin_after)
    response = await client.patch(f"/users/{user['id']}", json=change, headers=admin["headers"])
    assert response.status_code == 200, response.text
    expected = ("admin", True) if admin_after else ("user", False)
    assert (response.json()["role"], response.json()["is_superuser"]) == expected

    stored = (await client.get(f"/users/{user['id']}", headers=admin["headers"])).json()
    assert (stored["role"], stored["is_superuser"]) == expected
    assert await me_status(client, user["headers"]) == 401, "a role change ends the user's sessions"
    token = await login_token(client, user["email"])
    gate = await client.get("/api/auth/check-admin", headers=bearer(token))
    assert gate.status_code == (200 if admin_after else 403)


# --- registration switched off ---------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def closed_client(app: Any, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, with self-registration disabled."""
    closed = create_app(settings.model_copy(update={"allow_registration": False}))
    assert not closed.state.context.settings.registration_enabled
    transport = httpx.ASGITransport(app=closed, client=("127.0.0.1", 12345))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await closed.state.context.engine.dispose()


async def test_disabled_registration_refuses_all_but_admins(
    closed_client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> None:
    def body(email: str) -> dict[str, str]:
        return {"email": email, "password": PASSWORD}

    anonymous = await closed_client.post("/auth/register", json=body("eve@example.org"))
    assert anonymous.status_code == 403, anonymous.text
    as_user = await closed_client.post(
        "/auth/register", json=body("eve@example.org"), headers=alice["headers"]
    )
    assert as_user.status_code == 403, as_user.text

    by_admin = await closed_client.post(
        "/auth/register", json=body("new@example.org"), headers=admin["headers"]
    )
    assert by_admin.status_code == 201, by_admin.text
    assert (await login(closed_client, "new@example.org")).status_code == 200


# --- personal API tokens ---------------------------------------------------------------


async def test_personal_api_token_lifecycle(
    app: Any, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    created = await client.post("/api/tokens", json={"name": "notebook"}, headers=alice["headers"])
    assert created.status_code == 201, created.text
    token, token_id, prefix = (
        created.json()["token"],
        created.json()["id"],
        created.json()["prefix"],
    )
    assert token.startswith(prefix) and len(prefix) < len(token) // 2

    (listed,) = (await client.get("/api/tokens", headers=alice["headers"])).json()["items"]
    assert listed["id"] == token_id and listed["prefix"] == prefix
    assert "token" not in listed and token not in str(listed)

    me = await client.get("/users/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["email"] == alice["email"]

    async with app.state.context.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_tokens"))).all()
    assert len(rows) == 1
    assert token not in repr(rows), "the token is stored in plain text"
    assert token[len(prefix) :] not in repr(rows)

    assert (
        await client.delete(f"/api/tokens/{token_id}", headers=alice["headers"])
    ).status_code == 204
    assert await me_status(client, bearer(token)) == 401
    assert (
        await client.delete(f"/api/tokens/{token_id}", headers=alice["headers"])
    ).status_code == 404


async def test_api_token_is_revocable_only_by_its_owner(
    client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    created = (
        await client.post("/api/tokens", json={"name": "nb"}, headers=alice["headers"])
    ).json()
    assert (
        await client.delete(f"/api/tokens/{created['id']}", headers=bob["headers"])
    ).status_code == 404
    assert await me_status(client, bearer(created["token"])) == 200


# --- login throttling ------------------------------------------------------------------


async def fail_logins(client: httpx.AsyncClient, emails: list[str]) -> None:
    for email in emails:
        response = await login(client, email, "not the password")
        assert response.status_code == 400, response.text


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) > 0


async def test_failed_logins_lock_the_account(
    app: Any, client: httpx.AsyncClient, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    limit = app.state.context.settings.login_max_failures
    await fail_logins(client, [alice["email"]] * limit)

    assert_throttled(await login(client, alice["email"]))
    assert_throttled(await login(client, alice["email"].upper(), kind="cookie"))
    async with client_at(app, "10.0.0.2") as elsewhere:
        assert_throttled(await login(elsewhere, alice["email"]))
    # The address is not locked yet: other accounts still log in from it.
    assert (await login(client, bob["email"])).status_code == 200


async def test_failed_logins_lock_the_client_address(
    app: Any, client: httpx.AsyncClient, bob: dict[str, Any]
) -> None:
    throttle = app.state.context.throttle
    per_address = throttle.max_failures * throttle.address_factor
    # Each guessed account stays under its own limit; together they exhaust the address's.
    await fail_logins(client, [f"guess{i}@example.org" for i in range(per_address)])

    assert_throttled(await login(client, bob["email"]))
    async with client_at(app, "10.0.0.2") as elsewhere:
        assert (await login(elsewhere, bob["email"])).status_code == 200


# --- passwords -------------------------------------------------------------------------


async def test_password_change_ends_old_sessions(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    other_session = await login_token(client, alice["email"])
    response = await client.patch(
        "/users/me", json={"password": NEW_PASSWORD}, headers=alice["headers"]
    )
    assert response.status_code == 200, response.text

    assert await me_status(client, alice["headers"]) == 401
    assert await me_status(client, bearer(other_session)) == 401
    assert (await login(client, alice["email"])).status_code == 400
    assert (
        await me_status(client, bearer(await login_token(client, alice["email"], NEW_PASSWORD)))
        == 200
    )


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(e-mail, token) of every password-reset mail the server would send."""
    sent: list[tuple[str, str]] = []

    async def capture(self: UserManager, user: Any, token: str, request: Any = None) -> None:
        sent.append((user.email, token))

    monkeypatch.setattr(UserManager, "on_after_forgot_password", capture)
    return sent


@pytest.mark.parametrize("known", [True, False], ids=["known address", "unknown address"])
async def test_forgot_password_answers_the_same_for_any_address(
    client: httpx.AsyncClient, alice: dict[str, Any], outbox: list[tuple[str, str]], known: bool
) -> None:
    email = alice["email"] if known else "nobody@example.org"
    response = await client.post("/auth/forgot-password", json={"email": email})
    assert response.status_code == 202
    assert response.content in (b"", b"null")
    assert [sent for sent, _token in outbox] == ([email] if known else [])


async def test_password_reset_sets_the_password_and_ends_sessions(
    client: httpx.AsyncClient, alice: dict[str, Any], outbox: list[tuple[str, str]]
) -> None:
    await client.post("/auth/forgot-password", json={"email": alice["email"]})
    ((_email, token),) = outbox

    reset = await client.post(
        "/auth/reset-password", json={"token": token, "password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text

    assert await me_status(client, alice["headers"]) == 401
    assert (await login(client, alice["email"])).status_code == 400
    assert (await login(client, alice["email"], NEW_PASSWORD)).status_code == 200
    again = await client.post(
        "/auth/reset-password", json={"token": token, "password": "yet another one"}
    )
    assert again.status_code == 400, "a reset token works once"
