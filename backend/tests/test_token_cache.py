"""The verifier remembers tokens it has verified, and that never changes a verdict.

A remembered token skips the signature check; it is still refused once expired, after its key
left the key set, or when one byte of it differs. Per-user isolation is checked on a live app
with tokens the cache already holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from support import AUDIENCE, ISSUER, JwksServer, claims_for, new_key

from todo_backend import auth
from todo_backend.auth import AuthError, JwksVerifier


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys():
    return [new_key("EdDSA", "cache-a"), new_key("EdDSA", "cache-b")]


@pytest.fixture
def server(keys) -> Iterator[JwksServer]:
    jwks = JwksServer(keys[:1])
    yield jwks
    jwks.close()


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every token that reaches PyJWT's signature check."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return seen


def make_verifier(server: JwksServer, clock: Clock | None = None, **kwargs: Any) -> JwksVerifier:
    return JwksVerifier(
        server.url, issuer=ISSUER, audience=AUDIENCE, refetch_interval=0, clock=clock or time.time, **kwargs
    )


def run(coro):
    return asyncio.run(coro)


def test_a_verified_token_is_not_checked_again(server, keys, decodes):
    verifier = make_verifier(server)
    token = keys[0].sign(claims_for("alice"))

    async def twice():
        return await verifier.verify(token), await verifier.verify(token)

    first, second = run(twice())
    assert first["sub"] == second["sub"] == "alice"
    assert decodes == [token]
    assert server.fetches == 1


def test_a_remembered_token_is_refused_once_expired(server, keys, decodes):
    clock = Clock()
    verifier = make_verifier(server, clock)
    exp = int(clock.now) + 60
    token = keys[0].sign(claims_for("alice", exp=exp))

    async def scenario():
        assert (await verifier.verify(token))["sub"] == "alice"
        clock.now = exp + auth.LEEWAY - 1  # within the leeway PyJWT allows: still valid
        assert (await verifier.verify(token))["sub"] == "alice"
        clock.now = exp + auth.LEEWAY
        with pytest.raises(AuthError, match="expired"):
            await verifier.verify(token)

    run(scenario())
    assert decodes == [token]  # the later verdicts came from the cache, the last one too


def test_changed_bytes_of_a_remembered_token_are_refused(server, keys, decodes):
    verifier = make_verifier(server)
    token = keys[0].sign(claims_for("alice"))
    header, payload, signature = token.split(".")
    # Another user's claims under alice's signature, and alice's claims with a changed signature.
    forged_payload = keys[0].sign(claims_for("mallory")).split(".")[1]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forgeries = [f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{flipped}", token + "x"]

    async def scenario():
        await verifier.verify(token)
        for forged in forgeries:
            with pytest.raises(AuthError):
                await verifier.verify(forged)
        assert (await verifier.verify(token))["sub"] == "alice"

    run(scenario())
    assert decodes.count(token) == 1


def test_a_remembered_token_goes_when_its_key_leaves_the_key_set(server, keys, decodes):
    verifier = make_verifier(server)
    old = keys[0].sign(claims_for("alice"))
    new = keys[1].sign(claims_for("alice"))

    async def scenario():
        await verifier.verify(old)
        server.keys = keys[1:]  # the key set rotated: only the new key is published
        await verifier.verify(new)  # unknown kid: the key set is fetched again
        with pytest.raises(AuthError, match="unknown signing key"):
            await verifier.verify(old)

    run(scenario())
    assert server.fetches >= 2


def test_a_stale_key_set_is_fetched_again_before_a_remembered_token_counts(server, keys, decodes):
    verifier = make_verifier(server, cache_seconds=0.2)
    token = keys[0].sign(claims_for("alice"))

    async def scenario():
        await verifier.verify(token)
        await asyncio.sleep(0.3)
        await verifier.verify(token)

    run(scenario())
    assert server.fetches == 2
    assert decodes == [token, token]


def test_the_cache_is_bounded(server, keys):
    verifier = make_verifier(server, cache_size=3)

    async def scenario():
        for index in range(10):
            await verifier.verify(keys[0].sign(claims_for(f"user-{index}")))

    run(scenario())
    assert len(verifier._verified) == 3


def test_remembered_tokens_keep_users_apart(api, make_user):
    alice, bob = make_user(), make_user()
    for user in (alice, bob):  # both tokens verified once, so both are remembered now
        assert api.get(f"/api/{user.id}/tasks", headers=user.headers).status_code == 200
    assert api.post(f"/api/{alice.id}/tasks", json={"title": "alice's"}, headers=alice.headers).status_code == 201
    for _ in range(2):
        assert api.get(f"/api/{alice.id}/tasks", headers=bob.headers).status_code == 403
        assert api.post(f"/api/{alice.id}/tasks", json={"title": "x"}, headers=bob.headers).status_code == 403
        assert api.get(f"/api/{bob.id}/tasks", headers=bob.headers).json() == []
        assert [t["title"] for t in api.get(f"/api/{alice.id}/tasks", headers=alice.headers).json()] == ["alice's"]
