"""What runs before a route reads anything: the bearer token check and the body size limit.

Plus the one JSON answer for an unhandled error, shared by the backend and the MCP server, and the
backend's answer while the database is unreachable.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_backend.auth_errors import AuthError, KeysUnavailable

log = logging.getLogger(__name__)

# The largest request body either service reads. The biggest legitimate one, a task with a
# 2,000-character description or a 4,000-character chat message, is a few kilobytes.
MAX_BODY_BYTES = 1024 * 1024


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class BearerAuthMiddleware:
    """Verifies `Authorization: Bearer <jwt>` for every path under `prefix` before the app runs.

    A bad or missing token is a 401 whatever the body is, and not one byte of an unauthenticated
    body is read or parsed. The verified `sub` is left in the request state for the routes' check
    that the path's user is the token's.
    """

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _unauthorized("missing bearer token")(scope, receive, send)
            return
        try:
            claims = await scope["app"].state.verifier.verify(token.strip())
        except AuthError as exc:
            await _unauthorized(f"invalid token: {exc}")(scope, receive, send)
            return
        except KeysUnavailable as exc:
            response = JSONResponse(
                {"detail": "the signing keys cannot be fetched right now; try again shortly"},
                status_code=503,
                headers={"Retry-After": str(exc.retry_after)},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["subject"] = claims["sub"]
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a request body over `max_bytes`.

    A declared Content-Length is checked before a byte is read; a body without one (chunked) is
    counted as the app reads it and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"request body larger than {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        # (Too many digits for int() is too large as well.)
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.max_bytes):
            await self._respond(self._too_large(), scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI passes an HTTPException raised while reading the body on to its
                    # handler, which answers the 413 as JSON.
                    raise self._too_large()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._respond(exc, scope, receive, send)

    @staticmethod
    async def _respond(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, receive, send)


async def json_server_error(_request: Request, _exc: Exception) -> Response:
    """Every unhandled error: a JSON 500 that says nothing about the cause (the log has it)."""
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def database_unavailable(exc: Exception) -> JSONResponse:
    """The database cannot be reached right now (down, restarting, pool exhausted): a 503 to retry."""
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"}, status_code=503, headers={"Retry-After": "2"}
    )
