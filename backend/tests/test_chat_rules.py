"""The chat cycle with the built-in rule-based agent, through a live MCP server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from conftest import backend_env, make_settings
from fastapi.testclient import TestClient
from support import free_port, start_process

from todo_backend.api import create_app

SEED = [("Buy groceries", False), ("Team meeting", False), ("Pay bills", True)]
S0 = set(SEED)


@dataclass
class Row:
    message: str
    calls: list[tuple[str, dict]]  # tool name and a subset of its arguments (without user_id)
    state: set[tuple[str, bool]] = field(default_factory=lambda: set(S0))
    reply_contains: str = ""
    descriptions: dict[str, str] = field(default_factory=dict)


def replaced(old: str, new: tuple[str, bool] | None) -> set[tuple[str, bool]]:
    rest = {t for t in S0 if t[0] != old}
    return rest | ({new} if new else set())


ROWS = [
    # The contract's eight messages.
    Row("Add a task to buy groceries", [("add_task", {"title": "buy groceries"})], S0 | {("buy groceries", False)}),
    Row("I need to remember to pay bills", [("add_task", {"title": "pay bills"})], S0 | {("pay bills", False)}),
    Row("Show me all my tasks", [("list_tasks", {"status": "all"})], reply_contains="Team meeting"),
    Row("What's pending?", [("list_tasks", {"status": "pending"})], reply_contains="Buy groceries"),
    Row("What have I completed?", [("list_tasks", {"status": "completed"})], reply_contains="Pay bills"),
    Row(
        "Mark task {A} as complete",
        [("complete_task", {"task_id": "A"})],
        replaced("Buy groceries", ("Buy groceries", True)),
    ),
    Row(
        "Delete the meeting task",
        [("list_tasks", {}), ("delete_task", {"task_id": "B"})],
        replaced("Team meeting", None),
    ),
    Row(
        "Change task {A} to 'Call mom tonight'",
        [("update_task", {"task_id": "A", "title": "Call mom tonight"})],
        replaced("Buy groceries", ("Call mom tonight", False)),
    ),
    # Other phrasings that act.
    Row("please add 'Walk the dog'.", [("add_task", {"title": "Walk the dog"})], S0 | {("Walk the dog", False)}),
    Row(
        "Remind me to water the plants!",
        [("add_task", {"title": "water the plants"})],
        S0 | {("water the plants", False)},
    ),
    Row("new task: renew passport", [("add_task", {"title": "renew passport"})], S0 | {("renew passport", False)}),
    Row("TODO: book flights", [("add_task", {"title": "book flights"})], S0 | {("book flights", False)}),
    Row(
        "Could you create a todo called Email Bob?", [("add_task", {"title": "Email Bob"})], S0 | {("Email Bob", False)}
    ),
    Row(
        "add a task to buy eggs with description free range",
        [("add_task", {"title": "buy eggs", "description": "free range"})],
        S0 | {("buy eggs", False)},
        descriptions={"buy eggs": "free range"},
    ),
    Row("list my tasks", [("list_tasks", {"status": "all"})]),
    Row("What is left?", [("list_tasks", {"status": "pending"})]),
    Row("which tasks are done?", [("list_tasks", {"status": "completed"})]),
    Row("SHOW ME ALL MY TASKS!!!", [("list_tasks", {"status": "all"})]),
    Row("my todo list", [("list_tasks", {"status": "all"})]),
    Row(
        "complete task #{A}", [("complete_task", {"task_id": "A"})], replaced("Buy groceries", ("Buy groceries", True))
    ),
    Row(
        "Finish task {A} please",
        [("complete_task", {"task_id": "A"})],
        replaced("Buy groceries", ("Buy groceries", True)),
    ),
    Row(
        "I finished task {A}", [("complete_task", {"task_id": "A"})], replaced("Buy groceries", ("Buy groceries", True))
    ),
    Row("task {A} is done", [("complete_task", {"task_id": "A"})], replaced("Buy groceries", ("Buy groceries", True))),
    Row(
        "mark the groceries task as done",
        [("list_tasks", {}), ("complete_task", {"task_id": "A"})],
        replaced("Buy groceries", ("Buy groceries", True)),
    ),
    Row("remove task #{B}", [("delete_task", {"task_id": "B"})], replaced("Team meeting", None)),
    Row(
        "get rid of the 'pay bills' task",
        [("list_tasks", {}), ("delete_task", {"task_id": "C"})],
        replaced("Pay bills", None),
    ),
    Row(
        'Delete "TEAM MEETING"', [("list_tasks", {}), ("delete_task", {"task_id": "B"})], replaced("Team meeting", None)
    ),
    Row(
        "rename task {B} to Standup",
        [("update_task", {"task_id": "B", "title": "Standup"})],
        replaced("Team meeting", ("Standup", False)),
    ),
    Row(
        "update task {A} description to organic only",
        [("update_task", {"task_id": "A", "description": "organic only"})],
        descriptions={"Buy groceries": "organic only"},
    ),
    Row("Mark task {C} as complete", [("complete_task", {"task_id": "C"})]),  # already done: stays done
    Row("Mark task 2147483000 as complete", [("complete_task", {"task_id": 2147483000})], reply_contains="not found"),
    Row("delete the dentist task", [("list_tasks", {})], reply_contains="couldn't find"),
    # Ids no task can have: a plain answer, no tool call that would echo a schema error.
    Row("Mark task 9999999999 as complete", [], reply_contains="Task 9999999999 not found"),
    Row("Delete task 0", [], reply_contains="Task 0 not found"),
    Row("change task 0000000000 to x", [], reply_contains="Task 0 not found"),
    Row(f"Add a task to {'x' * 201}", [("add_task", {})], reply_contains="Invalid title: must be at most 200"),
    # Messages that only mention tasks, or that it must not act on: no tool calls, no change.
    Row("I have so many tasks today", [], reply_contains="I can help"),
    Row("my boss gave me a task", []),
    Row("Deleting tasks is fun", []),
    Row("task {A} was hard", []),
    Row("hello", [], reply_contains="Add a task"),
    Row("what is the weather like?", []),
    Row("delete all tasks", []),
    Row("mark task {A} as not complete", []),
    Row("Add a task", [], reply_contains="What should the task say"),
]


# What a validator's error text looks like; replies are written for people and never contain it.
INTERNALS = re.compile(r"validation error|input should|type=|pydantic|error executing tool|traceback", re.IGNORECASE)


def seed(api, user) -> dict[str, int]:
    ids = {}
    for key, (title, done) in zip("ABC", SEED, strict=True):
        task = api.post(f"/api/{user.id}/tasks", json={"title": title}, headers=user.headers).json()
        if done:
            api.patch(f"/api/{user.id}/tasks/{task['id']}/complete", headers=user.headers)
        ids[key] = task["id"]
    return ids


def state(api, user) -> list[dict]:
    return api.get(f"/api/{user.id}/tasks", headers=user.headers).json()


@pytest.mark.parametrize("row", ROWS, ids=[r.message[:40] for r in ROWS])
def test_phrasing_table(api, user, row: Row):
    ids = seed(api, user)
    message = row.message.format(**ids)
    response = api.post(f"/api/{user.id}/chat", json={"message": message}, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"].strip()
    assert not INTERNALS.search(body["response"]), body["response"]
    got = [(c["name"], c["arguments"]) for c in body["tool_calls"]]
    assert [name for name, _ in got] == [name for name, _ in row.calls], (message, body)
    for (_, arguments), (_, expected) in zip(got, row.calls, strict=True):
        assert arguments["user_id"] == user.id
        for key, value in expected.items():
            assert arguments[key] == (ids[value] if isinstance(value, str) and value in ids else value), (
                message,
                arguments,
            )
    for call in body["tool_calls"]:
        assert "result" in call
    tasks = state(api, user)
    assert {(t["title"], t["completed"]) for t in tasks} == row.state, (message, body["response"])
    for title, description in row.descriptions.items():
        assert next(t for t in tasks if t["title"] == title)["description"] == description
    if row.reply_contains:
        assert row.reply_contains.lower() in body["response"].lower(), body["response"]


def test_parsing_is_linear_in_the_message_length():
    # A quadratic pattern takes minutes on these (4,000 commas took a second of event-loop time);
    # linear parsing takes well under a second. Run apart so a regression is killed, not waited for.
    code = (
        "from todo_backend.rule_agent import parse\n"
        "n = 100_000\n"
        "for text in (',' * n, ', ' * (n // 2), 'remind me to ' + ', ' * (n // 2), 'add x' + ',' * n + ' please',\n"
        "             'x' + ' please' * (n // 7), 'change ' + \"' \" * (n // 2), 'add ' + 'with ' * (n // 5)):\n"
        "    parse(text)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr


def test_comma_flood_gets_the_help_text(api, user):
    response = api.post(f"/api/{user.id}/chat", json={"message": "," * 4000}, headers=user.headers)
    assert response.status_code == 200 and response.json()["tool_calls"] == []
    assert "I can help" in response.json()["response"]


def test_ambiguous_title_asks_instead_of_acting(api, user):
    first = api.post(f"/api/{user.id}/tasks", json={"title": "Team meeting"}, headers=user.headers).json()
    second = api.post(f"/api/{user.id}/tasks", json={"title": "Meeting notes"}, headers=user.headers).json()
    body = api.post(f"/api/{user.id}/chat", json={"message": "Delete the meeting task"}, headers=user.headers).json()
    assert [c["name"] for c in body["tool_calls"]] == ["list_tasks"]
    assert "which one" in body["response"].lower()
    assert f"#{first['id']}" in body["response"] and f"#{second['id']}" in body["response"]
    assert len(state(api, user)) == 2
    follow_up = api.post(
        f"/api/{user.id}/chat",
        json={"conversation_id": body["conversation_id"], "message": f"delete task {second['id']}"},
        headers=user.headers,
    ).json()
    assert [c["name"] for c in follow_up["tool_calls"]] == ["delete_task"]
    assert [t["title"] for t in state(api, user)] == ["Team meeting"]


def test_answering_the_ambiguity_question(api, user):
    for title in ("Call mom", "Call dentist", "Call plumber"):
        api.post(f"/api/{user.id}/tasks", json={"title": title}, headers=user.headers)

    def say(message: str, cid: int | None = None) -> dict:
        payload = {"message": message, **({"conversation_id": cid} if cid else {})}
        return api.post(f"/api/{user.id}/chat", json=payload, headers=user.headers).json()

    asked = say("finish the call task")
    assert "which one should i complete" in asked["response"].lower()
    # Listed newest first: plumber, dentist, mom.
    answer = say("the second one", asked["conversation_id"])
    assert [(c["name"], c["result"]["title"]) for c in answer["tool_calls"]] == [("complete_task", "Call dentist")]
    # Without a pending question, a bare ordinal does nothing.
    assert say("the second one", asked["conversation_id"])["tool_calls"] == []
    assert {t["title"] for t in state(api, user) if t["completed"]} == {"Call dentist"}


def test_history_persists_across_requests_and_conversations(api, user):
    first = api.post(f"/api/{user.id}/chat", json={"message": "Add a task to buy milk"}, headers=user.headers).json()
    cid = first["conversation_id"]
    second = api.post(
        f"/api/{user.id}/chat", json={"conversation_id": cid, "message": "show my tasks"}, headers=user.headers
    ).json()
    assert second["conversation_id"] == cid
    assert "buy milk" in second["response"]
    other = api.post(f"/api/{user.id}/chat", json={"message": "hello"}, headers=user.headers).json()
    assert other["conversation_id"] != cid

    messages = api.get(f"/api/{user.id}/conversations/{cid}/messages", headers=user.headers).json()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "Add a task to buy milk" and messages[0]["tool_calls"] is None
    assert messages[1]["tool_calls"][0]["name"] == "add_task"
    assert messages[1]["tool_calls"][0]["result"]["status"] == "created"
    assert messages[3]["content"] == second["response"]
    conversations = api.get(f"/api/{user.id}/conversations", headers=user.headers).json()
    assert {c["id"] for c in conversations} == {cid, other["conversation_id"]}
    assert set(conversations[0]) == {"id", "created_at", "updated_at"}
    assert conversations[0]["id"] == other["conversation_id"]  # most recently updated first


def test_mcp_outage_is_503_and_keeps_the_message(database_url, jwks, user):
    settings = make_settings(database_url, jwks, f"http://127.0.0.1:{free_port()}/mcp", mcp_timeout_seconds=3)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            f"/api/{user.id}/chat", json={"message": "Add a task to test outages"}, headers=user.headers
        )
        assert response.status_code == 503, response.text
        assert "unavailable" in response.json()["detail"]
        cid = response.json()["conversation_id"]
        messages = client.get(f"/api/{user.id}/conversations/{cid}/messages", headers=user.headers).json()
        assert [(m["role"], m["content"]) for m in messages] == [("user", "Add a task to test outages")]


def test_two_backend_processes_answer_alternate_turns(database_url, jwks, mcp_server, user, log_dir):
    env = backend_env(database_url, jwks.url, f"{mcp_server.url}/mcp")
    with ThreadPoolExecutor(max_workers=2) as pool:
        backends = list(pool.map(lambda _: start_process("todo-backend", ["serve"], env, log_dir), range(2)))
    try:
        import httpx

        def say(index: int, message: str, cid: int | None) -> dict:
            payload = {"message": message, **({"conversation_id": cid} if cid else {})}
            response = httpx.post(
                f"{backends[index].url}/api/{user.id}/chat", json=payload, headers=user.headers, timeout=30
            )
            assert response.status_code == 200, response.text
            return response.json()

        marker = f"trace-{user.id}"
        response = httpx.post(
            f"{backends[0].url}/api/{user.id}/chat",
            json={"message": "Add a task to call the bank"},
            headers={**user.headers, "X-Request-ID": marker},
            timeout=30,
        )
        assert response.status_code == 200 and response.headers["x-request-id"] == marker
        turn1 = response.json()
        cid = turn1["conversation_id"]
        task_id = turn1["tool_calls"][0]["result"]["task_id"]
        turn2 = say(1, "What's pending?", cid)
        assert "call the bank" in turn2["response"]
        turn3 = say(0, f"Mark task {task_id} as complete", cid)
        assert turn3["tool_calls"][0]["result"]["status"] == "completed"
        turn4 = say(1, "What have I completed?", cid)
        assert "call the bank" in turn4["response"]
        messages = httpx.get(
            f"{backends[1].url}/api/{user.id}/conversations/{cid}/messages", headers=user.headers, timeout=10
        ).json()
        assert len(messages) == 8 and [m["role"] for m in messages] == ["user", "assistant"] * 4
        for backend in backends:
            log = backend.log_text()
            assert user.token not in log and "Bearer" not in log
            entries = [json.loads(line) for line in log.splitlines() if line.strip()]
            assert all({"ts", "level", "msg"} <= set(entry) for entry in entries)
        # The request id travels from the backend to the MCP server's log lines.
        mcp_lines = [json.loads(line) for line in mcp_server.log_text().splitlines() if line.strip()]
        assert any(entry.get("request_id") == marker for entry in mcp_lines)
    finally:
        for backend in backends:
            backend.stop()


def test_chat_turns_share_one_http_client_and_keep_their_own_request_ids(
    database_url, jwks, mcp_server, make_user, monkeypatch
):
    """Building an HTTP client (its TLS context) cost more CPU than the rest of a turn: one per app.

    Concurrent turns on that one client still send the MCP server each its own request id."""
    import httpx2

    created = []
    real = httpx2.AsyncClient

    def counting(*args, **kwargs):
        created.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx2, "AsyncClient", counting)
    settings = make_settings(database_url, jwks, f"{mcp_server.url}/mcp")
    users = [make_user() for _ in range(4)]
    markers = [f"turn-{index}-{user.id}" for index, user in enumerate(users)]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:

        def turn(index: int) -> dict:
            user = users[index]
            response = client.post(
                f"/api/{user.id}/chat",
                json={"message": f"Add a task to call person {index}"},
                headers={**user.headers, "X-Request-ID": markers[index]},
            )
            assert response.status_code == 200, response.text
            return response.json()

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(turn, range(4)))
        for index in range(4):  # a second round on the same client
            turn(index)
    assert len(created) == 1
    for index, result in enumerate(results):
        assert result["tool_calls"][0]["result"]["status"] == "created"
    lines = [json.loads(line) for line in mcp_server.log_text().splitlines() if line.strip()]
    for marker in markers:
        mine = [entry for entry in lines if entry.get("request_id") == marker]
        assert mine, f"no MCP log line with request id {marker}"
        assert all(entry.get("status", 200) == 200 for entry in mine)
