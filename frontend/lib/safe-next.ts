/** A post-sign-in destination from `?next=`, only if it stays on this site. */
export function safeNextPath(next: string | null | undefined, fallback = "/tasks"): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) {
    return fallback;
  }
  return next;
}
