import { prepareAuth } from "./auth";
import { ConfigError } from "./config";

/** Prepares auth at server start, or ends the process with a message that names the fix. */
export async function startAuth(): Promise<void> {
  try {
    await prepareAuth();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const what = error instanceof ConfigError ? "invalid configuration" : "auth database not ready";
    console.error(`todo-frontend: refusing to start: ${what}: ${message}`);
    process.exit(1);
  }
}
