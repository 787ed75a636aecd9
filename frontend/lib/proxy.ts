// The server side of `/api/backend/[...path]`: the browser's only way to the backend.
//
// Mapping: `/api/backend/<rest>?<query>` → `${BACKEND_URL}/api/<rest>?<query>`, e.g.
// `/api/backend/<user_id>/tasks?status=pending` → `${BACKEND_URL}/api/<user_id>/tasks?status=pending`.
// The request gains `Authorization: Bearer <the user's JWT>`; cookies never leave the frontend.

import { BodyTooLargeError, declaredLength, readLimitedBody } from "./body-limit";

export interface ProxyDeps {
  /** The backend's base URL, read per request (never at build time). */
  backendUrl: () => string;
  /** The signed-in user's JWT, or null when nobody is signed in. */
  getToken: (headers: Headers) => Promise<string | null>;
  /** Largest request body passed on; {@link MAX_REQUEST_BODY_BYTES} unless set. */
  maxBodyBytes?: number;
  /** How long the backend may take to send its response headers; {@link UPSTREAM_TIMEOUT_MS} unless set. */
  upstreamTimeoutMs?: number;
}

/**
 * Request headers passed on to the backend: an allowlist, so that nothing else the browser (or
 * anyone else) sends reaches it — no cookies, no `Authorization` of its own, no `Host` or
 * `X-Forwarded-*`. The proxy adds `Authorization: Bearer <JWT>`; the HTTP client adds its own
 * `Host`, `Content-Length`, `Connection`, `User-Agent` and `Accept-Encoding`.
 */
export const FORWARDED_REQUEST_HEADERS = ["accept", "accept-language", "content-type", "x-request-id"] as const;

/** The backend's requests are small JSON documents; anything bigger is refused with 413. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/**
 * Connect plus time to the response headers. Just under ingress-nginx's default 60 s
 * proxy-read-timeout, so a browser gets this JSON 504 rather than the ingress's HTML page;
 * a chat turn with a model behind it is the slowest legitimate request.
 */
export const UPSTREAM_TIMEOUT_MS = 55_000;

/**
 * What a path segment may contain: RFC 3986's unreserved characters. Next.js hands the route
 * percent-decoded segments, so anything that could change the target once encoded again or
 * decoded once more (`/`, `\`, `%`, `@`, `:`, `?`, `#`, spaces, control characters) is refused,
 * not escaped. User ids, task ids and the API's words all fit.
 */
const SAFE_SEGMENT = /^[A-Za-z0-9._~-]+$/;

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

/**
 * The backend URL for a proxied request, or null when the path could leave `/api/` (or the
 * backend's origin). The result is checked once more after URL parsing, so a segment that slips
 * past the character check still cannot point anywhere else.
 */
export function backendTarget(backendUrl: string, segments: string[], search: string): string | null {
  if (segments.length === 0) return null;
  if (!segments.every((s) => SAFE_SEGMENT.test(s) && s !== "." && s !== "..")) return null;
  if (search && !search.startsWith("?")) return null;
  let base: URL;
  let target: URL;
  try {
    base = new URL(backendUrl);
    const prefix = `${base.pathname.replace(/\/+$/, "")}/api/`;
    target = new URL(`${prefix}${segments.join("/")}${search}`, base.origin);
    if (target.origin !== base.origin || !target.pathname.startsWith(prefix)) return null;
    if (target.pathname !== `${prefix}${segments.join("/")}`) return null;
  } catch {
    return null;
  }
  return target.toString();
}

function tooLarge(limit: number): Response {
  return jsonError(413, `Request body too large (the limit is ${limit} bytes).`);
}

export function createProxyHandler(deps: ProxyDeps) {
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES;
  const upstreamTimeoutMs = deps.upstreamTimeoutMs ?? UPSTREAM_TIMEOUT_MS;

  return async function proxy(request: Request, segments: string[]): Promise<Response> {
    const url = new URL(request.url);
    const backendUrl = deps.backendUrl();
    const target = backendTarget(backendUrl, segments, url.search);
    if (!target) return jsonError(400, "Invalid path");

    const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
    const declared = declaredLength(request);
    if (hasBody && declared !== null && declared > maxBodyBytes) {
      await request.body?.cancel().catch(() => undefined);
      return tooLarge(maxBodyBytes);
    }

    let token: string | null;
    try {
      token = await deps.getToken(request.headers);
    } catch (error) {
      console.error(`backend proxy: session check failed: ${describeError(error)}`);
      return jsonError(503, "Sign-in is temporarily unavailable. Try again shortly.");
    }
    if (!token) return jsonError(401, "Not signed in");

    let body: Uint8Array<ArrayBuffer> | undefined;
    if (hasBody) {
      try {
        body = await readLimitedBody(request, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) return tooLarge(maxBodyBytes);
        if (request.signal.aborted) return jsonError(499, "Client closed the request");
        return jsonError(400, "Could not read the request body");
      }
    }

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    headers.set("authorization", `Bearer ${token}`);

    // One deadline for connecting and for the response headers; once they are here the body
    // streams for as long as the backend keeps sending (long chat answers).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), upstreamTimeoutMs);
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: request.method,
        headers,
        body,
        redirect: "manual",
        cache: "no-store",
        signal: AbortSignal.any([request.signal, deadline.signal]),
      });
    } catch (error) {
      if (deadline.signal.aborted) {
        console.error(`backend at ${backendUrl} did not answer within ${upstreamTimeoutMs} ms`);
        return jsonError(
          504,
          `The backend service did not answer within ${Math.round(upstreamTimeoutMs / 1000)} s. Try again shortly.`,
        );
      }
      if (request.signal.aborted) return jsonError(499, "Client closed the request");
      const reason = describeError(error);
      console.error(`backend unreachable at ${backendUrl}: ${reason}`);
      return jsonError(502, `The backend service is unreachable (${reason}). Try again shortly.`);
    } finally {
      clearTimeout(timer);
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

function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
