"""A live backend whose JWKS endpoint hangs or fails: one shared fetch, bounded waits, 503 + Retry-After."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import backend_env
from support import JwksServer, LiveProcess, SigningKey, claims_for, new_key, start_process

from todo_backend.migrate import upgrade_to_head

FETCH_TIMEOUT = 5.0  # the verifier's limit for one whole JWKS fetch


@pytest.fixture
def jwks_server(signing_keys) -> Iterator[JwksServer]:
    server = JwksServer(list(signing_keys.values()))
    yield server
    server.close()


def start_backend(jwks: JwksServer, tmp_path: Path, log_dir: Path, refetch_interval: float) -> LiveProcess:
    url = f"sqlite:///{tmp_path / 'todo.db'}"
    upgrade_to_head(url)
    env = backend_env(url, jwks.url, "http://127.0.0.1:9/mcp", AUTH_JWKS_REFETCH_INTERVAL=str(refetch_interval))
    return start_process("todo-backend", ["serve"], env, log_dir)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=20)) as client:
        yield client


def get_tasks(http: httpx.Client, backend: LiveProcess, key: SigningKey) -> tuple[httpx.Response, float]:
    token = key.sign(claims_for("jwks-user"))
    started = time.monotonic()
    response = http.get(f"{backend.url}/api/jwks-user/tasks", headers={"Authorization": f"Bearer {token}"})
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "detail" in response.json()


def test_hanging_jwks_is_fetched_once_for_all_waiters(jwks_server, signing_keys, http, tmp_path, log_dir):
    jwks_server.mode = "hang"
    backend = start_backend(jwks_server, tmp_path, log_dir, refetch_interval=30)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: get_tasks(http, backend, signing_keys["EdDSA"]), range(6)))
        for response, _ in results:
            assert_unavailable(response)
        # Serialized fetches answered after 6, 11, 16, ... s; shared, nobody waits past one fetch.
        slowest = max(seconds for _, seconds in results)
        assert slowest < FETCH_TIMEOUT + 4, [round(seconds, 1) for _, seconds in results]
        assert jwks_server.fetches == 1

        # Inside the refetch interval a failed fetch is not repeated: answered at once.
        response, seconds = get_tasks(http, backend, signing_keys["RS256"])
        assert_unavailable(response)
        assert seconds < 2 and jwks_server.fetches == 1
        assert int(response.headers["retry-after"]) <= 30
    finally:
        backend.stop()


def test_failing_jwks_is_throttled_and_recovers(jwks_server, signing_keys, http, tmp_path, log_dir):
    jwks_server.mode = "fail"
    backend = start_backend(jwks_server, tmp_path, log_dir, refetch_interval=1.0)
    try:
        started = time.monotonic()
        for index in range(20):
            # Known kids and unknown ones alike: while no keys can be had, the token may be fine.
            key = signing_keys["EdDSA"] if index % 2 else new_key("EdDSA", f"kid-unknown-{index}")
            response, _ = get_tasks(http, backend, key)
            assert_unavailable(response)
        allowed = 1 + int((time.monotonic() - started) / 1.0)
        assert 1 <= jwks_server.fetches <= min(allowed, 19), (jwks_server.fetches, allowed)

        jwks_server.mode = "serve"
        deadline = time.monotonic() + 10
        while True:
            response, _ = get_tasks(http, backend, signing_keys["EdDSA"])
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        # Keys at hand again: an unknown kid is the token's fault, a 401.
        response, _ = get_tasks(http, backend, new_key("EdDSA", "kid-still-unknown"))
        assert response.status_code == 401
    finally:
        backend.stop()
