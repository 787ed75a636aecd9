"""Measure start-up (process start -> /health 200) of `todo-backend serve` and `todo-mcp`, and the
latency of `GET /api/{user}/tasks` with 1,000 tasks under a short, bounded loopback load.

    uv run --frozen python scripts/bench.py --database-url postgresql://postgres@127.0.0.1:5432/todo_test

Everything listens on 127.0.0.1 on free ports; the load is bounded by --requests and --max-seconds.
It creates (and drops) its own database on the given PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import MCP_TOKEN, JwksServer, base_env, claims_for, new_key, start_process  # noqa: E402

from todo_backend.db import normalize_database_url  # noqa: E402
from todo_backend.migrate import upgrade_to_head  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(url: str, headers: dict[str, str], total: int, concurrency: int, max_seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    counter = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in counter:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or len(response.json()) != 1000:
                raise RuntimeError(f"unexpected response {response.status_code}")

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server URL (libpq form)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--startups", type=int, default=5)
    args = parser.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url

    server_url = normalize_database_url(args.database_url)
    name = f"todo_bench_{uuid.uuid4().hex[:8]}"
    admin_url = server_url.replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    key = new_key("EdDSA", "bench")
    jwks = JwksServer([key])
    workdir = Path(tempfile.mkdtemp(prefix="todo-bench-"))
    processes = []
    try:
        upgrade_to_head(url)
        env = base_env(
            DATABASE_URL=url,
            AUTH_JWKS_URL=jwks.url,
            AUTH_ISSUER=claims_for("x")["iss"],
            AUTH_AUDIENCE=claims_for("x")["aud"],
            MCP_SERVICE_TOKEN=MCP_TOKEN,
        )
        for command, extra in (("todo-backend", ["serve"]), ("todo-mcp", [])):
            times, cpu = [], []
            for _ in range(args.startups):
                live = start_process(command, extra, env, workdir)
                times.append(live.startup_seconds)
                cpu.append(live.startup_cpu_seconds)
                live.stop()
            print(
                f"{command}: start -> /health 200: "
                + ", ".join(f"{t:.2f} s" for t in times)
                + f" (median {statistics.median(times):.2f} s; CPU used by then: median "
                + f"{statistics.median(cpu):.2f} s)"
            )

        user = f"bench-{uuid.uuid4().hex[:8]}"
        backend = start_process("todo-backend", ["serve"], env, workdir)
        processes.append(backend)
        headers = {"Authorization": f"Bearer {key.sign(claims_for(user, exp=int(time.time()) + 3600))}"}
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) "
                "SELECT %s, 'Task ' || g, 'description ' || g, g %% 3 = 0, now() - g * interval '1 second', now() "
                "FROM generate_series(1, 1000) AS g",
                (user,),
            )
        tasks_url = f"{backend.url}/api/{user}/tasks"
        asyncio.run(load(tasks_url, headers, 20, 2, 30))  # warm-up: JWKS fetch, pool, caches
        started = time.perf_counter()
        latencies = asyncio.run(load(tasks_url, headers, args.requests, args.concurrency, args.max_seconds))
        elapsed = time.perf_counter() - started
        print(
            f"GET /api/{{user}}/tasks, 1000 tasks, PostgreSQL, {len(latencies)} requests, "
            f"concurrency {args.concurrency}, {elapsed:.1f} s ({len(latencies) / elapsed:.0f} req/s): "
            f"p50 {percentile(latencies, 0.50):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    finally:
        for process in processes:
            process.stop()
        jwks.close()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
