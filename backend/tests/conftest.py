from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from support import (
    AUDIENCE,
    ISSUER,
    MCP_TOKEN,
    JwksServer,
    LiveProcess,
    SigningKey,
    base_env,
    claims_for,
    new_key,
    start_process,
)

from todo_backend.api import create_app
from todo_backend.db import normalize_database_url
from todo_backend.migrate import upgrade_to_head
from todo_backend.settings import Settings

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
needs_pg = pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set")
BACKENDS = ["sqlite", pytest.param("postgres", marks=needs_pg)]


class PgDatabases:
    """Creates throwaway databases on the TEST_DATABASE_URL server, and drops them afterwards."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(normalize_database_url(PG_URL).replace("+psycopg", ""), autocommit=True)

    def create(self) -> str:
        name = f"todo_pytest_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(normalize_database_url(PG_URL)).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        with self.admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    databases = PgDatabases()
    yield databases
    databases.drop_all()


def fresh_database_url(kind: str, tmp_path: Path, pg_databases: PgDatabases) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'todo-{uuid.uuid4().hex[:8]}.db'}"
    return pg_databases.create()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_databases) -> str:
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("db"), pg_databases)
    upgrade_to_head(url, wait_seconds=10)
    return url


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    return {alg: new_key(alg, f"kid-{alg.lower()}") for alg in ("EdDSA", "RS256", "ES256", "ES512", "PS256")}


@pytest.fixture(scope="session")
def jwks(signing_keys) -> Iterator[JwksServer]:
    server = JwksServer(list(signing_keys.values()))
    yield server
    server.close()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def mcp_server(database_url: str, log_dir: Path) -> Iterator[LiveProcess]:
    live = start_process("todo-mcp", [], base_env(DATABASE_URL=database_url, MCP_SERVICE_TOKEN=MCP_TOKEN), log_dir)
    yield live
    live.stop()


def make_settings(database_url: str, jwks: JwksServer, mcp_url: str, **overrides) -> Settings:
    values = dict(
        database_url=database_url,
        auth_jwks_url=jwks.url,
        better_auth_url="http://unused.invalid",
        auth_issuer=claims_for("x")["iss"],
        auth_audience=claims_for("x")["aud"],
        mcp_server_url=mcp_url,
        mcp_service_token=MCP_TOKEN,
        openai_api_key="",
        auth_jwks_refetch_interval=0.5,
    )
    values.update(overrides)
    return Settings(**values)


def backend_env(database_url: str, jwks_url: str, mcp_url: str, **extra: str) -> dict[str, str]:
    """The environment of a live `todo-backend serve` in these tests."""
    values = {
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": jwks_url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_REFETCH_INTERVAL": "0.5",
        "MCP_SERVER_URL": mcp_url,
        "MCP_SERVICE_TOKEN": MCP_TOKEN,
    }
    return base_env(**{**values, **extra})


@pytest.fixture(scope="session")
def live_backend(database_url: str, jwks: JwksServer, mcp_server: LiveProcess, log_dir: Path) -> Iterator[LiveProcess]:
    """A real `todo-backend serve` (uvicorn) on a free loopback port."""
    live = start_process(
        "todo-backend", ["serve"], backend_env(database_url, jwks.url, f"{mcp_server.url}/mcp"), log_dir
    )
    yield live
    live.stop()


@pytest.fixture(scope="session")
def api(database_url: str, jwks: JwksServer, mcp_server: LiveProcess) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, jwks, f"{mcp_server.url}/mcp"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class User:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(signing_keys):
    def make(alg: str = "EdDSA") -> User:
        sub = f"user-{uuid.uuid4().hex[:10]}"
        return User(sub, signing_keys[alg].sign(claims_for(sub)))

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user()
