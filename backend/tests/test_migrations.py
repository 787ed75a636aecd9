"""`todo-backend migrate` as a process: from empty, re-run, concurrency, waiting, foreign tables."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import BACKENDS, fresh_database_url, make_settings, needs_pg
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from support import BIN, base_env, free_port

from todo_backend.api import create_app
from todo_backend.migrate import FOREIGN_TABLES, head_revision
from todo_backend.models import Base

OUR_TABLES = {"tasks", "conversations", "messages", "alembic_version"}


def migrate(url: str | None, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    extra = {"DATABASE_URL": url} if url else {}
    return subprocess.run(
        [str(BIN / "todo-backend"), "migrate"],
        env=base_env(**extra, **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def libpq_form(url: str) -> str:
    # What the cluster passes: the plain libpq URL, mapped to psycopg by the backend itself.
    return url.replace("postgresql+psycopg://", "postgresql://")


def schema_snapshot(url: str) -> dict[str, list[tuple[str, str]]]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: sorted((c["name"], str(c["type"])) for c in inspector.get_columns(table))
            + sorted(("index", i["name"]) for i in inspector.get_indexes(table))
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def add_better_auth_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in sorted(FOREIGN_TABLES):
            conn.execute(text(f'CREATE TABLE "{name}" (id TEXT PRIMARY KEY, note TEXT)'))
            conn.execute(text(f"INSERT INTO \"{name}\" VALUES ('keep-me', '{name}')"))
    engine.dispose()


@pytest.mark.parametrize("kind", BACKENDS)
def test_from_empty_then_rerun_is_a_noop(kind, tmp_path, pg_databases, jwks):
    url = fresh_database_url(kind, tmp_path, pg_databases)
    add_better_auth_tables(url)
    settings = make_settings(url, jwks, "http://127.0.0.1:9/mcp")
    with TestClient(create_app(settings)) as client:
        before = client.get("/ready")
        assert before.status_code == 503
        assert "run `todo-backend migrate`" in before.json()["detail"]

        first = migrate(libpq_form(url), tmp_path)
        assert first.returncode == 0, first.stderr
        snapshot = schema_snapshot(url)
        assert OUR_TABLES | FOREIGN_TABLES == set(snapshot)
        assert client.get("/ready").status_code == 200

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tasks (user_id, title, completed, created_at, updated_at) "
                    "VALUES ('u', 'survives', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        second = migrate(libpq_form(url), tmp_path)
        assert second.returncode == 0, second.stderr
        assert schema_snapshot(url) == snapshot
        with engine.connect() as conn:
            assert conn.execute(text("SELECT title FROM tasks")).scalars().all() == ["survives"]
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
            for name in FOREIGN_TABLES:  # better-auth's rows untouched
                assert conn.execute(text(f'SELECT note FROM "{name}"')).scalars().all() == [name]
        engine.dispose()


@pytest.mark.parametrize("kind", BACKENDS)
def test_models_match_migrations_and_foreign_tables_are_ignored(kind, tmp_path, pg_databases):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from todo_backend.migrate import include_name, include_object

    url = fresh_database_url(kind, tmp_path, pg_databases)
    add_better_auth_tables(url)
    assert migrate(url, tmp_path).returncode == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": include_name, "include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


@needs_pg
def test_concurrent_migrations_on_postgres(tmp_path, pg_databases):
    url = libpq_form(pg_databases.create())
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: migrate(url, tmp_path), range(3)))
    for result in results:
        assert result.returncode == 0, result.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
        assert set(inspect(conn).get_table_names()) == OUR_TABLES
    engine.dispose()


def test_waits_for_the_database_then_fails_clearly(tmp_path):
    port = free_port()
    started = time.monotonic()
    result = migrate(f"postgresql://postgres:hunter2@127.0.0.1:{port}/nowhere", tmp_path, MIGRATE_WAIT_SECONDS="2")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "did not accept connections within 2 s" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert 2 <= elapsed < 30


def test_unset_database_url_uses_sqlite_under_dot_data(tmp_path):
    result = migrate(None, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".data" / "todo.db").is_file()


def test_head_revision_agrees_with_alembic(tmp_path):
    from alembic.script import ScriptDirectory

    from todo_backend.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    # Alembic's other spellings: typed assignments, single quotes, a merge of two branches.
    versions = tmp_path / "versions"
    versions.mkdir()
    files = {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": "revision: str = 'b'\ndown_revision: Union[str, None] = 'a'\n",
        "c.py": 'revision = "c"\ndown_revision = "a"\n',
    }
    for name, text_ in files.items():
        (versions / name).write_text(text_)
    with pytest.raises(RuntimeError, match="2 heads"):
        head_revision(versions)
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    head_revision.cache_clear()
    assert head_revision(versions) == "d"
