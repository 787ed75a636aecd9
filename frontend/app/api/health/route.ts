// Liveness and readiness: answers without touching the database (CONTRACTS.md "Services").
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
