"""The OpenAI Agents SDK path against a scripted OpenAI-compatible server on loopback.

The real openai client and the real MCP server are used; nothing inside the app is patched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from support import ScriptedOpenAI, free_port

from todo_backend.api import create_app

pytest.importorskip("agents", reason="the `agent` extra is not installed")


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def steps(*replies: dict[str, Any]):
    """Reply number n once the conversation holds n tool results."""

    def script(request: dict[str, Any]) -> dict[str, Any]:
        done = sum(1 for m in request["messages"] if m["role"] == "tool")
        return replies[min(done, len(replies) - 1)]

    return script


def llm_client(database_url, jwks, mcp_server, base_url: str) -> TestClient:
    settings = make_settings(
        database_url,
        jwks,
        f"{mcp_server.url}/mcp",
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=base_url,
        openai_model="scripted-model",
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_model_cannot_reach_another_users_data(api, database_url, jwks, mcp_server, make_user):
    caller, victim = make_user(), make_user()
    mine = api.post(f"/api/{caller.id}/tasks", json={"title": "caller task"}, headers=caller.headers).json()
    theirs = api.post(f"/api/{victim.id}/tasks", json={"title": "victim secret"}, headers=victim.headers).json()

    model = ScriptedOpenAI(
        steps(
            {"content": None, "tool_calls": [tool_call("c1", "list_tasks", {"user_id": victim.id, "status": "all"})]},
            {
                "content": None,
                "tool_calls": [tool_call("c2", "delete_task", {"user_id": victim.id, "task_id": theirs["id"]})],
            },
            {"content": None, "tool_calls": [tool_call("c3", "add_task", {"user_id": victim.id, "title": "planted"})]},
            {"content": None, "tool_calls": [tool_call("c4", "complete_task", {"task_id": mine["id"]})]},
            {"content": "All done."},
        )
    )
    try:
        with llm_client(database_url, jwks, mcp_server, model.base_url) as client:
            response = client.post(f"/api/{caller.id}/chat", json={"message": "Tidy up"}, headers=caller.headers)
    finally:
        model.close()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "All done."
    assert [c["name"] for c in body["tool_calls"]] == ["list_tasks", "delete_task", "add_task", "complete_task"]
    assert all(c["arguments"]["user_id"] == caller.id for c in body["tool_calls"])
    assert body["tool_calls"][0]["result"] == [{"id": mine["id"], "title": "caller task", "completed": False}]
    assert "not found" in body["tool_calls"][1]["result"]["error"]

    # What the model was shown: the five tools, none with a user_id parameter, and no victim data.
    first = model.requests[0]
    assert first["model"] == "scripted-model"
    shown = {t["function"]["name"]: t["function"]["parameters"] for t in first["tools"]}
    assert set(shown) == {"add_task", "list_tasks", "complete_task", "delete_task", "update_task"}
    for parameters in shown.values():
        assert "user_id" not in parameters.get("properties", {})
        assert "user_id" not in parameters.get("required", [])
    assert "victim secret" not in json.dumps(model.requests)

    victim_tasks = api.get(f"/api/{victim.id}/tasks", headers=victim.headers).json()
    assert [(t["title"], t["completed"]) for t in victim_tasks] == [("victim secret", False)]
    caller_tasks = api.get(f"/api/{caller.id}/tasks", headers=caller.headers).json()
    assert {(t["title"], t["completed"]) for t in caller_tasks} == {("caller task", True), ("planted", False)}


def test_history_reaches_the_model(database_url, jwks, mcp_server, api, user):
    model = ScriptedOpenAI(lambda request: {"content": f"turn {len(model.requests)}"})
    try:
        with llm_client(database_url, jwks, mcp_server, model.base_url) as client:
            first = client.post(
                f"/api/{user.id}/chat", json={"message": "remember the word kiwi"}, headers=user.headers
            ).json()
            second = client.post(
                f"/api/{user.id}/chat",
                json={"conversation_id": first["conversation_id"], "message": "what was the word?"},
                headers=user.headers,
            ).json()
    finally:
        model.close()
    assert first["response"] == "turn 1" and second["response"] == "turn 2"
    assert second["tool_calls"] == []
    sent = [(m["role"], m["content"]) for m in model.requests[1]["messages"] if m["role"] != "system"]
    assert sent == [("user", "remember the word kiwi"), ("assistant", "turn 1"), ("user", "what was the word?")]


def test_model_outage_is_502_and_keeps_the_message(database_url, jwks, mcp_server, user):
    with llm_client(database_url, jwks, mcp_server, f"http://127.0.0.1:{free_port()}/v1") as client:
        response = client.post(f"/api/{user.id}/chat", json={"message": "add a task"}, headers=user.headers)
        assert response.status_code == 502, response.text
        assert "assistant is unavailable" in response.json()["detail"]
        cid = response.json()["conversation_id"]
        messages = client.get(f"/api/{user.id}/conversations/{cid}/messages", headers=user.headers).json()
        assert [(m["role"], m["content"]) for m in messages] == [("user", "add a task")]


def test_missing_agent_extra_is_a_clear_error():
    code = (
        "import sys; sys.modules['agents'] = None\n"
        "from todo_backend.openai_agent import AgentUnavailable, _import_sdk\n"
        "try:\n    _import_sdk()\nexcept AgentUnavailable as exc:\n    print(exc); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--extra agent" in result.stdout
