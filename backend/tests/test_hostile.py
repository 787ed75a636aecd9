"""A bounded hostile-input run against live `todo-backend` and `todo-mcp` servers on loopback.

A few hundred attacks (huge and chunked bodies, bad tokens, algorithm/key mismatches, control
characters in `sub`, comma floods, other users' ids, traversal in ids, malformed JSON, GET on
/mcp, held-open half requests) go out from 8 threads while a probe keeps asking both servers
for /health. Asserted: no 5xx, every attack gets the 4xx (or 2xx) it should, /health stays
fast, and no secret (the JWT signing keys, the MCP service token, the database password) is in
any response or in either server's log.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import jwt
import pytest
from conftest import BACKENDS, backend_env, fresh_database_url
from sqlalchemy.engine import make_url
from support import MCP_TOKEN, LiveProcess, SigningKey, base_env, chunked, claims_for, new_key, raw_http, start_process

from todo_backend.migrate import upgrade_to_head

PASSES = 3  # the catalogue below, this many times over: a few hundred requests
RUN_SECONDS = 60
HEALTH_SECONDS = 2.0
MIB = 1024 * 1024


@dataclass
class Outcome:
    label: str
    status: int
    body: bytes
    expected: frozenset[int]


@dataclass
class Target:
    backend: LiveProcess
    mcp: LiveProcess
    database_secret: str | None


@pytest.fixture(params=BACKENDS)
def target(request, tmp_path, pg_databases, jwks, log_dir) -> Iterator[Target]:
    url = fresh_database_url(request.param, tmp_path, pg_databases)
    upgrade_to_head(url)
    secret = None
    if url.startswith("postgresql"):
        # The test server trusts loopback, so any password works; what counts is that the
        # service holds one and never lets it out.
        secret = f"db-{secrets.token_urlsafe(16)}"
        url = make_url(url).set(password=secret).render_as_string(hide_password=False)
    mcp = start_process("todo-mcp", [], base_env(DATABASE_URL=url, MCP_SERVICE_TOKEN=MCP_TOKEN), log_dir)
    backend = start_process("todo-backend", ["serve"], backend_env(url, jwks.url, f"{mcp.url}/mcp"), log_dir)
    yield Target(backend, mcp, secret)
    backend.stop()
    mcp.stop()


def private_material(keys: dict[str, SigningKey]) -> list[str]:
    """The private parts of every signing key, as they would appear if leaked (base64url)."""
    found = []
    for key in keys.values():
        jwk = jwt.get_algorithm_by_name(key.alg).to_jwk(key.private, as_dict=True)
        found += [jwk[name] for name in ("d", "p", "q", "dp", "dq", "qi") if name in jwk]
    return found


def token(key: SigningKey, sub: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.sign(claims_for(sub, **claims))}"}


def forged(header: dict, payload: dict, signature: bytes = b"sig") -> dict[str, str]:
    def part(value: bytes) -> str:
        return jwt.utils.base64url_encode(value).decode()

    raw = ".".join([part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)])
    return {"Authorization": f"Bearer {raw}"}


def catalogue(target: Target, keys: dict[str, SigningKey], http: httpx.Client) -> list[Callable[[], Outcome]]:
    """Every attack once, as calls that return what came back and what should have."""
    backend, mcp = target.backend, target.mcp
    ed = keys["EdDSA"]
    alice, bob = f"alice-{secrets.token_hex(4)}", f"bob-{secrets.token_hex(4)}"
    a_auth, b_auth = token(ed, alice), token(ed, bob)
    a_tasks, b_tasks = f"{backend.url}/api/{alice}/tasks", f"{backend.url}/api/{bob}/tasks"
    bearer = a_auth["Authorization"]
    task = http.post(a_tasks, json={"title": "alice's"}, headers=a_auth).json()["id"]
    chat = http.post(f"{backend.url}/api/{alice}/chat", json={"message": "hi"}, headers=a_auth).json()
    conversation = chat["conversation_id"]
    attacks: list[Callable[[], Outcome]] = []

    def request(label: str, expected: set[int], method: str, url: str, **kwargs) -> None:
        def run() -> Outcome:
            response = http.request(method, url, **kwargs)
            return Outcome(label, response.status_code, response.content, frozenset(expected))

        attacks.append(run)

    def raw(label: str, expected: set[int], port: int, head: str, body: Callable[[], Iterable[bytes]] = list) -> None:
        def run() -> Outcome:
            response = raw_http(port, head, body(), timeout=20)
            return Outcome(label, response.status, response.body, frozenset(expected))

        attacks.append(run)

    # Huge bodies: declared and not sent, or streamed without a length.
    def post_head(path: str, headers: dict[str, str]) -> str:
        lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
        return "\n".join(lines + [f"{k}: {v}" for k, v in headers.items()]) + "\n"

    path = f"/api/{alice}/tasks"
    raw(
        "200 MB declared, no token",
        {401},
        backend.port,
        post_head(path, {"Content-Length": "200000000"}),
        lambda: [b"{"],
    )
    raw("200 MB declared", {413}, backend.port, post_head(path, {**a_auth, "Content-Length": "200000000"}))
    raw("absurd length", {400, 413}, backend.port, post_head(path, {**a_auth, "Content-Length": "9" * 40}))
    raw(
        "3 MiB chunked",
        {413},
        backend.port,
        post_head(path, {**a_auth, "Transfer-Encoding": "chunked"}),
        lambda: chunked(3 * MIB, prefix=b'{"title": "x", "p": "', suffix=b'"}'),
    )
    raw(
        "3 MiB chunked, bad token",
        {401},
        backend.port,
        post_head(path, {"Authorization": "Bearer x.y.z", "Transfer-Encoding": "chunked"}),
        lambda: chunked(3 * MIB),
    )
    mcp_auth = {"Authorization": f"Bearer {MCP_TOKEN}", "Accept": "application/json, text/event-stream"}
    request(
        "2 MiB to /mcp",
        {413},
        "POST",
        f"{mcp.url}/mcp",
        content=b"[" + b" " * 2 * MIB + b"]",
        headers={**mcp_auth, "Content-Type": "application/json"},
    )

    # Bad tokens.
    bad_tokens = {
        "no token": {},
        "garbage": {"Authorization": "Bearer garbage"},
        "bearer alone": {"Authorization": "Bearer"},
        "basic": {"Authorization": "Basic YWxpY2U6cHc="},
        "8 kB token": {"Authorization": "Bearer " + "a" * 8000},
        "three dots": {"Authorization": "Bearer ..."},
        "expired": token(ed, alice, exp=int(time.time()) - 3600),
        "wrong audience": token(ed, alice, aud="http://elsewhere"),
        "unknown kid": token(new_key("EdDSA", "kid-hostile"), alice),
        "bad signature": token(new_key("EdDSA", ed.kid), alice),
        "alg none": forged({"alg": "none", "kid": ed.kid}, claims_for(alice), b""),
        "alg HS256": forged({"alg": "HS256", "kid": ed.kid}, claims_for(alice)),
        "alg as a list": forged({"alg": ["EdDSA"], "kid": ed.kid}, claims_for(alice)),
        "kid as an object": forged({"alg": "EdDSA", "kid": {"x": 1}}, claims_for(alice)),
        "header is a list": {"Authorization": "Bearer " + jwt.utils.base64url_encode(b"[1]").decode() + ".e30.c2ln"},
        "payload not JSON": {"Authorization": "Bearer " + ed.sign({"sub": alice}).split(".")[0] + ".bm90IGpzb24.c2ln"},
        # An accepted algorithm on another type of key.
        "RS256 on Ed25519": token(new_key("RS256", ed.kid), alice),
        "ES256 on RSA": token(new_key("ES256", keys["RS256"].kid), alice),
        "EdDSA on EC": token(new_key("EdDSA", keys["ES256"].kid), alice),
    }
    for label, headers in bad_tokens.items():
        request(f"token: {label}", {401}, "GET", a_tasks, headers=headers)
        request(f"token: {label} + bad JSON", {401}, "POST", a_tasks, content=b'{"title": ', headers=headers)

    # Subjects that must never reach the database.
    for label, sub in {"NUL": "a\x00b", "newline": "a\nb", "escape": "\x1b[2J", "300 chars": "s" * 300}.items():
        request(f"sub: {label}", {401}, "GET", f"{backend.url}/api/{quote(sub, safe='')}/tasks", headers=token(ed, sub))

    # Comma floods and other text the rule agent has to read.
    chat_url = f"{backend.url}/api/{alice}/chat"
    for label, message in {
        "commas": "," * 4000,
        "comma-space": ", " * 2000,
        "remind commas": "remind me to " + ", " * 1990,
        "please commas": "please," * 570,
        "update loop": "change task 1 " + "to " * 1300,
        "delete task 0": "Delete task 0",
        "huge id": "Mark task 9999999999 as complete",
        "other's task": f"Delete task {task}",
    }.items():
        request(
            f"chat: {label}", {200}, "POST", f"{backend.url}/api/{bob}/chat", json={"message": message}, headers=b_auth
        )
    request("chat: 100k commas", {422}, "POST", chat_url, json={"message": "," * 100_000}, headers=a_auth)

    # Another user's ids.
    for method, suffix, body in [
        ("GET", f"/{task}", None),
        ("PUT", f"/{task}", {"title": "hijacked"}),
        ("PATCH", f"/{task}/complete", {}),
        ("DELETE", f"/{task}", None),
    ]:
        request(f"cross-user {method}", {404}, method, b_tasks + suffix, json=body, headers=b_auth)
        request(f"foreign path {method}", {403}, method, a_tasks + suffix, json=body, headers=b_auth)
    request(
        "cross-user messages",
        {404},
        "GET",
        f"{backend.url}/api/{bob}/conversations/{conversation}/messages",
        headers=b_auth,
    )
    request(
        "cross-user conversation",
        {404},
        "POST",
        f"{backend.url}/api/{bob}/chat",
        json={"conversation_id": conversation, "message": "show my tasks"},
        headers=b_auth,
    )
    request("foreign account deletion", {403}, "DELETE", f"{backend.url}/api/{alice}", headers=b_auth)

    # Traversal and junk in ids (raw, so that no client normalizes the path).
    for label, raw_path in {
        "dot-dot": f"/api/{alice}/tasks/../../../etc/passwd",
        "encoded dot-dot": f"/api/{alice}/tasks/..%2F..%2Fetc%2Fpasswd",
        "dot-dot user": "/api/..%2F..%2Fetc/tasks",
        "NUL id": f"/api/{alice}/tasks/1%00",
        "negative id": f"/api/{alice}/tasks/-1",
        "float id": f"/api/{alice}/tasks/1e3",
        "huge id": f"/api/{alice}/tasks/{'9' * 30}",
        "SQL in id": f"/api/{alice}/tasks/1%20OR%201=1",
        "SQL in status": f"/api/{alice}/tasks?status=all'%20OR%20'1'='1",
        "bad conversation": f"/api/{alice}/conversations/abc/messages",
    }.items():
        head = f"GET {raw_path} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: {bearer}\nConnection: close\n"
        raw(f"path: {label}", {401, 403, 404, 405, 422}, backend.port, head)

    # Malformed JSON from a properly signed-in user.
    for label, content in {
        "truncated": b'{"title": ',
        "not UTF-8": b"\xff\xfe\xfd",
        "deep list": b"[" * 200_000,
        "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "huge number": b'{"title": "x", "description": 1e999999}',
        "NaN": b'{"title": NaN}',
        "title object": b'{"title": {"$gt": ""}}',
        "title with NUL": b'{"title": "a\\u0000b"}',
        "lone surrogate": b'{"title": "\\ud800"}',
        "empty": b"",
    }.items():
        request(
            f"json: {label}",
            {400, 422},
            "POST",
            a_tasks,
            content=content,
            headers={**a_auth, "Content-Type": "application/json"},
        )
    request(
        "json: text/plain",
        {422},
        "POST",
        a_tasks,
        content=b'{"title": "x"}',
        headers={**a_auth, "Content-Type": "text/plain"},
    )

    # The MCP endpoint and what should not be public.
    request("GET /mcp", {405}, "GET", f"{mcp.url}/mcp", headers=mcp_auth)
    request("DELETE /mcp", {405}, "DELETE", f"{mcp.url}/mcp", headers=mcp_auth)
    request("GET /mcp, no token", {401}, "GET", f"{mcp.url}/mcp")
    request("POST /mcp, wrong token", {401}, "POST", f"{mcp.url}/mcp", json={}, headers={"Authorization": "Bearer x"})
    request(
        "POST /mcp, junk",
        {400, 406, 415, 422},
        "POST",
        f"{mcp.url}/mcp",
        content=b"{not json",
        headers={**mcp_auth, "Content-Type": "application/json"},
    )
    for docs in ("/docs", "/redoc", "/openapi.json"):
        request(f"docs {docs}", {404}, "GET", backend.url + docs)
    request("long request id", {200}, "GET", a_tasks, headers={**a_auth, "X-Request-ID": "x" * 5000})
    odd_id = "X-Request-ID: \x7f\x01\xff"
    raw(
        "odd request id",
        {200},
        backend.port,
        f"GET {path} HTTP/1.1\nHost: 127.0.0.1\nAuthorization: {bearer}\n{odd_id}\n",
    )
    request("TRACE", {405}, "TRACE", a_tasks, headers=a_auth)
    return attacks


def probe_health(urls: list[str], stop: threading.Event, worst: dict[str, float]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            for url in urls:
                started = time.monotonic()
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                seconds = time.monotonic() - started if ok else float("inf")
                worst[url] = max(worst.get(url, 0.0), seconds)
            stop.wait(0.1)


def hold_half_requests(port: int, count: int) -> list[socket.socket]:
    """Connections that send part of a request and then nothing: they must not hold up anyone."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /api/x/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n")
        held.append(sock)
    return held


