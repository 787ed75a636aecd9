// Liveness: answers without touching the database, so a database restart never restarts this
// server. Readiness is /api/ready.
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
