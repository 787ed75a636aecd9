import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { authRuntime, MAX_AUTH_BODY_BYTES } from "@/lib/auth";
import { startAuth } from "@/lib/startup";
import { GET as authGet, POST as authPost } from "@/app/api/auth/[...all]/route";
import { GET as backendGet } from "@/app/api/backend/[...path]/route";
import { GET as health } from "@/app/api/health/route";
import { GET as ready } from "@/app/api/ready/route";
import { BASE, cookieHeader } from "../support/auth-requests";
import { closedPort, eventually } from "../support/net";

// The server as it starts (instrumentation → startAuth) and its routes, with the auth database
// unreachable at first: a closed port on loopback, then an embedded database once "it is back".

const ENV_KEYS = ["BETTER_AUTH_SECRET", "BETTER_AUTH_URL", "AUTH_DATABASE_URL", "AUTH_DATA_DIR", "BACKEND_URL"];
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "todo-auth-runtime-"));
});

afterAll(async () => {
  await authRuntime().close();
  delete (globalThis as { __todoAuthRuntime?: unknown }).__todoAuthRuntime;
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  vi.restoreAllMocks();
  rmSync(dataDir, { recursive: true, force: true });
});

function signUpRequest(email: string, headers: Record<string, string> = {}): Request {
  return new Request(`${BASE}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE, "x-forwarded-for": "192.0.2.20", ...headers },
    body: JSON.stringify({ email, password: "correct horse battery", name: "R" }),
  });
}

const backendRequest = (cookie = "") =>
  backendGet(new Request(`${BASE}/api/backend/u1/tasks`, { headers: { cookie } }), {
    params: Promise.resolve({ path: ["u1", "tasks"] }),
  });

describe("an auth database that is not there when the server starts", () => {
  it("does not end the process: health stays 200, readiness and auth answer 503, then all recovers", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "log").mockImplementation(() => undefined);

    const port = await closedPort();
    process.env.BETTER_AUTH_SECRET = "unit-test-secret-unit-test-secret-0123";
    process.env.BETTER_AUTH_URL = BASE;
    process.env.AUTH_DATABASE_URL = `postgresql://todo:s3cret-pw@127.0.0.1:${port}/todo`;
    process.env.BACKEND_URL = "http://127.0.0.1:9";

    await startAuth();
    await eventually(
      async () => errors.mock.calls.some((call) => /auth database not ready/.test(String(call[0]))),
      "a logged failed attempt",
    );
    // Wait for a second attempt too: the first failure is retried, not fatal.
    await eventually(
      async () => errors.mock.calls.filter((call) => /auth database not ready/.test(String(call[0]))).length >= 2,
      "a retried attempt",
    );
    expect(exit).not.toHaveBeenCalled();
    expect(errors.mock.calls.flat().join("\n")).not.toContain("s3cret-pw");

    const live = await health();
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });

    const notReady = await ready();
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: "not ready", detail: expect.stringMatching(/auth database/) });

    const signUp = await authPost(signUpRequest("early@example.com"));
    expect(signUp.status).toBe(503);
    expect(signUp.headers.get("content-type")).toMatch(/application\/json/);
    expect(await signUp.json()).toMatchObject({ code: "AUTH_DATABASE_UNAVAILABLE", message: expect.any(String) });
    expect((await authGet(new Request(`${BASE}/api/auth/get-session`))).status).toBe(503);

    const proxied = await backendRequest("better-auth.session_token=abc");
    expect(proxied.status).toBe(503);
    expect(await proxied.json()).toEqual({ detail: expect.stringMatching(/temporarily unavailable/) });
    expect(exit).not.toHaveBeenCalled();

    // The database is back (here: the embedded one); nobody restarts anything.
    delete process.env.AUTH_DATABASE_URL;
    process.env.AUTH_DATA_DIR = path.join(dataDir, "auth");
    await eventually(async () => (await ready()).status === 200, "readiness after the database returned", 90_000);
    expect(await (await ready()).json()).toEqual({ status: "ready" });

    const later = await authPost(signUpRequest("later@example.com"));
    expect(later.status).toBe(200);
    const session = await authGet(new Request(`${BASE}/api/auth/get-session`, { headers: { cookie: cookieHeader(later) } }));
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ user: { email: "later@example.com" } });
    expect(exit).not.toHaveBeenCalled();
  }, 120_000);
});

describe("the /api/auth route", () => {
  it("marks cookies Secure when the browser came over https (X-Forwarded-Proto), and only then", async () => {
    await eventually(async () => (await ready()).status === 200, "readiness", 90_000);
    const proxied = await authPost(signUpRequest("tls@example.com", { "x-forwarded-proto": "https" }));
    expect(proxied.status).toBe(200);
    const cookies = proxied.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*Secure(;|$)/i);

    const plain = await authPost(signUpRequest("plain@example.com", { "x-forwarded-proto": "http" }));
    for (const cookie of plain.headers.getSetCookie()) expect(cookie).not.toMatch(/;\s*Secure(;|$)/i);
  }, 120_000);

  it("answers 413 to a body over its limit, declared or streamed, before better-auth parses it", async () => {
    const huge = JSON.stringify({ email: "x@example.com", password: "p".repeat(MAX_AUTH_BODY_BYTES), name: "x" });
    const declared = await authPost(
      new Request(`${BASE}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE, "content-length": String(huge.length) },
        body: huge,
      }),
    );
    expect(declared.status).toBe(413);

    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(32));
      },
    });
    const streamed = await authPost(
      new Request(`${BASE}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: endless,
        duplex: "half",
      } as RequestInit),
    );
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(MAX_AUTH_BODY_BYTES + 4 * 16 * 1024);
  });
});
