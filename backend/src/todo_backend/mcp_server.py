"""`todo-mcp`: the five task tools over streamable HTTP at `/mcp`, plus `GET /health`.

Imports neither openai nor agents (startup time; the MCP image leaves them out).
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from todo_backend.guards import MAX_BODY_BYTES, json_server_error
from todo_backend.limits import ID_MAX, TITLE_MAX, USER_ID_MAX, StatusFilter
from todo_backend.logs import RequestIdMiddleware, configure_logging, uvicorn_log_config
from todo_backend.settings import Settings, database_url_problem
from todo_backend.startup import starting

if TYPE_CHECKING:
    # The database layer (SQLAlchemy, the tables, the domain functions) is imported when a tool
    # first runs (see DatabaseOnFirstUse): `/health` does not need it.
    from sqlalchemy.orm import Session

    from todo_backend.db import Database
    from todo_backend.models import Task

log = logging.getLogger(__name__)

# The endpoint (streamable HTTP); the service token and the POST-only rule guard everything under it.
MCP_PATH = "/mcp"

# The in-cluster service name (short and qualified) next to loopback; more via MCP_ALLOWED_HOSTS.
DEFAULT_ALLOWED_HOSTS = [
    "127.0.0.1:*",
    "localhost:*",
    "[::1]:*",
    "mcp-service",
    "mcp-service:*",
    "mcp-service.todo-app",
    "mcp-service.todo-app:*",
    "mcp-service.todo-app.svc",
    "mcp-service.todo-app.svc:*",
    "mcp-service.todo-app.svc.cluster.local",
    "mcp-service.todo-app.svc.cluster.local:*",
]

UserId = Annotated[str, Field(min_length=1, max_length=USER_ID_MAX, description="The task owner's id")]
TaskId = Annotated[int, Field(ge=1, le=ID_MAX, description="The task's id")]


def _result(payload: Any) -> CallToolResult:
    # One JSON text block in the contract's shape (the SDK would split a list into many blocks).
    structured = payload if isinstance(payload, dict) else {"result": payload}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(payload))], structured_content=structured)


def _changed(task: Task, status: str) -> dict[str, Any]:
    """What a tool that changed one task answers."""
    return {"task_id": task.id, "status": status, "title": task.title}


class DatabaseOnFirstUse:
    """The tools' `Database`, made when a tool first needs it.

    Importing the database layer (SQLAlchemy, its ORM, the driver) is about a third of the
    server's start-up, and `/health` (this server's liveness and readiness) needs none of it.
    The URL is still checked at start, so a malformed DATABASE_URL stops the server there.
    """

    def __init__(self, url: str) -> None:
        problem = database_url_problem(url)
        if problem:
            raise SystemExit(f"todo-mcp: DATABASE_URL: {problem}")
        self.url = url
        self._db: Database | None = None
        self._lock = threading.Lock()

    def session(self) -> AbstractContextManager[Session]:
        db = self._db
        if db is None:
            with self._lock:  # tool calls run in worker threads: one engine for all of them
                if self._db is None:
                    from todo_backend.db import Database

                    self._db = Database(self.url)
                db = self._db
        return db.session()


def _tool_error(exc: Exception) -> ToolError | None:
    """The tool error a domain or database failure becomes; None for anything else (a bug)."""
    from todo_backend import tasks
    from todo_backend.db import UNAVAILABLE

    if isinstance(exc, tasks.NotFound):
        return ToolError(str(exc))
    if isinstance(exc, tasks.InvalidInput):
        return ToolError(f"Invalid {exc.field}: {exc.message}")
    if isinstance(exc, UNAVAILABLE):
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return ToolError("The task database is unavailable right now; try again shortly")
    return None


def build_server(db: Database | DatabaseOnFirstUse) -> MCPServer:
    server = MCPServer(name="todo-mcp", instructions="Manage one user's todo list.")

    async def answer(fn: Callable[[Session, ModuleType], Any]) -> CallToolResult:
        """Run `fn(session, tasks)` in a worker thread inside one transaction; domain errors
        become tool errors."""

        def run() -> Any:
            from todo_backend import tasks

            with db.session() as session:
                return fn(session, tasks)

        try:
            payload = await anyio.to_thread.run_sync(run)
        except Exception as exc:
            error = _tool_error(exc)
            if error is None:
                raise
            raise error from exc
        return _result(payload)

    @server.tool(description="Create a task for the user.", structured_output=False)
    async def add_task(
        user_id: UserId,
        title: Annotated[str, Field(description=f"Short title, 1-{TITLE_MAX} characters")],
        description: Annotated[str | None, Field(description="Optional details")] = None,
    ) -> CallToolResult:
        return await answer(
            lambda session, tasks: _changed(tasks.create_task(session, user_id, title, description), "created")
        )

    @server.tool(description="List the user's tasks, newest first.", structured_output=False)
    async def list_tasks(user_id: UserId, status: StatusFilter = "all") -> CallToolResult:
        return await answer(
            lambda session, tasks: [
                {"id": t["id"], "title": t["title"], "completed": t["completed"]}
                for t in tasks.list_tasks(session, user_id, status)
            ]
        )

    @server.tool(description="Mark a task as completed (never un-completes).", structured_output=False)
    async def complete_task(user_id: UserId, task_id: TaskId) -> CallToolResult:
        return await answer(
            lambda session, tasks: _changed(tasks.set_completed(session, user_id, task_id, True), "completed")
        )

    @server.tool(description="Delete a task.", structured_output=False)
    async def delete_task(user_id: UserId, task_id: TaskId) -> CallToolResult:
        return await answer(lambda session, tasks: _changed(tasks.delete_task(session, user_id, task_id), "deleted"))

    @server.tool(description="Change a task's title and/or description.", structured_output=False)
    async def update_task(
        user_id: UserId,
        task_id: TaskId,
        title: Annotated[str | None, Field(description="New title")] = None,
        description: Annotated[str | None, Field(description="New description")] = None,
    ) -> CallToolResult:
        return await answer(
            lambda session, tasks: _changed(
                tasks.update_task(session, user_id, task_id, title=title, description=description), "updated"
            )
        )

    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return server


class McpGateMiddleware:
    """What `/mcp` checks before the SDK sees a request; `/health` stays open.

    First `Authorization: Bearer $MCP_SERVICE_TOKEN` (401 without it, whatever the method and
    body), then POST only: 405 for GET (no server-sent event stream) and DELETE. In stateless JSON
    mode there is no session to stream to, resume or end, yet the SDK would still hold a GET open
    as an event stream for as long as the client keeps it.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(MCP_PATH):
            return None
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(supplied, self.expected):
            return JSONResponse(
                {"detail": "missing or invalid service token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope["method"] != "POST":
            return JSONResponse(
                {"detail": "only POST is supported (stateless JSON responses)"},
                status_code=405,
                headers={"Allow": "POST"},
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    extra = [h.strip() for h in settings.mcp_allowed_hosts.split(",") if h.strip()]
    if "*" in extra:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = DEFAULT_ALLOWED_HOSTS + extra
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{h}" for h in hosts],
    )


def create_app(settings: Settings | None = None, db: Database | None = None) -> ASGIApp:
    settings = settings or Settings()
    token = settings.mcp_service_token.get_secret_value()
    if not token:
        raise SystemExit("todo-mcp: MCP_SERVICE_TOKEN is empty; set it (the backend sends the same value)")
    server = build_server(db or DatabaseOnFirstUse(settings.sqlalchemy_url))
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        # Stateless JSON responses: any replica can answer any call, and nothing is held open.
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        transport_security=transport_security(settings),
    )
    app.add_exception_handler(Exception, json_server_error)
    return RequestIdMiddleware(McpGateMiddleware(app, token))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="todo-mcp", description="Todo MCP server (streamable HTTP)")
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8001")))
    args = parser.parse_args(argv)
    with starting():
        settings = Settings()
        configure_logging(settings.log_level)
        app = create_app(settings)

        import uvicorn

    log.info("todo-mcp listening", extra={"host": args.host, "port": args.port})
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=uvicorn_log_config(),
        access_log=False,
        lifespan="on",
    )
    sys.exit(0)
