"""Helpers and fixtures the API tests share: the callers, creating and refusing through
HTTP, and harvested files (which no API creates)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import AuditLog, FileRecord, FileVersion, Instrument
from tests.conftest import UserFactory

Json = dict[str, Any]
User = dict[str, Any]  # id, email, token and headers, as ``make_user`` returns them


# --- callers ---------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def carol(make_user: UserFactory) -> User:
    """A third regular user, for tests where alice and bob already play their parts."""
    return await make_user("carol@example.org")


@pytest.fixture
def users(admin: User, alice: User, bob: User) -> dict[str, User]:
    """The admin, alice and bob by name, for tests that ask the same of each of them."""
    return {"admin": admin, "alice": alice, "bob": bob}


@pytest.fixture
def callers(users: dict[str, User]) -> dict[str, dict[str, str]]:
    """Each caller's request headers by name; anonymous sends none."""
    return {"anonymous": {}, **{name: user["headers"] for name, user in users.items()}}


# --- requests --------------------------------------------------------------------------


def ok(response: httpx.Response) -> Any:
    """The body of a successful answer; any other answer fails the test, naming the
    request, so that setup steps need no status checks of their own."""
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


async def created(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: Json) -> Json:
    """The resource a POST created; anything but a 201 fails the test."""
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def instrument(
    client: httpx.AsyncClient, admin: User, name: str = "scope", **fields: Any
) -> Json:
    """A valid SMB instrument, created by the admin; ``fields`` add to or override it."""
    body = {"name": name, "cifs_host": "files.example.org", "cifs_share": "data", **fields}
    return await created(client, "/api/instruments", admin["headers"], body)


def builtin_hook(builtin: str, trigger: str | None = None, **fields: Any) -> Json:
    """A hook body running a built-in, named after it and at the built-in's own trigger
    unless ``trigger`` says otherwise (to test that it must be its own); ``fields`` add
    to or override it."""
    own = "pre_transfer" if builtin == "file_filter" else "post_transfer"
    return {
        "name": builtin,
        "trigger": trigger or own,
        "implementation": "builtin",
        "builtin_name": builtin,
        **fields,
    }


def redirect_to(destination: str, pattern: str = "*") -> Json:
    """A file_filter config that redirects the files ``pattern`` matches."""
    return {"redirect_rules": [{"pattern": pattern, "destination": destination}]}


def webhook(url: str = "https://hooks.example.org/in", **fields: Any) -> Json:
    """A post-transfer webhook body named "notify"; ``fields`` add to or override it."""
    return {
        "name": "notify",
        "trigger": "post_transfer",
        "implementation": "http_webhook",
        "webhook_url": url,
        **fields,
    }


async def count(app: Any, model: type[Any]) -> int:
    """The rows of ``model``'s table: unchanged by a refused request."""
    async with app.state.context.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass(frozen=True)
class Refuse:
    """Sends, as the admin, a request that must be refused with ``status``: its detail
    must name every word in ``mentions``, and neither ``model``'s table nor the audit
    trail may change. Returns the detail. As the admin, because a refusal means most
    when the caller was allowed to ask."""

    client: httpx.AsyncClient
    app: Any
    headers: dict[str, str]

    async def __call__(
        self,
        method: str,
        url: str,
        body: Json,
        *,
        model: type[Any],
        status: int = 422,
        mentions: str | tuple[str, ...] = (),
    ) -> str:
        rows, audits = await count(self.app, model), await count(self.app, AuditLog)
        response = await self.client.request(method, url, json=body, headers=self.headers)
        assert response.status_code == status, response.text
        detail = str(response.json()["detail"])
        for word in (mentions,) if isinstance(mentions, str) else mentions:
            assert word in detail, f"{word!r} not in {detail!r}"
        assert await count(self.app, model) == rows
        assert await count(self.app, AuditLog) == audits
        return detail


@pytest.fixture
def refused(client: httpx.AsyncClient, app: Any, admin: User) -> Refuse:
    """A :class:`Refuse` for the admin's requests."""
    return Refuse(client, app, admin["headers"])


# --- harvested data --------------------------------------------------------------------


async def add_file(app: Any, instrument_id: str, path: str = "run1/a.raw") -> str:
    """A harvested file, written the way the harvester does (no API creates files)."""
    async with app.state.context.sessionmaker() as session:
        record = FileRecord(
            persistent_id=f"ark:/99999/fk4{uuid.uuid4().hex[:12]}",
            instrument_id=uuid.UUID(instrument_id),
            source_path=path,
            filename=path.rsplit("/", 1)[-1],
            size_bytes=10,
        )
        session.add(record)
        await session.commit()
        return str(record.id)


async def add_file_with_versions(
    session: AsyncSession, instrument_name: str, versions: Sequence[Json] = (), **fields: Any
) -> FileRecord:
    """A new instrument with one harvested file (``fields``) and its ``versions``, written
    the way the harvester does: no API creates files, versions or their ARKs."""
    source = Instrument(name=instrument_name)
    session.add(source)
    await session.flush()
    record = FileRecord(instrument_id=source.id, **fields)
    session.add(record)
    await session.flush()
    session.add_all([FileVersion(file_id=record.id, **version) for version in versions])
    await session.commit()
    return record
