// The real built frontend (standalone server, fresh PGlite) and the real backend, on loopback:
// a user signs up through better-auth, its JWT is accepted by the backend and a tampered one is
// not, and the /api/backend proxy works end to end. A claim or key mismatch between the two
// services shows up here rather than in the cluster.
//
// Needs `npm run build` (the standalone server) and the backend's virtualenv
// (`cd backend && uv sync --frozen --extra agent`). Run with `npm run test:integration`.

import { spawn, spawnSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVER_JS = path.join(FRONTEND_DIR, ".next/standalone/server.js");
const BACKEND_DIR = path.resolve(FRONTEND_DIR, "../backend");
const BACKEND_BIN = path.join(BACKEND_DIR, ".venv/bin/todo-backend");
const LOG_DIR = path.join(FRONTEND_DIR, "test-results");
const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 60_000;
// The embedded PGlite's first start (WebAssembly compile and initdb) holds the server's event loop
// for seconds at a time, and took 19 s on a loaded CI machine.
const READY_TIMEOUT_MS = 150_000;

// Checked before any test is declared, so a missing prerequisite fails the run as one clear
// failure instead of a cancelled suite.
if (!existsSync(SERVER_JS)) {
  throw new Error(`${SERVER_JS} is missing: run \`npm run build\` in frontend/ first.`);
}
if (!existsSync(BACKEND_BIN)) {
  throw new Error(
    `${BACKEND_BIN} is missing: create the backend's virtualenv first with ` +
      "`cd backend && uv sync --frozen --extra agent`.",
  );
}

/** Every process this file starts; all are ended in `after`, and on any exit of this process. */
const children = new Set();

function stopAll(signal = "SIGTERM") {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
process.on("exit", () => stopAll("SIGKILL"));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    stopAll("SIGKILL");
    process.exit(130);
  });
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The standalone server's environment on loopback `port`, plus `extra`. */
function serverEnv(port, extra) {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    HOSTNAME: HOST,
    PORT: String(port),
    ...extra,
  };
}

