"""Serve the built web UI at ``/``, with a fallback to ``index.html`` for its routes.

The fallback answers only what no API route matched (it is the 404 handler, not a
catch-all route), only for GET and HEAD, and never under the API's own prefixes, so an
unknown API path still gets the API's JSON 404 and a wrong method still gets a 405.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

DIST = Path(__file__).parent / "dist"

# Paths that belong to the API, its documentation or the ARK resolver.
RESERVED_PREFIXES = (
    "/api/",
    "/auth/",
    "/users/",
    "/ark:",
    "/docs",
    "/redoc",
    "/swagger",
    "/openapi.json",
    "/health",
)

# Inline styles are Mantine's CSS variables; scripts come only from this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>StreamWeave</title></head>
<body><h1>The StreamWeave web UI is not built</h1>
<p>Run <code>./scripts/bootstrap</code> (it needs Node.js 20.19 or newer) or install a
StreamWeave package that includes it. The API is available at <a href="/docs">/docs</a>.</p>
</body></html>
"""


def _is_reserved(path: str) -> bool:
    return path == "/api" or any(path.startswith(prefix) for prefix in RESERVED_PREFIXES)


def _asset(dist: Path, path: str) -> Path | None:
    """The built file ``path`` names, if there is one (never outside ``dist``)."""
    relative = path.lstrip("/")
    if not relative:
        return None
    candidate = (dist / relative).resolve()
    if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
        return None
    return candidate


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503)
    return FileResponse(
        index,
        media_type="text/html",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def install(app: FastAPI, dist: Path = DIST) -> None:
    """Make ``app`` serve the UI built into ``dist`` for every path the API does not own."""

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request.url.path
        if (
            exc.status_code != 404
            or request.method not in ("GET", "HEAD")
            or _is_reserved(path)
            # A 404 raised by a matched route is that route's answer, not a missing page.
            or request.scope.get("route") is not None
        ):
            return await http_exception_handler(request, exc)
        asset = _asset(dist, path)
        if asset is not None:
            # Vite names everything under assets/ by its content hash.
            cache = (
                "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
            )
            return FileResponse(asset, headers={"Cache-Control": cache})
        if path.startswith("/assets/"):
            return await http_exception_handler(request, exc)
        return _index(dist)

    app.add_exception_handler(StarletteHTTPException, not_found)
