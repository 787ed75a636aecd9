"""The task list's fast lane: the busiest request, answered without FastAPI's routing and dependencies.

`GET /api/{user_id}/tasks` by its own user is most of what the backend serves (the frontend's task
page and every refresh). Through FastAPI it passes the router's matching, the exception and
exit-stack middleware and the dependency solver, which together cost more CPU than the query.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from todo_backend import tasks
from todo_backend.db import UNAVAILABLE
from todo_backend.guards import database_unavailable

# The query strings the fast lane takes (anything else, even `status=all&`, goes to the route,
# which validates it): what the `status` parameter can be.
_STATUS_BY_QUERY: dict[bytes, tasks.StatusFilter] = {
    b"": "all",
    b"status=all": "all",
    b"status=pending": "pending",
    b"status=completed": "completed",
}


class TaskListFastLane:
    """Answers `GET /api/{user_id}/tasks[?status=...]` when `user_id` is the verified token's subject.

    Sits inside `BearerAuthMiddleware`, which leaves the verified `sub` in the request state: only
    an authenticated request for its own list is taken here, with exactly the body, status and
    headers the route (`routes/tasks.py`) would answer. Everything else, every refusal included
    (another user's path, a bad query, a trailing slash, HEAD), passes on to FastAPI untouched.
    A subject with a "/" never matches the route's one path segment, so it is left to the route too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            subject = scope.get("state", {}).get("subject")
            status = _STATUS_BY_QUERY.get(scope.get("query_string", b""))
            if status and isinstance(subject, str) and "/" not in subject and scope["path"] == f"/api/{subject}/tasks":
                try:
                    body = await tasks.list_tasks_json(scope["app"].state.db, subject, status)
                except UNAVAILABLE as exc:
                    response = database_unavailable(exc)
                else:
                    response = Response(body, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
