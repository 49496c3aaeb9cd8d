"""The FastAPI application: routers, error mapping, docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

import streamweave
from streamweave.api.context import AppContext
from streamweave.api.routers import (
    activity,
    auth,
    files,
    groups,
    health,
    hooks,
    instruments,
    schedules,
    service_accounts,
    storage_locations,
    users,
)
from streamweave.config import Settings, load_settings
from streamweave.errors import Conflict, Forbidden, InvalidInput, NotFound

_STATUS = {NotFound: 404, Conflict: 409, InvalidInput: 422, Forbidden: 403}


def _error_handler(status_code: int):  # type: ignore[no-untyped-def]
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_code)

    return handle


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    context = AppContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await context.engine.dispose()

    app = FastAPI(
        title="StreamWeave",
        version=streamweave.__version__,
        description="Verified, identified, audited transfer of lab instrument data.",
        docs_url="/docs",
        redoc_url="/redoc",
        lifespan=lifespan,
    )
    app.state.context = context
    for error, status_code in _STATUS.items():
        app.add_exception_handler(error, _error_handler(status_code))

    @app.get("/swagger", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="StreamWeave API")

    for router in (
        health.router,
        auth.router,
        users.router,
        users.admin_router,
        users.tokens_router,
        service_accounts.router,
        instruments.router,
        storage_locations.router,
        schedules.router,
        hooks.router,
        groups.groups_router,
        groups.projects_router,
        files.router,
        activity.router,
    ):
        app.include_router(router)
    return app
