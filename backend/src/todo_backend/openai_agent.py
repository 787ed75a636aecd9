"""The OpenAI Agents SDK path, used when OPENAI_API_KEY is set.

Imported lazily by `chat.py`, so the backend starts (and `todo-mcp` runs) without the `agent`
extra. The model sees the MCP server's tools with `user_id` removed from their schemas; every
call goes through `UserMcpSession.call`, which sets the verified user's id.
"""

from __future__ import annotations

import json
from typing import Any

from todo_backend.mcp_client import McpUnavailable, UserMcpSession
from todo_backend.settings import Settings

INSTRUCTIONS = (
    "You are a helpful assistant that manages the user's todo list through the provided tools. "
    "Use list_tasks to find a task's id when the user names a task by its title; if several tasks "
    "match, ask which one instead of acting. Confirm what you did in one or two short sentences."
)


class AgentUnavailable(RuntimeError):
    """The language model could not be used (missing extra, unreachable, or failing)."""


def _import_sdk() -> Any:
    try:
        import agents
        import openai
    except ImportError as exc:
        raise AgentUnavailable(
            "OPENAI_API_KEY is set but the OpenAI Agents SDK is not installed; "
            "install the backend with its `agent` extra (uv sync --extra agent)"
        ) from exc
    return agents, openai


async def run_openai_agent(settings: Settings, mcp: UserMcpSession, history: list[dict[str, str]], message: str) -> str:
    agents, openai = _import_sdk()
    agents.set_tracing_disabled(not settings.openai_tracing)

    client = openai.AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url or None,
        max_retries=1,
        timeout=60.0,
    )
    if settings.openai_base_url:
        # Other OpenAI-compatible endpoints generally speak Chat Completions only.
        model = agents.OpenAIChatCompletionsModel(model=settings.openai_model, openai_client=client)
    else:
        model = agents.OpenAIResponsesModel(model=settings.openai_model, openai_client=client)

    def make_tool(spec: Any) -> Any:
        async def invoke(_ctx: Any, raw_arguments: str) -> str:
            try:
                arguments = json.loads(raw_arguments or "{}")
            except ValueError:
                return "Error: the arguments were not valid JSON"
            if not isinstance(arguments, dict):
                return "Error: the arguments must be a JSON object"
            call = await mcp.call(spec.name, arguments)
            return json.dumps(call.result)

        return agents.FunctionTool(
            name=spec.name,
            description=spec.description,
            params_json_schema=spec.parameters,
            on_invoke_tool=invoke,
            strict_json_schema=False,
        )

    tools = [make_tool(spec) for spec in await mcp.tools()]
    agent = agents.Agent(name="Todo assistant", instructions=INSTRUCTIONS, tools=tools, model=model)
    items: list[dict[str, str]] = [{"role": m["role"], "content": m["content"]} for m in history]
    items.append({"role": "user", "content": message})
    try:
        result = await agents.Runner.run(
            agent,
            items,
            max_turns=10,
            run_config=agents.RunConfig(tracing_disabled=not settings.openai_tracing),
        )
    except McpUnavailable:
        raise
    except (openai.OpenAIError, agents.exceptions.AgentsException) as exc:
        raise AgentUnavailable(f"the language model failed: {type(exc).__name__}") from exc
    return str(result.final_output or "")
