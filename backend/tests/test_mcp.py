"""A live `todo-mcp` process, exercised through the MCP SDK's streamable-HTTP client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from support import MCP_TOKEN, base_env, start_process

TOOLS = {
    "add_task": ({"user_id", "title", "description"}, {"user_id", "title"}),
    "list_tasks": ({"user_id", "status"}, {"user_id"}),
    "complete_task": ({"user_id", "task_id"}, {"user_id", "task_id"}),
    "delete_task": ({"user_id", "task_id"}, {"user_id", "task_id"}),
    "update_task": ({"user_id", "task_id", "title", "description"}, {"user_id", "task_id"}),
}


def run_with_client(url: str, body, token: str | None = MCP_TOKEN, host: str | None = None) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if host:
            headers["Host"] = host
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(headers=headers, timeout=15) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    return await body(client)

    return anyio.run(main)


async def call(client: Client, name: str, **arguments: Any) -> tuple[bool, Any]:
    result = await client.call_tool(name, arguments)
    text = "".join(block.text for block in result.content)
    return bool(result.is_error), (text if result.is_error else json.loads(text))


def test_tools_are_exactly_the_contract(mcp_server):
    async def body(client: Client):
        return (await client.list_tools()).tools

    tools = run_with_client(f"{mcp_server.url}/mcp", body)
    assert {
        t.name: (set(t.input_schema["properties"]), set(t.input_schema.get("required", []))) for t in tools
    } == TOOLS
    status = next(t for t in tools if t.name == "list_tasks").input_schema["properties"]["status"]
    assert status["enum"] == ["all", "pending", "completed"] and status["default"] == "all"


def test_each_tool_and_its_result_shape(mcp_server, user):
    async def body(client: Client):
        uid = user.id
        err, added = await call(client, "add_task", user_id=uid, title="Buy milk", description="2 litres")
        assert not err and added == {"task_id": added["task_id"], "status": "created", "title": "Buy milk"}
        err, second = await call(client, "add_task", user_id=uid, title="Call mom")
        assert not err
        err, listed = await call(client, "list_tasks", user_id=uid)
        assert listed == [
            {"id": second["task_id"], "title": "Call mom", "completed": False},
            {"id": added["task_id"], "title": "Buy milk", "completed": False},
        ]
        for _ in range(2):  # completes, never toggles
            err, done = await call(client, "complete_task", user_id=uid, task_id=added["task_id"])
            assert not err and done == {"task_id": added["task_id"], "status": "completed", "title": "Buy milk"}
        assert (await call(client, "list_tasks", user_id=uid, status="completed"))[1] == [
            {"id": added["task_id"], "title": "Buy milk", "completed": True}
        ]
        assert [t["id"] for t in (await call(client, "list_tasks", user_id=uid, status="pending"))[1]] == [
            second["task_id"]
        ]
        err, updated = await call(
            client, "update_task", user_id=uid, task_id=second["task_id"], title="Call mom tonight"
        )
        assert not err and updated == {"task_id": second["task_id"], "status": "updated", "title": "Call mom tonight"}
        err, deleted = await call(client, "delete_task", user_id=uid, task_id=added["task_id"])
        assert not err and deleted == {"task_id": added["task_id"], "status": "deleted", "title": "Buy milk"}
        err, message = await call(client, "delete_task", user_id=uid, task_id=added["task_id"])
        assert err and f"Task {added['task_id']} not found" in message
        err, message = await call(client, "add_task", user_id=uid, title="   ")
        assert err and "title" in message
        err, message = await call(client, "list_tasks", user_id=uid, status="bogus")
        assert err

    run_with_client(f"{mcp_server.url}/mcp", body)


def test_foreign_tasks_are_not_found(mcp_server, make_user):
    alice, bob = make_user(), make_user()

    async def body(client: Client):
        _, task = await call(client, "add_task", user_id=alice.id, title="alice secret")
        tid = task["task_id"]
        for name, extra in [
            ("complete_task", {}),
            ("delete_task", {}),
            ("update_task", {"title": "pwned"}),
        ]:
            err, message = await call(client, name, user_id=bob.id, task_id=tid, **extra)
            assert err and message.endswith(f"Task {tid} not found"), message
        assert (await call(client, "list_tasks", user_id=bob.id))[1] == []
        assert (await call(client, "list_tasks", user_id=alice.id))[1] == [
            {"id": tid, "title": "alice secret", "completed": False}
        ]

    run_with_client(f"{mcp_server.url}/mcp", body)


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        (f"Basic {MCP_TOKEN}", 401),
        (f"Bearer {MCP_TOKEN}x", 401),
        (f"Bearer {MCP_TOKEN}", 200),
    ],
)
def test_service_token_is_required(mcp_server, authorization, expected):
    headers = dict(MCP_HEADERS)
    if authorization:
        headers["Authorization"] = authorization
    response = httpx.post(f"{mcp_server.url}/mcp", json=INIT, headers=headers, timeout=10)
    assert response.status_code == expected, response.text
    assert MCP_TOKEN not in mcp_server.log_text()


def test_sdk_client_without_token_fails(mcp_server):
    async def body(client: Client):
        return await client.list_tools()

    with pytest.raises(BaseException) as info:
        run_with_client(f"{mcp_server.url}/mcp", body, token=None)
    # The raw 401 is asserted above; through the SDK it surfaces as a protocol error.
    assert _contains(info.value, MCPError), repr(info.value)


def _contains(exc: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(exc, kind):
        return True
    return isinstance(exc, BaseExceptionGroup) and any(_contains(e, kind) for e in exc.exceptions)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mcp-service:8001", 200),
        ("mcp-service", 200),
        ("mcp-service.todo-app.svc.cluster.local:8001", 200),
        ("localhost:8001", 200),
        ("evil.example:8001", 421),
    ],
)
def test_host_header_allow_list(mcp_server, host, expected):
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {MCP_TOKEN}", "Host": host}
    response = httpx.post(f"{mcp_server.url}/mcp", json=INIT, headers=headers, timeout=10)
    if expected == 421:
        assert response.status_code in (400, 421), response.text
    else:
        assert response.status_code == expected, response.text


def test_sdk_client_addressing_the_service_name(mcp_server, user):
    async def body(client: Client):
        return await call(client, "list_tasks", user_id=user.id)

    assert run_with_client(f"{mcp_server.url}/mcp", body, host="mcp-service:8001") == (False, [])


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_served(mcp_server, method):
    # Stateless JSON mode has no event stream: a GET must not be held open as one.
    headers = {"Authorization": f"Bearer {MCP_TOKEN}", "Accept": "text/event-stream, application/json"}
    response = httpx.request(method, f"{mcp_server.url}/mcp", headers=headers, timeout=5)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST" and "detail" in response.json()
    without_token = httpx.request(method, f"{mcp_server.url}/mcp", timeout=5)
    assert without_token.status_code == 401


def test_request_bodies_over_one_mib_are_refused(mcp_server):
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {MCP_TOKEN}"}
    big = {**INIT, "padding": "a" * (1024 * 1024)}
    response = httpx.post(f"{mcp_server.url}/mcp", json=big, headers=headers, timeout=10)
    assert response.status_code == 413, response.text
    assert httpx.post(f"{mcp_server.url}/mcp", json=INIT, headers=headers, timeout=10).status_code == 200


def test_health(mcp_server):
    response = httpx.get(f"{mcp_server.url}/health", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_mcp_server_imports_no_agent_stack_and_no_jwt_checks():
    # Start-up time: the agent SDK, and the backend's JWT verification (PyJWT, httpx and
    # cryptography's X.509 modules), are the backend's alone.
    code = (
        "import sys, todo_backend.mcp_server as m; m.create_app;"
        "bad = [n for n in ('openai', 'agents', 'jwt', 'httpx', 'todo_backend.auth', 'cryptography.x509')"
        " if n in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


BACKEND_DIR = Path(__file__).resolve().parents[1]
MCP_DOCKERFILE = BACKEND_DIR.parent / "mcp" / "Dockerfile"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def mcp_image_distributions() -> set[str]:
    """The distributions the MCP image installs: uv.lock's closure of the project's dependencies
    (with the extras its `uv sync` asks for), minus each `--no-install-package` of mcp/Dockerfile."""
    dockerfile = MCP_DOCKERFILE.read_text()
    excluded = {_canonical(n) for n in re.findall(r"--no-install-package[= ]+([\w.-]+)", dockerfile)}
    extras = set(re.findall(r"--extra[= ]+([\w.-]+)", dockerfile))
    assert excluded, "mcp/Dockerfile names no --no-install-package; this test reads them from there"
    lock = {_canonical(p["name"]): p for p in tomllib.loads((BACKEND_DIR / "uv.lock").read_text())["package"]}
    root = lock["todo-backend"]
    pending = [*root["dependencies"], *(d for e in extras for d in root["optional-dependencies"][e])]
    installed = {"todo-backend"}
    while pending:
        dep = pending.pop()
        name = _canonical(dep["name"])
        if name in excluded:
            continue
        package = lock[name]
        # An extra (`pyjwt[crypto]`) brings its own dependencies even when the package is known.
        pending.extend(d for e in dep.get("extra", []) for d in package.get("optional-dependencies", {}).get(e, []))
        if name not in installed:
            installed.add(name)
            pending.extend(package.get("dependencies", []))
    return installed


def test_mcp_server_serves_with_only_what_its_image_installs(database_url, log_dir, tmp_path):
    """A live `todo-mcp` in which every module of a distribution its image leaves out (the agent
    extra, mcp/Dockerfile's --no-install-package list) cannot be imported, as in the image."""
    allowed = mcp_image_distributions()
    blocked = sorted(
        module for module, dists in packages_distributions().items() if not any(_canonical(d) in allowed for d in dists)
    )
    assert {"fastapi", "alembic", "agents", "openai"} <= set(blocked)
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # `import name` raises ModuleNotFoundError\n"
    )
    env = base_env(DATABASE_URL=database_url, MCP_SERVICE_TOKEN=MCP_TOKEN, PYTHONPATH=str(tmp_path))
    live = start_process("todo-mcp", [], env, log_dir)
    try:

        async def body(client: Client):
            assert {t.name for t in (await client.list_tools()).tools} == set(TOOLS)
            err, added = await call(client, "add_task", user_id="image-user", title="Only what ships")
            assert not err, added
            err, done = await call(client, "complete_task", user_id="image-user", task_id=added["task_id"])
            assert not err and done["status"] == "completed", done
            return (await call(client, "list_tasks", user_id="image-user"))[1]

        listed = run_with_client(f"{live.url}/mcp", body)
        assert listed == [{"id": listed[0]["id"], "title": "Only what ships", "completed": True}]
    finally:
        live.stop()
    assert "ModuleNotFoundError" not in live.log_text(), live.log_text()


