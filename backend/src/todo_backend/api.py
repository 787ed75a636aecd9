"""The FastAPI app: thin routes over `tasks` and `chat`, per-user auth, health and readiness."""

# No `from __future__ import annotations`: FastAPI resolves the local `User`/`DbSession` aliases.
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic_core
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from todo_backend import tasks
from todo_backend.auth import JwksVerifier
from todo_backend.chat import ChatFailed, chat_turn
from todo_backend.db import UNAVAILABLE, Database
from todo_backend.guards import MAX_BODY_BYTES, BearerAuthMiddleware, BodyLimitMiddleware, json_server_error
from todo_backend.logs import RequestIdMiddleware
from todo_backend.mcp_client import McpConnector
from todo_backend.migrate import schema_problem
from todo_backend.settings import Settings

log = logging.getLogger(__name__)


def _reject_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class TaskOut(BaseModel):
    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=tasks.DESCRIPTION_MAX)

    @field_validator("title", mode="before")
    @classmethod
    def _trim_title(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("title", "description")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return _reject_nul(value)


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=tasks.DESCRIPTION_MAX)
    completed: bool | None = None

    @field_validator("title", mode="before")
    @classmethod
    def _trim_title(cls, value: Any) -> Any:
        # Only runs for a title that was sent: an explicit null is an error, not "unchanged".
        if value is None:
            raise ValueError("title may not be null")
        return value.strip() if isinstance(value, str) else value

    @field_validator("completed", mode="before")
    @classmethod
    def _completed_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("completed may not be null")
        return value

    @field_validator("title", "description")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return _reject_nul(value)


class CompleteBody(BaseModel):
    completed: bool = True


class ChatIn(BaseModel):
    conversation_id: int | None = Field(default=None, ge=1, le=tasks.ID_MAX)
    message: str = Field(min_length=1, max_length=4000)

    @field_validator("message")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        return _reject_nul(value) or ""


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any]
    result: Any


class ChatOut(BaseModel):
    conversation_id: int
    response: str
    tool_calls: list[ToolCallOut]


class ConversationOut(BaseModel):
    id: int
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    id: int
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCallOut] | None
    created_at: datetime


class Detail(BaseModel):
    detail: str


