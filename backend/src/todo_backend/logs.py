"""JSON-lines logging with a per-request id. Nothing here ever formats headers or tokens."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


# `json.dumps(entry, default=str)`, without building a new encoder for every line.
_encode_entry = json.JSONEncoder(default=str).encode
_quote = encode_basestring_ascii  # a str as json.dumps writes it (ASCII only, JSON's escapes)


def _scalar(value: object) -> str | None:
    """`value` as json.dumps writes it, for the types a line mostly holds; None for any other type."""
    kind = type(value)
    if kind is str:
        return _quote(value)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(value)  # type: ignore[arg-type]
    if kind is float:
        return _float(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return None


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, byte for byte `json.dumps(entry, default=str)`.

    An access line is written for every request, so the common case is written by hand: keys and
    values that are strings, numbers, booleans or None, each as json.dumps writes it. A line with
    any other value goes through json.dumps itself.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        parts = []
        for key, value in entry.items():
            text = _scalar(value)
            if text is None:
                return _encode_entry(entry)
            parts.append(f"{_quote(key)}: {text}")
        return "{" + ", ".join(parts) + "}"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the lines logged on an event loop in batches, at most `delay` seconds late.

    Under load every request logs its access line, and a write per line costs the process a
    system call and whoever reads the other end of stderr (a container runtime's log copier)
    a wake-up: together more than a cheap request itself. Lines logged on the event loop are
    held until `delay` has passed or `max_lines` are waiting, then written in one go, in order.
    A warning or worse, and any line logged outside the loop (worker threads, start-up, exit),
    writes what is waiting and itself at once; whatever is still waiting at exit is written by
    `logging.shutdown`.
    """

    def __init__(self, stream: TextIO, delay: float = 0.05, max_lines: int = 256) -> None:
        super().__init__(stream)
        self.delay = delay
        self.max_lines = max_lines
        self._waiting: list[str] = []
        self._timer_loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            self._waiting.append(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING or len(self._waiting) >= self.max_lines:
                self.flush()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            if self._timer_loop is not loop:
                self._timer_loop = loop
                loop.call_later(self.delay, self.flush)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._timer_loop = None
            if self._waiting and self.stream:
                waiting, self._waiting = "".join(self._waiting), []
                self.stream.write(waiting)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()


def configure_logging(level: str = "info", *, batch: bool = False) -> None:
    """JSON lines on stderr; `batch` (the backend's server) writes them with `BatchingStreamHandler`."""
    handler = BatchingStreamHandler(sys.stderr) if batch else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The lines never show the caller's file and line, nor the thread or process: skip collecting
    # them for every record (the stack walk alone is a good part of an access line's cost). These
    # are the switches the logging HOWTO's "Optimization" section names.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Our own access line (below) replaces uvicorn's.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # alembic would log its set-up on every /ready probe; httpx logs full URLs at INFO.
    for noisy in ("httpx", "httpx2", "httpcore", "mcp", "openai", "agents", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def uvicorn_log_config() -> dict[str, object]:
    """Keep uvicorn from installing its own plain-text handlers over ours."""
    return {"version": 1, "disable_existing_loggers": False}


class RequestIdMiddleware:
    """Pure ASGI (no buffering, so MCP's streaming responses pass through untouched)."""

    def __init__(self, app: ASGIApp, logger_name: str = "access") -> None:
        self.app = app
        self.log = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        # A fresh id: 32 random hex digits (uuid4's hex without building a UUID object).
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope.get("path") not in ("/health", "/ready"):
                self.log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            request_id_var.reset(token)
