"""The task routes: thin wrappers over `todo_backend.tasks`, always on the path's (checked) user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from todo_backend import tasks
from todo_backend.api.deps import CurrentUser, DatabaseDep, SessionDep
from todo_backend.api.schemas import ERRORS, NOT_FOUND, CompleteBody, IdPath, TaskCreate, TaskOut, TaskUpdate

router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=ERRORS)


@router.get("", response_model=list[TaskOut])
async def list_tasks(
    user: CurrentUser,
    db: DatabaseDep,
    status_filter: Annotated[tasks.StatusFilter, Query(alias="status")] = "all",
) -> Response:
    # The hottest route: one statement outside a transaction, awaited on the event loop (as a
    # sync route with a session dependency this took three worker-thread hops and a BEGIN and
    # a COMMIT around the query), its JSON made by PostgreSQL in TaskOut's shape: re-validating
    # 1,000 tasks through the response model would double the cost. The requests that reach it
    # pass through `TaskListFastLane` first, which answers the usual ones with this same body.
    return Response(await tasks.list_tasks_json(db, user, status_filter), media_type="application/json")


@router.post("", response_model=TaskOut, status_code=201)
def create_task(user: CurrentUser, session: SessionDep, body: TaskCreate) -> dict[str, Any]:
    return tasks.task_dict(tasks.create_task(session, user, body.title, body.description))


@router.get("/{task_id}", response_model=TaskOut, responses=NOT_FOUND)
def get_task(user: CurrentUser, session: SessionDep, task_id: IdPath) -> dict[str, Any]:
    return tasks.task_dict(tasks.get_task(session, user, task_id))


@router.put("/{task_id}", response_model=TaskOut, responses=NOT_FOUND)
def update_task(user: CurrentUser, session: SessionDep, task_id: IdPath, body: TaskUpdate) -> dict[str, Any]:
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
    return tasks.task_dict(task)


@router.delete("/{task_id}", status_code=204, responses=NOT_FOUND)
def delete_task(user: CurrentUser, session: SessionDep, task_id: IdPath) -> Response:
    tasks.delete_task(session, user, task_id)
    return Response(status_code=204)


@router.patch("/{task_id}/complete", response_model=TaskOut, responses=NOT_FOUND)
def complete_task(
    user: CurrentUser, session: SessionDep, task_id: IdPath, body: CompleteBody | None = None
) -> dict[str, Any]:
    completed = body.completed if body is not None else True
    return tasks.task_dict(tasks.set_completed(session, user, task_id, completed))
