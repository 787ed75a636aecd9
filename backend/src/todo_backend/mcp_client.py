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
    def __init__(self, url: str, token: str, timeout: float = 15.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout

    async def open(self, stack: AsyncExitStack, user_id: str) -> UserMcpSession:
        # Imported here: the MCP client pulls in a lot, and /health must start fast.
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        headers = {"Authorization": f"Bearer {self.token}"}
        request_id = request_id_var.get()
        if request_id:
            headers["X-Request-ID"] = request_id  # one id across the backend's and the MCP server's logs
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=headers,
                timeout=httpx2.Timeout(self.timeout, connect=5.0),
            )
        )
        try:
            client = await stack.enter_async_context(
                Client(streamable_http_client(self.url, http_client=http), read_timeout_seconds=self.timeout)
            )
        except Exception as exc:
            raise McpUnavailable(f"cannot reach the MCP server: {type(exc).__name__}") from exc
        return UserMcpSession(user_id=user_id, client=client)