def test_hostile_inputs(target, signing_keys):
    started = time.monotonic()
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=16)) as http:
        attacks = catalogue(target, signing_keys, http) * PASSES
        held = hold_half_requests(target.backend.port, 5) + hold_half_requests(target.mcp.port, 5)
        stop, worst = threading.Event(), {}
        probe = threading.Thread(
            target=probe_health, args=([f"{target.backend.url}/health", f"{target.mcp.url}/health"], stop, worst)
        )
        probe.start()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                outcomes = list(pool.map(lambda attack: attack(), attacks))
        finally:
            stop.set()
            probe.join()
            for sock in held:
                sock.close()
    elapsed = time.monotonic() - started

    assert len(outcomes) >= 300
    server_errors = [(o.label, o.status, o.body[:200]) for o in outcomes if o.status >= 500]
    assert not server_errors
    unexpected = sorted({(o.label, o.status, o.body[:120]) for o in outcomes if o.status not in o.expected})
    assert not unexpected
    assert worst and max(worst.values()) < HEALTH_SECONDS, worst
    assert elapsed < RUN_SECONDS

    leaks = [MCP_TOKEN, *private_material(signing_keys)] + [target.database_secret] * bool(target.database_secret)
    bodies = b"\n".join(o.body for o in outcomes).decode("utf-8", "replace")
    for name, text in [
        ("responses", bodies),
        ("backend log", target.backend.log_text()),
        ("mcp log", target.mcp.log_text()),
    ]:
        for secret in leaks:
            assert secret not in text, f"a secret is in the {name}"
    for process in (target.backend, target.mcp):
        assert process.proc.poll() is None, f"{process.name} exited"
        errors = [line for line in process.log_text().splitlines() if '"level": "error"' in line]
        assert not errors, f"{process.name} logged errors:\n" + "\n".join(errors[:5])
