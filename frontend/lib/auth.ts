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

interface AuthState {
  auth: Auth;
  ready: Promise<void>;
}

// One instance per server process, created on first use so that `next build` (which imports
// route modules) never needs the secret or opens the database. Kept on globalThis so dev-mode
// module reloads do not open PGlite twice on the same directory.
const globalForAuth = globalThis as typeof globalThis & { __todoAuth?: AuthState };

function authState(): AuthState {
  if (!globalForAuth.__todoAuth) {
    const config = authConfigFromEnv();
    const db = openAuthDatabase(config.database);
    const options = authOptions(config, db.database);
    const auth = betterAuth(options);
    const ready = db.withMigrationLock(async () => {
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
    });
    // A failed migration must not be cached as success, nor leave an unhandled rejection.
    ready.catch(() => undefined);
    globalForAuth.__todoAuth = { auth, ready };
  }
  return globalForAuth.__todoAuth;
}

/** The better-auth instance, once its tables exist. */
export async function getAuth(): Promise<Auth> {
  const state = authState();
  await state.ready;
  return state.auth;
}

/**
 * Validates the configuration and creates or upgrades the auth tables. Called once when the
 * server starts (instrumentation.ts); throws with a message that names the fix.
 */
export async function prepareAuth(): Promise<void> {
  await authState().ready;
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
