"""Verification of better-auth JWTs against its JWKS (EdDSA by default; RS256, ES256 and the rest too)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

# better-auth's JWT plugin offers exactly these (EdDSA by default); never HS* or "none".
ALGORITHMS = ["EdDSA", "ES256", "ES512", "PS256", "RS256"]


class AuthError(Exception):
    """The token is missing or not acceptable (always a 401; the reason is safe to show)."""


class JwksVerifier:
    """Caches the key set; refetches on an unknown `kid`, at most once per `refetch_interval`."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        refetch_interval: float = 10.0,
        cache_seconds: float = 3600.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self.cache_seconds = cache_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.warning("skipping unusable JWKS key", extra={"kid": entry.get("kid"), "error": str(exc)})
                continue
            keys[str(entry.get("kid", ""))] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > self.cache_seconds
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            now = time.monotonic()
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self.refetch_interval
            stale = self._fetched_at is None or now - self._fetched_at > self.cache_seconds
            if (kid not in self._keys or stale) and may_refetch:
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("JWKS fetch failed", extra={"error": type(exc).__name__})
                    if kid not in self._keys:
                        raise AuthError("signing keys unavailable") from exc
        if kid not in self._keys:
            raise AuthError("unknown signing key")
        return self._keys[kid]

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("unsupported token algorithm")
        key = await self._key_for(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AuthError("token has no subject")
        return claims
