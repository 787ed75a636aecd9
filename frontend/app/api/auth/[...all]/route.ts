import { authRuntime } from "@/lib/auth";

// better-auth's endpoints: sign-up/in/out, session, delete-user, and the JWT plugin's
// `/api/auth/token` and `/api/auth/jwks` (the backend's AUTH_JWKS_URL). Body limit, 503 while
// the auth database is unavailable and Secure cookies behind https: lib/auth.ts (AuthRuntime).
export const dynamic = "force-dynamic";

function handle(request: Request): Promise<Response> {
  return authRuntime().handle(request);
}

export { handle as GET, handle as POST, handle as PUT, handle as PATCH, handle as DELETE };
