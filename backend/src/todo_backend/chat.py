"""The stateless chat cycle: everything a turn needs is loaded from, and saved to, the database."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from todo_backend import tasks
from todo_backend.db import Database
from todo_backend.mcp_client import McpConnector, McpUnavailable
from todo_backend.openai_agent import AgentUnavailable, run_openai_agent  # the SDK loads lazily
from todo_backend.rule_agent import run_rule_agent
from todo_backend.settings import Settings

log = logging.getLogger(__name__)


class ChatFailed(RuntimeError):
    def __init__(self, status_code: int, detail: str, conversation_id: int) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.conversation_id = conversation_id


@dataclass
class ChatResult:
    conversation_id: int
    response: str
    tool_calls: list[dict[str, Any]]


def _begin_turn(
    db: Database, user_id: str, conversation_id: int | None, message: str
) -> tuple[int, list[dict[str, str]]]:
    with db.session() as session:
        if conversation_id is None:
            conversation = tasks.create_conversation(session, user_id)
            history: list[dict[str, str]] = []
        else:
            conversation = tasks.get_conversation(session, user_id, conversation_id)
            history = [
                {"role": m.role, "content": m.content} for m in tasks.list_messages(session, user_id, conversation.id)
            ]
        tasks.add_message(session, user_id, conversation, "user", message)
        return conversation.id, history


def _finish_turn(
    db: Database, user_id: str, conversation_id: int, response: str, tool_calls: list[dict[str, Any]]
) -> None:
    with db.session() as session:
        conversation = tasks.get_conversation(session, user_id, conversation_id)
        tasks.add_message(session, user_id, conversation, "assistant", response, tool_calls or None)


def _find(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of `kinds` in `exc`, looking inside (anyio's) exception groups."""
    if isinstance(exc, kinds):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kinds)
            if found is not None:
                return found
    # The agents SDK wraps exceptions raised inside a tool; the original is the cause.
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        return _find(exc.__cause__, kinds)
    return None


async def chat_turn(
    settings: Settings,
    db: Database,
    connector: McpConnector,
    user_id: str,
    conversation_id: int | None,
    message: str,
) -> ChatResult:
    conversation_id, history = await run_in_threadpool(_begin_turn, db, user_id, conversation_id, message)
    calls: list[dict[str, Any]] = []
    try:
        async with AsyncExitStack() as stack:
            mcp = await connector.open(stack, user_id)
            try:
                if settings.openai_api_key.get_secret_value():
                    response = await run_openai_agent(settings, mcp, history, message)
                else:
                    response = await run_rule_agent(mcp, message, history)
            finally:
                calls = [c.as_dict() for c in mcp.calls]
    except Exception as exc:
        known = _find(exc, (McpUnavailable, AgentUnavailable))
        if known is None and not isinstance(exc, BaseExceptionGroup):
            raise
        log.warning("chat failed", extra={"error": str(known or exc), "tool_calls": len(calls)})
        if isinstance(known, AgentUnavailable):
            raise ChatFailed(502, f"The assistant is unavailable: {known}", conversation_id) from exc
        reason = f": {known}" if known else ""
        raise ChatFailed(503, f"The task service is unavailable{reason}", conversation_id) from exc
    await run_in_threadpool(_finish_turn, db, user_id, conversation_id, response, calls)
    return ChatResult(conversation_id=conversation_id, response=response, tool_calls=calls)