UserIdPath = Annotated[str, Path(min_length=1, max_length=255)]
TaskIdPath = Annotated[int, Path(ge=1, le=tasks.ID_MAX)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "Missing or invalid token"},
    403: {"model": Detail, "description": "The path's user is not the token's subject"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Detail, "description": "Not found"}}


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
    )
    # Outermost last: the request id wraps everything, the token is checked before the body limit,
    # and both run before any route reads the body.
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BearerAuthMiddleware, prefix="/api/")
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(Exception, json_server_error)

    async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"}, status_code=503, headers={"Retry-After": "2"}
        )

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _database_unavailable)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # 422 naming the field; the offending input is not echoed back (it may be huge).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    def db_session(request: Request) -> Iterator[Session]:
        with request.app.state.db.session() as session:
            yield session

    async def current_user(request: Request, user_id: UserIdPath) -> str:
        # The token itself was verified by BearerAuthMiddleware, before the body was read.
        if request.state.subject != user_id:
            raise HTTPException(403, "this path belongs to another user")
        return user_id

    User = Annotated[str, Depends(current_user)]
    # scope="function": commit when the route returns, before the response goes out. By default
    # FastAPI would run it after sending, so a client could be told 201 before the row is
    # visible to its next request, or about a write whose commit then fails.
    DbSession = Annotated[Session, Depends(db_session, scope="function")]

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"model": Detail}})
    async def ready(request: Request) -> Response:
        problem = await run_in_threadpool(schema_problem, request.app.state.db.engine)
        if problem:
            return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    def not_found(exc: tasks.NotFound) -> HTTPException:
        return HTTPException(404, str(exc))

    @app.get("/api/{user_id}/tasks", response_model=list[TaskOut], responses=ERRORS, tags=["tasks"])
    async def list_tasks(
        request: Request,
        user: User,
        status_filter: Annotated[Literal["all", "pending", "completed"], Query(alias="status")] = "all",
    ) -> Response:
        # The hottest route: one statement outside a transaction, awaited on the event loop (as a
        # sync route with a session dependency this took three worker-thread hops and a BEGIN and
        # a COMMIT around the query). Serialized straight from the rows (they already have
        # TaskOut's shape): re-validating 1,000 tasks through the response model would double the cost.
        rows = await tasks.list_tasks_fetched(request.app.state.db, user, status_filter)
        return Response(pydantic_core.to_json(rows), media_type="application/json")

    @app.post("/api/{user_id}/tasks", response_model=TaskOut, status_code=201, responses=ERRORS, tags=["tasks"])
    def create_task(user: User, session: DbSession, body: TaskCreate) -> dict[str, Any]:
        return tasks.task_dict(tasks.create_task(session, user, body.title, body.description))

    @app.get(
        "/api/{user_id}/tasks/{task_id}", response_model=TaskOut, responses={**ERRORS, **NOT_FOUND}, tags=["tasks"]
    )
    def get_task(user: User, session: DbSession, task_id: TaskIdPath) -> dict[str, Any]:
        try:
            return tasks.task_dict(tasks.get_task(session, user, task_id))
        except tasks.NotFound as exc:
            raise not_found(exc) from exc

    @app.put(
        "/api/{user_id}/tasks/{task_id}", response_model=TaskOut, responses={**ERRORS, **NOT_FOUND}, tags=["tasks"]
    )
    def update_task(user: User, session: DbSession, task_id: TaskIdPath, body: TaskUpdate) -> dict[str, Any]:
        try:
            task = tasks.update_task(
                session,
                user,
                task_id,
                title=body.title,
                description=body.description,
                completed=body.completed,
                # `"description": null` clears it; leaving the key out keeps it.
                clear_description="description" in body.model_fields_set and body.description is None,
            )
        except tasks.NotFound as exc:
            raise not_found(exc) from exc
        return tasks.task_dict(task)

    @app.delete("/api/{user_id}/tasks/{task_id}", status_code=204, responses={**ERRORS, **NOT_FOUND}, tags=["tasks"])
    def delete_task(user: User, session: DbSession, task_id: TaskIdPath) -> Response:
        try:
            tasks.delete_task(session, user, task_id)
        except tasks.NotFound as exc:
            raise not_found(exc) from exc
        return Response(status_code=204)

    @app.patch(
        "/api/{user_id}/tasks/{task_id}/complete",
        response_model=TaskOut,
        responses={**ERRORS, **NOT_FOUND},
        tags=["tasks"],
    )
    def complete_task(
        user: User, session: DbSession, task_id: TaskIdPath, body: CompleteBody | None = None
    ) -> dict[str, Any]:
        completed = body.completed if body is not None else True
        try:
            return tasks.task_dict(tasks.set_completed(session, user, task_id, completed))
        except tasks.NotFound as exc:
            raise not_found(exc) from exc

    @app.post(
        "/api/{user_id}/chat",
        response_model=ChatOut,
        responses={**ERRORS, **NOT_FOUND, 502: {"model": Detail}, 503: {"model": Detail}},
        tags=["chat"],
    )
    async def chat(request: Request, user: User, body: ChatIn) -> Any:
        try:
            result = await chat_turn(
                settings, request.app.state.db, request.app.state.mcp, user, body.conversation_id, body.message
            )
        except tasks.NotFound as exc:
            raise not_found(exc) from exc
        except ChatFailed as exc:
            return JSONResponse(
                {"detail": exc.detail, "conversation_id": exc.conversation_id}, status_code=exc.status_code
            )
        return {"conversation_id": result.conversation_id, "response": result.response, "tool_calls": result.tool_calls}

    @app.get("/api/{user_id}/conversations", response_model=list[ConversationOut], responses=ERRORS, tags=["chat"])
    def list_conversations(user: User, session: DbSession) -> list[dict[str, Any]]:
        return [
            {"id": c.id, "created_at": tasks.as_utc(c.created_at), "updated_at": tasks.as_utc(c.updated_at)}
            for c in tasks.list_conversations(session, user)
        ]

    @app.get(
        "/api/{user_id}/conversations/{conversation_id}/messages",
        response_model=list[MessageOut],
        responses={**ERRORS, **NOT_FOUND},
        tags=["chat"],
    )
    def list_messages(
        user: User, session: DbSession, conversation_id: Annotated[int, Path(ge=1, le=tasks.ID_MAX)]
    ) -> list[dict[str, Any]]:
        try:
            return [tasks.message_dict(m) for m in tasks.list_messages(session, user, conversation_id)]
        except tasks.NotFound as exc:
            raise not_found(exc) from exc

    @app.delete("/api/{user_id}", status_code=204, responses=ERRORS, tags=["account"])
    def delete_user(user: User, session: DbSession) -> Response:
        tasks.delete_user_data(session, user)
        return Response(status_code=204)

    return app
