// The server side of `/api/backend/[...path]`: the browser's only way to the backend.
//
// Mapping: `/api/backend/<rest>?<query>` → `${BACKEND_URL}/api/<rest>?<query>`, e.g.
// `/api/backend/<user_id>/tasks?status=pending` → `${BACKEND_URL}/api/<user_id>/tasks?status=pending`.
// The request gains `Authorization: Bearer <the user's JWT>`; cookies never leave the frontend.

export interface ProxyDeps {
  /** The backend's base URL, read per request (never at build time). */
  backendUrl: () => string;
  /** The signed-in user's JWT, or null when nobody is signed in. */
  getToken: (headers: Headers) => Promise<string | null>;
}

/** Request headers passed on to the backend; everything else (cookies above all) stays here. */
const FORWARDED_REQUEST_HEADERS = ["accept", "accept-language", "content-type", "x-request-id"];

/**
 * Response headers not copied back: hop-by-hop ones, and those describing an encoding that
 * fetch has already undone.
 */
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-encoding",
  "content-length",
  "upgrade",
  "trailer",
  "te",
  "proxy-authenticate",
  "proxy-authorization",
  "set-cookie",
]);

function jsonError(status: number, detail: string): Response {
  return Response.json({ detail }, { status, headers: { "cache-control": "no-store" } });
}

/** The backend URL for a proxied request, or null when the path tries to leave `/api/`. */
export function backendTarget(backendUrl: string, segments: string[], search: string): string | null {
  if (segments.length === 0) return null;
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("/"))) return null;
  const encoded = segments.map(encodeURIComponent).join("/");
  return `${backendUrl.replace(/\/+$/, "")}/api/${encoded}${search}`;
}

export function createProxyHandler(deps: ProxyDeps) {
  return async function proxy(request: Request, segments: string[]): Promise<Response> {
    const url = new URL(request.url);
    const backendUrl = deps.backendUrl();
    const target = backendTarget(backendUrl, segments, url.search);
    if (!target) return jsonError(404, "Not found");

    const token = await deps.getToken(request.headers);
    if (!token) return jsonError(401, "Not signed in");

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    headers.set("authorization", `Bearer ${token}`);

    const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: request.method,
        headers,
        body: hasBody ? request.body : undefined,
        // Streams the request body instead of buffering it (required by Node's fetch).
        ...(hasBody ? { duplex: "half" } : {}),
        redirect: "manual",
        cache: "no-store",
        signal: request.signal,
      } as RequestInit);
    } catch (error) {
      if (request.signal.aborted) return jsonError(499, "Client closed the request");
      const reason = describeFetchError(error);
      console.error(`backend unreachable at ${backendUrl}: ${reason}`);
      return jsonError(502, `The backend service is unreachable (${reason}). Try again shortly.`);
    }

    const responseHeaders = new Headers();
    upstream.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders.set(name, value);
    });
    responseHeaders.set("cache-control", "no-store");
    // The body is passed through as a stream, so long chat answers are not buffered here.
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders,
    });
  };
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
