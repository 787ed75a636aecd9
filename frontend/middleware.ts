import { NextResponse, type NextRequest } from "next/server";

// A cheap first gate: visits without a session cookie go to sign-in. The (app) layout then
// checks the session itself against the database, so a stale or forged cookie gets no further.
const SESSION_COOKIES = ["better-auth.session_token", "__Secure-better-auth.session_token"];

export function middleware(request: NextRequest): NextResponse {
  if (SESSION_COOKIES.some((name) => request.cookies.has(name))) return NextResponse.next();
  const next = request.nextUrl.pathname + request.nextUrl.search;
  const location = next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`;
  // A relative Location: behind the ingress or a port-forward the server does not know the
  // address the browser used (it would otherwise answer with its own `localhost` URL).
  return new NextResponse(null, { status: 307, headers: { location } });
}

export const config = { matcher: ["/", "/tasks/:path*", "/chat/:path*", "/account/:path*"] };
