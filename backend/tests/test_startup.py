"""Start-up with the garbage collector paused and pydantic's model builds deferred: neither may outlast
it, in the servers' processes included, and a deferred model still validates on first use."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
from pydantic import BaseModel, ValidationError

from todo_backend.startup import starting


def test_collections_are_paused_while_starting_and_resumed_after():
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    try:
        with starting():
            assert not gc.isenabled()
            kept = [[] for _ in range(1000)]
        assert gc.isenabled()
        # What start-up built is out of later collections' way.
        assert gc.get_freeze_count() >= frozen_before + len(kept)
    finally:
        gc.unfreeze()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with starting():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_models_defined_while_starting_are_built_on_first_use():
    with starting():

        class Deferred(BaseModel):
            n: int

    class Eager(BaseModel):
        n: int

    assert not Deferred.__pydantic_complete__
    assert Eager.__pydantic_complete__
    assert Deferred(n="3").n == 3
    assert Deferred.__pydantic_complete__
    with pytest.raises(ValidationError):
        Deferred(n="three")


def test_the_default_is_restored_when_start_up_fails():
    with pytest.raises(RuntimeError), starting():
        raise RuntimeError("boom")

    class After(BaseModel):
        n: int

    assert After.__pydantic_complete__ and gc.isenabled()
    gc.unfreeze()


def test_both_servers_run_with_the_collector_enabled_and_their_libraries_models_deferred(tmp_path):
    """The entry points as installed, up to the moment uvicorn would take over."""
    code = (
        "import gc, sys, uvicorn\n"
        "def run(app, **kwargs):\n"
        "    import fastapi.openapi.models, mcp_types, pydantic\n"
        "    class After(pydantic.BaseModel):\n"
        "        n: int\n"
        "    models = [fastapi.openapi.models.OpenAPI, mcp_types.AudioContent]\n"
        "    deferred = [m.__name__ for m in models if not m.__pydantic_complete__]\n"
        "    print('enabled' if gc.isenabled() else 'disabled', gc.get_freeze_count() > 0,\n"
        "          After.__pydantic_complete__, ','.join(deferred))\n"
        "uvicorn.run = run\n"
        "from todo_backend import cli\n"
        "cli.main(['serve']) if sys.argv[1] == 'backend' else cli.mcp_main([])\n"
    )
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "MCP_SERVICE_TOKEN": "t", "PATH": "/usr/bin:/bin"}
    for server in ("backend", "mcp"):
        out = subprocess.run(
            [sys.executable, "-c", code, server], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert out.returncode == 0, out.stderr
        # What the server imported while starting waits for first use; what comes after does not.
        deferred = "OpenAPI" if server == "backend" else "AudioContent"
        assert out.stdout.split() == ["enabled", "True", "True", deferred], (server, out.stdout, out.stderr)


def test_the_backend_starts_without_the_database_driver_or_the_http_client():
    """The engine (driver and dialect imports) is made on first use, not while the app starts:
    liveness answers without it, and the readiness probe's schema check makes it. The HTTP client
    is imported by the first key set fetch."""
    code = (
        "import asyncio, sys\n"
        "from todo_backend.api import create_app\n"
        "from todo_backend.settings import Settings\n"
        "app = create_app(Settings(database_url='postgresql://todo@127.0.0.1:9/todo', mcp_service_token='t'))\n"
        "async def start():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        return [n for n in ('psycopg', 'sqlalchemy.dialects.postgresql', 'httpx') if n in sys.modules]\n"
        "bad = asyncio.run(start())\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_malformed_database_url_still_stops_the_backend_at_start():
    code = (
        "import asyncio\n"
        "from todo_backend.api import create_app\n"
        "from todo_backend.settings import Settings\n"
        "app = create_app(Settings(database_url='::not a database url::', mcp_service_token='t'))\n"
        "async def start():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        pass\n"
        "asyncio.run(start())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "Could not parse SQLAlchemy URL" in result.stderr, result.stderr


def test_the_mcp_server_starts_without_sqlalchemy(tmp_path):
    """The database layer waits for the first tool call; the URL is still checked at start."""
    code = (
        "import sys, uvicorn\n"
        "uvicorn.run = lambda app, **kwargs: print('sqlalchemy' in sys.modules)\n"
        "from todo_backend import cli\n"
        "cli.mcp_main([])\n"
    )
    env = {"DATABASE_URL": "postgresql://todo@127.0.0.1:9/todo", "MCP_SERVICE_TOKEN": "t", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.split() == ["False"], out.stdout + out.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://todo:s3cret@postgres-service:5432/todo",
        "postgresql+psycopg://todo@127.0.0.1/todo?sslmode=require&application_name=x",
        "postgresql+psycopg://u:p%40ss@[::1]:5432/db",
        "postgresql+psycopg://u:p@ss@host/db",
        "postgresql+psycopg://host:/db",
        "postgresql+psycopg://host:5_432/db",
        "postgresql+psycopg://host: 5432/db",
        "sqlite:///.data/todo.db",
        "sqlite://",
        "mysql+pymysql://u@h:33x6/db",
        "postgresql+psycopg://host:-1/db",
        "::not a database url::",
        "postgres-ql://host/db",
        "://host/db",
        "",
        "postgresql+psycopg:/host/db",
        "päth://host/db",
    ],
)
def test_the_database_url_check_agrees_with_sqlalchemy(url):
    from sqlalchemy.engine import make_url

    from todo_backend.settings import database_url_problem

    try:
        make_url(url)
        refused = False
    except Exception:
        refused = True
    assert (database_url_problem(url) is not None) == refused
