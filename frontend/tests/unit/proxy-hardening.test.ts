import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  backendTarget,
  createProxyHandler,
  FORWARDED_REQUEST_HEADERS,
  MAX_REQUEST_BODY_BYTES,
} from "@/lib/proxy";

// Attacks on the /api/backend proxy, each against a real HTTP server on loopback standing in for
// the backend: the proxy must never reach anything but the backend's /api/..., pass on only the
// allowlisted headers, refuse oversized bodies and give up on a backend that does not answer.

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bodyBytes: number;
}

let server: Server;
let backendUrl: string;
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyBytes });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ bodyBytes }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  backendUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

const TOKEN = "header.payload.signature";
const proxy = (extra: Partial<Parameters<typeof createProxyHandler>[0]> = {}) =>
  createProxyHandler({ backendUrl: () => backendUrl, getToken: async () => TOKEN, ...extra });

/**
 * The `[...path]` segments Next.js hands the route for a raw request path: the part after
 * `/api/backend/`, split on `/`, each piece percent-decoded once.
 */
function nextSegments(rawPath: string): string[] {
  return rawPath.replace(/^\/api\/backend\//, "").split("/").map(decodeURIComponent);
}

describe("path mapping: only ever the backend's /api/...", () => {
  // Raw request paths as a hostile client can send them (curl --path-as-is, hand-made requests).
  const ATTACKS = [
    "/api/backend/..",
    "/api/backend/../health",
    "/api/backend/u1/../../health",
    "/api/backend/u1/./tasks",
    "/api/backend/%2e%2e/health",
    "/api/backend/%2E%2E/%2E%2E/admin",
    "/api/backend/u1/%2e%2e%2f%2e%2e%2fhealth",
    "/api/backend/%252e%252e/health",
    "/api/backend/u1%2f..%2f..%2fhealth",
    "/api/backend/u1%2F..%2F..%2Fhealth",
    "/api/backend/u1/tasks%252f..%252f..%252fhealth",
    "/api/backend/u1%5c..%5c..%5chealth",
    "/api/backend/u1\\..\\..\\health",
    "/api/backend/\\\\evil.example/x",
    "/api/backend/http://evil.example/",
    "/api/backend/http:%2f%2fevil.example%2fx",
    "/api/backend/https%3a%2f%2fevil.example",
    "/api/backend//evil.example/x",
    "/api/backend/%2f%2fevil.example",
    "/api/backend/@evil.example",
    "/api/backend/user@evil.example/tasks",
    "/api/backend/u1:secret@evil.example",
    "/api/backend/u1%40evil.example",
    "/api/backend/u1%00/tasks",
    "/api/backend/u1%0d%0aX-Injected:%201/tasks",
    "/api/backend/u1%20/tasks",
    "/api/backend/u1?x=1#frag/tasks",
    "/api/backend/",
  ];

  it.each(ATTACKS)("refuses %s with 400 and never calls the backend", async (rawPath) => {
    const segments = nextSegments(rawPath);
    const target = backendTarget(backendUrl, segments, "");
    expect(target).toBeNull();

    const response = await proxy()(new Request("http://frontend.test/api/backend/x"), segments);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail: expect.stringMatching(/path/i) });
    expect(seen).toHaveLength(0);
  });

  it("maps every path it accepts under the backend's origin and /api/ prefix", () => {
    const bases = ["http://b:8000", "http://b:8000/", "https://b.example/prefix", "http://[::1]:8000"];
    const accepted = [
      ["u1", "tasks"],
      ["AbC-123_x.y~z", "tasks", "17", "complete"],
      ["u1", "conversations", "4", "messages"],
      ["u1"],
      ["...", "x"],
    ];
    const searches = ["", "?status=pending", "?next=//evil.example&x=http://evil.example/"];
    for (const base of bases) {
      const origin = new URL(base).origin;
      const prefix = `${new URL(base).pathname.replace(/\/+$/, "")}/api/`;
      for (const segments of accepted) {
        for (const search of searches) {
          const target = backendTarget(base, segments, search);
          expect(target, `${base} ${segments.join("/")} ${search}`).not.toBeNull();
          const url = new URL(target!);
          expect(url.origin).toBe(origin);
          expect(url.pathname).toBe(`${prefix}${segments.join("/")}`);
          expect(url.search).toBe(search);
          expect(url.username + url.password).toBe("");
        }
      }
    }
    // Every attack above, against every base: refused, never a URL off the backend or off /api/.
    for (const base of bases) {
      for (const rawPath of ATTACKS) {
        expect(backendTarget(base, nextSegments(rawPath), "?a=b")).toBeNull();
      }
    }
  });

  it("forwards an accepted path to exactly <BACKEND_URL>/api/<rest>", async () => {
    const response = await proxy()(
      new Request("http://frontend.test/api/backend/u1/tasks/3?status=all"),
      ["u1", "tasks", "3"],
    );
    expect(response.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(["/api/u1/tasks/3?status=all"]);
  });
});

