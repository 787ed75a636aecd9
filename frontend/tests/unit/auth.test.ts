import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "@/lib/auth";
import { openAuthDatabase, type AuthDatabaseHandle } from "@/lib/auth-db";
import { authConfigFromEnv } from "@/lib/config";

// The real better-auth configuration on a real embedded PGlite database in a temp directory.
const BASE = "http://localhost:3000";
const config = authConfigFromEnv({
  BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
  BETTER_AUTH_URL: BASE,
  AUTH_ISSUER: "http://issuer.test",
  AUTH_AUDIENCE: "todo-backend-test",
});

let dataDir: string;
let db: AuthDatabaseHandle;
let options: ReturnType<typeof authOptions>;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), "todo-auth-"));
  db = openAuthDatabase({ kind: "pglite", dataDir: path.join(dataDir, "auth") });
  options = authOptions(config, db.database);
});

afterAll(async () => {
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function cookieHeader(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

describe("auth on PGlite", () => {
  it("creates the tables, and a second run finds nothing left to do", async () => {
    const first = await getMigrations(options);
    expect(first.toBeCreated.map((t) => t.table)).toEqual(
      expect.arrayContaining(["user", "session", "account", "verification", "jwks"]),
    );
    await db.withMigrationLock(first.runMigrations);

    const second = await getMigrations(options);
    expect(second.toBeCreated).toEqual([]);
    expect(second.toBeAdded).toEqual([]);
    await second.runMigrations();
  });

  it("signs a user up and issues a JWT with sub = user id and the configured iss/aud", async () => {
    const auth = betterAuth(options);
    const signUp = await auth.handler(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "ada@example.com", password: "correct horse battery", name: "Ada" }),
      }),
    );
    expect(signUp.status).toBe(200);
    const { user } = (await signUp.json()) as { user: { id: string } };
    const cookie = cookieHeader(signUp);

    const tokenResponse = await auth.handler(
      new Request(`${BASE}/api/auth/token`, { headers: { cookie } }),
    );
    expect(tokenResponse.status).toBe(200);
    const { token } = (await tokenResponse.json()) as { token: string };

    const jwksResponse = await auth.handler(new Request(`${BASE}/api/auth/jwks`));
    expect(jwksResponse.status).toBe(200);
    const jwks = (await jwksResponse.json()) as JSONWebKeySet;
    expect(decodeProtectedHeader(token).alg).toBe("EdDSA");

    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: "http://issuer.test",
      audience: "todo-backend-test",
    });
    expect(payload.sub).toBe(user.id);
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
    // The token carries what the backend needs, not the whole user row.
    expect(Object.keys(payload).sort()).toEqual(["aud", "email", "exp", "iat", "iss", "name", "sub"]);

    // Server-side, the proxy gets the same kind of token through the API.
    const viaApi = await auth.api.getToken({ headers: new Headers({ cookie }) });
    expect((await jwtVerify(viaApi.token, createLocalJWKSet(jwks))).payload.sub).toBe(user.id);
  });

  it("refuses a token request without a session", async () => {
    const auth = betterAuth(options);
    const response = await auth.handler(new Request(`${BASE}/api/auth/token`));
    expect(response.status).toBe(401);
  });

  it("lets a fresh session delete its user", async () => {
    const auth = betterAuth(options);
    const signUp = await auth.handler(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "bob@example.com", password: "correct horse battery", name: "Bob" }),
      }),
    );
    const cookie = cookieHeader(signUp);
    const deleted = await auth.handler(
      new Request(`${BASE}/api/auth/delete-user`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE, cookie },
        body: "{}",
      }),
    );
    expect(deleted.status).toBe(200);
    const session = await auth.api.getSession({ headers: new Headers({ cookie }) });
    expect(session).toBeNull();
  });
});
