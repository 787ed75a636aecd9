import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GET as nextHealthRoute } from "@/app/api/health/route";
import { completeStandalone, OPTIONAL_MANIFESTS } from "@/runtime/complete-standalone.mjs";
import { answerLivenessOnNextServer, isLiveness, withLiveness } from "@/runtime/liveness.mjs";

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A listener standing in for Next's: records what reached it. */
function nextStandIn(seen: string[]): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(405, { "content-type": "text/plain" });
    res.end("from next");
  };
}

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("liveness in front of Next", () => {
  it("answers GET /api/health exactly as the Next route does, without Next", async () => {
    const seen: string[] = [];
    const base = await listen(http.createServer(withLiveness(nextStandIn(seen))));
    const route = nextHealthRoute();
    for (const target of ["/api/health", "/api/health?probe=liveness"]) {
      const response = await fetch(`${base}${target}`);
      expect(response.status).toBe(route.status);
      expect(await response.text()).toBe(await route.clone().text());
      for (const header of ["content-type", "cache-control"]) {
        expect(response.headers.get(header)).toBe(route.headers.get(header));
      }
    }
    expect(seen).toEqual([]);
  });

  it("answers HEAD without a body", async () => {
    const seen: string[] = [];
    const base = await listen(http.createServer(withLiveness(nextStandIn(seen))));
    const response = await fetch(`${base}/api/health`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
    expect(seen).toEqual([]);
  });

  it("passes everything else to Next unchanged", async () => {
    const seen: string[] = [];
    const base = await listen(http.createServer(withLiveness(nextStandIn(seen))));
    const others: [string, string][] = [
      ["POST", "/api/health"],
      ["DELETE", "/api/health"],
      ["GET", "/api/health/"],
      ["GET", "/api/healthz"],
      ["GET", "/api/health/../ready"],
      ["GET", "/api/ready"],
      ["GET", "/API/HEALTH"],
      ["GET", "/"],
    ];
    for (const [method, target] of others) {
      const response = await fetch(`${base}${target}`, { method });
      expect(await response.text(), `${method} ${target}`).toBe("from next");
    }
    // fetch normalises the dot segments before sending.
    expect(seen).toEqual(others.map(([method, target]) => `${method} ${target.replace("/api/health/../", "/api/")}`));
  });

  it("only matches the exact path", () => {
    expect(isLiveness("GET", "/api/health")).toBe(true);
    expect(isLiveness("HEAD", "/api/health?x=1")).toBe(true);
    expect(isLiveness("GET", "/api/health#")).toBe(false);
    expect(isLiveness("GET", "/api/health%3F")).toBe(false);
    expect(isLiveness("GET", "//api/health")).toBe(false);
    expect(isLiveness("OPTIONS", "/api/health")).toBe(false);
    expect(isLiveness(undefined, undefined)).toBe(false);
  });

  it("wraps the listener of the next server created, and only that one", async () => {
    const original = http.createServer;
    const seen: string[] = [];
    answerLivenessOnNextServer(http);
    try {
      const first = http.createServer(nextStandIn(seen));
      expect(http.createServer).toBe(original);
      const second = http.createServer({ keepAliveTimeout: 1000 }, nextStandIn(seen));
      const [firstBase, secondBase] = [await listen(first), await listen(second)];
      expect((await fetch(`${firstBase}/api/health`)).status).toBe(200);
      expect((await fetch(`${firstBase}/tasks`)).status).toBe(405);
      expect((await fetch(`${secondBase}/api/health`)).status).toBe(405);
      expect(seen).toEqual(["GET /tasks", "GET /api/health"]);
    } finally {
      http.createServer = original;
    }
  });
});

describe("complete-standalone", () => {
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("adds the optional manifests a build lacks, as Next's own empty default, and keeps existing ones", () => {
    dir = mkdtempSync(path.join(tmpdir(), "standalone-"));
    mkdirSync(path.join(dir, ".next/server"), { recursive: true });
    writeFileSync(path.join(dir, ".next/BUILD_ID"), "test");
    writeFileSync(path.join(dir, ".next/dynamic-css-manifest"), '["kept"]');
    expect(completeStandalone(dir)).toEqual(["server/subresource-integrity-manifest.json"]);
    for (const manifest of OPTIONAL_MANIFESTS) expect(existsSync(path.join(dir, ".next", manifest))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, ".next/server/subresource-integrity-manifest.json"), "utf8"))).toEqual({});
    expect(readFileSync(path.join(dir, ".next/dynamic-css-manifest"), "utf8")).toBe('["kept"]');
    expect(completeStandalone(dir)).toEqual([]);
  });

  it("refuses a directory that is not a build", () => {
    dir = mkdtempSync(path.join(tmpdir(), "standalone-"));
    expect(() => completeStandalone(dir)).toThrow(/not a Next.js build/);
  });
});
