"""All configuration comes from the environment, through this one typed object."""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = ".data/todo.db"
# Defaults that the code these settings feed also takes for its own arguments.
JWKS_REFETCH_INTERVAL = 10.0
JWKS_CACHE_SECONDS = 3600.0
MCP_TIMEOUT_SECONDS = 15.0
MIGRATE_WAIT_SECONDS = 60.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = ""
    better_auth_url: str = "http://localhost:3000"
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks_url: str = "http://127.0.0.1:3000/api/auth/jwks"
    # Seconds between two JWKS fetches triggered by an unknown `kid` (stops token spam from
    # turning into a request flood against the frontend).
    auth_jwks_refetch_interval: float = JWKS_REFETCH_INTERVAL
    auth_jwks_cache_seconds: float = JWKS_CACHE_SECONDS

    mcp_server_url: str = "http://127.0.0.1:8001/mcp"
    mcp_service_token: SecretStr = SecretStr("")
    # Extra Host header values the MCP server accepts, comma separated; "*" turns the
    # DNS-rebinding check off.
    mcp_allowed_hosts: str = ""
    mcp_timeout_seconds: float = MCP_TIMEOUT_SECONDS

    openai_api_key: SecretStr = SecretStr("")
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"
    openai_tracing: bool = False

    log_level: str = "info"
    # Serve /docs, /redoc and /openapi.json (API_DOCS=1); off unless asked for.
    api_docs: bool = False
    migrate_wait_seconds: float = Field(default=MIGRATE_WAIT_SECONDS, ge=0)

    @property
    def issuer(self) -> str:
        return self.auth_issuer or self.better_auth_url

    @property
    def audience(self) -> str:
        return self.auth_audience or self.better_auth_url

    @cached_property
    def sqlalchemy_url(self) -> str:
        return normalize_database_url(self.database_url)


def normalize_database_url(raw: str) -> str:
    """Map the contract's forms of DATABASE_URL to a SQLAlchemy URL.

    Unset means the embedded SQLite file under `.data/` (relative to the cwd); the libpq form
    `postgresql://` / `postgres://` is mapped to the psycopg 3 driver.
    """
    raw = raw.strip()
    if not raw:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


# SQLAlchemy's own URL pattern (`sqlalchemy.engine.url._parse_url`), so that a server that needs
# SQLAlchemy only later (the MCP server, at its first tool call) can refuse a malformed URL at
# start without importing it: about a fifth of that server's start-up. The tests hold the check
# to `make_url` itself.
_SQLALCHEMY_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
    """,
    re.X,
)


def database_url_problem(url: str) -> str | None:
    """Why SQLAlchemy would refuse `url` (a SQLAlchemy URL, see `normalize_database_url`), or None.

    Never quotes the URL: it may hold a password."""
    match = _SQLALCHEMY_URL.match(url)
    if match is None:
        return "Could not parse SQLAlchemy URL from given URL string"
    port = match.group("port")
    if port is not None:
        try:
            int(port)
        except ValueError:
            return "the port is not a number"
    return None
