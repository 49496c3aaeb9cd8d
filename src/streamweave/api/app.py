"""The FastAPI application: routers, error mapping, docs."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import DataError, DBAPIError

import streamweave
from streamweave.api.context import AppContext
from streamweave.api.routers import (
    activity,
    ark,
    auth,
    cron,
    dashboard,
    files,
    groups,
    harvest_runs,
    health,
    hooks,
    instruments,
    run_files,
    schedules,
    service_accounts,
    storage_locations,
    users,
)
from streamweave.config import Settings, load_settings
from streamweave.errors import Conflict, Forbidden, InvalidInput, NotFound
from streamweave.orchestration.api import orchestrating
from streamweave.orchestration.errors import OrchestratorUnavailable
from streamweave.web import spa

_STATUS = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Forbidden: 403,
    OrchestratorUnavailable: 503,
}


def _error_handler(status_code: int):  # type: ignore[no-untyped-def]
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_code)

    return handle


log = logging.getLogger(__name__)


async def _database_data_error(_request: Request, exc: Exception) -> JSONResponse:
    """The database refused a value as invalid data (SQLSTATE class 22: a NUL byte, an
    untranslatable character, a number out of range...): bad input that validation let
    through, so a 422. Every other database error stays a 500: it is a bug or an outage."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if not (isinstance(exc, DataError) or sqlstate.startswith("22")):
        raise exc
    # The driver's own sentence, never the statement or its parameters (they may hold secrets).
    reason = str(exc.orig.__cause__ or exc.orig).splitlines()[0] if exc.orig else "invalid data"
    log.warning("database refused a request value (SQLSTATE %s): %s", sqlstate or "?", reason)
    return JSONResponse(
        {"detail": f"a value in the request cannot be stored or compared: {reason}"},
        status_code=422,
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


class _EscapedJSONResponse(JSONResponse):
    """JSON that any input can be echoed in: non-ASCII escaped (a lone surrogate has no
    UTF-8 form) and NaN or Infinity (which Python's JSON parser accepts) as strings."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            _json_safe(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


_SECRET_FIELDS = frozenset(
    {
        "password",
        "secret_access_key",
        "access_key_id",
        "private_key",
        "key_passphrase",
        "webhook_secret",
    }
)


def _without_secret_input(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error may echo the offending input: not when it is a secret."""
    if _SECRET_FIELDS.intersection(str(part) for part in error.get("loc", ())):
        return {key: value for key, value in error.items() if key != "input"}
    return error


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own answer, rendered so that echoing the offending input cannot fail.
    assert isinstance(exc, RequestValidationError)
    errors = [_without_secret_input(error) for error in exc.errors()]
    return _EscapedJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    context = AppContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with orchestrating(_app.state, context.engine, context.sessionmaker):
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
    app.add_exception_handler(DBAPIError, _database_data_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)

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
        harvest_runs.router,
        ark.router,
        activity.router,
        cron.router,
        dashboard.router,
        run_files.router,
    ):
        app.include_router(router)
    spa.install(app)
    return app
