import { NextResponse, type NextRequest } from "next/server";

// A cheap first gate: visits to the app's pages without a session cookie go to sign-in (the
// home page `/` is public: it shows signed-out visitors a page linking to sign-in). The (app) layout then
// checks the session itself against the database, so a stale or forged cookie gets no further.
const SESSION_COOKIES = ["better-auth.session_token", "__Secure-better-auth.session_token"];

/**
 * The origin the browser used. Behind the ingress or a port-forward the standalone server only
 * knows its own listening address (request.url says `localhost`), so the Host header decides.
 */
function browserOrigin(request: NextRequest): string {
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  const proto = request.headers.get("x-forwarded-proto") ?? request.nextUrl.protocol.replace(/:$/, "");
  return host ? `${proto.split(",")[0].trim()}://${host.split(",")[0].trim()}` : request.nextUrl.origin;
}

export function middleware(request: NextRequest): NextResponse {
  if (SESSION_COOKIES.some((name) => request.cookies.has(name))) return NextResponse.next();
  const signIn = new URL("/sign-in", browserOrigin(request));
  signIn.searchParams.set("next", request.nextUrl.pathname + request.nextUrl.search);
  return NextResponse.redirect(signIn);
}

// The Node.js runtime: the edge runtime's sandbox cost more per page visit than this check does.
export const config = { runtime: "nodejs", matcher: ["/tasks/:path*", "/chat/:path*", "/account/:path*"] };
