import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backendTarget, createProxyHandler } from "@/lib/proxy";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A real HTTP server on loopback standing in for the backend. */
let server: Server;
let backendUrl: string;
let seen: Seen[] = [];
let route: Route;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      route(req, res, body);
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
  route = (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("[]");
  };
});

const TOKEN = "header.payload.signature";
const proxy = () =>
  createProxyHandler({ backendUrl: () => backendUrl, getToken: async () => TOKEN });

function browserRequest(path: string, init: RequestInit = {}): Request {
  return new Request(`http://frontend.test${path}`, {
    ...init,
    headers: { cookie: "better-auth.session_token=abc", ...(init.headers ?? {}) },
  });
}

describe("backendTarget", () => {
  it("maps /api/backend/<rest> to <BACKEND_URL>/api/<rest>, keeping the query", () => {
    expect(backendTarget("http://b:8000", ["u1", "tasks"], "?status=pending")).toBe(
      "http://b:8000/api/u1/tasks?status=pending",
    );
    expect(backendTarget("http://b:8000/", ["u1"], "")).toBe("http://b:8000/api/u1");
  });

  it("refuses paths that would leave /api", () => {
    expect(backendTarget("http://b", [], "")).toBeNull();
    expect(backendTarget("http://b", ["..", "health"], "")).toBeNull();
    expect(backendTarget("http://b", ["u1", "."], "")).toBeNull();
  });

  it("refuses segments it would have to escape instead of escaping them", () => {
    expect(backendTarget("http://b", ["a b", "tasks"], "")).toBeNull();
    expect(backendTarget("http://b", ["a%2fb", "tasks"], "")).toBeNull();
  });
});

describe("the /api/backend proxy", () => {
  it("forwards GET with the path mapping, the query string and the user's JWT, without cookies", async () => {
    route = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-backend": "yes" });
      res.end('[{"id":1}]');
    };
    const response = await proxy()(browserRequest("/api/backend/u1/tasks?status=pending"), ["u1", "tasks"]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ id: 1 }]);
    expect(response.headers.get("x-backend")).toBe("yes");
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe("GET");
    expect(seen[0].url).toBe("/api/u1/tasks?status=pending");
    expect(seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0].headers.cookie).toBeUndefined();
  });

  it("forwards a JSON body and the backend's status (POST → 201)", async () => {
    route = (_req, res, body) => {
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: 7, ...JSON.parse(body) }));
    };
    const response = await proxy()(
      browserRequest("/api/backend/u1/tasks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: "Buy milk" }),
      }),
      ["u1", "tasks"],
    );
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: 7, title: "Buy milk" });
    expect(seen[0].method).toBe("POST");
    expect(seen[0].headers["content-type"]).toBe("application/json");
    expect(JSON.parse(seen[0].body)).toEqual({ title: "Buy milk" });
  });

  it("passes PATCH, PUT and DELETE through, including 204 and error details", async () => {
    route = (req, res) => {
      if (req.method === "DELETE") {
        res.writeHead(204);
        res.end();
      } else if (req.method === "PUT") {
        res.writeHead(422, { "content-type": "application/json" });
        res.end('{"detail":"title must not be empty"}');
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"id":3,"completed":true}');
      }
    };
    const patch = await proxy()(
      browserRequest("/api/backend/u1/tasks/3/complete", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: '{"completed":true}',
      }),
      ["u1", "tasks", "3", "complete"],
    );
    expect(patch.status).toBe(200);
    expect(seen[0].url).toBe("/api/u1/tasks/3/complete");
    expect(seen[0].body).toBe('{"completed":true}');

    const put = await proxy()(
      browserRequest("/api/backend/u1/tasks/3", { method: "PUT", body: '{"title":""}' }),
      ["u1", "tasks", "3"],
    );
    expect(put.status).toBe(422);
    expect(await put.json()).toEqual({ detail: "title must not be empty" });

    const del = await proxy()(browserRequest("/api/backend/u1", { method: "DELETE" }), ["u1"]);
    expect(del.status).toBe(204);
    expect(seen[2].url).toBe("/api/u1");
    expect(await del.text()).toBe("");
  });

  it("answers 401 when nobody is signed in, without calling the backend", async () => {
    const handler = createProxyHandler({ backendUrl: () => backendUrl, getToken: async () => null });
    const response = await handler(browserRequest("/api/backend/u1/tasks"), ["u1", "tasks"]);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ detail: "Not signed in" });
    expect(seen).toHaveLength(0);
  });

  it("maps an unreachable backend to 502 with a readable detail", async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const handler = createProxyHandler({
      backendUrl: () => `http://127.0.0.1:${port}`,
      getToken: async () => TOKEN,
    });
    const response = await handler(browserRequest("/api/backend/u1/tasks"), ["u1", "tasks"]);
    expect(response.status).toBe(502);
    const body = (await response.json()) as { detail: string };
    expect(body.detail).toMatch(/backend service is unreachable/);
    expect(body.detail).toContain("ECONNREFUSED");
  });

  it("reads BACKEND_URL per request", async () => {
    let current = "http://127.0.0.1:1";
    const handler = createProxyHandler({ backendUrl: () => current, getToken: async () => TOKEN });
    current = backendUrl;
    const response = await handler(browserRequest("/api/backend/u1/tasks"), ["u1", "tasks"]);
    expect(response.status).toBe(200);
  });

  it("streams the answer instead of waiting for the whole body", async () => {
    let finish: () => void = () => undefined;
    route = (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first ");
      finish = () => res.end("second");
    };
    const response = await proxy()(browserRequest("/api/backend/u1/stream"), ["u1", "stream"]);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first ");
    finish();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += new TextDecoder().decode(r.value);
    }
    expect(rest).toBe("second");
  });

  it("refuses a path that tries to climb out of /api", async () => {
    const response = await proxy()(browserRequest("/api/backend/../health"), ["..", "health"]);
    expect(response.status).toBe(400);
    expect(seen).toHaveLength(0);
  });
});
