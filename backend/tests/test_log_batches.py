"""The backend server's log lines: written in batches from the event loop, none lost, none reordered."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
from support import base_env, start_process

from todo_backend.logs import BatchingStreamHandler, JsonFormatter


class Writes:
    """A stream that records each write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def lines(self) -> list[dict]:
        return [json.loads(line) for text in self.writes for line in text.splitlines()]


def batching_logger(stream: Writes, **options) -> logging.Logger:
    handler = BatchingStreamHandler(stream, **options)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test-batches-{time.monotonic_ns()}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_lines_logged_on_the_loop_go_out_together_in_order_and_soon():
    stream = Writes()
    log = batching_logger(stream, delay=0.05, max_lines=64)

    async def scenario():
        for n in range(50):
            log.info("request", extra={"n": n})
        assert stream.writes == []
        await asyncio.sleep(0.3)
        assert len(stream.writes) == 1
        assert [line["n"] for line in stream.lines()] == list(range(50))
        # A warning takes what is waiting out with it, at once and in order.
        log.info("before")
        log.warning("trouble")
        assert [line["msg"] for line in stream.lines()[50:]] == ["before", "trouble"]
        assert len(stream.writes) == 2
        # A full batch does not wait for the delay.
        for n in range(64):
            log.info("burst", extra={"n": n})
        assert len(stream.writes) == 3 and len(stream.lines()) == 52 + 64

    asyncio.run(scenario())
    # Outside an event loop (start-up, worker threads, exit) a line is written at once.
    log.info("no loop")
    assert stream.lines()[-1]["msg"] == "no loop"
    # A loop that closed with a flush still due does not hold back the next loop's lines.
    asyncio.run(_log_and_leave(log))
    assert stream.lines()[-1]["msg"] == "no loop"

    async def next_loop():
        log.info("next loop")
        await asyncio.sleep(0.3)

    asyncio.run(next_loop())
    assert [line["msg"] for line in stream.lines()[-2:]] == ["left behind", "next loop"]


async def _log_and_leave(log: logging.Logger) -> None:
    log.info("left behind")


def test_the_server_writes_every_access_line_by_the_time_it_stops(tmp_path):
    env = base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", MCP_SERVICE_TOKEN="t")
    live = start_process("todo-backend", ["serve"], env, tmp_path)
    try:
        with httpx.Client(base_url=live.url, timeout=10) as client:
            for n in range(30):
                assert client.get(f"/api/user/tasks?n={n}").status_code == 401
        deadline = time.monotonic() + 5
        while live.log_text().count('"logger": "access"') < 30:
            assert time.monotonic() < deadline, live.log_text()
            time.sleep(0.05)
        with httpx.Client(base_url=live.url, timeout=10) as client:
            assert client.get("/api/user/tasks?last=1").status_code == 401
    finally:
        live.stop()
    access = [json.loads(line) for line in live.log_text().splitlines() if '"logger": "access"' in line]
    assert [entry["path"] for entry in access] == ["/api/user/tasks"] * 31
    assert all(entry["status"] == 401 for entry in access)


def test_the_servers_records_skip_what_the_lines_never_show(tmp_path):
    """No stack walk for the caller's file and line, no thread or process lookups, per record;
    the JSON line keeps every field it had."""
    import subprocess
    import sys

    code = (
        "import json, logging\n"
        "from todo_backend.logs import configure_logging\n"
        "configure_logging('info')\n"
        "records = []\n"
        "logging.getLogger().handlers[0].addFilter(lambda r: records.append(r) or True)\n"
        "logging.getLogger('access').info('request', extra={'method': 'GET', 'status': 200})\n"
        "r = records[0]\n"
        "print(json.dumps([r.lineno, r.thread, r.process]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == [0, None, None], out.stdout
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert set(line) == {"ts", "level", "logger", "msg", "method", "status"}


def test_the_formatters_lines_are_json_dumps_byte_for_byte():
    """The access line's hand-written JSON is what json.dumps(entry, default=str) writes, for every
    kind of value a record may carry (strings needing escapes, numbers, booleans, None, others)."""
    from datetime import UTC, datetime

    from todo_backend.logs import _STANDARD_ATTRS, JsonFormatter, request_id_var

    class Reference(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            entry: dict[str, object] = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
            }
            if request_id_var.get():
                entry["request_id"] = request_id_var.get()
            entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and k[0] != "_"})
            if record.exc_info:
                entry["exc"] = self.formatException(record.exc_info)
            return json.dumps(entry, default=str)

    class Status(int):
        pass

    extras = [
        {"method": "GET", "path": "/api/u/tasks", "status": 200, "duration_ms": 1.2},
        {"path": 'quote " backslash \\ \x00 \x1f \u2028 é 中 \U0001f600 \ud800', "n": -(2**70), "f": 1e300},
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "tiny": 5e-324, "zero": -0.0},
        {"yes": True, "no": False, "none": None, "subclass": Status(7)},
        {"nested": {"a": [1, "b"]}, "when": datetime(2026, 1, 2, tzinfo=UTC), "raw": b"\xff", "obj": object},
    ]
    mine, reference = JsonFormatter(), Reference()
    token = request_id_var.set("req-1")
    try:
        for extra in extras:
            record = logging.getLogger("access").makeRecord("access", logging.INFO, "", 0, "request %s", ("x",), None)
            record.__dict__.update(extra)
            assert mine.format(record) == reference.format(record)
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record = logging.getLogger("x").makeRecord("x", logging.ERROR, "", 0, "failed", (), sys.exc_info())
        assert mine.format(record) == reference.format(record)
    finally:
        request_id_var.reset(token)
