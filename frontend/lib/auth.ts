import "server-only";

import { betterAuth, type BetterAuthOptions } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { authConfigFromEnv, type AuthConfig } from "./config";
import { openAuthDatabase, type AuthDatabaseHandle } from "./auth-db";
import { BodyTooLargeError, readLimitedBody } from "./body-limit";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./password-policy";
import { authRateLimit } from "./rate-limit";

/** How long a backend token lives; the proxy mints a fresh one per request. */
const JWT_LIFETIME = "15m";

/**
 * Sessions younger than this may delete the account without re-entering the password; the
 * account page asks older sessions to sign in again before it deletes the backend data.
 */
export const SESSION_FRESH_AGE_SECONDS = 60 * 60 * 24;

/** The auth endpoints take small JSON documents (an email, a password, a name). */
export const MAX_AUTH_BODY_BYTES = 64 * 1024;

export function authOptions(config: AuthConfig, database: BetterAuthOptions["database"]) {
  const rateLimit = authRateLimit();
  return {
    secret: config.secret,
    baseURL: config.baseURL,
    database,
    telemetry: { enabled: false },
    emailAndPassword: {
      enabled: true,
      autoSignIn: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: MAX_PASSWORD_LENGTH,
    },
    session: { freshAge: SESSION_FRESH_AGE_SECONDS },
    // Counted in the auth database, shared by all replicas (lib/rate-limit.ts).
    rateLimit: rateLimit.options,
    user: { deleteUser: { enabled: true } },
    plugins: [
      jwt({
        // Otherwise every session lookup (each signed-in page render, each get-session call) also
        // signs a JWT for a `set-auth-jwt` response header nothing reads: a database query for
        // the signing key, its decryption and an Ed25519 signature per page. Backend tokens come
        // from `/api/auth/token` (the proxy's getToken) only.
        disableSettingJwtHeader: true,
        jwt: {
          issuer: config.issuer,
          audience: config.audience,
          expirationTime: JWT_LIFETIME,
          // `sub` is the user id (the plugin's default subject); the backend needs nothing more,
          // and a token should not carry the whole user row.
          definePayload: ({ user }) => ({ email: user.email, name: user.name }),
        },
      }),
      rateLimit.plugin,
      // Lets server actions that call auth.api set cookies; must stay the last plugin.
      nextCookies(),
    ],
  } satisfies BetterAuthOptions;
}

export type Auth = ReturnType<typeof betterAuth<ReturnType<typeof authOptions>>>;

type Env = Record<string, string | undefined>;

/** The auth database is not (yet, or at the moment) reachable; answered with 503. */
export class AuthUnavailableError extends Error {
  override name = "AuthUnavailableError";
}

interface PreparedAuth {
  auth: Auth;
  db: AuthDatabaseHandle;
}

