"""The web UI is served at ``/`` with an index.html fallback that never shadows the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from streamweave.web import spa
from tests.conftest import IN_CI

INDEX = (
    '<!doctype html><html><body><div id="root"></div>'
    '<script src="/assets/app-1a2b.js"></script></body></html>'
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX)
    (built / "assets" / "app-1a2b.js").write_text("console.log('app')")
    (built / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return built


@pytest.fixture
def web(app: Any, dist: Path) -> Any:
    spa.install(app, dist)
    return app


@pytest.mark.parametrize(
    "path", ["/", "/files", "/files/0b7c", "/admin/instruments", "/login?next=/x"]
)
async def test_app_routes_get_the_index(web: Any, client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_built_files_are_served_and_hashed_assets_cached(
    web: Any, client: httpx.AsyncClient
) -> None:
    asset = await client.get("/assets/app-1a2b.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('app')"
    assert "immutable" in asset.headers["cache-control"]
    icon = await client.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"
    missing = await client.get("/assets/gone-0000.js")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "path", ["/..%2fsecret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]
)
async def test_nothing_outside_the_build_is_served(
    web: Any, client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert "not for the web" not in response.text


async def test_api_routes_are_untouched(
    web: Any, client: httpx.AsyncClient, admin: dict[str, Any]
) -> None:
    unknown = await client.get("/api/no-such-thing", headers={"Accept": "text/html"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    assert (await client.get("/api")).json() == {"detail": "Not Found"}
    assert (await client.get("/health")).json()["status"] == "ok"
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "StreamWeave"
    for docs in ("/docs", "/redoc", "/swagger"):
        page = await client.get(docs)
        assert page.status_code == 200
        assert page.text != INDEX
    anonymous = await client.get("/users/me", headers={"Accept": "text/html"})
    assert anonymous.status_code == 401
    assert "detail" in anonymous.json()
    ark = await client.get("/ark:/99999/fk4bcdfghj2", headers={"Accept": "text/html"})
    assert ark.status_code in (400, 404)
    assert "detail" in ark.json()
    mine = await client.get("/api/me", headers=admin["headers"])
    assert mine.json()["email"] == admin["email"]


async def test_route_answers_keep_their_status(
    web: Any, client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    # A 404 a route raises, and a method a path does not take, are not pages of the UI.
    hidden = await client.get(
        "/api/instruments/00000000-0000-0000-0000-000000000000", headers=alice["headers"]
    )
    assert hidden.status_code == 404
    assert "instrument" in hidden.json()["detail"]
    assert (await client.delete("/health")).status_code == 405
    posted = await client.post("/files")
    assert posted.status_code == 404
    assert posted.json() == {"detail": "Not Found"}


async def test_an_unbuilt_ui_says_how_to_build_it(
    app: Any, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    spa.install(app, tmp_path / "never-built")
    response = await client.get("/files")
    assert response.status_code == 503
    assert "scripts/bootstrap" in response.text
    assert (await client.get("/health")).status_code == 200


def test_the_package_ships_the_built_ui() -> None:
    index = spa.DIST / "index.html"
    if not index.is_file():
        message = f"the web UI is not built into {spa.DIST}: run scripts/bootstrap"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    text = index.read_text()
    assert '<div id="root">' in text
    scripts = [part.split('"')[0] for part in text.split('src="')[1:]]
    assert scripts, "index.html loads no script"
    for script in scripts:
        assert (spa.DIST / script.lstrip("/")).is_file(), f"{script} is missing from the build"
