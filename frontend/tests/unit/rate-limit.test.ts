import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions, type Auth } from "@/lib/auth";
import { openAuthDatabase, type AuthDatabaseHandle } from "@/lib/auth-db";
import { authConfigFromEnv } from "@/lib/config";
import {
  consumeFixedWindow,
  SIGN_IN_PER_ACCOUNT,
  SIGN_IN_PER_ADDRESS,
  SIGN_UP_PER_ADDRESS,
} from "@/lib/rate-limit";
import { authPost, BASE, signIn, signUp } from "../support/auth-requests";

// better-auth's sign-in/sign-up rate limits with two instances on one embedded database, as two
// replicas share one PostgreSQL (tests/unit/auth-postgres.test.ts does that for real). Each test
// uses client addresses of its own, so counters never carry over between tests.

const config = authConfigFromEnv({
  BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
  BETTER_AUTH_URL: BASE,
});
const PASSWORD = "correct horse battery";

let dataDir: string;
let db: AuthDatabaseHandle;
let replicaA: Auth;
let replicaB: Auth;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "todo-rate-limit-"));
  db = await openAuthDatabase({ kind: "pglite", dataDir: path.join(dataDir, "auth") });
  const options = authOptions(config, db.database);
  await db.withMigrationLock(async () => (await getMigrations(options)).runMigrations());
  // Two instances, each with its own options (and so its own rate-limit storage), one database.
  replicaA = betterAuth(options);
  replicaB = betterAuth(authOptions(config, db.database));
});

afterAll(async () => {
  await db?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function counters(): Promise<{ key: string; count: number }[]> {
  const { adapter } = await replicaA.$context;
  const rows = await adapter.findMany<{ key: string; count: number | string }>({ model: "rateLimit" });
  return rows.map((row) => ({ key: row.key, count: Number(row.count) }));
}

describe("sign-in limit per address and account", () => {
  it("is counted in the database: failures on two replicas add up to one limit for that account only", async () => {
    const ip = "198.51.100.1";
    await signUp(replicaA, "ada@example.com", PASSWORD, ip);
    await signUp(replicaB, "bob@example.com", PASSWORD, ip);
    for (let i = 0; i < SIGN_IN_PER_ACCOUNT.max; i += 1) {
      const replica = i % 2 === 0 ? replicaA : replicaB;
      const response = await signIn(replica, "ada@example.com", "wrong password", ip);
      expect(response.status, `attempt ${i + 1}`).toBe(401);
    }
    for (const replica of [replicaA, replicaB]) {
      const refused = await signIn(replica, "ada@example.com", PASSWORD, ip);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("x-retry-after"))).toBeGreaterThan(0);
      expect(Number(refused.headers.get("x-retry-after"))).toBeLessThanOrEqual(SIGN_IN_PER_ACCOUNT.window);
    }
    // The counter is a row of better-auth's rateLimit table, and holds no email address.
    const rows = await counters();
    const account = rows.filter((row) => row.key.startsWith(`${ip}|/sign-in/email|account:`));
    expect(account).toEqual([{ key: expect.any(String), count: SIGN_IN_PER_ACCOUNT.max }]);
    expect(rows.some((row) => row.key.includes("ada@example.com"))).toBe(false);

    // Another account behind the same address is not locked out, on either replica ...
    expect((await signIn(replicaB, "bob@example.com", PASSWORD, ip)).status).toBe(200);
    expect((await signIn(replicaA, "bob@example.com", "typo", ip)).status).toBe(401);
    // ... nor is the same account from another address.
    expect((await signIn(replicaA, "ada@example.com", PASSWORD, "198.51.100.101")).status).toBe(200);
  });

  it("counts only failures: a successful sign-in starts the account's count again", async () => {
    const ip = "198.51.100.3";
    await signUp(replicaA, "carol@example.com", PASSWORD, ip);
    for (let i = 0; i < SIGN_IN_PER_ACCOUNT.max - 1; i += 1) {
      expect((await signIn(replicaB, "carol@example.com", "wrong", ip)).status).toBe(401);
    }
    expect((await signIn(replicaA, "carol@example.com", PASSWORD, ip)).status).toBe(200);
    for (let i = 0; i < SIGN_IN_PER_ACCOUNT.max; i += 1) {
      expect((await signIn(replicaB, "carol@example.com", "wrong", ip)).status, `after reset ${i + 1}`).toBe(401);
    }
    expect((await signIn(replicaA, "carol@example.com", "wrong", ip)).status).toBe(429);
  });

  it("lets a loop sign the same user in again and again (rolling-update checks)", async () => {
    const ip = "198.51.100.4";
    await signUp(replicaB, "loop@example.com", PASSWORD, ip);
    for (let i = 0; i < SIGN_IN_PER_ACCOUNT.max + 2; i += 1) {
      const response = await signIn(i % 2 === 0 ? replicaA : replicaB, "loop@example.com", PASSWORD, ip);
      expect(response.status, `sign-in ${i + 1}`).toBe(200);
    }
  });
});