describe("request headers: an explicit allowlist", () => {
  it("passes only the allowlisted headers and the user's JWT", async () => {
    const response = await proxy()(
      new Request("http://frontend.test/api/backend/u1/tasks", {
        method: "POST",
        headers: {
          accept: "application/json",
          "accept-language": "de",
          "content-type": "application/json",
          "x-request-id": "req-1",
          // Everything below must stay here.
          cookie: "better-auth.session_token=stolen; other=1",
          authorization: "Bearer attacker.chosen.token",
          host: "evil.example",
          "x-forwarded-for": "203.0.113.9",
          "x-forwarded-host": "evil.example",
          "x-forwarded-proto": "https",
          "x-forwarded-port": "443",
          "x-real-ip": "203.0.113.9",
          forwarded: "for=203.0.113.9;host=evil.example",
          origin: "http://evil.example",
          referer: "http://evil.example/",
          "user-agent": "attacker/1.0",
          "proxy-authorization": "Basic Zm9vOmJhcg==",
          "x-user-id": "someone-else",
          "x-http-method-override": "DELETE",
        },
        body: "{}",
      }),
      ["u1", "tasks"],
    );
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
    const received = seen[0].headers;

    expect(received.authorization).toBe(`Bearer ${TOKEN}`);
    expect(received.host).toBe(new URL(backendUrl).host);
    for (const name of FORWARDED_REQUEST_HEADERS) expect(received[name], name).toBeDefined();
    expect(received.accept).toBe("application/json");
    expect(received["accept-language"]).toBe("de");
    expect(received["x-request-id"]).toBe("req-1");

    // What the HTTP client itself adds to any request (`cache: "no-store"` adds the last two);
    // nothing else may appear.
    const transport = [
      "host",
      "connection",
      "content-length",
      "transfer-encoding",
      "user-agent",
      "accept-encoding",
      "sec-fetch-mode",
      "cache-control",
      "pragma",
    ];
    const allowed = new Set<string>([...FORWARDED_REQUEST_HEADERS, "authorization", ...transport]);
    expect(Object.keys(received).filter((name) => !allowed.has(name))).toEqual([]);
    expect(received["user-agent"]).not.toBe("attacker/1.0");
  });

  it("lists exactly the documented headers", () => {
    expect([...FORWARDED_REQUEST_HEADERS].sort()).toEqual(
      ["accept", "accept-language", "content-type", "x-request-id"].sort(),
    );
  });
});

/** A body stream of `total` bytes in 64 KiB chunks that records how much was pulled from it. */
function countingBody(total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(97);
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= total) {
        controller.close();
        return;
      }
      const piece = chunk.subarray(0, Math.min(chunk.length, total - state.pulled));
      state.pulled += piece.length;
      controller.enqueue(piece);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

function postWithBody(body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request("http://frontend.test/api/backend/u1/chat", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    duplex: "half",
  } as RequestInit);
}

