"""Domain logic for tasks and conversations: plain functions over a SQLAlchemy session.

The REST routes and the MCP tools both call these, so "another user's task does not exist"
is enforced in exactly one place: every query filters on `user_id`.

Every change to an existing row is one `UPDATE`/`DELETE ... WHERE id AND user_id`, judged by the
rows it hit, never a read followed by a write: a row deleted by a concurrent request is then
simply not found (404), and of two concurrent deletes exactly one deletes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import pydantic_core
from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.orm import Session

from todo_backend.db import Database
from todo_backend.limits import DESCRIPTION_MAX, TITLE_MAX, StatusFilter
from todo_backend.limits import ID_MAX as ID_MAX  # callers use tasks.ID_MAX
from todo_backend.models import Conversation, Message, Task, utcnow

Role = Literal["user", "assistant"]


class NotFound(LookupError):
    """The object does not exist or belongs to someone else (the caller cannot tell which)."""


class InvalidInput(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def clean_title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned:
        raise InvalidInput("title", "must not be empty")
    if len(cleaned) > TITLE_MAX:
        raise InvalidInput("title", f"must be at most {TITLE_MAX} characters")
    if "\x00" in cleaned:
        raise InvalidInput("title", "must not contain NUL characters")
    return cleaned


def clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput("description", f"must be at most {DESCRIPTION_MAX} characters")
    if "\x00" in description:
        raise InvalidInput("description", "must not contain NUL characters")
    return description


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def task_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "created_at": as_utc(task.created_at),
        "updated_at": as_utc(task.updated_at),
    }


TASK_COLUMNS = (Task.id, Task.user_id, Task.title, Task.description, Task.completed, Task.created_at, Task.updated_at)


def _list_query(status: StatusFilter) -> Select[Any]:
    query = select(*TASK_COLUMNS).where(Task.user_id == bindparam("user_id"))
    if status == "pending":
        query = query.where(Task.completed.is_(False))
    elif status == "completed":
        query = query.where(Task.completed.is_(True))
    return query.order_by(Task.created_at.desc(), Task.id.desc())


# Built once: the hottest query is not rebuilt (nor its cache key recomputed) per request.
LIST_QUERIES: dict[str, Select[Any]] = {status: _list_query(status) for status in ("all", "pending", "completed")}


def _task_row(row: Any) -> dict[str, Any]:
    task_id, user_id, title, description, completed, created_at, updated_at = row
    return {
        "id": task_id,
        "user_id": user_id,
        "title": title,
        "description": description,
        "completed": completed,
        "created_at": as_utc(created_at),
        "updated_at": as_utc(updated_at),
    }


def list_tasks(session: Session, user_id: str, status: StatusFilter = "all") -> list[dict[str, Any]]:
    """The user's tasks, newest first, as plain dicts in the REST `Task` shape.

    A Core select rather than ORM objects: for a 1,000-task list loading ORM instances costs
    several times more than the query itself."""
    return [_task_row(row) for row in session.execute(LIST_QUERIES[status], {"user_id": user_id})]


async def list_tasks_fetched(db: Database, user_id: str, status: StatusFilter = "all") -> list[dict[str, Any]]:
    """`list_tasks` for the REST route, the hottest path: the same rows, read on the event loop."""
    return [_task_row(row) for row in await db.fetch_async(LIST_QUERIES[status], {"user_id": user_id})]


def _json_timestamp(column: str) -> str:
    # As pydantic writes an aware UTC datetime: "2026-01-02T03:04:05.678901Z", the fraction left
    # out when it is zero. (The only "." in the pattern is the one before the microseconds.)
    utc = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return f"""'"' || replace({utc}, '.000000', '') || 'Z"'"""


def _list_json_sql(status: StatusFilter) -> str:
    """The REST list for PostgreSQL as one JSON text, built by the server.

    Byte for byte what `pydantic_core.to_json` makes of `list_tasks`'s dicts (`to_json(text)`
    escapes exactly as it does, and keys keep TaskOut's order). Loading 50 rows of seven columns
    into Python objects, only to turn them into JSON again, cost more than the query itself.
    """
    where = {"all": "", "pending": " AND completed IS false", "completed": " AND completed IS true"}[status]
    task = " || ".join(
        (
            """'{"id":' || id""",
            """',"user_id":' || to_json(user_id)::text""",
            """',"title":' || to_json(title)::text""",
            """',"description":' || coalesce(to_json(description)::text, 'null')""",
            """',"completed":' || CASE WHEN completed THEN 'true' ELSE 'false' END""",
            f"""',"created_at":' || {_json_timestamp("created_at")}""",
            f"""',"updated_at":' || {_json_timestamp("updated_at")}""",
            "'}'",
        )
    )
    return (
        f"SELECT '[' || coalesce(string_agg({task}, ',' ORDER BY created_at DESC, id DESC), '') || ']' "
        f"FROM tasks WHERE user_id = $1{where}"
    )


LIST_JSON_SQL: dict[str, str] = {status: _list_json_sql(status) for status in ("all", "pending", "completed")}


async def list_tasks_json(db: Database, user_id: str, status: StatusFilter = "all") -> bytes:
    """The REST list's response body: `list_tasks` as JSON, read on the event loop.

    On PostgreSQL the server writes the JSON (`LIST_JSON_SQL`); elsewhere the rows are serialized here.
    """
    if db.is_postgres:
        return await db.fetch_text_async(LIST_JSON_SQL[status], (user_id,))
    return pydantic_core.to_json(await list_tasks_fetched(db, user_id, status))


def get_task(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))
    if task is None:
        raise NotFound(f"Task {task_id} not found")
    return task


Row = TypeVar("Row", Task, Conversation, Message)


def _inserted(session: Session, row: Row) -> Row:
    """`row`, inserted, with its id."""
    session.add(row)
    session.flush()
    return row


def create_task(session: Session, user_id: str, title: str, description: str | None = None) -> Task:
    now = utcnow()
    task = Task(
        user_id=user_id,
        title=clean_title(title),
        description=clean_description(description),
        completed=False,
        created_at=now,
        updated_at=now,
    )
    return _inserted(session, task)


def update_task(
    session: Session,
    user_id: str,
    task_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    completed: bool | None = None,
    clear_description: bool = False,
) -> Task:
    """Change the given fields; None leaves a field alone (`clear_description` empties it)."""
    values: dict[str, Any] = {"updated_at": utcnow()}
    if title is not None:
        values["title"] = clean_title(title)
    if description is not None:
        values["description"] = clean_description(description)
    elif clear_description:
        values["description"] = None
    if completed is not None:
        values["completed"] = completed
    task = session.scalar(
        update(Task).where(Task.id == task_id, Task.user_id == user_id).values(**values).returning(Task)
    )
    if task is None:
        raise NotFound(f"Task {task_id} not found")
    return task


def set_completed(session: Session, user_id: str, task_id: int, completed: bool = True) -> Task:
    """Idempotent: completing a completed task leaves it completed (never a toggle)."""
    task = session.scalar(
        update(Task)
        .where(Task.id == task_id, Task.user_id == user_id, Task.completed != completed)
        .values(completed=completed, updated_at=utcnow())
        .returning(Task)
    )
    return task if task is not None else get_task(session, user_id, task_id)


def delete_task(session: Session, user_id: str, task_id: int) -> Task:
    task = session.scalar(delete(Task).where(Task.id == task_id, Task.user_id == user_id).returning(Task))
    if task is None:
        raise NotFound(f"Task {task_id} not found")
    return task


def delete_user_data(session: Session, user_id: str) -> None:
    session.execute(delete(Message).where(Message.user_id == user_id))
    session.execute(delete(Conversation).where(Conversation.user_id == user_id))
    session.execute(delete(Task).where(Task.user_id == user_id))


def create_conversation(session: Session, user_id: str) -> Conversation:
    now = utcnow()
    return _inserted(session, Conversation(user_id=user_id, created_at=now, updated_at=now))


def get_conversation(session: Session, user_id: str, conversation_id: int) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id} not found")
    return conversation


def list_conversations(session: Session, user_id: str) -> list[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    )
    return list(session.scalars(query))


def list_messages(session: Session, user_id: str, conversation_id: int) -> list[Message]:
    get_conversation(session, user_id, conversation_id)
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.user_id == user_id)
        .order_by(Message.id)
    )
    return list(session.scalars(query))


def add_message(
    session: Session,
    user_id: str,
    conversation: Conversation,
    role: Role,
    content: str,
    tool_calls: list[dict[str, Any]] | None = None,
) -> Message:
    now = utcnow()
    # Touching the conversation first also locks its row (PostgreSQL) until the message is stored:
    # a conversation deleted meanwhile (account deletion) is not found, not a stale write.
    touched = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.user_id == user_id)
        .values(updated_at=now)
        .returning(Conversation.id)
    ).first()
    if touched is None:
        raise NotFound(f"Conversation {conversation.id} not found")
    message = Message(
        user_id=user_id,
        conversation_id=conversation.id,
        role=role,
        content=content,
        tool_calls=tool_calls,
        created_at=now,
    )
    return _inserted(session, message)


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "tool_calls": message.tool_calls,
        "created_at": as_utc(message.created_at),
    }
