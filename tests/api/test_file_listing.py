"""GET /api/files returns exactly the visible files, in order, whichever path serves it.

Unfiltered lists page by dense positions (admins: file seq; users whose access comes
from one grantee: that grantee's ordinals); the rest is a general query. Both must
agree with a brute-force model of visibility, including after grants are added out
of order and removed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from streamweave.db.models import Group, GroupMember, Instrument, Project, ProjectMember
from streamweave.services import catalog
from tests.api.conftest import User

FILES = 120


@pytest_asyncio.fixture(loop_scope="session")
async def seeded(app: Any, alice: User, bob: User, carol: User) -> dict[str, Any]:
    """FILES files on two instruments: alice sees some through her group (granted
    directly and through its project), carol through the project, and bob owns every
    17th. "ids" holds their ids as strings, in the order lists show them."""
    context = app.state.context
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    async with context.sessionmaker() as session:
        instruments = [
            Instrument(name=f"inst-{i}", completion_rule={"mode": "none"}) for i in range(2)
        ]
        group = Group(name="microscopy")
        project = Project(name="cryo-em")
        session.add_all([*instruments, group, project])
        await session.flush()
        session.add(GroupMember(group_id=group.id, user_id=uuid.UUID(alice["id"])))
        session.add(ProjectMember(project_id=project.id, member_type="group", member_id=group.id))
        session.add(
            ProjectMember(
                project_id=project.id, member_type="user", member_id=uuid.UUID(carol["id"])
            )
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "persistent_id": f"ark:/99999/fk4test{i:05d}",
                "instrument_id": instruments[i % 2].id,
                "source_path": f"run{i // 10:02d}/file{i:03d}.tif",
                "filename": f"file{i:03d}.tif",
                "first_discovered_at": epoch + timedelta(minutes=i),
                "metadata_": {"sample": f"S{i % 3}"},
                "owner_id": uuid.UUID(bob["id"]) if i % 17 == 0 else None,
            }
            for i in range(FILES)
        ]
        await catalog.add_files(session, rows)
        ids = [row["id"] for row in rows]
        # Group grants arrive in two batches, the second older than the first: renumbering.
        await catalog.grant_files(session, "group", group.id, ids[60:90])
        await catalog.grant_files(session, "group", group.id, ids[10:40])
        await catalog.grant_files(session, "project", project.id, ids[100:110])
        await session.commit()
    return {
        "ids": [str(i) for i in ids],
        "rows": rows,
        "group": group.id,
        "project": project.id,
        "instruments": instruments,
    }


async def _all_pages(
    client: httpx.AsyncClient, headers: dict[str, str], query: str = "", limit: int = 7
) -> tuple[list[str], int]:
    seen: list[str] = []
    skip = 0
    while True:
        response = await client.get(f"/api/files?limit={limit}&skip={skip}{query}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["id"] for item in body["items"])
        total = body["total"]
        skip += limit
        if skip >= total:
            return seen, total


async def test_every_caller_sees_exactly_their_files_in_order(
    client: httpx.AsyncClient, users: dict[str, User], carol: User, seeded: dict[str, Any]
) -> None:
    admin, alice, bob = users["admin"], users["alice"], users["bob"]
    ids = seeded["ids"]

    # bob gets two direct grants through the API (ORM path), then loses one.
    for index in (5, 95):
        response = await client.post(
            f"/api/files/{ids[index]}/access",
            json={"grantee_type": "user", "grantee_id": bob["id"]},
            headers=admin["headers"],
        )
        assert response.status_code == 201, response.text
    grants = (await client.get(f"/api/files/{ids[95]}/access", headers=admin["headers"])).json()[
        "items"
    ]
    response = await client.delete(
        f"/api/files/{ids[95]}/access/{grants[0]['id']}", headers=admin["headers"]
    )
    assert response.status_code == 204

    group_files = set(range(10, 40)) | set(range(60, 90))
    project_files = set(range(100, 110))
    expected = {
        "admin": list(range(FILES)),
        "alice": sorted(group_files | project_files),  # group, and project via the group
        "carol": sorted(project_files),  # one grantee list: the positional path
        "bob": sorted({i for i in range(FILES) if i % 17 == 0} | {5}),  # owner + direct
    }
    everyone = {**users, "carol": carol}
    for name, indexes in expected.items():
        got, total = await _all_pages(client, everyone[name]["headers"])
        assert total == len(indexes), name
        assert got == [ids[i] for i in indexes], name

    # Adding to the middle of the group's list keeps positions dense and ordered.
    response = await client.post(
        f"/api/files/{ids[50]}/access",
        json={"grantee_type": "group", "grantee_id": str(seeded["group"])},
        headers=admin["headers"],
    )
    assert response.status_code == 201
    got, total = await _all_pages(client, alice["headers"], limit=11)
    assert got == [ids[i] for i in sorted(group_files | project_files | {50})]


async def test_filters_agree_with_visibility(
    client: httpx.AsyncClient, admin: User, alice: User, seeded: dict[str, Any]
) -> None:
    ids = seeded["ids"]
    visible_to_alice = set(range(10, 40)) | set(range(60, 90)) | set(range(100, 110))
    cases = {
        "&path_prefix=run1": {i for i in range(FILES) if f"run{i // 10:02d}".startswith("run1")},
        f"&instrument_id={seeded['instruments'][1].id}": {i for i in range(FILES) if i % 2 == 1},
        "&metadata_key=sample&metadata_value=S2": {i for i in range(FILES) if i % 3 == 2},
        "&persistent_id=ark:/99999/fk4test00012": {12},
        "&discovered_after=2026-01-01T01:00:00Z&discovered_before=2026-01-01T01:30:00Z": set(
            range(60, 90)
        ),
    }
    for query, matching in cases.items():
        got, total = await _all_pages(client, admin["headers"], query)
        assert got == [ids[i] for i in sorted(matching)], query
        got, total = await _all_pages(client, alice["headers"], query)
        assert got == [ids[i] for i in sorted(matching & visible_to_alice)], query
        assert total == len(matching & visible_to_alice), query


async def test_deleted_group_grants_nothing(
    client: httpx.AsyncClient, admin: User, alice: User, seeded: dict[str, Any]
) -> None:
    response = await client.delete(f"/api/groups/{seeded['group']}", headers=admin["headers"])
    assert response.status_code == 204
    got, total = await _all_pages(client, alice["headers"])
    assert total == 0 and got == []
    hidden = seeded["ids"][20]
    assert (await client.get(f"/api/files/{hidden}", headers=alice["headers"])).status_code == 404
    await client.post(f"/api/groups/{seeded['group']}/restore", headers=admin["headers"])
    assert (await client.get(f"/api/files/{hidden}", headers=alice["headers"])).status_code == 200


@pytest.mark.parametrize("prefix", ["\U0010ffff", "run\ud7ff", "\U0010ffff\U0010ffff"])
async def test_prefix_at_the_end_of_unicode(
    client: httpx.AsyncClient, admin: dict[str, Any], prefix: str
) -> None:
    # No string follows U+10FFFF, and the one after U+D7FF would be a surrogate.
    response = await client.get(
        "/api/files", params={"path_prefix": prefix}, headers=admin["headers"]
    )
    assert response.status_code == 200
    assert response.json()["total"] == 0
