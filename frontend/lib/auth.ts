import "server-only";

import { betterAuth, type BetterAuthOptions } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { nextCookies } from "better-auth/next-js";
import { jwt } from "better-auth/plugins";
import { authConfigFromEnv, type AuthConfig } from "./config";
import { openAuthDatabase } from "./auth-db";

/** How long a backend token lives; the proxy mints a fresh one per request. */
const JWT_LIFETIME = "15m";

/**
 * Sessions younger than this may delete the account without re-entering the password; the
 * account page asks older sessions to sign in again before it deletes the backend data.
 */
export const SESSION_FRESH_AGE_SECONDS = 60 * 60 * 24;

export function authOptions(config: AuthConfig, database: BetterAuthOptions["database"]) {
  return {
    secret: config.secret,
    baseURL: config.baseURL,
    database,
    telemetry: { enabled: false },
    emailAndPassword: { enabled: true, autoSignIn: true },
    session: { freshAge: SESSION_FRESH_AGE_SECONDS },
    rateLimit: {
      // better-auth allows 3 sign-ins/ups per 10 s per client IP. Without a proxy in front (local
      // stack, port-forward, e2e runs) every browser shares the server's one address, so that
      // limit trips on ordinary use; 1 per second per address still stops password guessing.
      customRules: {
        "/sign-in/email": { window: 10, max: 10 },
        "/sign-up/email": { window: 10, max: 10 },
      },
    },
    user: { deleteUser: { enabled: true } },
    plugins: [
      jwt({
        jwt: {
          issuer: config.issuer,
          audience: config.audience,
          expirationTime: JWT_LIFETIME,
          // `sub` is the user id (the plugin's default subject); the backend needs nothing more,
          // and a token should not carry the whole user row.
          definePayload: ({ user }) => ({ email: user.email, name: user.name }),
        },
      }),
      // Lets server actions that call auth.api set cookies; must stay the last plugin.
      nextCookies(),
    ],
  } satisfies BetterAuthOptions;
}

export type Auth = ReturnType<typeof betterAuth<ReturnType<typeof authOptions>>>;

// One instance per server process, created on first use so that `next build` (which imports
// route modules) never needs the secret or opens the database. Kept on globalThis so dev-mode
// module reloads do not open PGlite twice on the same directory.
const globalForAuth = globalThis as typeof globalThis & { __todoAuth?: Promise<Auth> };

async function createAuth(): Promise<Auth> {
  const config = authConfigFromEnv();
  const db = openAuthDatabase(config.database);
  const options = authOptions(config, db.database);
  // Tables first: better-auth checks the schema when it starts and would log it as missing.
  try {
    await db.withMigrationLock(async () => {
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
    });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return betterAuth(options);
}

/** The better-auth instance, once its tables exist. */
export function getAuth(): Promise<Auth> {
  if (!globalForAuth.__todoAuth) {
    const auth = createAuth();
    globalForAuth.__todoAuth = auth;
    // A failure is not cached: the next request (or the start-up check) tries again.
    auth.catch(() => {
      if (globalForAuth.__todoAuth === auth) globalForAuth.__todoAuth = undefined;
    });
  }
  return globalForAuth.__todoAuth;
}

/**
 * Validates the configuration and creates or upgrades the auth tables. Called once when the
 * server starts (instrumentation.ts); throws with a message that names the fix.
 */
export async function prepareAuth(): Promise<void> {
  await getAuth();
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
