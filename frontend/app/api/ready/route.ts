import { authRuntime } from "@/lib/auth";

// Readiness: 200 once the auth tables exist and the auth database answers, else 503 (the pod
// leaves the Service until it answers again). Liveness is /api/health, which never touches it.
export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const readiness = await authRuntime().readiness();
  return Response.json(readiness.ready ? { status: "ready" } : { status: "not ready", detail: readiness.reason }, {
    status: readiness.ready ? 200 : 503,
    headers: { "cache-control": "no-store" },
  });
}
