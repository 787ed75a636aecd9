// Runtime configuration of the frontend server, read from the environment when the server starts
// or a request arrives — never at build time, so one image runs in every environment.
// The variables and their defaults are those of docs/contract.md ("Configuration").

export const MIN_SECRET_LENGTH = 32;
export const DEFAULT_BETTER_AUTH_URL = "http://localhost:3000";
export const DEFAULT_BACKEND_URL = "http://127.0.0.1:8000";
/** Relative to the server's working directory, like the backend's `.data/todo.db`. */
export const DEFAULT_AUTH_DATA_DIR = ".data/auth";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type AuthDatabase =
  | { kind: "pglite"; dataDir: string }
  | { kind: "postgres"; url: string };

export interface AuthConfig {
  secret: string;
  baseURL: string;
  issuer: string;
  audience: string;
  database: AuthDatabase;
}

type Env = Record<string, string | undefined>;

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function parseHttpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, "");
}

export function authDatabaseFromEnv(env: Env): AuthDatabase {
  const url = nonEmpty(env.AUTH_DATABASE_URL);
  // AUTH_DATA_DIR moves the embedded database: the standalone server changes into its own
  // folder, which the next build wipes, so `cargo xtask dev --release` keeps it in .data/.
  if (!url) return { kind: "pglite", dataDir: nonEmpty(env.AUTH_DATA_DIR) ?? DEFAULT_AUTH_DATA_DIR };
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: "postgres", url };
  // Never echo the value: a database URL usually carries a password.
  throw new ConfigError(
    "AUTH_DATABASE_URL must start with postgres:// or postgresql:// " +
      "(outside a container image, leave it unset to use the embedded PGlite database under .data/auth/)",
  );
}

/**
 * The better-auth settings, validated. Throws {@link ConfigError} with a message that names the
 * fix; the server refuses to start on it (see instrumentation.ts).
 */
export function authConfigFromEnv(env: Env = process.env): AuthConfig {
  const secret = env.BETTER_AUTH_SECRET ?? "";
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `BETTER_AUTH_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters ` +
        `(it is ${secret.length === 0 ? "empty" : `${secret.length} characters`}); ` +
        "generate one with: openssl rand -base64 32",
    );
  }
  const baseURL = parseHttpUrl(
    "BETTER_AUTH_URL",
    nonEmpty(env.BETTER_AUTH_URL) ?? DEFAULT_BETTER_AUTH_URL,
  );
  return {
    secret,
    baseURL,
    issuer: nonEmpty(env.AUTH_ISSUER) ?? baseURL,
    audience: nonEmpty(env.AUTH_AUDIENCE) ?? baseURL,
    database: authDatabaseFromEnv(env),
  };
}

/** Where `/api/backend/...` forwards to. */
export function backendUrlFromEnv(env: Env = process.env): string {
  return parseHttpUrl("BACKEND_URL", nonEmpty(env.BACKEND_URL) ?? DEFAULT_BACKEND_URL);
}
