import { authConfigFromEnv, backendUrlFromEnv, ConfigError } from "./config";

function refuse(what: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`todo-frontend: refusing to start: ${what}: ${message}`);
  process.exit(1);
}

/**
 * Server start: the configuration is checked before the server answers anything (a short
 * BETTER_AUTH_SECRET ends the process here: no retry can fix it, and neither can a missing
 * AUTH_DATABASE_URL where there is no embedded PGlite, as in the image). The auth stack
 * (better-auth and the database driver, most of the server's own code) then loads, and its
 * database is prepared, in the background: /api/health answers as soon as the server listens
 * (SC-002) and needs neither. A database that is not reachable yet is not a reason to exit: it
 * is retried until it answers, /api/ready reports not ready meanwhile and requests that need it
 * get 503.
 */
export async function startAuth(): Promise<void> {
  try {
    const { database } = authConfigFromEnv();
    backendUrlFromEnv();
    if (database.kind === "pglite") await (await import("./auth-db")).loadPglite();
  } catch (error) {
    refuse(error instanceof ConfigError ? "invalid configuration" : "configuration check failed", error);
  }
  // After the start-up work queued so far, the server's first requests included.
  setImmediate(() => {
    import("./auth").then(
      ({ authRuntime }) => authRuntime().start(),
      (error: unknown) => refuse("loading the auth module failed", error),
    );
  });
}
