"""Liveness and readiness: `/health` touches nothing, `/ready` checks the database and its schema."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from todo_backend.api.deps import DatabaseDep
from todo_backend.api.schemas import Detail
from todo_backend.migrate import schema_problem

router = APIRouter(tags=["ops"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"model": Detail}})
async def ready(db: DatabaseDep) -> Response:
    problem = await run_in_threadpool(schema_problem, db.engine)
    if problem:
        return JSONResponse({"status": "unavailable", "detail": problem}, status_code=503)
    return JSONResponse({"status": "ok"})
