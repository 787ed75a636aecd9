"""The account as a whole: deleting everything a user has."""

from __future__ import annotations

from fastapi import APIRouter, Response

from todo_backend import tasks
from todo_backend.api.deps import CurrentUser, SessionDep
from todo_backend.api.schemas import ERRORS

router = APIRouter(prefix="/api/{user_id}", tags=["account"], responses=ERRORS)


@router.delete("", status_code=204)
def delete_user(user: CurrentUser, session: SessionDep) -> Response:
    tasks.delete_user_data(session, user)
    return Response(status_code=204)
