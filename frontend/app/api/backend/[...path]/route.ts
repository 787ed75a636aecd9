import { backendTokenFor } from "@/lib/auth";
import { backendUrlFromEnv } from "@/lib/config";
import { createProxyHandler } from "@/lib/proxy";

// Forwards `/api/backend/<rest>` to `${BACKEND_URL}/api/<rest>` with the user's JWT (lib/proxy.ts).
export const dynamic = "force-dynamic";

const proxy = createProxyHandler({
  backendUrl: () => backendUrlFromEnv(),
  getToken: backendTokenFor,
});

type Context = { params: Promise<{ path: string[] }> };

async function handle(request: Request, { params }: Context): Promise<Response> {
  const { path } = await params;
  return proxy(request, path);
}

export {
  handle as GET,
  handle as POST,
  handle as PUT,
  handle as PATCH,
  handle as DELETE,
  handle as HEAD,
  handle as OPTIONS,
};
