"""Test database and application fixtures.

``STREAMWEAVE_TEST_DB`` selects the backend: ``sqlite`` (default) or ``postgresql``.
PostgreSQL runs get a fresh database on 127.0.0.1:5432 (override with
``STREAMWEAVE_TEST_PG_URL``), dropped at the end. Without a reachable server the
PostgreSQL tests skip locally and fail under CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from streamweave.api.app import create_app
from streamweave.config import Settings, prepare_settings
from streamweave.db.base import Base
from streamweave.db.engine import create_engine
from streamweave.db.migrate import upgrade

BACKEND = os.environ.get("STREAMWEAVE_TEST_DB", "sqlite")
PG_SERVER = os.environ.get(
    "STREAMWEAVE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass runs only tests that touch the database: those using the
    ``database_url`` or ``backend`` fixture, directly or not. The rest ran in the SQLite
    pass."""
    if BACKEND != "postgresql":
        return
    kept, dropped = [], []
    for item in items:
        uses_database = {"database_url", "backend"} & set(getattr(item, "fixturenames", ()))
        (kept if uses_database else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


async def _pg_admin(sql: str) -> None:
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards. Without a server
    the test skips, except under CI, where it fails."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        message = f"PostgreSQL is not reachable at {PG_SERVER}: {exc}"
        if IN_CI:
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def backend() -> str:
    """The database backend of this pass. A fixture that makes its own database requests
    it, which keeps its tests in the PostgreSQL pass."""
    return BACKEND


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if BACKEND == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    with postgres_database("sw_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return prepare_settings(
        Settings(
            env="test",
            data_dir=data_dir,
            database_url=database_url,
            allow_registration=True,
            login_max_failures=5,
        )
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def migrated(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.sqlalchemy_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def _wipe(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest_asyncio.fixture(loop_scope="session")
async def clean_database(migrated: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The migrated test database, emptied again after the test."""
    yield migrated
    await _wipe(migrated)


@pytest_asyncio.fixture(loop_scope="session")
async def app(settings: Settings, clean_database: AsyncEngine) -> AsyncIterator[Any]:
    application = create_app(settings)
    yield application
    await application.state.context.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 12345))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


UserFactory = Callable[..., Awaitable[dict[str, Any]]]


@pytest_asyncio.fixture(loop_scope="session")
async def make_user(app: Any, client: httpx.AsyncClient) -> UserFactory:
    """Create a user directly through the service layer; returns id, email, headers."""
    from streamweave.auth.manager import UserManager, UserStore
    from streamweave.auth.schemas import UserCreate
    from streamweave.services import people

    context = app.state.context

    async def make(email: str | None = None, *, admin: bool = False) -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
        async with context.sessionmaker() as session:
            manager = UserManager(UserStore(session), context.settings)
            data = UserCreate(email=email, password=PASSWORD, role="admin" if admin else "user")
            user = await people.create_user(session, manager, None, data, trusted=True)
            token = context.sessions.issue(user)
        return {
            "id": str(user.id),
            "email": email,
            "token": token,
            "headers": {"Authorization": f"Bearer {token}"},
        }

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def admin(make_user: UserFactory) -> dict[str, Any]:
    return await make_user("admin@example.org", admin=True)


@pytest_asyncio.fixture(loop_scope="session")
async def alice(make_user: UserFactory) -> dict[str, Any]:
    return await make_user("alice@example.org")


@pytest_asyncio.fixture(loop_scope="session")
async def bob(make_user: UserFactory) -> dict[str, Any]:
    return await make_user("bob@example.org")


def record_obscured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password rclone is given (obscured) from now on in this test: secrets that
    must never show up in a process's arguments."""
    from streamweave.transfers import rclone

    obscured: list[str] = []
    real_obscure = rclone.obscure

    def recording_obscure(secret: str) -> str:
        obscured.append(real_obscure(secret))
        return obscured[-1]

    monkeypatch.setattr(rclone, "obscure", recording_obscure)
    return obscured
