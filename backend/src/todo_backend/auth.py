"""Verification of better-auth JWTs against its JWKS (EdDSA by default; RS256, ES256 and the rest too)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from todo_backend.auth_errors import AuthError, KeysUnavailable
from todo_backend.models import USER_ID_MAX
from todo_backend.settings import JWKS_CACHE_SECONDS, JWKS_REFETCH_INTERVAL

log = logging.getLogger(__name__)

# better-auth's JWT plugin offers exactly these (EdDSA by default); never HS* or "none".
ALGORITHMS = ["EdDSA", "ES256", "ES512", "PS256", "RS256"]
# The JWK key type each algorithm needs. PyJWT does not check the pairing itself: an RS256 header
# on an Ed25519 key's kid makes it raise TypeError instead of a token error.
KEY_TYPES = {"EdDSA": "OKP", "ES256": "EC", "ES512": "EC", "PS256": "RSA", "RS256": "RSA"}
# A whole JWKS fetch, however the server trickles its answer; no request waits longer for keys.
FETCH_TIMEOUT = 5.0
# `sub` becomes `user_id`: no longer than its column, and text PostgreSQL can store (no NUL, valid UTF-8).
SUBJECT_MAX = USER_ID_MAX
# Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
LEEWAY = 5
# Verified tokens remembered (a few hundred bytes each). The frontend mints one token per session
# and second (the same claims sign to the same EdDSA token), so a busy replica sees few distinct ones.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    alg: str | None  # the algorithm the key set pins this key to, if it names one


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check, with what its reuse depends on."""

    claims: dict[str, Any]
    kid: str
    key: _Key  # the key object it was verified with: a key set refetched since has other objects
    expires: float  # `exp` + leeway: from then on the token is expired


def _bad_subject(sub: object) -> str | None:
    if not isinstance(sub, str) or not sub:
        return "token has no subject"
    if len(sub) > SUBJECT_MAX or any(unicodedata.category(c) in ("Cc", "Cs") for c in sub):
        return "token subject is not a valid user id"
    return None


class JwksVerifier:
    """Caches the key set; refetches on an unknown `kid`, at most once per `refetch_interval`.

    Concurrent requests that need keys share one fetch (no lock is held across the network), and
    a failed fetch counts against the interval like a successful one, so neither a hanging nor a
    failing JWKS endpoint turns token traffic into a queue or a request flood.

    A token that passed every check is remembered by its exact text, so the signature check (the
    larger part of a small request's cost) runs once per token rather than once per request. A
    remembered token is accepted again only while it has not expired, while the key set is fresh
    and still holds the very key object it was verified with (any refetch replaces them all), so
    it gets the same answer the full check would give; any other text, one changed byte included,
    goes through the full check.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        refetch_interval: float = JWKS_REFETCH_INTERVAL,
        cache_seconds: float = JWKS_CACHE_SECONDS,
        fetch_timeout: float = FETCH_TIMEOUT,
        cache_size: int = VERIFIED_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self.cache_seconds = cache_seconds
        self.fetch_timeout = fetch_timeout
        self._keys: dict[str, _Key] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch started, successful or not
        self._last_failed = False
        self._inflight: asyncio.Task[None] | None = None
        self._verified: dict[str, _Verified] = {}  # insertion order = age: the oldest goes first
        self._cache_size = cache_size
        self._clock = clock

    async def _download(self) -> dict[str, _Key]:
        import httpx  # only a key set fetch needs the HTTP client: not imported at start-up

        async with httpx.AsyncClient(timeout=self.fetch_timeout) as client:
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str, _Key] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict):
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.warning("skipping unusable JWKS key", extra={"kid": entry.get("kid"), "error": str(exc)})
                continue
            alg = entry.get("alg")
            keys[str(entry.get("kid", ""))] = _Key(key, alg if isinstance(alg, str) else None)
        return keys

    async def _refresh(self) -> None:
        try:
            keys = await asyncio.wait_for(self._download(), self.fetch_timeout)
        except Exception as exc:  # any failure (refused, hung, 5xx, not JSON) means: no keys this time
            self._last_failed = True
            log.warning("JWKS fetch failed", extra={"error": type(exc).__name__})
            return
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._last_failed = False

    def _refreshing(self) -> asyncio.Task[None]:
        """The fetch in flight, or a new one."""
        if self._inflight is None:
            self._attempted_at = time.monotonic()
            self._inflight = asyncio.create_task(self._refresh())
            self._inflight.add_done_callback(self._refresh_done)
        return self._inflight

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None

    def _retry_after(self) -> int:
        waited = time.monotonic() - (self._attempted_at or 0.0)
        return max(1, math.ceil(self.refetch_interval - waited))

    async def _key_for(self, kid: str) -> _Key:
        now = time.monotonic()
        fresh = self._fetched_at is not None and now - self._fetched_at <= self.cache_seconds
        if kid in self._keys and fresh:
            return self._keys[kid]
        throttled = self._attempted_at is not None and now - self._attempted_at < self.refetch_interval
        if self._inflight is not None or not throttled:
            # Shielded: a waiter that goes away (client disconnect) must not cancel the others' fetch.
            await asyncio.shield(self._refreshing())
        if kid in self._keys:  # possibly stale: still better than refusing while the endpoint is down
            return self._keys[kid]
        if self._last_failed:
            raise KeysUnavailable(self._retry_after())
        raise AuthError("unknown signing key")

    def _remembered(self, token: str) -> dict[str, Any] | None:
        """The claims of a token verified before, if that verdict still holds; None: check it in full."""
        entry = self._verified.get(token)
        if entry is None:
            return None
        if self._clock() >= entry.expires:
            del self._verified[token]
            raise AuthError("token expired")
        fresh = self._fetched_at is not None and time.monotonic() - self._fetched_at <= self.cache_seconds
        if not fresh or self._keys.get(entry.kid) is not entry.key:
            del self._verified[token]
            return None
        return dict(entry.claims)

    def _remember(self, token: str, claims: dict[str, Any], kid: str, key: _Key) -> None:
        if self._cache_size <= 0:
            return
        while len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = _Verified(claims, kid, key, int(claims["exp"]) + LEEWAY)

    async def verify(self, token: str) -> dict[str, Any]:
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise AuthError("unsupported token algorithm")
        kid = str(header.get("kid", ""))
        key = await self._key_for(kid)
        if key.jwk.key_type != KEY_TYPES[alg] or key.alg not in (None, alg):
            raise AuthError("token algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
                leeway=LEEWAY,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        problem = _bad_subject(claims.get("sub"))
        if problem:
            raise AuthError(problem)
        self._remember(token, claims, kid, key)
        return dict(claims)
