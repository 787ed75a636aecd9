"""The built-in agent used when no OPENAI_API_KEY is set.

It understands imperative requests about tasks (many phrasings of add / list / complete /
delete / update), acts only through the MCP tools, asks instead of acting when a title matches
several tasks, and does nothing on messages that merely mention tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from todo_backend.mcp_client import UserMcpSession
from todo_backend.tasks import ID_MAX

HELP = (
    "I can help you manage your tasks. Try:\n"
    '- "Add a task to buy groceries"\n'
    '- "Show me all my tasks" / "What\'s pending?" / "What have I completed?"\n'
    '- "Mark task 3 as complete"\n'
    '- "Delete the meeting task" or "Delete task 2"\n'
    "- \"Change task 1 to 'Call mom tonight'\""
)

_F = re.IGNORECASE
_LEADING = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|um|uh|well|now|please|pls|plz|kindly|can you|could you|"
    r"would you|will you|can u|could u|i want you to|i'd like you to|i would like you to|"
    r"go ahead and|just|quickly|also|and|then)\b[\s,:]*)+",
    _F,
)
# Courtesies stripped from the end of a message. Not a regex: `(?:[\s,]*\bplease\b)+$` retries the
# comma run from every starting position, which is quadratic on a message of commas.
_TRAILING_WORDS = ("please", "pls", "plz", "thanks", "thank you", "for me", "now")
_NOUN = r"(?:task|todo|to-do|to do|item|reminder)"
_REF = r"(?:(?:the\s+)?(?:task|todo|to-do|item)\s*(?:number\s*|no\.?\s*|#\s*)?|#\s*|number\s+)(\d{1,10})"
_DONE = r"(?:complete|completed|done|finished|finish)"
_QUOTED = re.compile(r"""^\s*["'“”‘’`](.+)["'“”‘’`]\s*$""")

UPDATE_BY_ID = re.compile(
    rf"^(?:change|rename|update|edit|modify|set|retitle)\s+(?:the\s+)?"
    rf"(?:(title|name|description|details|text)\s+(?:of|for)\s+)?{_REF}"
    rf"(?:'s)?\s*(title|name|description|details|text)?\s*(?:to\s+say|to\s+be|to|:|->|=|as|with)\s*(.+)$",
    _F,
)
UPDATE_BY_TITLE = re.compile(
    rf"""^(?:change|rename|update|edit|modify)\s+(?:the\s+)?(?:{_NOUN}\s+(?:called|named)?\s*)?"""
    rf"""(["'“‘`].+?["'”’`]|.+?\s+{_NOUN})\s+(?:to\s+say|to\s+be|to|->|as)\s+(.+)$""",
    _F,
)
COMPLETE_BY_ID = [
    re.compile(rf"^(?:mark|set|flag|check|tick)\s+(?:off\s+)?{_REF}\s+(?:off\s+)?(?:as\s+)?(?:being\s+)?{_DONE}?$", _F),
    re.compile(rf"^(?:complete|finish|close|check off|tick off|cross off|do)\s+{_REF}$", _F),
    re.compile(
        rf"^(?:i\s+)?(?:(?:have|'ve)\s+)?(?:just\s+)?(?:finished|completed|done with|did|am done with)\s+{_REF}$", _F
    ),
    re.compile(rf"^(?:i'm|i am)\s+done\s+with\s+{_REF}$", _F),
    re.compile(rf"^{_REF}\s+(?:is\s+)?(?:now\s+)?{_DONE}$", _F),
]
COMPLETE_BY_TITLE = [
    re.compile(rf"^(?:mark|set|flag)\s+(?:the\s+)?(.+?)\s+(?:as\s+)?(?:being\s+)?{_DONE}$", _F),
    re.compile(r"^(?:complete|finish|check off|tick off|cross off)\s+(?:the\s+)?(.+?)$", _F),
]
DELETE_VERBS = r"(?:delete|remove|cancel|drop|erase|trash|discard|scratch|get rid of|throw away)"
DELETE_BY_ID = re.compile(rf"^{DELETE_VERBS}\s+{_REF}(?:\s+from\s+(?:my\s+)?(?:list|tasks|todo list))?$", _F)
DELETE_BY_TITLE = re.compile(
    rf"^{DELETE_VERBS}\s+(?:the\s+)?(?:{_NOUN}\s+(?:called|named|titled|about|for)\s+)?(.+?)"
    rf"(?:\s+from\s+(?:my\s+)?(?:list|tasks|todo list|to-do list))?$",
    _F,
)
LIST_START = re.compile(
    r"^(?:show|list|display|view|see|get|give|tell|print|what(?:'s|s|’s| is| are| do| have| did)?|which|"
    r"do i have|have i|how many|let me see|read|check)\b",
    _F,
)
LIST_OBJECT = re.compile(
    r"\b(?:tasks?|todos?|to-dos?|to do|list|items|pending|completed|complete|done|finished|left|"
    r"remaining|outstanding|open|unfinished|incomplete|agenda)\b",
    _F,
)
LIST_BARE = re.compile(
    r"^(?:my\s+)?(?:(all|pending|completed|open|done|finished|incomplete|unfinished)\s+)?"
    r"(?:tasks|todos|to-dos|todo list|to-do list|task list)$",
    _F,
)
PENDING_WORDS = re.compile(
    r"\b(?:pending|incomplete|unfinished|outstanding|open|remaining|left|not (?:yet )?(?:done|completed|finished)|"
    r"still (?:need|have) to|to do|to-do)\b",
    _F,
)
COMPLETED_WORDS = re.compile(r"\b(?:completed|complete|done|finished|accomplished|checked off)\b", _F)
ADD_COMMAND = re.compile(
    rf"^(?:add|create|make|insert|put|jot down|note down|write down|save|log|new)\s+"
    rf"(?:(?:a|an|one|another)\s+)?(?:new\s+)?(?:{_NOUN}s?\b)?\s*"
    rf"(?:(?:to|called|named|titled|for|that says|saying|about)\b|:|-)?\s*(.*?)"
    rf"(?:\s+(?:to|on|in)\s+(?:my\s+|the\s+)?(?:task list|todo list|to-do list|list|tasks|todos))?$",
    _F,
)
ADD_REMEMBER = re.compile(
    r"^(?:remind me to|remember to|(?:i\s+)?(?:need|have|want|must|should|got|gotta)\s+(?:to\s+)?remember\s+to|"
    r"(?:please\s+)?don'?t let me forget to|don'?t forget to|note to self:?|i must not forget to|"
    r"i shouldn'?t forget to|make sure i|remind me that i need to)\s+(.+)$",
    _F,
)
ADD_LABELLED = re.compile(r"^(?:todo|to-do|task|new task|new todo|reminder)\s*:\s*(.+)$", _F)
BULK = re.compile(r"^(?:all|every|everything|each)\b", _F)
NEGATED = re.compile(r"\b(?:not|un-?complete|incomplete|undone|unfinished)\b", _F)
WITH_DESCRIPTION = re.compile(
    r"^(.+?)\s*(?:,\s*)?(?:with (?:the )?(?:description|details|note)|description:|details:)\s*:?\s*(.+)$", _F
)


def _strip_trailing_courtesies(text: str) -> str:
    """`text` without trailing "please", "thanks", ... and the commas and spaces around them."""
    end = len(text)
    while True:
        while end and text[end - 1] in " ,":
            end -= 1
        for word in _TRAILING_WORDS:
            start = end - len(word)
            before = text[start - 1] if start > 0 else " "
            if start >= 0 and text[start:end].lower() == word and not (before.isalnum() or before == "_"):
                end = start
                break
        else:
            return text[:end]


def normalize(message: str) -> str:
    text = re.sub(r"\s+", " ", message).strip()
    text = _LEADING.sub("", text).strip()
    text = text.rstrip(" .!?")
    text = _strip_trailing_courtesies(text).strip().rstrip(" .!?,")
    return text


def unquote(text: str) -> str:
    text = text.strip().rstrip(" .!?")
    match = _QUOTED.match(text)
    return match.group(1).strip() if match else text


def title_query(raw: str) -> str:
    text = unquote(raw)
    text = re.sub(r"^(?:the|my|a)\s+", "", text, flags=_F)
    text = re.sub(rf"^{_NOUN}\s+(?:called|named|titled|about|for)?\s*", "", text, flags=_F)
    text = re.sub(rf"\s+{_NOUN}$", "", text, flags=_F)
    return unquote(text)


@dataclass
class Intent:
    action: str  # add | list | complete | delete | update
    task_id: int | None = None
    query: str | None = None
    title: str | None = None
    description: str | None = None
    status: str = "all"


def parse(message: str) -> Intent | None:
    text = normalize(message)
    if not text:
        return None

    match = UPDATE_BY_ID.match(text)
    if match:
        field_before, task_id, field_after, value = match.groups()
        field = (field_before or field_after or "title").lower()
        value = unquote(value)
        if field in ("description", "details", "text"):
            return Intent("update", task_id=int(task_id), description=value)
        return Intent("update", task_id=int(task_id), title=value)
    match = UPDATE_BY_TITLE.match(text)
    if match:
        return Intent("update", query=title_query(match.group(1)), title=unquote(match.group(2)))

    for pattern in COMPLETE_BY_ID:
        match = pattern.match(text)
        if match:
            return Intent("complete", task_id=int(match.group(1)))
    match = DELETE_BY_ID.match(text)
    if match:
        return Intent("delete", task_id=int(match.group(1)))

    match = DELETE_BY_TITLE.match(text)
    if match:
        query = title_query(match.group(1))
        if BULK.match(query):
            return None
        if query:
            return Intent("delete", query=query)
    for pattern in COMPLETE_BY_TITLE:
        match = pattern.match(text)
        if match:
            query = title_query(match.group(1))
            if NEGATED.search(text) or BULK.match(query) or not query:
                return None
            return Intent("complete", query=query)

    if (LIST_START.match(text) and LIST_OBJECT.search(text) and not re.search(r"\ba\s+task\b", text, _F)) or (
        LIST_BARE.match(text)
    ):
        status = "all"
        if re.search(r"\ball\b", text, _F) and not re.search(
            r"\ball\s+(?:the\s+)?(?:pending|completed|done)", text, _F
        ):
            status = "all"
        elif PENDING_WORDS.search(text) or re.search(r"\bnot\b", text, _F):
            status = "pending"
        elif COMPLETED_WORDS.search(text):
            status = "completed"
        return Intent("list", status=status)

    match = ADD_REMEMBER.match(text) or ADD_LABELLED.match(text) or ADD_COMMAND.match(text)
    if match:
        raw = match.group(1).strip()
        description = None
        described = WITH_DESCRIPTION.match(raw)
        if described:
            raw, description = described.group(1), unquote(described.group(2))
        return Intent("add", title=unquote(raw), description=description)
    return None


def _task_line(task: dict[str, Any]) -> str:
    mark = "done" if task.get("completed") else "pending"
    return f"- #{task['id']} {task['title']} ({mark})"


# Tool errors whose text is written for people; anything else (a schema violation's validator
# output, a crash) is replaced by a plain sentence instead of being shown to the user.
_PLAIN_ERROR = re.compile(r"Task \d+ not found|Invalid (?:title|description): [^\n]+|The task database is [^\n]+")


def _error_text(call_result: Any) -> str:
    message = str(call_result.get("error", "")) if isinstance(call_result, dict) else str(call_result)
    found = _PLAIN_ERROR.search(message)
    return found.group(0) if found else "the task service could not do that"


def find_matches(tasks: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    wanted = query.casefold().strip()
    exact = [t for t in tasks if t["title"].casefold().strip() == wanted]
    if exact:
        return exact
    contains = [t for t in tasks if wanted in t["title"].casefold()]
    if contains:
        return contains
    words = [w for w in re.findall(r"\w+", wanted) if len(w) > 2]
    if not words:
        return []
    return [t for t in tasks if all(w in t["title"].casefold() for w in words)]


FOLLOW_UP = re.compile(
    r"^(?:(?:task|number|no\.?)\s*)?#?\s*(\d{1,10})$|^(?:the\s+)?(first|second|third|fourth|fifth|last)(?:\s+one)?$",
    _F,
)
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
QUESTION = re.compile(r"Which one should I (complete|delete)\?")


def follow_up(message: str, history: list[dict[str, str]]) -> Intent | None:
    """An answer ("task 7", "the second one") to the question asked after an ambiguous title.

    The question and its numbered choices are in the stored history, so this works on any replica.
    """
    last = next((m["content"] for m in reversed(history) if m["role"] == "assistant"), "")
    question = QUESTION.search(last)
    answer = FOLLOW_UP.match(normalize(message))
    if not question or not answer:
        return None
    choices = [int(n) for n in re.findall(r"^- #(\d+) ", last, re.MULTILINE)]
    if answer.group(1):
        task_id = int(answer.group(1))
    else:
        index = ORDINALS[answer.group(2).lower()]
        if index >= len(choices):
            return None
        task_id = choices[index]
    return Intent(question.group(1), task_id=task_id)


def understand(message: str, history: list[dict[str, str]]) -> Intent | None:
    return parse(message) or follow_up(message, history)


async def run_rule_agent(mcp: UserMcpSession, message: str, history: list[dict[str, str]] | None = None) -> str:
    # Pure CPU work on user input: in a worker thread, so one long message never stalls the event loop.
    intent = await anyio.to_thread.run_sync(understand, message, history or [])
    if intent is None:
        return HELP
    if intent.task_id is not None and not 1 <= intent.task_id <= ID_MAX:
        # No such id can exist; asking the tool would only echo its schema error back.
        return f"I couldn't {intent.action} that: Task {intent.task_id} not found."

    if intent.action == "add":
        if not intent.title:
            return 'What should the task say? For example: "Add a task to buy groceries".'
        arguments: dict[str, Any] = {"title": intent.title}
        if intent.description:
            arguments["description"] = intent.description
        call = await mcp.call("add_task", arguments)
        if call.is_error:
            return f"I couldn't add that task: {_error_text(call.result)}"
        return f"Added task #{call.result['task_id']}: {call.result['title']}"

    if intent.action == "list":
        call = await mcp.call("list_tasks", {"status": intent.status})
        if call.is_error:
            return f"I couldn't list your tasks: {_error_text(call.result)}"
        items = call.result
        label = {"all": "", "pending": "pending ", "completed": "completed "}[intent.status]
        if not items:
            return f"You have no {label}tasks."
        noun = "task" if len(items) == 1 else "tasks"
        return f"You have {len(items)} {label}{noun}:\n" + "\n".join(_task_line(t) for t in items)

    task_id = intent.task_id
    if task_id is None:
        listing = await mcp.call("list_tasks", {"status": "all"})
        if listing.is_error:
            return f"I couldn't look up your tasks: {_error_text(listing.result)}"
        matches = find_matches(listing.result, intent.query or "")
        if not matches:
            return f'I couldn\'t find a task matching "{intent.query}".'
        if len(matches) > 1:
            verb = {"complete": "complete", "delete": "delete", "update": "change"}[intent.action]
            lines = "\n".join(_task_line(t) for t in matches)
            return (
                f'Several tasks match "{intent.query}":\n{lines}\n'
                f'Which one should I {verb}? Tell me its number, e.g. "{verb} task {matches[0]["id"]}".'
            )
        task_id = matches[0]["id"]

    if intent.action == "complete":
        call = await mcp.call("complete_task", {"task_id": task_id})
        if call.is_error:
            return f"I couldn't complete that: {_error_text(call.result)}."
        return f"Marked task #{task_id} as complete: {call.result['title']}"
    if intent.action == "delete":
        call = await mcp.call("delete_task", {"task_id": task_id})
        if call.is_error:
            return f"I couldn't delete that: {_error_text(call.result)}."
        return f"Deleted task #{task_id}: {call.result['title']}"

    arguments = {"task_id": task_id}
    if intent.title is not None:
        arguments["title"] = intent.title
    if intent.description is not None:
        arguments["description"] = intent.description
    call = await mcp.call("update_task", arguments)
    if call.is_error:
        return f"I couldn't update that: {_error_text(call.result)}."
    return f"Updated task #{task_id}: {call.result['title']}"
