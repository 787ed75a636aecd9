"""What the routes depend on: the settings, the database, a session, the MCP connector, the path's user.

The token itself is verified by `BearerAuthMiddleware` before a route runs (and before the body is
read); `CurrentUser` then checks that the path's `user_id` is the token's subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from todo_backend.api.schemas import UserIdPath
from todo_backend.db import Database
from todo_backend.mcp_client import McpConnector
from todo_backend.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_mcp(request: Request) -> McpConnector:
    return request.app.state.mcp


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


async def current_user(request: Request, user_id: UserIdPath) -> str:
    # The token itself was verified by BearerAuthMiddleware, before the body was read.
    if request.state.subject != user_id:
        raise HTTPException(403, "this path belongs to another user")
    return user_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
McpDep = Annotated[McpConnector, Depends(get_mcp)]
# scope="function": commit when the route returns, before the response goes out. By default
# FastAPI would run it after sending, so a client could be told 201 before the row is
# visible to its next request, or about a write whose commit then fails.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CurrentUser = Annotated[str, Depends(current_user)]
