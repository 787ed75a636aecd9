"""The chat turn and the stored conversations it builds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from todo_backend import tasks
from todo_backend.api.deps import CurrentUser, DatabaseDep, McpDep, SessionDep, SettingsDep
from todo_backend.api.schemas import ERRORS, NOT_FOUND, ChatIn, ChatOut, ConversationOut, Detail, IdPath, MessageOut
from todo_backend.chat import ChatFailed, chat_turn

router = APIRouter(prefix="/api/{user_id}", tags=["chat"], responses=ERRORS)


@router.post("/chat", response_model=ChatOut, responses={**NOT_FOUND, 502: {"model": Detail}, 503: {"model": Detail}})
async def chat(user: CurrentUser, body: ChatIn, settings: SettingsDep, db: DatabaseDep, mcp: McpDep) -> Any:
    try:
        result = await chat_turn(settings, db, mcp, user, body.conversation_id, body.message)
    except ChatFailed as exc:
        return JSONResponse({"detail": exc.detail, "conversation_id": exc.conversation_id}, status_code=exc.status_code)
    return {"conversation_id": result.conversation_id, "response": result.response, "tool_calls": result.tool_calls}


@router.get("/conversations", response_model=list[ConversationOut])
def list_conversations(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "created_at": tasks.as_utc(c.created_at), "updated_at": tasks.as_utc(c.updated_at)}
        for c in tasks.list_conversations(session, user)
    ]


@router.get("/conversations/{conversation_id}/messages", response_model=list[MessageOut], responses=NOT_FOUND)
def list_messages(user: CurrentUser, session: SessionDep, conversation_id: IdPath) -> list[dict[str, Any]]:
    return [tasks.message_dict(m) for m in tasks.list_messages(session, user, conversation_id)]
