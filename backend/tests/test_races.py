"""Concurrent writes to one task through a live server: the loser gets a 404, never a 500 or a second 204."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
from sqlalchemy import select

from todo_backend import tasks
from todo_backend.db import Database
from todo_backend.models import Conversation

ROUNDS = 25


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20)) as client:
        yield client


def race(calls: list[Callable[[], httpx.Response]]) -> list[int]:
    """Run the calls at the same moment (as far as threads allow); their status codes, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> int:
        barrier.wait()
        return call().status_code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_write_is_committed_before_its_answer(live_backend, http, user):
    base = f"{live_backend.url}/api/{user.id}/tasks"
    for round_ in range(ROUNDS):
        task = http.post(base, json={"title": f"visible {round_}"}, headers=user.headers).json()
        assert http.get(f"{base}/{task['id']}", headers=user.headers).status_code == 200, round_
        assert http.delete(f"{base}/{task['id']}", headers=user.headers).status_code == 204
        assert http.get(f"{base}/{task['id']}", headers=user.headers).status_code == 404, round_


def test_update_and_deletes_racing_on_one_task(live_backend, http, user):
    base = f"{live_backend.url}/api/{user.id}/tasks"
    for round_ in range(ROUNDS):
        task = http.post(base, json={"title": f"race {round_}"}, headers=user.headers).json()
        url = f"{base}/{task['id']}"
        put, patch, delete_a, delete_b = race(
            [
                partial(http.put, url, json={"title": "renamed", "completed": True}, headers=user.headers),
                partial(http.patch, f"{url}/complete", headers=user.headers),
                partial(http.delete, url, headers=user.headers),
                partial(http.delete, url, headers=user.headers),
            ]
        )
        assert sorted([delete_a, delete_b]) == [204, 404], (round_, put, patch, delete_a, delete_b)
        assert put in (200, 404) and patch in (200, 404), (round_, put, patch, delete_a, delete_b)
        assert http.get(url, headers=user.headers).status_code == 404
    assert http.get(base, headers=user.headers).json() == []


def test_message_for_a_conversation_deleted_meanwhile_is_not_found(database_url):
    # The interleaving of a chat turn that loaded its conversation with an account deletion that
    # removed it before the reply was stored, replayed step by step on two sessions.
    db = Database(database_url)
    try:
        with db.session() as session:
            conversation_id = tasks.create_conversation(session, "race-user").id
        with db.session() as turn:
            conversation = tasks.get_conversation(turn, "race-user", conversation_id)
            with db.session() as deletion:
                tasks.delete_user_data(deletion, "race-user")
            with pytest.raises(tasks.NotFound):
                tasks.add_message(turn, "race-user", conversation, "assistant", "too late")
        with db.session() as session:
            assert session.scalar(select(Conversation).where(Conversation.id == conversation_id)) is None
    finally:
        db.dispose()
