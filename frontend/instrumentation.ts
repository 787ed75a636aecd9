// Runs once when the server starts (not during `next build`): a missing or short
// BETTER_AUTH_SECRET or a malformed URL stops the server here, with the reason, instead of
// failing the first sign-in. The auth database is prepared in the background and waited for.
export async function register(): Promise<void> {
  // Written as a positive test so the edge build drops the Node-only import entirely.
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startAuth } = await import("./lib/startup");
    await startAuth();
  }
}
