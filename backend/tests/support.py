"""Test helpers: free loopback ports, a real JWKS server, token signing, live service processes."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "http://auth.test:3000"
AUDIENCE = "http://auth.test:3000"
MCP_TOKEN = "test-mcp-service-token-0123456789"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk = {**jwk, "kid": self.kid, "use": "sig"}
        # better-auth's Ed25519 keys come without "alg"; the verifier must infer it from the key.
        return jwk if self.alg == "EdDSA" else {**jwk, "alg": self.alg}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid})


def new_key(alg: str, kid: str) -> SigningKey:
    if alg == "EdDSA":
        return SigningKey(kid, alg, ed25519.Ed25519PrivateKey.generate())
    if alg in ("RS256", "PS256"):
        return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if alg == "ES256":
        return SigningKey(kid, alg, ec.generate_private_key(ec.SECP256R1()))
    if alg == "ES512":
        return SigningKey(kid, alg, ec.generate_private_key(ec.SECP521R1()))
    raise ValueError(alg)


def claims_for(sub: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


class _JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON."""

    def reply_json(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _ThreadedServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class JwksServer(_ThreadedServer):
    """Serves `/api/auth/jwks` like better-auth does; counts fetches.

    `mode` makes it misbehave: "hang" never answers (until closed), "fail" answers 500.
    """

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.mode = "serve"
        self.closing = threading.Event()
        server = self

        class Handler(_JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.fetches += 1
                if server.mode == "hang":
                    server.closing.wait(120)
                elif server.mode == "fail":
                    self.reply_json({"error": "unavailable"}, status=500)
                else:
                    self.reply_json({"keys": [k.public_jwk() for k in server.keys]})

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.port}/api/auth/jwks"

    def close(self) -> None:
        self.closing.set()
        super().close()


class ScriptedOpenAI(_ThreadedServer):
    """An OpenAI-compatible Chat Completions endpoint whose replies come from a Python function.

    `script(request_json) -> message dict` sees the whole request (messages and tools), so a
    test can both steer the run and inspect what the model was shown.
    """

    def __init__(self, script: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(_JsonHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(request)
                message = script(request)
                self.reply_json(
                    {
                        "id": f"chatcmpl-{len(server.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": request.get("model", "scripted"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", **message},
                                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                )

        super().__init__(Handler)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
    env.update({"LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@dataclass
class LiveProcess:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    startup_seconds: float = 0.0
    startup_cpu_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (Linux); a load-independent view of start-up cost."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def start_process(
    command: str, args: list[str], env: dict[str, str], log_dir: Path, timeout: float = 30
) -> LiveProcess:
    port = free_port()
    log_path = log_dir / f"{command}-{port}.log"
    started = time.perf_counter()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(BIN / command), *args, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
    live = LiveProcess(command, proc, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command} exited with {proc.returncode}:\n{live.log_text()}")
        try:
            if httpx.get(f"{live.url}/health", timeout=1).status_code == 200:
                live.startup_seconds = time.perf_counter() - started
                live.startup_cpu_seconds = cpu_seconds(proc.pid)
                return live
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    live.stop()
    raise RuntimeError(f"{command} did not answer /health within {timeout} s:\n{live.log_text()}")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def raw_http(port: int, head: str, body: Iterable[bytes] = (), timeout: float = 10) -> RawResponse:
    """Send a request byte for byte and read the response while the body is still going out.

    Unlike an HTTP client this can declare a Content-Length it never sends, or stream a chunked
    body, and it sees a response that comes before the body is finished.
    """
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def write() -> None:
        try:
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
            for chunk in body:
                sock.sendall(chunk)
        except OSError:  # the server answered early and closed the connection
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            received = sock.recv(65536)
            if not received:
                raise ConnectionError(f"connection closed before a response: {data!r}")
            data += received
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            received = sock.recv(65536)
            if not received:
                break
            rest += received
        return RawResponse(int(lines[0].split()[1]), headers, rest[:length], time.monotonic() - started)
    finally:
        sock.close()
        writer.join(timeout=5)


def chunked(total: int, prefix: bytes = b"", suffix: bytes = b"", chunk_size: int = 64 * 1024) -> Iterable[bytes]:
    """A chunked transfer encoding of `prefix`, `total` bytes of "a", and `suffix`."""

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    if prefix:
        yield chunk(prefix)
    for start in range(0, total, chunk_size):
        yield chunk(b"a" * min(chunk_size, total - start))
    if suffix:
        yield chunk(suffix)
    yield b"0\r\n\r\n"


def postgres_bin_dir() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


class PostgresServer:
    """A private PostgreSQL server (initdb + pg_ctl) on a free loopback port, with a password.

    It can be stopped and started again on the same port, which a shared test server cannot.
    initdb refuses to run as root, so then it runs as the `postgres` system user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        password_file = self.root / "password"
        password_file.write_text(self.password)
        if self.run_as:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            f"--pwfile={password_file}",
            "--no-sync",
        )

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self.run_as, str(self.bin_dir / tool), *args], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
