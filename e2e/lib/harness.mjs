// The run's machinery: configuration, the bounded health check, the browser, the console log
// and the failure artifacts (screenshot + console log under target/e2e/), and `step`, which
// turns each journey step into a node:test test that captures artifacts when it fails and is
// skipped once an earlier step has failed (the journey is one ordered story).

import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of milliseconds, got "${raw}"`);
  return value;
}

export const config = {
  baseUrl: (process.env.E2E_BASE_URL || "http://localhost:3000").replace(/\/+$/, ""),
  chromiumPath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  artifactsDir: process.env.E2E_ARTIFACTS_DIR
    ? path.resolve(process.env.E2E_ARTIFACTS_DIR)
    : path.resolve(HERE, "..", "..", "target", "e2e"),
  /** How long /api/health may take to answer 200 before the run fails. */
  healthTimeoutMs: intFromEnv("E2E_HEALTH_TIMEOUT_MS", 15_000),
  /** Default bound for one browser action or wait (click, fill, locator wait). */
  actionTimeoutMs: intFromEnv("E2E_ACTION_TIMEOUT_MS", 10_000),
  /** Bound for one navigation. */
  navigationTimeoutMs: intFromEnv("E2E_NAVIGATION_TIMEOUT_MS", 20_000),
  /** Bound for one chat reply (an OpenAI-backed agent is slower than the rule-based one). */
  chatTimeoutMs: intFromEnv("E2E_CHAT_TIMEOUT_MS", 30_000),
  /** Bound for one whole step. */
  stepTimeoutMs: intFromEnv("E2E_STEP_TIMEOUT_MS", 90_000),
};

export const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `GET <base>/api/health` until it answers 200 `{"status":"ok"}`, for at most
 * `timeoutMs`; each probe is bounded too. Throws an error that says what to do.
 */
export async function waitForHealth(baseUrl = config.baseUrl, timeoutMs = config.healthTimeoutMs) {
  const url = `${baseUrl}/api/health`;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(500, Math.min(3_000, remaining))) });
      const body = await response.text();
      if (response.ok) {
        let status;
        try {
          status = JSON.parse(body).status;
        } catch {
          // fall through: not JSON
        }
        if (status === "ok") return;
        last = `HTTP ${response.status} with body ${JSON.stringify(body.slice(0, 200))}`;
      } else {
        last = `HTTP ${response.status}`;
      }
    } catch (error) {
      const cause = error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error);
      last = error?.name === "TimeoutError" ? "the request timed out" : cause;
    }
    if (Date.now() + 250 >= deadline) {
      throw new Error(
        `E2E_BASE_URL=${baseUrl} is not serving the app: GET ${url} gave no 200 {"status":"ok"} within ` +
          `${timeoutMs} ms (last: ${last}). These tests do not start servers: start the stack first ` +
          "(cargo xtask dev --release) or point E2E_BASE_URL at a running one.",
      );
    }
    await sleep(250);
  }
}

/** Retries `fn` until it stops throwing or `timeout` passes; an error with `.fatal` stops at once. */
export async function eventually(fn, { timeout = config.actionTimeoutMs, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (error?.fatal || Date.now() + interval >= deadline) {
        if (error?.fatal) throw error;
        const wrapped = new Error(`${what}: not met within ${timeout} ms: ${error?.message ?? error}`);
        wrapped.cause = error;
        throw wrapped;
      }
    }
    await sleep(interval);
  }
}

export function fatal(message) {
  const error = new Error(message);
  error.fatal = true;
  return error;
}

function safeName(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
}

/** One run of the suite: a browser, its contexts/pages, the log, the artifacts. */
export class Run {
  constructor(name) {
    this.name = name;
    this.browser = null;
    this.contexts = [];
    this.pages = [];
    this.log = [];
    this.failedStep = null;
    this.stepCount = 0;
    this.timings = [];
    this.startedAt = Date.now();
  }

  note(kind, text) {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(3);
    this.log.push(`[+${seconds}s] ${kind} ${text}`);
  }

  /** Clears target/e2e/, checks the app answers (bounded), launches Chromium. */
  async start() {
    await rm(config.artifactsDir, { recursive: true, force: true });
    await mkdir(config.artifactsDir, { recursive: true });
    this.note("run", `E2E_BASE_URL=${config.baseUrl}`);
    await waitForHealth();
    this.note("run", `base URL ${config.baseUrl} is healthy`);
    // launch() gives every run a fresh temporary user-data-dir, removed on close.
    this.browser = await chromium.launch({
      executablePath: config.chromiumPath,
      headless: true,
      args: LAUNCH_ARGS,
      timeout: 30_000,
    });
    this.note("run", `chromium ${this.browser.version()} launched from ${config.chromiumPath}`);
  }

  /** A new, isolated browser context (its own cookies: one signed-in user each). */
  async newContext(label) {
    if (!this.browser) throw new Error("the browser is not running (the run did not start)");
    const context = await this.browser.newContext({ baseURL: config.baseUrl, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(config.actionTimeoutMs);
    context.setDefaultNavigationTimeout(config.navigationTimeoutMs);
    this.contexts.push(context);
    context.on("page", (page) => this.watch(page, label));
    return context;
  }

  /** A new tab in `context`, watched for console output, page errors and failed requests. */
  async newPage(context, label) {
    const page = await context.newPage();
    page.__e2eLabel = label;
    return page;
  }

  watch(page, contextLabel) {
    const label = () => page.__e2eLabel ?? contextLabel;
    this.pages.push(page);
    page.on("console", (message) => {
      const where = message.location();
      const at = where?.url ? ` (${where.url}:${where.lineNumber})` : "";
      this.note(`[${label()}] console.${message.type()}`, `${message.text()}${at}`);
    });
    page.on("pageerror", (error) => this.note(`[${label()}] pageerror`, error.stack ?? error.message));
    page.on("requestfailed", (request) => {
      const reason = request.failure()?.errorText;
      // Next.js cancels its own RSC prefetches when the page moves on: noise, not a failure.
      if (reason === "net::ERR_ABORTED" && new URL(request.url()).searchParams.has("_rsc")) return;
      this.note(`[${label()}] requestfailed`, `${request.method()} ${request.url()}: ${reason}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400) {
        this.note(`[${label()}] http ${response.status()}`, `${response.request().method()} ${response.url()}`);
      }
    });
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) this.note(`[${label()}] navigated`, frame.url());
    });
  }

  /** Screenshot of every open page and the console log so far, named after the failed step. */
  async capture(stepName, error) {
    const prefix = `${String(this.stepCount).padStart(2, "0")}-${safeName(stepName)}`;
    const written = [];
    for (const [index, page] of this.pages.entries()) {
      if (page.isClosed()) continue;
      const file = path.join(config.artifactsDir, `${prefix}-${safeName(page.__e2eLabel ?? `page-${index}`)}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
        written.push(file);
        this.note("artifact", `${file} shows ${page.url()}`);
      } catch (screenshotError) {
        this.note("artifact", `screenshot of ${page.url()} failed: ${screenshotError.message}`);
      }
    }
    const logFile = path.join(config.artifactsDir, `${prefix}.console.log`);
    const header = `step "${stepName}" failed: ${error?.stack ?? error}\n\n`;
    await writeFile(logFile, header + this.log.join("\n") + "\n");
    written.push(logFile);
    return written;
  }

  async stop() {
    try {
      if (this.browser) await this.browser.close();
    } finally {
      this.browser = null;
      const total = ((Date.now() - this.startedAt) / 1000).toFixed(1);
      this.note("run", `finished in ${total} s`);
      await mkdir(config.artifactsDir, { recursive: true });
      await writeFile(path.join(config.artifactsDir, `${this.name}.console.log`), this.log.join("\n") + "\n");
      await writeFile(
        path.join(config.artifactsDir, `${this.name}.timings.json`),
        JSON.stringify({ baseUrl: config.baseUrl, totalSeconds: Number(total), failedStep: this.failedStep, steps: this.timings }, null, 2) + "\n",
      );
    }
  }

  /**
   * Registers one ordered step. It is skipped when an earlier step failed (the journey is one
   * story), bounded by `timeout`, and leaves a screenshot and the console log when it fails.
   */
  step(name, fn, { timeout = config.stepTimeoutMs } = {}) {
    test(name, { timeout: timeout + 15_000 }, async (t) => {
      if (this.failedStep) {
        t.skip(`an earlier step failed: "${this.failedStep}"`);
        return;
      }
      this.stepCount += 1;
      const started = Date.now();
      this.note("step", `start: ${name}`);
      let timer;
      try {
        await Promise.race([
          fn(t),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`step "${name}" took longer than ${timeout} ms`)), timeout);
          }),
        ]);
        this.timings.push({ step: name, seconds: (Date.now() - started) / 1000, ok: true });
        this.note("step", `passed: ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        this.failedStep = name;
        this.timings.push({ step: name, seconds: (Date.now() - started) / 1000, ok: false });
        this.note("step", `FAILED: ${name}: ${error?.message ?? error}`);
        const files = await this.capture(name, error).catch((e) => [`(capture failed: ${e.message})`]);
        t.diagnostic(`artifacts: ${files.join(", ")}`);
        throw error;
      } finally {
        clearTimeout(timer);
      }
    });
  }
}
