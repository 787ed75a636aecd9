"""How a bearer token check fails, apart from the JWT machinery in `auth.py`.

The MCP server shares the request guards with the backend but checks no JWTs: importing these
from here keeps PyJWT, httpx and cryptography's X.509 modules out of its start-up.
"""

from __future__ import annotations


class AuthError(Exception):
    """The token is missing or not acceptable (always a 401; the reason is safe to show)."""


class KeysUnavailable(Exception):
    """No signing key could be had (the JWKS endpoint is failing): the token may be fine (a 503)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("signing keys unavailable")
        self.retry_after = retry_after
