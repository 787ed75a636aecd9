"""The backend's one MCP client, used by both agents.

It sends the service token and sets `user_id` from the verified JWT on every call,
overwriting anything an agent produced; the schemas it shows to a model omit `user_id`.
"""

from __future__ import annotations

import copy
import json
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from todo_backend.logs import request_id_var
from todo_backend.settings import MCP_TIMEOUT_SECONDS

log = logging.getLogger(__name__)


class McpUnavailable(RuntimeError):
    """The MCP server could not be reached or failed at the protocol level."""


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    result: Any
    is_error: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


def model_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's input schema as a model may see it: without `user_id`."""
    schema = copy.deepcopy(input_schema)
    schema.get("properties", {}).pop("user_id", None)
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name != "user_id"]
    return schema


@dataclass
class UserMcpSession:
    """An open MCP connection bound to one user; records every call it makes."""

    user_id: str
    client: Any
    calls: list[ToolCall] = field(default_factory=list)

    async def tools(self) -> list[ToolSpec]:
        try:
            listing = await self.client.list_tools()
        except Exception as exc:
            raise McpUnavailable(f"listing MCP tools failed: {type(exc).__name__}") from exc
        return [ToolSpec(t.name, t.description or "", model_schema(dict(t.input_schema))) for t in listing.tools]

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> ToolCall:
        sent = {k: v for k, v in (arguments or {}).items() if k != "user_id"}
        sent = {"user_id": self.user_id, **sent}
        try:
            result = await self.client.call_tool(name, sent)
        except Exception as exc:
            raise McpUnavailable(f"MCP call {name} failed: {type(exc).__name__}") from exc
        text = "".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            payload: Any = {"error": text or f"{name} failed"}
        else:
            try:
                payload = json.loads(text)
            except ValueError:
                payload = text
        call = ToolCall(name=name, arguments=sent, result=payload, is_error=bool(result.is_error))
        self.calls.append(call)
        return call


class McpConnector:
    """Opens MCP sessions to the server, one per chat turn, over one shared HTTP client.

    Creating an HTTP client builds a TLS context (the CA bundle loaded and parsed), about 40 ms
    of CPU, more than the rest of a chat turn; the shared one is made once, keeps connections to
    the MCP server alive between turns, and is closed with `aclose` when the app stops. Each turn
    still gets its own MCP session; the request id of the turn's request goes on every HTTP request
    it makes, so one id ties the backend's and the MCP server's log lines together.
    """

    def __init__(self, url: str, token: str, timeout: float = MCP_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._http: Any = None

    def _client(self) -> Any:
        if self._http is None:
            # Imported here: the MCP client pulls in a lot, and /health must start fast.
            import httpx2

            self._http = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=httpx2.Timeout(self.timeout, connect=5.0),
                event_hooks={"request": [_send_request_id]},
            )
        return self._http

    async def open(self, stack: AsyncExitStack, user_id: str) -> UserMcpSession:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        try:
            client = await stack.enter_async_context(
                Client(streamable_http_client(self.url, http_client=self._client()), read_timeout_seconds=self.timeout)
            )
        except Exception as exc:
            raise McpUnavailable(f"cannot reach the MCP server: {type(exc).__name__}") from exc
        return UserMcpSession(user_id=user_id, client=client)

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()


async def _send_request_id(request: Any) -> None:
    # The MCP transport's tasks start inside the turn's request, so they see its request id.
    request_id = request_id_var.get()
    if request_id:
        request.headers["X-Request-ID"] = request_id
