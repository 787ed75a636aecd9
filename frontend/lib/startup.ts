import { prepareAuth } from "./auth";
import { authConfigFromEnv, backendUrlFromEnv, ConfigError } from "./config";

function refuse(what: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`todo-frontend: refusing to start: ${what}: ${message}`);
  process.exit(1);
}

/**
 * Server start: the configuration is checked before the server answers anything (a short
 * BETTER_AUTH_SECRET ends the process here). The auth tables are then created or upgraded in
 * the background, so /api/health answers as soon as the server listens (SC-002); auth requests
 * wait for the same promise, and a database that cannot be prepared ends the process.
 */
export function startAuth(): void {
  try {
    authConfigFromEnv();
    backendUrlFromEnv();
  } catch (error) {
    refuse(error instanceof ConfigError ? "invalid configuration" : "configuration check failed", error);
  }
  const started = performance.now();
  prepareAuth().then(
    () => console.log(`todo-frontend: auth database ready in ${Math.round(performance.now() - started)} ms`),
    (error: unknown) => refuse("auth database not ready", error),
  );
}
