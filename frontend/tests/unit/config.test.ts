import { describe, expect, it } from "vitest";
import {
  authConfigFromEnv,
  backendUrlFromEnv,
  ConfigError,
  DEFAULT_AUTH_DATA_DIR,
  MIN_SECRET_LENGTH,
} from "@/lib/config";

const SECRET = "s".repeat(MIN_SECRET_LENGTH);

describe("authConfigFromEnv", () => {
  it("refuses a missing secret, naming the variable and how to make one", () => {
    expect(() => authConfigFromEnv({})).toThrow(ConfigError);
    expect(() => authConfigFromEnv({})).toThrow(/BETTER_AUTH_SECRET.*at least 32.*empty.*openssl rand/);
  });

  it("refuses an empty secret", () => {
    expect(() => authConfigFromEnv({ BETTER_AUTH_SECRET: "" })).toThrow(/BETTER_AUTH_SECRET/);
  });

  it("refuses a secret one character short, and says how long it is", () => {
    const short = "x".repeat(MIN_SECRET_LENGTH - 1);
    expect(() => authConfigFromEnv({ BETTER_AUTH_SECRET: short })).toThrow(/it is 31 characters/);
  });

  it("never puts the secret into the error", () => {
    const short = "hunter2-not-long-enough";
    try {
      authConfigFromEnv({ BETTER_AUTH_SECRET: short });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(short);
    }
  });

  it("accepts a 32-character secret with the contract's defaults", () => {
    const config = authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET });
    expect(config).toEqual({
      secret: SECRET,
      baseURL: "http://localhost:3000",
      issuer: "http://localhost:3000",
      audience: "http://localhost:3000",
      database: { kind: "pglite", dataDir: DEFAULT_AUTH_DATA_DIR },
    });
    expect(DEFAULT_AUTH_DATA_DIR).toBe(".data/auth");
  });

  it("keeps PGlite where AUTH_DATA_DIR says", () => {
    const config = authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, AUTH_DATA_DIR: "/srv/todo/.data/auth" });
    expect(config.database).toEqual({ kind: "pglite", dataDir: "/srv/todo/.data/auth" });
    const blank = authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, AUTH_DATA_DIR: "  " });
    expect(blank.database).toEqual({ kind: "pglite", dataDir: DEFAULT_AUTH_DATA_DIR });
  });

  it("takes issuer and audience from BETTER_AUTH_URL unless set", () => {
    const fromUrl = authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, BETTER_AUTH_URL: "http://todo.local/" });
    expect(fromUrl.baseURL).toBe("http://todo.local");
    expect(fromUrl.issuer).toBe("http://todo.local");
    expect(fromUrl.audience).toBe("http://todo.local");

    const explicit = authConfigFromEnv({
      BETTER_AUTH_SECRET: SECRET,
      BETTER_AUTH_URL: "http://todo.local",
      AUTH_ISSUER: "https://issuer.example",
      AUTH_AUDIENCE: "todo-api",
    });
    expect(explicit.issuer).toBe("https://issuer.example");
    expect(explicit.audience).toBe("todo-api");
  });

  it("uses Postgres for postgres:// and postgresql:// URLs", () => {
    for (const url of ["postgres://u:p@db:5432/todo", "postgresql://u:p@db/todo?sslmode=require"]) {
      const config = authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, AUTH_DATABASE_URL: url });
      expect(config.database).toEqual({ kind: "postgres", url });
    }
  });

  it("rejects other database URLs without echoing them (they may carry a password)", () => {
    const url = "mysql://user:topsecret@db/todo";
    expect(() => authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, AUTH_DATABASE_URL: url })).toThrow(
      /AUTH_DATABASE_URL must start with postgres/,
    );
    try {
      authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, AUTH_DATABASE_URL: url });
    } catch (error) {
      expect(String(error)).not.toContain("topsecret");
    }
  });

  it("rejects a BETTER_AUTH_URL that is not http(s)", () => {
    expect(() => authConfigFromEnv({ BETTER_AUTH_SECRET: SECRET, BETTER_AUTH_URL: "todo.local" })).toThrow(
      /BETTER_AUTH_URL must be an http\(s\) URL/,
    );
  });
});

describe("backendUrlFromEnv", () => {
  it("defaults to the local backend", () => {
    expect(backendUrlFromEnv({})).toBe("http://127.0.0.1:8000");
  });

  it("reads BACKEND_URL and drops a trailing slash", () => {
    expect(backendUrlFromEnv({ BACKEND_URL: "http://backend-service:8000/" })).toBe(
      "http://backend-service:8000",
    );
  });

  it("rejects a malformed BACKEND_URL", () => {
    expect(() => backendUrlFromEnv({ BACKEND_URL: "backend-service:8000" })).toThrow(ConfigError);
  });
});