/** Starts a process whose output is kept (and shown when something fails). */
function start(name, command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  child.output = "";
  const keep = (chunk) => {
    child.output += chunk.toString();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.label = name;
  child.startedAt = performance.now();
  children.add(child);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await child.exited;
  clearTimeout(timer);
}

/**
 * Polls `url` until it answers 200; fails early if the process dies. Returns ms since spawn.
 * Each answer is read to its end, so no connection is left half-used in fetch's pool.
 */
async function waitForHealthy(child, url, timeoutMs = START_TIMEOUT_MS) {
  while (performance.now() - child.startedAt < timeoutMs) {
    if (child.exitCode !== null) {
      throw new Error(`${child.label} exited with ${child.exitCode} before ${url} answered:\n${child.output}`);
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - child.startedAt;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.label}: ${url} did not answer 200 within ${timeoutMs} ms:\n${child.output}`);
}

function cookiesOf(response) {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

function decodePayload(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** Same header and signature, a different payload: the signature no longer matches. */
function withPayload(token, changes) {
  const [header, , signature] = token.split(".");
  const payload = Buffer.from(JSON.stringify({ ...decodePayload(token), ...changes })).toString("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Flips one character in the middle of the signature. */
function withBrokenSignature(token) {
  const [header, payload, signature] = token.split(".");
  const i = Math.floor(signature.length / 2);
  const flipped = signature[i] === "A" ? "B" : "A";
  return `${header}.${payload}.${signature.slice(0, i)}${flipped}${signature.slice(i + 1)}`;
}

describe("frontend + backend on loopback", { timeout: 300_000 }, () => {
  let tmp;
  let frontend;
  let backend;
  let frontendUrl;
  let backendUrl;
  const issuer = "http://issuer.integration.test";
  const audience = "todo-integration-audience";

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "todo-integration-"));
    const [frontendPort, backendPort] = [await freePort(), await freePort()];
    frontendUrl = `http://${HOST}:${frontendPort}`;
    backendUrl = `http://${HOST}:${backendPort}`;
    const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, LOG_LEVEL: "warning" };

    // The standalone server as `cargo xtask dev --release` runs it: in place, where Node finds
    // the embedded PGlite in frontend/node_modules (the build itself has none), with a fresh
    // auth database outside the build.
    frontend = start("frontend", process.execPath, [SERVER_JS], {
      cwd: tmp,
      env: {
        ...baseEnv,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        HOSTNAME: HOST,
        PORT: String(frontendPort),
        BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
        BETTER_AUTH_URL: frontendUrl,
        AUTH_ISSUER: issuer,
        AUTH_AUDIENCE: audience,
        BACKEND_URL: backendUrl,
        AUTH_DATA_DIR: path.join(tmp, "auth"),
      },
    });

    const backendEnv = {
      ...baseEnv,
      DATABASE_URL: `sqlite:///${path.join(tmp, "todo.db")}`,
      BETTER_AUTH_URL: frontendUrl,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
      AUTH_JWKS_URL: `${frontendUrl}/api/auth/jwks`,
      // Not used by the REST calls here; chat needs the MCP server and is the e2e suite's job.
      MCP_SERVER_URL: `http://${HOST}:9/mcp`,
      MCP_SERVICE_TOKEN: randomBytes(24).toString("hex"),
    };
    const migrate = spawnSync(BACKEND_BIN, ["migrate"], { cwd: tmp, env: backendEnv, encoding: "utf8" });
    assert.equal(migrate.status, 0, `todo-backend migrate failed:\n${migrate.stdout}${migrate.stderr}`);
    backend = start("backend", BACKEND_BIN, ["serve", "--host", HOST, "--port", String(backendPort)], {
      cwd: tmp,
      env: backendEnv,
    });

    const frontendMs = await waitForHealthy(frontend, `${frontendUrl}/api/health`);
    await waitForHealthy(backend, `${backendUrl}/health`);
    console.log(`# frontend: process start → /api/health 200 in ${Math.round(frontendMs)} ms`);
    // The tests start once the auth database is prepared. Before that the embedded PGlite holds
    // the event loop for seconds, and Node's keep-alive timer can then close a pooled connection
    // just as a request arrives on it ("fetch failed", seen once in CI). Liveness without any
    // database is the start-up suite's test (health 200, ready 503).
    const readyMs = await waitForHealthy(frontend, `${frontendUrl}/api/ready`, READY_TIMEOUT_MS);
    console.log(`# frontend: process start → /api/ready 200 in ${Math.round(readyMs)} ms`);
  });

  after(async () => {
    await Promise.all([frontend, backend].filter(Boolean).map(stop));
    // Server output is kept for a look after a failure (test-results/ is git-ignored).
    mkdirSync(LOG_DIR, { recursive: true });
    for (const child of [frontend, backend].filter(Boolean)) {
      writeFileSync(path.join(LOG_DIR, `integration-${child.label}.log`), child.output);
    }
    console.log(`# server logs: ${path.relative(process.cwd(), LOG_DIR) || "."}/integration-*.log`);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const user = { email: `ada.${Date.now()}@example.com`, password: "correct horse battery", name: "Ada" };
  let userId;
  let cookie;
  let token;

  it("answers /api/health", async () => {
    const response = await fetch(`${frontendUrl}/api/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok" });
  });

  it("signs a user up through better-auth", async () => {
    const response = await fetch(`${frontendUrl}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontendUrl },
      body: JSON.stringify(user),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const body = await response.json();
    userId = body.user.id;
    cookie = cookiesOf(response);
    assert.ok(userId);
    assert.match(cookie, /better-auth\.session_token=/);
  });

  it("reports ready on /api/ready once the auth database is prepared", async () => {
    const response = await fetch(`${frontendUrl}/api/ready`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ready" });
  });

  it("refuses raw proxy paths that would leave the backend's /api/, as Next.js hands them over", async () => {
    // Sent byte for byte (fetch would normalise them), signed in, so only the path check stops them.
    const rawStatus = (rawPath) =>
      new Promise((resolve, reject) => {
        const { hostname, port } = new URL(frontendUrl);
        const req = httpRequest({ hostname, port, path: rawPath, headers: { cookie } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on("error", reject);
        req.end();
      });
    for (const rawPath of [
      `/api/backend/${userId}%2f..%2f..%2fhealth`,
      `/api/backend/${userId}%2F..%2Fopenapi.json`,
      `/api/backend/%252e%252e/health`,
      `/api/backend/${userId}%5c..%5c..%5chealth`,
      `/api/backend/http:%2f%2f127.0.0.1:9%2fx`,
      `/api/backend/${userId}@127.0.0.1:9/tasks`,
    ]) {
      assert.equal(await rawStatus(rawPath), 400, rawPath);
    }
  });

  it("issues a JWT with sub = user id and the configured iss/aud, and serves its JWKS", async () => {
    const response = await fetch(`${frontendUrl}/api/auth/token`, { headers: { cookie } });
    assert.equal(response.status, 200);
    ({ token } = await response.json());
    const claims = decodePayload(token);
    assert.equal(claims.sub, userId);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, audience);

    const jwks = await (await fetch(`${frontendUrl}/api/auth/jwks`)).json();
    assert.ok(jwks.keys.length >= 1);
    const { kid } = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8"));
    assert.ok(jwks.keys.some((key) => key.kid === kid), "the token's kid is in the JWKS");
  });

  it("has the backend accept the JWT directly", async () => {
    const response = await fetch(`${backendUrl}/api/${userId}/tasks`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), []);
  });

  it("has the backend reject tampered, missing and foreign tokens", async () => {
    const tasks = `${backendUrl}/api/${userId}/tasks`;
    const status = async (headers) => (await fetch(tasks, { headers })).status;
    assert.equal(await status({ authorization: `Bearer ${withBrokenSignature(token)}` }), 401);
    assert.equal(await status({ authorization: `Bearer ${withPayload(token, { exp: 4102444800 })}` }), 401);
    assert.equal(await status({}), 401);
    // A valid token on another user's path.
    const other = await fetch(`${backendUrl}/api/someone-else/tasks`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(other.status, 403);
  });

  it("proxies the REST API through /api/backend with the session's JWT", async () => {
    const api = `${frontendUrl}/api/backend/${userId}`;
    const json = { "content-type": "application/json", cookie };

    const created = await fetch(`${api}/tasks`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ title: "  Buy groceries  ", description: "milk, eggs" }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const task = await created.json();
    assert.equal(task.title, "Buy groceries");
    assert.equal(task.user_id, userId);

    const completed = await fetch(`${api}/tasks/${task.id}/complete`, {
      method: "PATCH",
      headers: json,
      body: JSON.stringify({ completed: true }),
    });
    assert.equal(completed.status, 200);
    assert.equal((await completed.json()).completed, true);

    const pending = await fetch(`${api}/tasks?status=pending`, { headers: { cookie } });
    assert.deepEqual(await pending.json(), []);
    const done = await fetch(`${api}/tasks?status=completed`, { headers: { cookie } });
    assert.deepEqual((await done.json()).map((t) => t.id), [task.id]);

    const invalid = await fetch(`${api}/tasks`, { method: "POST", headers: json, body: '{"title":"   "}' });
    assert.equal(invalid.status, 422);
    assert.match(JSON.stringify(await invalid.json()), /title/);

    const conversations = await fetch(`${api}/conversations`, { headers: { cookie } });
    assert.equal(conversations.status, 200);

    const deleted = await fetch(`${api}/tasks/${task.id}`, { method: "DELETE", headers: { cookie } });
    assert.equal(deleted.status, 204);
    const gone = await fetch(`${api}/tasks/${task.id}`, { headers: { cookie } });
    assert.equal(gone.status, 404);
  });

  it("answers 401 on the proxy without a session", async () => {
    const response = await fetch(`${frontendUrl}/api/backend/${userId}/tasks`);
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { detail: "Not signed in" });
  });

  it("redirects a signed-out page visit to sign-in, and renders pages for a signed-in user", async () => {
    const anonymous = await fetch(`${frontendUrl}/tasks`, { redirect: "manual" });
    assert.equal(anonymous.status, 307);
    assert.match(anonymous.headers.get("location") ?? "", /\/sign-in\?next=%2Ftasks$/);
    // Behind the ingress: to the address the browser used, not the server's own.
    const proxied = await fetch(`${frontendUrl}/chat`, {
      redirect: "manual",
      headers: { "x-forwarded-host": "todo.local", "x-forwarded-proto": "http" },
    });
    assert.equal(proxied.headers.get("location"), "http://todo.local/sign-in?next=%2Fchat");

    for (const page of ["/tasks", "/chat", "/account"]) {
      const response = await fetch(`${frontendUrl}${page}`, { headers: { cookie }, redirect: "manual" });
      assert.equal(response.status, 200, `${page}: ${response.status}`);
      const html = await response.text();
      assert.match(html, new RegExp(`data-user-id="${userId}"`));
    }
    // The front door: a page with the way in for a visitor, the tasks for a signed-in user.
    const home = await fetch(`${frontendUrl}/`, { redirect: "manual" });
    assert.equal(home.status, 200);
    assert.match(await home.text(), /href="\/sign-in"/);
    const homeSignedIn = await fetch(`${frontendUrl}/`, { headers: { cookie }, redirect: "manual" });
    assert.equal(homeSignedIn.status, 307);
    assert.match(homeSignedIn.headers.get("location") ?? "", /\/tasks$/);
    const signIn = await fetch(`${frontendUrl}/sign-in`);
    assert.equal(signIn.status, 200);
    assert.match(await signIn.text(), /<label for="auth-email">Email<\/label>/);
  });

  it("deletes the account: backend data through the proxy, then the better-auth user", async () => {
    const wipe = await fetch(`${frontendUrl}/api/backend/${userId}`, { method: "DELETE", headers: { cookie } });
    assert.equal(wipe.status, 204);
    const deleted = await fetch(`${frontendUrl}/api/auth/delete-user`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontendUrl, cookie },
      body: "{}",
    });
    assert.equal(deleted.status, 200, await deleted.clone().text());
    const token = await fetch(`${frontendUrl}/api/auth/token`, { headers: { cookie } });
    assert.equal(token.status, 401);
  });

  it("lets several people sign up in a row from one address (local stack, e2e runs)", async () => {
    for (let i = 0; i < 4; i += 1) {
      const response = await fetch(`${frontendUrl}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: frontendUrl },
        body: JSON.stringify({ ...user, email: `burst${i}.${Date.now()}@example.com` }),
      });
      assert.equal(response.status, 200, `sign-up ${i + 1}: ${response.status}`);
    }
  });

  it("maps an unreachable backend to 502 on the proxy", async () => {
    // A second user, then the backend goes away.
    const signUp = await fetch(`${frontendUrl}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontendUrl },
      body: JSON.stringify({ ...user, email: `bob.${Date.now()}@example.com`, name: "Bob" }),
    });
    assert.equal(signUp.status, 200);
    const bob = (await signUp.json()).user.id;
    await stop(backend);
    const response = await fetch(`${frontendUrl}/api/backend/${bob}/tasks`, {
      headers: { cookie: cookiesOf(signUp) },
    });
    assert.equal(response.status, 502);
    assert.match((await response.json()).detail, /backend service is unreachable/);
  });
});

