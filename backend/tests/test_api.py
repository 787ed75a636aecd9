"""The REST API through the real ASGI app (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from support import claims_for, free_port, new_key

from todo_backend.api import create_app


def tasks_url(user_id: str, suffix: str = "") -> str:
    return f"/api/{user_id}/tasks{suffix}"


def test_health_needs_no_auth_and_ready_reports_head(api):
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"
    assert ready.headers["x-request-id"]


def test_task_lifecycle(api, user):
    created = api.post(
        tasks_url(user.id), json={"title": "  Buy groceries  ", "description": "milk"}, headers=user.headers
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["title"] == "Buy groceries"
    assert task["description"] == "milk"
    assert task["completed"] is False
    assert task["user_id"] == user.id
    assert set(task) == {"id", "user_id", "title", "description", "completed", "created_at", "updated_at"}

    got = api.get(tasks_url(user.id, f"/{task['id']}"), headers=user.headers)
    assert got.status_code == 200 and got.json() == task

    updated = api.put(
        tasks_url(user.id, f"/{task['id']}"), json={"title": "Buy food", "completed": True}, headers=user.headers
    )
    assert updated.status_code == 200
    assert updated.json()["title"] == "Buy food" and updated.json()["completed"] is True
    assert updated.json()["description"] == "milk"

    cleared = api.put(tasks_url(user.id, f"/{task['id']}"), json={"description": None}, headers=user.headers)
    assert cleared.status_code == 200 and cleared.json()["description"] is None
    assert cleared.json()["title"] == "Buy food" and cleared.json()["completed"] is True
    for bad in ({"title": None}, {"completed": None}, {"title": ""}):
        response = api.put(tasks_url(user.id, f"/{task['id']}"), json=bad, headers=user.headers)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] in bad, response.text

    reopened = api.patch(tasks_url(user.id, f"/{task['id']}/complete"), json={"completed": False}, headers=user.headers)
    assert reopened.status_code == 200 and reopened.json()["completed"] is False
    for _ in range(2):  # idempotent, never a toggle
        done = api.patch(tasks_url(user.id, f"/{task['id']}/complete"), headers=user.headers)
        assert done.status_code == 200 and done.json()["completed"] is True

    deleted = api.delete(tasks_url(user.id, f"/{task['id']}"), headers=user.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(tasks_url(user.id, f"/{task['id']}"), headers=user.headers).status_code == 404
    assert api.delete(tasks_url(user.id, f"/{task['id']}"), headers=user.headers).status_code == 404


def test_list_is_newest_first_and_filters_by_status(api, user):
    ids = []
    for title in ("first", "second", "third"):
        ids.append(api.post(tasks_url(user.id), json={"title": title}, headers=user.headers).json()["id"])
        time.sleep(0.002)
    api.patch(tasks_url(user.id, f"/{ids[1]}/complete"), headers=user.headers)

    def titles(status: str | None) -> list[str]:
        params = {"status": status} if status else {}
        response = api.get(tasks_url(user.id), params=params, headers=user.headers)
        assert response.status_code == 200
        return [t["title"] for t in response.json()]

    assert titles(None) == ["third", "second", "first"]
    listed = api.get(tasks_url(user.id), headers=user.headers).json()
    assert listed[0] == api.get(tasks_url(user.id, f"/{ids[2]}"), headers=user.headers).json()
    assert titles("all") == ["third", "second", "first"]
    assert titles("pending") == ["third", "first"]
    assert titles("completed") == ["second"]
    assert api.get(tasks_url(user.id), params={"status": "bogus"}, headers=user.headers).status_code == 422


def test_the_own_task_list_skips_fastapis_dependencies_and_answers_as_the_route(api, make_user, monkeypatch):
    """The busiest request, a user's own list, is answered before FastAPI's routing and dependency
    solving; every other form of it still goes through the route, which answers the same bytes."""
    import fastapi.routing

    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*args, **kwargs):
        solved.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    user, other = make_user(), make_user()
    ids = [api.post(tasks_url(user.id), json={"title": t}, headers=user.headers).json()["id"] for t in ("one", "two")]
    api.patch(tasks_url(user.id, f"/{ids[0]}/complete"), headers=user.headers)
    solved.clear()
    for query in ("", "?status=all", "?status=pending", "?status=completed"):
        fast = api.get(tasks_url(user.id, query), headers=user.headers)
        assert solved == [], query
        # An extra parameter the lane does not take: the route answers, through the solver.
        routed = api.get(tasks_url(user.id, f"{query or '?'}&unused=1"), headers=user.headers)
        assert solved == [tasks_url(user.id)], query
        solved.clear()
        assert (fast.status_code, fast.content) == (routed.status_code, routed.content) == (200, routed.content)
        assert {k: v for k, v in fast.headers.items() if k != "x-request-id"} == {
            k: v for k, v in routed.headers.items() if k != "x-request-id"
        }
        assert len(fast.json()) == {"": 2, "?status=all": 2}.get(query, 1)
    # Everything else is the route's: another user's path, a bad filter, HEAD, no or a bad token.
    assert api.get(tasks_url(user.id), headers=other.headers).status_code == 403
    assert api.get(tasks_url(user.id, "?status=bogus"), headers=user.headers).status_code == 422
    assert api.head(tasks_url(user.id), headers=user.headers).status_code == 405
    assert api.get(tasks_url(user.id)).status_code == 401
    assert api.get(tasks_url(user.id), headers={"Authorization": "Bearer x.y.z"}).status_code == 401


def test_users_never_see_each_other(api, make_user):
    alice, bob = make_user(), make_user()
    task = api.post(tasks_url(alice.id), json={"title": "alice only"}, headers=alice.headers).json()
    assert api.get(tasks_url(bob.id), headers=bob.headers).json() == []
    # Bob addressing Alice's task under his own path: 404, never a hint that it exists.
    for method, suffix, body in [
        ("GET", f"/{task['id']}", None),
        ("PUT", f"/{task['id']}", {"title": "hijacked"}),
        ("PATCH", f"/{task['id']}/complete", {}),
        ("DELETE", f"/{task['id']}", None),
    ]:
        response = api.request(method, tasks_url(bob.id, suffix), json=body, headers=bob.headers)
        assert response.status_code == 404, (method, response.text)
    # Bob on Alice's path: 403.
    assert api.get(tasks_url(alice.id), headers=bob.headers).status_code == 403
    assert api.delete(f"/api/{alice.id}", headers=bob.headers).status_code == 403
    still = api.get(tasks_url(alice.id, f"/{task['id']}"), headers=alice.headers).json()
    assert still["title"] == "alice only" and still["completed"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"title": "ok", "description": "d" * 2001}, "description"),
        ({"title": "nul\x00byte"}, "title"),
    ],
)
def test_create_validation_names_the_field(api, user, body, field):
    response = api.post(tasks_url(user.id), json=body, headers=user.headers)
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()


def test_title_limits_after_trimming(api, user):
    ok = api.post(tasks_url(user.id), json={"title": " " + "x" * 200 + " "}, headers=user.headers)
    assert ok.status_code == 201 and len(ok.json()["title"]) == 200
    task_id = ok.json()["id"]
    assert api.put(tasks_url(user.id, f"/{task_id}"), json={"title": " "}, headers=user.headers).status_code == 422
    assert api.get(tasks_url(user.id, "/0"), headers=user.headers).status_code == 422
    assert api.get(tasks_url(user.id, "/99999999999"), headers=user.headers).status_code == 422
    assert api.get(tasks_url(user.id, "/2147483647"), headers=user.headers).status_code == 404


def test_delete_account_removes_everything(api, make_user):
    user, other = make_user(), make_user()
    api.post(tasks_url(user.id), json={"title": "a"}, headers=user.headers)
    api.post(tasks_url(other.id), json={"title": "b"}, headers=other.headers)
    chat = api.post(f"/api/{user.id}/chat", json={"message": "Add a task to leave"}, headers=user.headers)
    assert chat.status_code == 200, chat.text
    assert api.delete(f"/api/{user.id}", headers=user.headers).status_code == 204
    assert api.get(tasks_url(user.id), headers=user.headers).json() == []
    assert api.get(f"/api/{user.id}/conversations", headers=user.headers).json() == []
    cid = chat.json()["conversation_id"]
    assert api.get(f"/api/{user.id}/conversations/{cid}/messages", headers=user.headers).status_code == 404
    assert [t["title"] for t in api.get(tasks_url(other.id), headers=other.headers).json()] == ["b"]


@pytest.mark.parametrize("alg", ["EdDSA", "RS256", "ES256", "ES512", "PS256"])
def test_accepted_algorithms(api, make_user, alg):
    user = make_user(alg)
    assert api.get(tasks_url(user.id), headers=user.headers).status_code == 200


def test_unauthenticated_requests_are_401(api, user, signing_keys):
    key = signing_keys["EdDSA"]
    url = tasks_url(user.id)
    impostor = new_key("EdDSA", key.kid)  # same kid, different key: bad signature
    cases = {
        "no header": {},
        "not bearer": {"Authorization": f"Basic {user.token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {key.sign(claims_for(user.id, exp=int(time.time()) - 60))}"},
        "wrong audience": {"Authorization": f"Bearer {key.sign(claims_for(user.id, aud='http://elsewhere'))}"},
        "wrong issuer": {"Authorization": f"Bearer {key.sign(claims_for(user.id, iss='http://evil'))}"},
        "no exp": {"Authorization": f"Bearer {key.sign(claims_for(user.id, exp=None))}"},
        "bad signature": {"Authorization": f"Bearer {impostor.sign(claims_for(user.id))}"},
        "unknown kid": {"Authorization": f"Bearer {new_key('EdDSA', 'kid-nobody').sign(claims_for(user.id))}"},
        "alg none": {"Authorization": "Bearer " + _unsigned(user.id, key.kid)},
        "HS256 with the public key as secret": {"Authorization": "Bearer " + _hs256(user.id, key)},
        # An accepted algorithm on a key of another type (PyJWT would raise TypeError).
        "RS256 header on an Ed25519 key": {"Authorization": "Bearer " + _signed_as(user.id, "RS256", key.kid)},
        "ES256 header on an RSA key": {"Authorization": "Bearer " + _signed_as(user.id, "ES256", "kid-rs256")},
        "EdDSA header on an EC key": {"Authorization": "Bearer " + _signed_as(user.id, "EdDSA", "kid-es256")},
        "PS256 header on a key pinned to RS256": {
            "Authorization": "Bearer " + _signed_as(user.id, "PS256", "kid-rs256")
        },
    }
    for name, headers in cases.items():
        response = api.get(url, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert response.headers.get("www-authenticate") == "Bearer", name
        assert "detail" in response.json()


def _signed_as(sub: str, alg: str, kid: str) -> str:
    return new_key(alg, kid).sign(claims_for(sub))


@pytest.mark.parametrize(
    "sub",
    ["nul\x00byte", "new\nline", "tab\tbed", "del\x7f", "x" * 256],
    ids=["NUL", "newline", "tab", "DEL", "256 chars"],
)
def test_subject_must_be_a_plain_user_id(api, signing_keys, sub):
    # The path carries the same bytes, so without the check the value would reach the database
    # (PostgreSQL refuses NUL in text: a DataError, i.e. a 500).
    token = signing_keys["EdDSA"].sign(claims_for(sub))
    response = api.get(tasks_url(quote(sub, safe="")), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "invalid token: token subject is not a valid user id"


def test_subject_of_255_printable_characters_is_fine(api, signing_keys):
    sub = "é-" * 127 + "x"
    token = signing_keys["EdDSA"].sign(claims_for(sub))
    response = api.get(tasks_url(quote(sub, safe="")), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json() == []


def test_token_is_checked_before_the_body_is_parsed(api, user):
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}):
        for body in (b'{"title": ', b"\xff\xfe not json", b"[" * 100_000):
            response = api.post(
                tasks_url(user.id), content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert response.status_code == 401, (headers, body[:20], response.text)


def test_unhandled_errors_are_json_500s_that_say_nothing(database_url, jwks):
    app = create_app(make_settings(database_url, jwks, "http://127.0.0.1:9/mcp"))
    secret = "connection-secret-in-an-exception-text"

    @app.get("/fail")
    def fail() -> None:
        raise RuntimeError(secret)

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fail")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "internal server error"}
    assert secret not in response.text and "Traceback" not in response.text


def test_api_docs_only_with_api_docs_set(database_url, jwks, monkeypatch):
    paths = ("/docs", "/redoc", "/openapi.json")
    with TestClient(create_app(make_settings(database_url, jwks, ""))) as client:
        assert [client.get(path).status_code for path in paths] == [404, 404, 404]
    monkeypatch.setenv("API_DOCS", "1")
    with TestClient(create_app(make_settings(database_url, jwks, ""))) as client:
        assert [client.get(path).status_code for path in paths] == [200, 200, 200]
        assert "/api/{user_id}/tasks" in client.get("/openapi.json").json()["paths"]


def test_fastapis_telemetry_asks_no_provider_per_request_unless_asked_for(database_url, jwks, monkeypatch):
    """This service configures no OpenTelemetry: requests do not consult the global providers
    (FastAPI's check costs a percent of the task list), unless FastAPI's own switch turns it on."""
    from opentelemetry import trace

    asked: list[object] = []
    real = trace.get_tracer_provider

    def counting():
        asked.append(None)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    with TestClient(create_app(make_settings(database_url, jwks, ""))) as client:
        asked.clear()
        assert client.get("/health").status_code == 200
        assert asked == []
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    with TestClient(create_app(make_settings(database_url, jwks, ""))) as client:
        asked.clear()
        assert client.get("/health").status_code == 200
        assert asked


def test_database_down_is_503_json_and_health_stays_up(jwks, user):
    nowhere = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/todo"
    with TestClient(create_app(make_settings(nowhere, jwks, "")), raise_server_exceptions=False) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 503
        for method, url, body in [
            ("GET", tasks_url(user.id), None),
            ("POST", tasks_url(user.id), {"title": "x"}),
            ("POST", f"/api/{user.id}/chat", {"message": "show my tasks"}),
        ]:
            response = client.request(method, url, json=body, headers=user.headers)
            assert response.status_code == 503, (method, url, response.text)
            assert response.headers["retry-after"]
            assert "database" in response.json()["detail"] and "hunter2" not in response.text


def _unsigned(sub: str, kid: str) -> str:
    import jwt

    return jwt.encode(claims_for(sub), None, algorithm="none", headers={"kid": kid})


def _hs256(sub: str, key) -> str:
    # The classic algorithm-confusion attack: HMAC keyed with the published public key.
    import jwt

    secret = key.public_jwk()["x"].encode()  # PyJWT refuses PEM/JWK-looking HMAC keys
    return jwt.encode(claims_for(sub), secret, algorithm="HS256", headers={"kid": key.kid})


def test_jwks_is_cached_and_refetched_for_a_new_kid(api, jwks, make_user):
    user = make_user()
    assert api.get(tasks_url(user.id), headers=user.headers).status_code == 200
    before = jwks.fetches
    for _ in range(3):
        assert api.get(tasks_url(user.id), headers=user.headers).status_code == 200
    assert jwks.fetches == before, "known kid must come from the cache"

    rotated = new_key("EdDSA", f"kid-rotated-{time.time_ns()}")
    jwks.keys.append(rotated)
    try:
        time.sleep(0.6)  # past the test's refetch interval
        token = rotated.sign(claims_for(user.id))
        response = api.get(tasks_url(user.id), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert jwks.fetches == before + 1

        # A burst of unknown kids refetches at most once per interval (0.5 s in these tests);
        # bounded by the burst's own duration so a slow machine cannot make this flaky.
        time.sleep(0.6)
        stranger = new_key("EdDSA", "kid-unknown-burst")
        bad = {"Authorization": f"Bearer {stranger.sign(claims_for(user.id))}"}
        burst_started = time.monotonic()
        for _ in range(10):
            assert api.get(tasks_url(user.id), headers=bad).status_code == 401
        allowed = 1 + int((time.monotonic() - burst_started) / 0.5)
        assert 1 <= jwks.fetches - (before + 1) <= min(allowed, 9)
    finally:
        jwks.keys.remove(rotated)


def test_not_found_is_one_404_body_on_every_route(api, make_user):
    alice, bob = make_user(), make_user()
    task = api.post(tasks_url(alice.id), json={"title": "alice only"}, headers=alice.headers).json()["id"]
    chat = api.post(f"/api/{alice.id}/chat", json={"message": "show my tasks"}, headers=alice.headers).json()
    conversation = chat["conversation_id"]
    for method, url, body, detail in [
        ("GET", tasks_url(bob.id, f"/{task}"), None, f"Task {task} not found"),
        ("PUT", tasks_url(bob.id, f"/{task}"), {"title": "x"}, f"Task {task} not found"),
        ("DELETE", tasks_url(bob.id, f"/{task}"), None, f"Task {task} not found"),
        ("PATCH", tasks_url(bob.id, f"/{task}/complete"), None, f"Task {task} not found"),
        ("GET", f"/api/{bob.id}/conversations/{conversation}/messages", None, f"Conversation {conversation} not found"),
        (
            "POST",
            f"/api/{bob.id}/chat",
            {"conversation_id": conversation, "message": "hi"},
            f"Conversation {conversation} not found",
        ),
    ]:
        response = api.request(method, url, json=body, headers=bob.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.headers["content-type"] == "application/json", (method, url)
        assert response.json() == {"detail": detail}, (method, url)


def test_conversations_404_for_other_users(api, make_user):
    alice, bob = make_user(), make_user()
    chat = api.post(f"/api/{alice.id}/chat", json={"message": "show my tasks"}, headers=alice.headers).json()
    cid = chat["conversation_id"]
    assert api.get(f"/api/{bob.id}/conversations/{cid}/messages", headers=bob.headers).status_code == 404
    foreign = api.post(f"/api/{bob.id}/chat", json={"conversation_id": cid, "message": "hi"}, headers=bob.headers)
    assert foreign.status_code == 404
    assert api.post(f"/api/{bob.id}/chat", json={"message": ""}, headers=bob.headers).status_code == 422
    too_long = api.post(f"/api/{bob.id}/chat", json={"message": "x" * 4001}, headers=bob.headers)
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"][-1] == "message"