/** Opens the database, creates or upgrades the auth tables, and builds the instance on it. */
async function prepareAuth(env: Env): Promise<PreparedAuth> {
  const config = authConfigFromEnv(env);
  const db = await openAuthDatabase(config.database);
  try {
    const options = authOptions(config, db.database);
    // Tables first: better-auth checks the schema when it starts and would log it as missing.
    await db.withMigrationLock(async () => {
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
    });
    return { auth: betterAuth(options), db };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

export type Readiness = { ready: true } | { ready: false; reason: string };

export interface AuthRuntimeOptions {
  /** Where the configuration comes from; read at every attempt. */
  env?: () => Env;
  /** Pause after the first failed attempt, doubled after each further one up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/**
 * The server's better-auth instance and the state of its database. A database that is down
 * when the server starts, or goes away later, is waited for instead of ending the process:
 * attempts to prepare it are retried in the background (and on demand, at most once per
 * `firstRetryMs`), requests that need it get 503 meanwhile, and everything recovers by itself
 * once it answers again.
 */
export class AuthRuntime {
  private prepared: PreparedAuth | null = null;
  private attempt: Promise<PreparedAuth> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryInBackground = false;
  private closed = false;
  private failures = 0;
  private lastFailureAt = -Infinity;
  private lastFailure = "not prepared yet";
  private readonly createdAt = performance.now();
  private readonly env: () => Env;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;

  constructor(options: AuthRuntimeOptions = {}) {
    this.env = options.env ?? (() => process.env);
    this.firstRetryMs = options.firstRetryMs ?? 1_000;
    this.maxRetryMs = options.maxRetryMs ?? 10_000;
  }

  /** Starts preparing the database in the background and keeps retrying until it answers. */
  start(): void {
    this.retryInBackground = true;
    this.tryPrepare().catch(() => undefined);
  }

  /** The better-auth instance; throws {@link AuthUnavailableError} while its database is not ready. */
  async auth(): Promise<Auth> {
    return (await this.ready()).auth;
  }

  /** Readiness for the orchestrator: prepared, and the database answers right now. */
  async readiness(timeoutMs = 1_500): Promise<Readiness> {
    let prepared: PreparedAuth;
    try {
      prepared = await withTimeout(this.ready(), timeoutMs);
    } catch {
      return { ready: false, reason: "auth database not ready" };
    }
    try {
      await withTimeout(prepared.db.ping(), timeoutMs);
      return { ready: true };
    } catch {
      return { ready: false, reason: "auth database not answering" };
    }
  }

  /**
   * better-auth's endpoints (`/api/auth/*`): bodies over {@link MAX_AUTH_BODY_BYTES} → 413,
   * database unavailable → 503 JSON, cookies marked `Secure` when the browser came over https.
   */
  async handle(request: Request): Promise<Response> {
    let limited: Request;
    try {
      limited = await withLimitedBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return Response.json({ code: "PAYLOAD_TOO_LARGE", message: error.message }, { status: 413 });
      }
      throw error;
    }
    let prepared: PreparedAuth;
    try {
      prepared = await this.ready();
    } catch (error) {
      if (error instanceof AuthUnavailableError) return unavailable();
      throw error;
    }
    let response: Response;
    try {
      response = await prepared.auth.handler(limited);
    } catch (error) {
      if (await this.databaseDown(prepared)) return unavailable();
      throw error;
    }
    // better-auth answers a failing query with a bare 500; when the database is the reason,
    // say so, with a status that tells clients to come back.
    if (response.status >= 500 && (await this.databaseDown(prepared))) return unavailable();
    return withSecureCookies(request, response);
  }

  /** Stops retrying and closes the database (tests, shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.attempt?.catch(() => undefined);
    await this.prepared?.db.close().catch(() => undefined);
    this.prepared = null;
  }

  private async ready(): Promise<PreparedAuth> {
    if (this.prepared) return this.prepared;
    if (this.closed) throw new AuthUnavailableError("closed");
    // Under load while the database is down, requests share one attempt per pause rather than
    // each opening connections of its own.
    if (!this.attempt && performance.now() - this.lastFailureAt < this.firstRetryMs) {
      throw new AuthUnavailableError(this.lastFailure);
    }
    return this.tryPrepare();
  }

  private tryPrepare(): Promise<PreparedAuth> {
    if (this.prepared) return Promise.resolve(this.prepared);
    if (this.attempt) return this.attempt;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    const attempt = prepareAuth(this.env()).then(
      (prepared) => {
        this.attempt = null;
        if (this.closed) {
          void prepared.db.close().catch(() => undefined);
          throw new AuthUnavailableError("closed");
        }
        this.prepared = prepared;
        const elapsed = Math.round(performance.now() - this.createdAt);
        console.log(
          this.failures === 0
            ? `todo-frontend: auth database ready in ${elapsed} ms`
            : `todo-frontend: auth database ready after ${this.failures} failed attempts (${elapsed} ms after start)`,
        );
        this.failures = 0;
        return prepared;
      },
      (error: unknown) => {
        this.attempt = null;
        this.failures += 1;
        this.lastFailureAt = performance.now();
        this.lastFailure = describeFailure(error, this.env());
        const delay = Math.min(this.maxRetryMs, this.firstRetryMs * 2 ** (this.failures - 1));
        const next = this.retryInBackground && !this.closed ? `; retrying in ${delay} ms` : "";
        console.error(`todo-frontend: auth database not ready (attempt ${this.failures}): ${this.lastFailure}${next}`);
        if (next) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.tryPrepare().catch(() => undefined);
          }, delay);
          this.retryTimer.unref?.();
        }
        throw new AuthUnavailableError(this.lastFailure, { cause: error });
      },
    );
    this.attempt = attempt;
    return attempt;
  }

  private async databaseDown(prepared: PreparedAuth): Promise<boolean> {
    try {
      await withTimeout(prepared.db.ping(), 2_000);
      return false;
    } catch {
      return true;
    }
  }
}

function unavailable(): Response {
  return Response.json(
    {
      code: "AUTH_DATABASE_UNAVAILABLE",
      message: "Sign-in is temporarily unavailable. Please try again in a moment.",
    },
    { status: 503, headers: { "retry-after": "5", "cache-control": "no-store" } },
  );
}

async function withLimitedBody(request: Request): Promise<Request> {
  if (request.method === "GET" || request.method === "HEAD" || !request.body) return request;
  const body = await readLimitedBody(request, MAX_AUTH_BODY_BYTES);
  return new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
}

const SECURE_ATTRIBUTE = /;\s*secure\s*(;|$)/i;

/**
 * better-auth marks its cookies `Secure` when BETTER_AUTH_URL is https. Behind a proxy that
 * terminates TLS for an http BETTER_AUTH_URL the browser still came over https (the proxy says
 * so in X-Forwarded-Proto), so the cookies get `Secure` too.
 */
export function withSecureCookies(request: Request, response: Response): Response {
  const forwarded = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  const protocol = forwarded || new URL(request.url).protocol.replace(/:$/, "");
  if (protocol !== "https") return response;
  const cookies = response.headers.getSetCookie();
  if (cookies.every((cookie) => SECURE_ATTRIBUTE.test(cookie))) return response;
  const headers = new Headers(response.headers);
  headers.delete("set-cookie");
  for (const cookie of cookies) headers.append("set-cookie", SECURE_ATTRIBUTE.test(cookie) ? cookie : `${cookie}; Secure`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The reason for the log, without the database password should a driver ever echo the URL. */
function describeFailure(error: unknown, env: Env): string {
  const cause = (error as { code?: unknown })?.code;
  let message = error instanceof Error ? error.message : String(error);
  if (typeof cause === "string" && !message.includes(cause)) message = `${cause}: ${message}`;
  const url = env.AUTH_DATABASE_URL;
  if (url) {
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) message = message.split(password).join("***");
    } catch {
      // Not a URL: nothing to redact from it.
    }
    message = message.split(url).join("AUTH_DATABASE_URL");
  }
  return message || "unknown error";
}

// One runtime per server process. Kept on globalThis so dev-mode module reloads do not open
// PGlite twice on the same directory; nothing is opened until the first use, so `next build`
// (which imports route modules) never needs the secret or the database.
const globalForAuth = globalThis as typeof globalThis & { __todoAuthRuntime?: AuthRuntime };

export function authRuntime(): AuthRuntime {
  globalForAuth.__todoAuthRuntime ??= new AuthRuntime();
  return globalForAuth.__todoAuthRuntime;
}

/** The better-auth instance, once its tables exist; {@link AuthUnavailableError} until then. */
export function getAuth(): Promise<Auth> {
  return authRuntime().auth();
}

/** A JWT for the backend on behalf of the signed-in user, or null when nobody is signed in. */
export async function backendTokenFor(headers: Headers): Promise<string | null> {
  const auth = await getAuth();
  try {
    const { token } = await auth.api.getToken({ headers });
    return token;
  } catch (error) {
    if (isUnauthorized(error)) return null;
    throw error;
  }
}

/** The signed-in user's session, or null. */
export async function getSession(headers: Headers) {
  const auth = await getAuth();
  return auth.api.getSession({ headers });
}

function isUnauthorized(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  return status === "UNAUTHORIZED" || statusCode === 401;
}
