// Liveness answered in front of Next.js's request pipeline.
//
// `GET /api/health` says one thing: this process is up and its event loop turns. Through Next it
// costs what every request there costs — route resolution, manifests, the incremental cache,
// tracing spans, a Web Request and a streamed Web Response — about 20 times the answer itself,
// and the probes and load balancers ask often. So the container's entry point (serve.mjs) answers
// it before Next sees the request, with exactly the route's answer (app/api/health/route.ts, which
// stays for `next dev` and the plain server.js). Readiness (/api/ready) still goes through Next and
// the auth database. Only GET and HEAD on that exact path (any query) are answered here; everything
// else, other methods on it included, goes to Next unchanged.

export const LIVENESS_PATH = "/api/health";

const BODY = Buffer.from(JSON.stringify({ status: "ok" }));
const HEADERS = {
  "content-type": "application/json",
  "cache-control": "no-store",
  "content-length": String(BODY.length),
};

/** Whether a request line's target is the liveness path (with or without a query). */
export function isLiveness(method, url) {
  if (method !== "GET" && method !== "HEAD") return false;
  if (typeof url !== "string" || !url.startsWith(LIVENESS_PATH)) return false;
  return url.length === LIVENESS_PATH.length || url[LIVENESS_PATH.length] === "?";
}

/** `listener` (a Node `request` listener) with liveness answered before it. */
export function withLiveness(listener) {
  return function livenessFirst(req, res) {
    if (!isLiveness(req.method, req.url)) return listener(req, res);
    res.writeHead(200, HEADERS);
    res.end(req.method === "HEAD" ? undefined : BODY);
  };
}

/**
 * Makes the next `http.createServer` call (Next's standalone server makes exactly one) wrap its
 * request listener with {@link withLiveness}; later calls are left alone.
 */
export function answerLivenessOnNextServer(http) {
  const createServer = http.createServer;
  http.createServer = function createServerWithLiveness(...args) {
    http.createServer = createServer;
    const index = args.findIndex((arg) => typeof arg === "function");
    if (index !== -1) args[index] = withLiveness(args[index]);
    return createServer.apply(this, args);
  };
}