describe("request body limit", () => {
  it("is 1 MiB", () => {
    expect(MAX_REQUEST_BODY_BYTES).toBe(1024 * 1024);
  });

  it("forwards a body of exactly the limit", async () => {
    const response = await proxy()(postWithBody(new Uint8Array(MAX_REQUEST_BODY_BYTES)), ["u1", "chat"]);
    expect(response.status).toBe(200);
    expect(seen[0].bodyBytes).toBe(MAX_REQUEST_BODY_BYTES);
  });

  it("answers 413 from Content-Length alone, without reading the body or calling the backend", async () => {
    const { stream, state } = countingBody(3 * MAX_REQUEST_BODY_BYTES);
    let tokenAsked = false;
    const handler = proxy({
      getToken: async () => {
        tokenAsked = true;
        return TOKEN;
      },
    });
    const response = await handler(
      postWithBody(stream, { "content-length": String(3 * MAX_REQUEST_BODY_BYTES) }),
      ["u1", "chat"],
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ detail: expect.stringMatching(/too large/i) });
    expect(seen).toHaveLength(0);
    expect(tokenAsked).toBe(false);
    // At most what the stream queued before anyone read it.
    expect(state.pulled).toBeLessThanOrEqual(2 * 64 * 1024);
  });

  it("counts a streamed body without Content-Length and stops reading just past the limit", async () => {
    const { stream, state } = countingBody(8 * MAX_REQUEST_BODY_BYTES);
    const response = await proxy()(postWithBody(stream), ["u1", "chat"]);
    expect(response.status).toBe(413);
    expect(seen).toHaveLength(0);
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(MAX_REQUEST_BODY_BYTES + 3 * 64 * 1024);
  });

  it("refuses a body that is larger than its Content-Length claims", async () => {
    const { stream } = countingBody(2 * MAX_REQUEST_BODY_BYTES);
    const response = await proxy()(postWithBody(stream, { "content-length": "10" }), ["u1", "chat"]);
    expect(response.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it("answers 413 to a real chunked upload through an HTTP server, while the client is still sending", async () => {
    // The proxy behind a real Node HTTP server, as Next.js runs it: the request body is a stream.
    const front = createServer(async (req, res) => {
      const request = new Request(`http://frontend.test${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
        duplex: "half",
      } as RequestInit);
      const response = await proxy()(request, ["u1", "chat"]);
      res.writeHead(response.status, { "content-type": "application/json", connection: "close" });
      res.end(await response.text());
    });
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    try {
      const port = (front.address() as AddressInfo).port;
      // An endless upload: only the proxy's limit can end it.
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 64 * 1024;
          controller.enqueue(new Uint8Array(64 * 1024));
        },
      });
      const response = await fetch(`http://127.0.0.1:${port}/api/backend/u1/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: endless,
        duplex: "half",
        signal: AbortSignal.timeout(20_000),
      } as RequestInit).catch((error: unknown) => error);
      if (response instanceof Response) {
        expect(response.status).toBe(413);
      } else {
        // The server may answer and close while the upload is still in flight; then the
        // client sees a reset instead of the status, but it must not be our own timeout.
        expect(String((response as Error).name)).not.toBe("TimeoutError");
      }
      expect(seen).toHaveLength(0);
      expect(sent).toBeLessThan(64 * MAX_REQUEST_BODY_BYTES);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });
});

describe("upstream timeout", () => {
  /** A TCP server that accepts connections and then says nothing, ever. */
  async function silentServer() {
    const sockets = new Set<Socket>();
    const tcp = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.resume();
    });
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    return {
      url: `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => tcp.close(resolve));
      },
    };
  }

  it("answers 504 JSON when the backend accepts the connection but never answers", async () => {
    const silent = await silentServer();
    try {
      const handler = proxy({ backendUrl: () => silent.url, upstreamTimeoutMs: 300 });
      const started = performance.now();
      const response = await handler(new Request("http://frontend.test/api/backend/u1/tasks"), ["u1", "tasks"]);
      expect(response.status).toBe(504);
      expect(response.headers.get("content-type")).toMatch(/application\/json/);
      expect(await response.json()).toEqual({ detail: expect.stringMatching(/did not answer/) });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  }, 15_000);

  it("times out a POST too, after the body has been sent", async () => {
    const silent = await silentServer();
    try {
      const handler = proxy({ backendUrl: () => silent.url, upstreamTimeoutMs: 300 });
      const response = await handler(postWithBody('{"message":"hi"}'), ["u1", "chat"]);
      expect(response.status).toBe(504);
    } finally {
      await silent.close();
    }
  }, 15_000);

  it("leaves a slow but answering backend alone once its headers arrived", async () => {
    const slow = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first ");
      setTimeout(() => res.end("second"), 600);
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const handler = proxy({ backendUrl: () => url, upstreamTimeoutMs: 300 });
      const response = await handler(new Request("http://frontend.test/api/backend/u1/x"), ["u1", "x"]);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("first second");
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  }, 15_000);
});

describe("auth service failures", () => {
  it("answers 503 JSON when the session cannot be checked (auth database down)", async () => {
    const handler = proxy({
      getToken: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    });
    const response = await handler(new Request("http://frontend.test/api/backend/u1/tasks"), ["u1", "tasks"]);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ detail: expect.stringMatching(/temporarily unavailable/) });
    expect(seen).toHaveLength(0);
  });
});
