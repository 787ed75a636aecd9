// Runs once when the server starts (not during `next build`): a missing or short
// BETTER_AUTH_SECRET, a malformed URL or an unreachable auth database stops the server here,
// with the reason, instead of failing the first sign-in.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startAuth } = await import("./lib/startup");
  await startAuth();
}
