"""The ARK resolver: /ark:/NAAN/name and /ark:NAAN/name, ?info, and who may see what.

A file's ARK and each of its versions' ARKs resolve, for exactly the callers who may
see the file; to anyone else the answer is the 404 of an ARK that names nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from streamweave.db.models import FileRecord
from streamweave.identifiers import mint, parse
from tests.api.conftest import add_file_with_versions

NAAN, SHOULDER = "99999", "fk4"  # the test settings' defaults
DISCOVERED = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
VERSION_2_SEEN = datetime(2024, 5, 2, 14, 0, tzinfo=UTC)


@dataclass
class Lab:
    file_id: str
    file_ark: str
    version_arks: list[str]
    unused_ark: str


def path(ark: str) -> str:
    return "/" + ark


def without_slash(ark: str) -> str:
    return "/" + ark.replace("ark:/", "ark:", 1)


def not_found(ark: str) -> dict[str, str]:
    return {"detail": f"{ark} not found"}


@pytest_asyncio.fixture(loop_scope="session")
async def lab(
    app: Any, client: httpx.AsyncClient, admin: dict[str, Any], alice: dict[str, Any]
) -> Lab:
    """One file with two versions, granted to alice; bob has nothing."""
    file_ark, v1, v2, unused = mint(4, naan=NAAN, shoulder=SHOULDER)
    first = {"size_bytes": 1024, "xxhash": "cd" * 16, "sha256": "ef" * 32}
    second = {"size_bytes": 2048, "xxhash": "ab" * 16}
    async with app.state.context.sessionmaker() as session:
        record = await add_file_with_versions(
            session,
            "cryo-em-2",
            [
                {"version": 1, "persistent_id": v1, "discovered_at": DISCOVERED, **first},
                {"version": 2, "persistent_id": v2, "discovered_at": VERSION_2_SEEN, **second},
            ],
            persistent_id=file_ark,
            source_path="/grid-7/movie.tiff",
            filename="movie.tiff",
            first_discovered_at=DISCOVERED,
            current_version=2,
            **second,  # a file's size and checksum are its current version's
        )
        file_id = str(record.id)
    grant = {"grantee_type": "user", "grantee_id": alice["id"]}
    response = await client.post(
        f"/api/files/{file_id}/access", json=grant, headers=admin["headers"]
    )
    assert response.status_code == 201, response.text
    return Lab(file_id=file_id, file_ark=file_ark, version_arks=[v1, v2], unused_ark=unused)


# --- what it answers -------------------------------------------------------------------


@pytest.mark.parametrize("form", [path, without_slash], ids=["ark:/NAAN", "ark:NAAN"])
async def test_a_file_ark_resolves_to_the_file_as_the_files_api_shows_it(
    client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab, form: Any
) -> None:
    response = await client.get(form(lab.file_ark), headers=admin["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    as_file = (await client.get(f"/api/files/{lab.file_id}", headers=admin["headers"])).json()
    assert {k: v for k, v in body.items() if k not in ("ark", "requested_version", "versions")} == (
        as_file
    )
    assert body["ark"] == lab.file_ark
    assert body["requested_version"] is None
    assert body["versions"] == [
        {
            "version": 1,
            "persistent_id": lab.version_arks[0],
            "size_bytes": 1024,
            "source_mtime": None,
            "checksums": {"xxh3-128": "cd" * 16, "sha256": "ef" * 32},
            "discovered_at": "2024-03-01T09:30:00Z",
        },
        {
            "version": 2,
            "persistent_id": lab.version_arks[1],
            "size_bytes": 2048,
            "source_mtime": None,
            "checksums": {"xxh3-128": "ab" * 16},
            "discovered_at": "2024-05-02T14:00:00Z",
        },
    ]


@pytest.mark.parametrize("version", [1, 2])
async def test_a_version_ark_resolves_to_its_file_and_names_the_version(
    client: httpx.AsyncClient, alice: dict[str, Any], lab: Lab, version: int
) -> None:
    ark = lab.version_arks[version - 1]
    response = await client.get(path(ark), headers=alice["headers"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == lab.file_id
    assert body["persistent_id"] == lab.file_ark
    assert body["ark"] == ark
    assert body["requested_version"] == version
    assert [v["persistent_id"] for v in body["versions"]] == lab.version_arks


async def test_hyphens_and_the_label_case_do_not_change_the_ark(
    client: httpx.AsyncClient, alice: dict[str, Any], lab: Lab
) -> None:
    name = parse(lab.file_ark).name
    hyphenated = f"/ark:/{NAAN}/{name[:3]}-{name[3:7]}-{name[7:]}"
    response = await client.get(hyphenated, headers=alice["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["ark"] == lab.file_ark


@pytest.mark.parametrize("inflection", ["?info", "??"])
async def test_info_gives_the_kernel_metadata(
    client: httpx.AsyncClient, alice: dict[str, Any], app: Any, lab: Lab, inflection: str
) -> None:
    public_url = app.state.context.settings.public_url.rstrip("/")
    file_info = await client.get(path(lab.file_ark) + inflection, headers=alice["headers"])
    assert file_info.status_code == 200, file_info.text
    assert file_info.json() == {
        "ark": lab.file_ark,
        "who": "cryo-em-2",
        "what": "movie.tiff",
        "when": "2024-03-01T09:30:00Z",
        "where": f"{public_url}/{lab.file_ark}",
    }
    version_info = await client.get(
        without_slash(lab.version_arks[1]) + inflection, headers=alice["headers"]
    )
    assert version_info.json()["when"] == "2024-05-02T14:00:00Z"
    assert version_info.json()["ark"] == lab.version_arks[1]


# --- who may see it --------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["admin", "alice"])
async def test_admins_and_grantees_resolve_it(
    client: httpx.AsyncClient, lab: Lab, callers: dict[str, dict[str, str]], caller: str
) -> None:
    headers = callers[caller]
    for ark in (lab.file_ark, *lab.version_arks):
        assert (await client.get(path(ark), headers=headers)).status_code == 200


@pytest.mark.parametrize("caller", ["bob", "anonymous"])
@pytest.mark.parametrize("inflection", ["", "?info", "??"])
async def test_anyone_else_gets_the_answer_of_an_ark_that_names_nothing(
    client: httpx.AsyncClient,
    lab: Lab,
    caller: str,
    inflection: str,
    callers: dict[str, dict[str, str]],
) -> None:
    headers = callers[caller]
    for form in (path, without_slash):
        for ark in (lab.file_ark, *lab.version_arks, lab.unused_ark):
            response = await client.get(form(ark) + inflection, headers=headers)
            assert response.status_code == 404, response.text
            assert response.json() == not_found(ark)


async def test_an_owner_resolves_their_file(
    app: Any, client: httpx.AsyncClient, bob: dict[str, Any], lab: Lab
) -> None:
    async with app.state.context.sessionmaker() as session:
        record = await session.get(FileRecord, uuid.UUID(lab.file_id))
        assert record is not None
        record.owner_id = uuid.UUID(bob["id"])
        await session.commit()
    assert (await client.get(path(lab.file_ark), headers=bob["headers"])).status_code == 200


async def test_an_unknown_ark_is_not_found_even_for_an_admin(
    client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab
) -> None:
    response = await client.get(path(lab.unused_ark), headers=admin["headers"])
    assert response.status_code == 404
    assert response.json() == not_found(lab.unused_ark)


# --- what is not ours, or not an ARK ---------------------------------------------------


@pytest.mark.parametrize("caller", ["admin", "bob", "anonymous"])
async def test_a_wrong_check_character_is_a_400_naming_the_right_one(
    client: httpx.AsyncClient, lab: Lab, callers: dict[str, dict[str, str]], caller: str
) -> None:
    headers = callers[caller]
    right = lab.file_ark[-1]
    wrong = next(c for c in "bcd" if c != right)
    for form in (path, without_slash):
        response = await client.get(form(lab.file_ark[:-1] + wrong), headers=headers)
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        assert f"check character should be {right!r}" in detail
        assert lab.file_ark in detail


async def test_another_naan_is_not_found(
    client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab
) -> None:
    name = parse(lab.file_ark).name
    for url in (f"/ark:/13030/{name}", f"/ark:13030/{name}"):
        response = await client.get(url, headers=admin["headers"])
        assert response.status_code == 404, response.text
        assert response.json() == not_found(f"ark:/13030/{name}")


async def test_a_qualifier_is_not_found_files_have_no_parts(
    client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab
) -> None:
    response = await client.get(path(lab.file_ark) + ".pdf", headers=admin["headers"])
    assert response.status_code == 404
    assert response.json() == not_found(lab.file_ark)


@pytest.mark.parametrize("name", ["fk4%C3%A9", "fk4%00", "fk4 x", "fk4~%zz"])
async def test_a_name_that_cannot_be_an_ark_is_a_400(
    client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab, name: str
) -> None:
    response = await client.get(f"/ark:/{NAAN}/{name}", headers=admin["headers"])
    assert response.status_code == 400, response.text


async def test_arks_under_another_of_our_shoulders_resolve_without_a_check_character(
    app: Any, client: httpx.AsyncClient, admin: dict[str, Any], lab: Lab
) -> None:
    # An earlier shoulder's (or an imported) ARK: no check character can be assumed.
    legacy = f"ark:/{NAAN}/b5legacy01"
    async with app.state.context.sessionmaker() as session:
        record = await session.get(FileRecord, uuid.UUID(lab.file_id))
        assert record is not None
        record.persistent_id = legacy
        await session.commit()
    response = await client.get(path(legacy), headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["persistent_id"] == legacy
