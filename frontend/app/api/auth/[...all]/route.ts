import { getAuth } from "@/lib/auth";

// better-auth's endpoints: sign-up/in/out, session, delete-user, and the JWT plugin's
// `/api/auth/token` and `/api/auth/jwks` (the backend's AUTH_JWKS_URL).
export const dynamic = "force-dynamic";

async function handle(request: Request): Promise<Response> {
  const auth = await getAuth();
  return auth.handler(request);
}

export { handle as GET, handle as POST, handle as PUT, handle as PATCH, handle as DELETE };