describe("sign-in ceiling per address", () => {
  it("refuses the address after its ceiling, across accounts and replicas, and only that address", async () => {
    const ip = "198.51.100.5";
    // Requests without a password fail validation cheaply, after they have been counted.
    for (let i = 0; i < SIGN_IN_PER_ADDRESS.max; i += 1) {
      const response = await (i % 2 === 0 ? replicaA : replicaB).handler(
        authPost("/sign-in/email", { email: `someone${i}@example.com` }, ip),
      );
      expect(response.status, `attempt ${i + 1}`).not.toBe(429);
    }
    const refused = await replicaA.handler(authPost("/sign-in/email", { email: "one-more@example.com" }, ip));
    expect(refused.status).toBe(429);
    const elsewhere = await replicaB.handler(authPost("/sign-in/email", { email: "one-more@example.com" }, "198.51.100.105"));
    expect(elsewhere.status).not.toBe(429);
  });
});

describe("sign-up limit per address", () => {
  it("refuses the address after its limit, across replicas", async () => {
    const ip = "198.51.100.6";
    for (let i = 0; i < SIGN_UP_PER_ADDRESS.max; i += 1) {
      const response = await (i % 2 === 0 ? replicaA : replicaB).handler(authPost("/sign-up/email", {}, ip));
      expect(response.status, `attempt ${i + 1}`).not.toBe(429);
    }
    expect((await replicaB.handler(authPost("/sign-up/email", {}, ip))).status).toBe(429);
    expect((await replicaA.handler(authPost("/sign-up/email", {}, "198.51.100.106"))).status).not.toBe(429);
  });

  it("allows the sign-ups of the smoke test, the integration and the browser tests in a row", async () => {
    const ip = "198.51.100.7";
    for (let i = 0; i < 11; i += 1) {
      await signUp(i % 2 === 0 ? replicaA : replicaB, `burst${i}@example.com`, PASSWORD, ip);
    }
  });
});

describe("session reads", () => {
  it("are not limited, so people behind one address never share a budget for them", async () => {
    const ip = "198.51.100.8";
    for (let i = 0; i < 150; i += 1) {
      const response = await replicaA.handler(
        new Request(`${BASE}/api/auth/jwks`, { headers: { "x-forwarded-for": ip } }),
      );
      expect(response.status, `request ${i + 1}`).toBe(200);
    }
  });
});

describe("consumeFixedWindow", () => {
  it("allows max requests per window, counted from the window's first request", async () => {
    const { adapter } = await replicaA.$context;
    const rule = { window: 10, max: 3 };
    const key = "test|fixed-window";
    const t0 = 1_800_000_000_000;
    const at = (seconds: number) => consumeFixedWindow(adapter, key, rule, t0 + seconds * 1000);
    expect(await at(0)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(1)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(2)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(3)).toEqual({ allowed: false, retryAfter: 7 });
    expect(await at(9.5)).toEqual({ allowed: false, retryAfter: 1 });
    // A new window at t0 + 10 s, although the last allowed request was only 8 s earlier.
    expect(await at(10)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(10.5)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(11)).toEqual({ allowed: true, retryAfter: null });
    expect(await at(12)).toEqual({ allowed: false, retryAfter: 8 });
  });
});
