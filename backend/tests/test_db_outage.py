"""A database restart is not an app restart.

A private PostgreSQL server (its own initdb, a free port, a password) is stopped and started
under live `todo-backend` and `todo-mcp` processes: they stay up, `/health` stays 200, `/ready`
and database-backed requests answer 503 JSON meanwhile, and all is well within 10 s of the
database's return.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import backend_env
from support import MCP_TOKEN, LiveProcess, PostgresServer, base_env, postgres_bin_dir, start_process

from todo_backend.db import normalize_database_url
from todo_backend.migrate import upgrade_to_head

RECOVERY_SECONDS = 10


@pytest.fixture
def private_pg() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        upgrade_to_head(normalize_database_url(server.url), wait_seconds=30)
        yield server
    finally:
        server.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as client:
        yield client


def start_services(pg: PostgresServer, jwks, log_dir: Path) -> tuple[LiveProcess, LiveProcess]:
    mcp = start_process("todo-mcp", [], base_env(DATABASE_URL=pg.url, MCP_SERVICE_TOKEN=MCP_TOKEN), log_dir)
    backend = start_process("todo-backend", ["serve"], backend_env(pg.url, jwks.url, f"{mcp.url}/mcp"), log_dir)
    return backend, mcp


def assert_alive(*processes: LiveProcess) -> None:
    for process in processes:
        assert process.proc.poll() is None, f"{process.name} exited:\n{process.log_text()}"


def assert_database_down(http: httpx.Client, backend: LiveProcess, mcp: LiveProcess, user) -> None:
    assert http.get(f"{backend.url}/health").status_code == 200
    assert http.get(f"{mcp.url}/health").status_code == 200
    ready = http.get(f"{backend.url}/ready")
    assert ready.status_code == 503 and "database unavailable" in ready.json()["detail"], ready.text
    tasks = f"{backend.url}/api/{user.id}/tasks"
    for method, url, body in [
        ("GET", tasks, None),
        ("POST", tasks, {"title": "during the outage"}),
        ("POST", f"{backend.url}/api/{user.id}/chat", {"message": "show my tasks"}),
    ]:
        response = http.request(method, url, json=body, headers=user.headers)
        assert response.status_code == 503, (method, url, response.text)
        assert response.headers["content-type"] == "application/json" and response.json()["detail"]
        assert response.headers["retry-after"]


def wait_for_recovery(http: httpx.Client, backend: LiveProcess, user) -> float:
    """Seconds from now until the task list answers 200 (fails after RECOVERY_SECONDS)."""
    started = time.monotonic()
    while True:
        response = http.get(f"{backend.url}/api/{user.id}/tasks", headers=user.headers)
        if response.status_code == 200:
            return time.monotonic() - started
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < RECOVERY_SECONDS, "no recovery within 10 s of the database's return"
        time.sleep(0.2)


def assert_everything_works(http: httpx.Client, backend: LiveProcess, user, title: str) -> None:
    tasks = f"{backend.url}/api/{user.id}/tasks"
    # Concurrent requests, so that every pooled connection (each dead after the restart) is used.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: http.get(tasks, headers=user.headers).status_code, range(16)))
    assert statuses == [200] * 16
    assert http.post(tasks, json={"title": title}, headers=user.headers).status_code == 201
    chat = http.post(f"{backend.url}/api/{user.id}/chat", json={"message": "show my tasks"}, headers=user.headers)
    assert chat.status_code == 200, chat.text
    assert title in chat.json()["response"]
    assert http.get(f"{backend.url}/ready").status_code == 200


def test_services_ride_out_a_database_restart(private_pg, jwks, user, http, log_dir):
    backend, mcp = start_services(private_pg, jwks, log_dir)
    try:
        assert_everything_works(http, backend, user, "before the outage")

        private_pg.stop()
        assert_database_down(http, backend, mcp, user)
        time.sleep(1)
        assert_database_down(http, backend, mcp, user)
        assert_alive(backend, mcp)

        private_pg.start()
        wait_for_recovery(http, backend, user)
        assert_everything_works(http, backend, user, "after the outage")
        assert_alive(backend, mcp)
        for process in (backend, mcp):
            assert private_pg.password not in process.log_text()
    finally:
        backend.stop()
        mcp.stop()


def test_services_started_while_the_database_is_down_wait_for_it(private_pg, jwks, user, http, log_dir):
    private_pg.stop()
    backend, mcp = start_services(private_pg, jwks, log_dir)  # each answered /health: started
    try:
        assert_database_down(http, backend, mcp, user)
        assert_alive(backend, mcp)

        private_pg.start()
        wait_for_recovery(http, backend, user)
        assert_everything_works(http, backend, user, "first task")
        assert_alive(backend, mcp)
    finally:
        backend.stop()
        mcp.stop()
