import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { authOptions, AuthRuntime } from "@/lib/auth";
import { openAuthDatabase } from "@/lib/auth-db";
import { authConfigFromEnv } from "@/lib/config";
import { SIGN_IN_PER_ACCOUNT } from "@/lib/rate-limit";
import { authPost, BASE, cookieHeader, signIn, signUp } from "../support/auth-requests";
import { eventually, TcpProxy } from "../support/net";

// The cluster's path: auth tables, rate-limit counters and database restarts on a real Postgres. Runs when TEST_POSTGRES_URL names a server
// whose user may create databases (e.g. postgresql://postgres@127.0.0.1:5432/postgres); each run
// uses a database of its own and drops it afterwards.
const serverUrl = process.env.TEST_POSTGRES_URL;

describe.skipIf(!serverUrl)("auth on Postgres", () => {
  const database = `todo_auth_test_${process.pid}_${Date.now()}`;
  let url: string;

  beforeAll(async () => {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const u = new URL(serverUrl!);
    u.pathname = `/${database}`;
    url = u.toString();
  });

  afterAll(async () => {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it("creates the tables once when two replicas start at the same time", async () => {
    const config = authConfigFromEnv({
      BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
      AUTH_DATABASE_URL: url,
    });
    const replicas = await Promise.all([openAuthDatabase(config.database), openAuthDatabase(config.database)]);
    try {
      await Promise.all(
        replicas.map((db) =>
          db.withMigrationLock(async () => {
            const { runMigrations } = await getMigrations(authOptions(config, db.database));
            await runMigrations();
          }),
        ),
      );
      const after = await getMigrations(authOptions(config, replicas[0].database));
      expect(after.toBeCreated).toEqual([]);
      expect(after.toBeAdded).toEqual([]);
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });

  it("keeps sign-in counters in the database: two replicas, one limit, even for a concurrent burst", async () => {
    const config = authConfigFromEnv({
      BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
      BETTER_AUTH_URL: BASE,
      AUTH_DATABASE_URL: url,
    });
    // Two replicas: a connection pool and a better-auth instance each.
    const databases = await Promise.all([openAuthDatabase(config.database), openAuthDatabase(config.database)]);
    try {
      const [a, b] = databases.map((db) => betterAuth(authOptions(config, db.database)));
      const ip = "203.0.113.50";
      await signUp(a, "ada@example.com", "correct horse battery", ip);
      await signUp(b, "bob@example.com", "correct horse battery", ip);

      const extra = 6;
      const burst = await Promise.all(
        Array.from({ length: SIGN_IN_PER_ACCOUNT.max + extra }, (_, i) =>
          signIn(i % 2 === 0 ? a : b, "ada@example.com", `guess ${i}`, ip),
        ),
      );
      const statuses = burst.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(SIGN_IN_PER_ACCOUNT.max);
      expect(statuses.filter((s) => s === 429)).toHaveLength(extra);

      const admin = new Client({ connectionString: url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ count: number }>(
          `SELECT count FROM "rateLimit" WHERE key LIKE $1`,
          [`${ip}|/sign-in/email|account:%`],
        );
        expect(rows.map((r) => Number(r.count))).toEqual([SIGN_IN_PER_ACCOUNT.max]);
      } finally {
        await admin.end();
      }
      // Another account behind the same address still gets in, on either replica.
      expect((await signIn(b, "bob@example.com", "correct horse battery", ip)).status).toBe(200);
      expect((await signIn(a, "ada@example.com", "correct horse battery", ip)).status).toBe(429);
    } finally {
      await Promise.all(databases.map((db) => db.close()));
    }
  });

  it("waits for a database that is down at start and rides out a restart, answering 503 meanwhile", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const logs = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const server = new URL(url);
    const proxy = new TcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    await proxy.up();
    await proxy.down(); // The port is known, and nothing answers there yet.
    const proxied = new URL(url);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    const runtime = new AuthRuntime({
      env: () => ({
        BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
        BETTER_AUTH_URL: BASE,
        AUTH_DATABASE_URL: proxied.toString(),
      }),
      firstRetryMs: 100,
      maxRetryMs: 500,
    });
    const ip = "203.0.113.60";
    const user = { email: "restart@example.com", password: "correct horse battery" };
    try {
      runtime.start();
      await eventually(async () => errors.mock.calls.length > 0, "a failed attempt");
      expect(await runtime.readiness()).toEqual({ ready: false, reason: expect.any(String) });
      const early = await runtime.handle(authPost("/sign-up/email", { ...user, name: "R" }, ip));
      expect(early.status).toBe(503);
      expect(await early.json()).toMatchObject({ code: "AUTH_DATABASE_UNAVAILABLE" });

      // The database comes up: the runtime finds it by itself.
      await proxy.up();
      await eventually(async () => (await runtime.readiness()).ready, "ready after the database came up");
      const signedUp = await runtime.handle(authPost("/sign-up/email", { ...user, name: "R" }, ip));
      expect(signedUp.status).toBe(200);
      const cookie = cookieHeader(signedUp);
      const sessionRequest = () =>
        runtime.handle(new Request(`${BASE}/api/auth/get-session`, { headers: { cookie, "x-forwarded-for": ip } }));

      // The database restarts: every connection is cut and, for a while, refused.
      await proxy.down();
      expect(await runtime.readiness()).toEqual({ ready: false, reason: "auth database not answering" });
      for (const response of [
        await sessionRequest(),
        await runtime.handle(authPost("/sign-in/email", user, ip)),
        await runtime.handle(authPost("/sign-up/email", { ...user, email: "other@example.com", name: "O" }, ip)),
      ]) {
        expect(response.status).toBe(503);
        expect(await response.json()).toMatchObject({ code: "AUTH_DATABASE_UNAVAILABLE" });
      }
      await expect((await runtime.auth()).api.getToken({ headers: new Headers({ cookie }) })).rejects.toBeDefined();

      await proxy.up();
      await eventually(async () => (await runtime.readiness()).ready, "ready after the restart");
      const session = await sessionRequest();
      expect(session.status).toBe(200);
      expect(await session.json()).toMatchObject({ user: { email: user.email } });
      expect((await runtime.handle(authPost("/sign-in/email", user, ip))).status).toBe(200);
      const { token } = await (await runtime.auth()).api.getToken({ headers: new Headers({ cookie }) });
      expect(token).toEqual(expect.any(String));
    } finally {
      await runtime.close();
      await proxy.down();
      errors.mockRestore();
      logs.mockRestore();
    }
  });
});