def test_mcp_server_starts_without_the_database_driver_or_the_orm():
    # The engine (driver and dialect imports) is made on the first tool call, and the database
    # layer (SQLAlchemy's ORM, the tables, the domain functions) imported there; the live-server
    # tests above make them there, from concurrent worker threads too.
    code = (
        "import sys\n"
        "from todo_backend.mcp_server import create_app\n"
        "from todo_backend.settings import Settings\n"
        "create_app(Settings(database_url='postgresql://todo@127.0.0.1:9/todo', mcp_service_token='t'))\n"
        "bad = [n for n in ('psycopg', 'sqlalchemy.dialects.postgresql', 'sqlalchemy.orm', 'todo_backend.tasks')"
        " if n in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _start_mcp(**env: str) -> subprocess.CompletedProcess[str]:
    """`todo-mcp` started with `env` (on a port nothing needs); it is expected to stop by itself."""
    from support import BIN

    return subprocess.run(
        [str(BIN / "todo-mcp"), "--host", "127.0.0.1", "--port", "9"],
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_refuses_to_start_with_a_malformed_database_url():
    result = _start_mcp(DATABASE_URL="::not a database url::", MCP_SERVICE_TOKEN=MCP_TOKEN)
    assert result.returncode != 0
    assert "Could not parse SQLAlchemy URL" in result.stderr


def test_refuses_to_start_without_a_service_token(tmp_path):
    result = _start_mcp(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode != 0
    assert "MCP_SERVICE_TOKEN is empty" in result.stderr