describe("frontend start-up checks", { timeout: 60_000 }, () => {
  it("builds a standalone server without the embedded PGlite, which serves the local stack only", () => {
    const modules = path.join(path.dirname(SERVER_JS), "node_modules");
    assert.ok(existsSync(path.join(modules, "next")), `${modules} is not the standalone build's node_modules`);
    for (const name of ["@electric-sql/pglite", "kysely-pglite"]) {
      assert.ok(!existsSync(path.join(modules, name)), `the standalone build carries ${name}`);
    }
  });

  it("refuses to start, naming AUTH_DATABASE_URL, where it is unset and there is no PGlite (the image)", async () => {
    // A copy of the build outside frontend/, as the image holds one: nothing to resolve PGlite from.
    const tmp = mkdtempSync(path.join(tmpdir(), "todo-integration-image-"));
    try {
      const app = path.join(tmp, "app");
      cpSync(path.dirname(SERVER_JS), app, { recursive: true });
      const child = start("frontend (no AUTH_DATABASE_URL)", process.execPath, [path.join(app, "server.js")], {
        cwd: app,
        env: serverEnv(await freePort(), {
          BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
        }),
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const { code } = await child.exited;
      clearTimeout(timer);
      assert.equal(code, 1, child.output);
      assert.match(
        child.output,
        /refusing to start: invalid configuration: AUTH_DATABASE_URL is not set, and this server has no embedded PGlite/,
      );
      assert.ok(!existsSync(path.join(app, ".data")), "an embedded database was created anyway");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("refuses to start with a BETTER_AUTH_SECRET shorter than 32 characters", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "todo-integration-secret-"));
    try {
      const child = start("frontend (short secret)", process.execPath, [SERVER_JS], {
        cwd: tmp,
        env: serverEnv(await freePort(), {
          BETTER_AUTH_SECRET: "too-short",
        }),
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const { code } = await child.exited;
      clearTimeout(timer);
      assert.equal(code, 1, child.output);
      assert.match(child.output, /refusing to start: invalid configuration: BETTER_AUTH_SECRET must be set to at least 32/);
      assert.doesNotMatch(child.output, /too-short/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("starts and waits when the auth database is unreachable: health 200, ready 503, auth 503", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "todo-integration-nodb-"));
    const port = await freePort();
    const url = `http://${HOST}:${port}`;
    const child = start("frontend (no database)", process.execPath, [SERVER_JS], {
      cwd: tmp,
      env: serverEnv(port, {
        BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
        BETTER_AUTH_URL: url,
        AUTH_DATABASE_URL: `postgresql://todo:not-a-real-password@${HOST}:${await freePort()}/todo`,
      }),
    });
    try {
      await waitForHealthy(child, `${url}/api/health`);
      const ready = await fetch(`${url}/api/ready`);
      assert.equal(ready.status, 503);
      assert.equal((await ready.json()).status, "not ready");
      const signUp = await fetch(`${url}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: url },
        body: JSON.stringify({ email: "nodb@example.com", password: "correct horse battery", name: "N" }),
      });
      assert.equal(signUp.status, 503);
      assert.equal((await signUp.json()).code, "AUTH_DATABASE_UNAVAILABLE");
      // Still there after several attempts: retried, not fatal.
      const deadline = performance.now() + 20_000;
      while ((child.output.match(/auth database not ready/g) ?? []).length < 2 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok((child.output.match(/auth database not ready/g) ?? []).length >= 2, child.output);
      assert.equal(child.exitCode, null, child.output);
      assert.equal((await fetch(`${url}/api/health`)).status, 200);
      assert.doesNotMatch(child.output, /not-a-real-password|refusing to start/);
    } finally {
      await stop(child);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
