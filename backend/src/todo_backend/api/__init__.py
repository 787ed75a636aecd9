"""The FastAPI app: settings, middleware, exception handlers, and the routers of `routes/`.

`deps.py` holds what the routes depend on (settings, database, session, MCP connector, the
path's user), `schemas.py` what they read and answer; each module of `routes/` is one tag of the API.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig

from todo_backend import tasks
from todo_backend.api.fast_lane import TaskListFastLane
from todo_backend.api.routes import account, chat, ops
from todo_backend.api.routes import tasks as task_routes
from todo_backend.auth import JwksVerifier
from todo_backend.db import UNAVAILABLE, Database
from todo_backend.guards import (
    MAX_BODY_BYTES,
    BearerAuthMiddleware,
    BodyLimitMiddleware,
    database_unavailable,
    json_server_error,
)
from todo_backend.logs import RequestIdMiddleware
from todo_backend.mcp_client import McpConnector
from todo_backend.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings.sqlalchemy_url)
        app.state.verifier = JwksVerifier(
            settings.auth_jwks_url,
            issuer=settings.issuer,
            audience=settings.audience,
            refetch_interval=settings.auth_jwks_refetch_interval,
            cache_seconds=settings.auth_jwks_cache_seconds,
        )
        app.state.mcp = McpConnector(
            settings.mcp_server_url,
            settings.mcp_service_token.get_secret_value(),
            timeout=settings.mcp_timeout_seconds,
        )
        try:
            yield
        finally:
            await app.state.mcp.aclose()
            await app.state.db.close_async()
            app.state.db.dispose()

    # The API description only where a developer asks for it (API_DOCS=1), not on every deployment.
    docs = settings.api_docs
    app = FastAPI(
        title="Todo Chatbot backend",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        telemetry=_telemetry(),
    )
    app.state.settings = settings
    # Outermost last: the request id wraps everything, the token is checked before the body limit,
    # and both run before any route reads the body; the task list's fast lane only ever sees
    # requests whose token was verified.
    app.add_middleware(TaskListFastLane)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BearerAuthMiddleware, prefix="/api/")
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(Exception, json_server_error)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(tasks.NotFound, _not_found)
    for router in (ops.router, task_routes.router, chat.router, account.router):
        app.include_router(router)
    return app


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's built-in OpenTelemetry: off unless its environment set-up is asked for.

    With it on, FastAPI asks the global OpenTelemetry providers on every request whether any is
    configured, a percent of the task list's CPU, although this service configures none. Setting
    FASTAPI_OTEL_AUTO_CONFIGURE=true (FastAPI's own switch) keeps FastAPI's defaults.
    """
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return None
    return {"tracing": False, "metrics": False, "logs": False}


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    return database_unavailable(exc)


async def _not_found(_request: Request, exc: tasks.NotFound) -> JSONResponse:
    # From any route: the row does not exist or is another user's (the caller cannot tell which).
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # 422 naming the field; the offending input is not echoed back (it may be huge).
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
