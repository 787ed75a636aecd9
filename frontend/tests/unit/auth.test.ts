import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions, withSecureCookies } from "@/lib/auth";
import { openAuthDatabase, type AuthDatabaseHandle } from "@/lib/auth-db";
import { authConfigFromEnv } from "@/lib/config";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "@/lib/password-policy";

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

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "todo-auth-"));
  db = await openAuthDatabase({ kind: "pglite", dataDir: path.join(dataDir, "auth") });
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
      expect.arrayContaining(["user", "session", "account", "verification", "jwks", "rateLimit"]),
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

  it("looks sessions up without signing a JWT; tokens still come from /api/auth/token", async () => {
    const auth = betterAuth(options);
    const signUp = await auth.handler(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "grace@example.com", password: "correct horse battery", name: "Grace" }),
      }),
    );
    const cookie = cookieHeader(signUp);
    const viaHttp = await auth.handler(new Request(`${BASE}/api/auth/get-session`, { headers: { cookie } }));
    expect(viaHttp.status).toBe(200);
    expect(((await viaHttp.json()) as { user: { email: string } }).user.email).toBe("grace@example.com");
    expect(viaHttp.headers.get("set-auth-jwt")).toBeNull();
    // What a signed-in page render calls: only the session, no token.
    const viaApi = await auth.api.getSession({ headers: new Headers({ cookie }), returnHeaders: true });
    expect(viaApi.response?.user.email).toBe("grace@example.com");
    expect(viaApi.headers.get("set-auth-jwt")).toBeNull();
    const token = await auth.handler(new Request(`${BASE}/api/auth/token`, { headers: { cookie } }));
    expect(((await token.json()) as { token: string }).token.split(".")).toHaveLength(3);
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

describe("password rules", () => {
  const signUpWith = (email: string, password: string) =>
    betterAuth(options).handler(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE, "x-forwarded-for": "192.0.2.10" },
        body: JSON.stringify({ email, password, name: "P" }),
      }),
    );

  it("refuses a password shorter than the minimum, and takes one of exactly the minimum", async () => {
    expect(MIN_PASSWORD_LENGTH).toBeGreaterThanOrEqual(8);
    const short = await signUpWith("short@example.com", "x".repeat(MIN_PASSWORD_LENGTH - 1));
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({ code: "PASSWORD_TOO_SHORT" });
    expect((await signUpWith("min@example.com", "y".repeat(MIN_PASSWORD_LENGTH))).status).toBe(200);
  });

  it("refuses a password longer than the maximum (hashing megabytes is a denial of service)", async () => {
    expect(MAX_PASSWORD_LENGTH).toBeLessThanOrEqual(256);
    const long = await signUpWith("long@example.com", "z".repeat(MAX_PASSWORD_LENGTH + 1));
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ code: "PASSWORD_TOO_LONG" });
    expect((await signUpWith("max@example.com", "w".repeat(MAX_PASSWORD_LENGTH))).status).toBe(200);
  });
});

describe("session cookies", () => {
  function attributes(setCookie: string): { name: string; flags: Set<string>; values: Map<string, string> } {
    const [pair, ...rest] = setCookie.split(";").map((part) => part.trim());
    const flags = new Set<string>();
    const values = new Map<string, string>();
    for (const part of rest) {
      const [key, value] = part.split("=");
      if (value === undefined) flags.add(key.toLowerCase());
      else values.set(key.toLowerCase(), value.toLowerCase());
    }
    return { name: pair.split("=")[0], flags, values };
  }

  async function signUpOn(baseURL: string, email: string, headers: Record<string, string> = {}) {
    const auth = betterAuth(authOptions({ ...config, baseURL }, db.database));
    const request = new Request(`${baseURL}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: baseURL, "x-forwarded-for": "192.0.2.11", ...headers },
      body: JSON.stringify({ email, password: "correct horse battery", name: "C" }),
    });
    const response = await auth.handler(request);
    expect(response.status).toBe(200);
    return { request, response };
  }

  it("are HttpOnly, SameSite=Lax and Path=/ on http, without Secure", async () => {
    const { response } = await signUpOn(BASE, "cookie-http@example.com");
    const cookies = response.headers.getSetCookie().map(attributes);
    const session = cookies.find((c) => c.name === "better-auth.session_token");
    expect(session).toBeDefined();
    for (const cookie of cookies) {
      expect(cookie.flags.has("httponly"), cookie.name).toBe(true);
      expect(cookie.values.get("samesite"), cookie.name).toBe("lax");
      expect(cookie.values.get("path"), cookie.name).toBe("/");
      expect(cookie.flags.has("secure"), cookie.name).toBe(false);
    }
  });

  it("are Secure (and __Secure- prefixed) when BETTER_AUTH_URL is https", async () => {
    const { response } = await signUpOn("https://todo.example", "cookie-https@example.com");
    const cookies = response.headers.getSetCookie().map(attributes);
    expect(cookies.map((c) => c.name)).toContain("__Secure-better-auth.session_token");
    for (const cookie of cookies) {
      expect(cookie.flags.has("secure"), cookie.name).toBe(true);
      expect(cookie.flags.has("httponly"), cookie.name).toBe(true);
      expect(cookie.values.get("samesite"), cookie.name).toBe("lax");
    }
  });

  it("are made Secure when the browser came over https through a TLS-terminating proxy", async () => {
    const { request, response } = await signUpOn(BASE, "cookie-proxied@example.com", {
      "x-forwarded-proto": "https",
    });
    const cookies = withSecureCookies(request, response).headers.getSetCookie().map(attributes);
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.flags.has("secure"), cookie.name).toBe(true);
      expect(cookie.flags.has("httponly"), cookie.name).toBe(true);
      expect(cookie.values.get("samesite"), cookie.name).toBe("lax");
    }
    // Plain http stays as it was (a browser drops Secure cookies set over http).
    const plain = await signUpOn(BASE, "cookie-plain@example.com", { "x-forwarded-proto": "http" });
    const unchanged = withSecureCookies(plain.request, plain.response).headers.getSetCookie().map(attributes);
    expect(unchanged.every((c) => !c.flags.has("secure"))).toBe(true);
  });
});
