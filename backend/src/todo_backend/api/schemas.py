"""What the routes read and answer: request and response models, path parameters, error responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from todo_backend import tasks
from todo_backend.models import USER_ID_MAX


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


class _TaskBody(BaseModel):
    """What the create and update bodies share: unknown keys ignored, no NUL in title or description."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("title", "description", check_fields=False)
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return _reject_nul(value)


class TaskCreate(_TaskBody):
    title: str = Field(min_length=1, max_length=tasks.TITLE_MAX)
    description: str | None = Field(default=None, max_length=tasks.DESCRIPTION_MAX)

    @field_validator("title", mode="before")
    @classmethod
    def _trim_title(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class TaskUpdate(_TaskBody):
    title: str | None = Field(default=None, min_length=1, max_length=tasks.TITLE_MAX)
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
    role: tasks.Role
    content: str
    tool_calls: list[ToolCallOut] | None
    created_at: datetime


class Detail(BaseModel):
    detail: str


UserIdPath = Annotated[str, Path(min_length=1, max_length=USER_ID_MAX)]
IdPath = Annotated[int, Path(ge=1, le=tasks.ID_MAX)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Detail, "description": "Missing or invalid token"},
    403: {"model": Detail, "description": "The path's user is not the token's subject"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Detail, "description": "Not found"}}
