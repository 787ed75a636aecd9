"""Request bodies against a live `todo-backend serve`: the token first, then at most 1 MiB, never read past it.

Raw sockets, because an HTTP client neither declares a length it does not send nor reads a
response before it has finished sending.
"""

from __future__ import annotations

import json

from support import chunked, raw_http

MIB = 1024 * 1024


def post_head(path: str, headers: dict[str, str]) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def test_unauthenticated_huge_body_is_401_without_reading_it(live_backend, user):
    # 200 MB declared, 64 KiB sent: answering at all proves the body was not waited for.
    for auth in ({}, {"Authorization": "Bearer not.a.jwt"}):
        head = post_head(f"/api/{user.id}/tasks", {**auth, "Content-Length": str(200 * 1000 * 1000)})
        response = raw_http(live_backend.port, head, [b"a" * 65536], timeout=10)
        assert response.status == 401, response
        assert json.loads(response.body)["detail"]


def test_declared_length_over_the_limit_is_413_before_reading(live_backend, user):
    head = post_head(f"/api/{user.id}/tasks", {**user.headers, "Content-Length": str(2 * MIB)})
    response = raw_http(live_backend.port, head, [], timeout=10)
    assert response.status == 413, response
    assert "detail" in json.loads(response.body)


def test_chunked_body_is_counted_and_cut_off_at_the_limit(live_backend, user):
    # Valid JSON that the route would accept (extra keys are ignored) were it not 2 MiB long.
    head = post_head(f"/api/{user.id}/tasks", {**user.headers, "Transfer-Encoding": "chunked"})
    body = chunked(2 * MIB, prefix=b'{"title": "flood", "padding": "', suffix=b'"}')
    response = raw_http(live_backend.port, head, body, timeout=20)
    assert response.status == 413, response
    assert "detail" in json.loads(response.body)


def test_bodies_under_the_limit_still_work(live_backend, user):
    padding = "a" * (MIB - 1000)
    payload = json.dumps({"title": "just under", "padding": padding}).encode()
    head = post_head(f"/api/{user.id}/tasks", {**user.headers, "Content-Length": str(len(payload))})
    response = raw_http(live_backend.port, head, [payload], timeout=20)
    assert response.status == 201, response
    assert json.loads(response.body)["title"] == "just under"
    head = post_head(f"/api/{user.id}/tasks", {**user.headers, "Transfer-Encoding": "chunked"})
    body = chunked(MIB - 1000, prefix=b'{"title": "chunked", "padding": "', suffix=b'"}')
    response = raw_http(live_backend.port, head, body, timeout=20)
    assert response.status == 201, response
