import "server-only";

import { createHash } from "node:crypto";
import type {
  AuthContext,
  BetterAuthOptions,
  BetterAuthPlugin,
  BetterAuthRateLimitRule,
  BetterAuthRateLimitStorage,
} from "better-auth";
import { createAuthMiddleware, getIP } from "better-auth/api";

// Rate limits of the auth endpoints, counted in the auth database so that every frontend replica
// sees the same counters.
//
// Two layers for sign-in, because behind the ingress many people share one client address:
// - per address and account (the email in the body): stops password guessing against one
//   account; a successful sign-in clears the account's count, so only failures add up;
// - per address, all accounts together: a ceiling for credential stuffing from one address,
//   high enough that the people behind one ingress address do not lock each other out.
// Sign-up is limited per address. Everything else keeps better-auth's defaults (100 per 10 s per
// address and path, 3 per 10 s for password and email changes), except the session-bound reads
// listed in UNLIMITED_PATHS, which the browser and the backend call all the time and which have
// nothing to guess.

/** Sign-in attempts for one account from one address; a successful sign-in resets it. */
export const SIGN_IN_PER_ACCOUNT: BetterAuthRateLimitRule = { window: 60, max: 10 };
/** Sign-in attempts from one address, all accounts together. */
export const SIGN_IN_PER_ADDRESS: BetterAuthRateLimitRule = { window: 60, max: 120 };
/** Sign-ups from one address. */
export const SIGN_UP_PER_ADDRESS: BetterAuthRateLimitRule = { window: 60, max: 60 };

const UNLIMITED_PATHS = ["/get-session", "/token", "/jwks"];

/** better-auth's table for rate-limit counters (created by its migrations with `storage: "database"`). */
const MODEL = "rateLimit";
/** Counters whose window ended longer ago than this are deleted; longer than any window above. */
const PRUNE_AFTER_MS = 10 * 60_000;
const PRUNE_EVERY_MS = 60_000;
/** Rounds of compare-and-set before giving up under contention. */
const MAX_ATTEMPTS = 8;

/** The part of better-auth's database adapter the counters need. */
type Adapter = Pick<AuthContext["adapter"], "findOne" | "create" | "incrementOne" | "deleteMany">;

interface Counter {
  key: string;
  count: number | string;
  /** Start of the counter's window, in ms (bigint in the database). */
  lastRequest: number | string | bigint;
}

export interface Decision {
  allowed: boolean;
  /** Seconds until the window ends, when refused. */
  retryAfter: number | null;
}

const ALLOWED: Decision = { allowed: true, retryAfter: null };

/**
 * Counts one request against `key` in a fixed window of `rule.window` seconds that starts with
 * its first request, in one atomic step per round (guarded UPDATE … RETURNING), so concurrent
 * requests on several replicas cannot all slip past the limit.
 *
 * better-auth's own database storage moves the window start to every allowed request, so steady
 * traffic from one shared address is refused after `max` requests however slowly it comes; with
 * a fixed window `max` per `window` is exactly what passes.
 */
export async function consumeFixedWindow(
  adapter: Adapter,
  key: string,
  rule: BetterAuthRateLimitRule,
  now: number = Date.now(),
): Promise<Decision> {
  const windowMs = rule.window * 1000;
  const byKey = { field: "key", value: key };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const row = await adapter.findOne<Counter>({ model: MODEL, where: [byKey] });
    if (!row) {
      try {
        await adapter.create({ model: MODEL, data: { key, count: 1, lastRequest: now } });
        return ALLOWED;
      } catch (error) {
        // Another replica created it first (unique key): count against that row instead.
        if (attempt === MAX_ATTEMPTS - 1) throw error;
        continue;
      }
    }
    const windowStart = Number(row.lastRequest);
    if (now - windowStart >= windowMs) {
      // The window is over: open a new one, unless a concurrent request just did.
      const reset = await adapter.incrementOne({
        model: MODEL,
        where: [byKey, { field: "lastRequest", operator: "lte", value: windowStart }],
        increment: {},
        set: { count: 1, lastRequest: now },
      });
      if (reset) return ALLOWED;
      continue;
    }
    const counted = await adapter.incrementOne({
      model: MODEL,
      where: [
        byKey,
        { field: "lastRequest", operator: "gt", value: now - windowMs },
        { field: "count", operator: "lt", value: rule.max },
      ],
      increment: { count: 1 },
    });
    if (counted) return ALLOWED;
    const fresh = await adapter.findOne<Counter>({ model: MODEL, where: [byKey] });
    if (!fresh || Number(fresh.count) < rule.max || now - Number(fresh.lastRequest) >= windowMs) continue;
    return {
      allowed: false,
      retryAfter: Math.max(1, Math.ceil((Number(fresh.lastRequest) + windowMs - now) / 1000)),
    };
  }
  throw new Error(`rate limit counter ${MODEL} too contended`);
}

function tooManyRequests(retryAfter: number): Response {
  return Response.json(
    { code: "TOO_MANY_REQUESTS", message: "Too many requests. Please try again later." },
    { status: 429, headers: { "X-Retry-After": String(retryAfter), "Retry-After": String(retryAfter) } },
  );
}

/** The account part of a key: a digest, so the counters table holds no email addresses. */
function accountOf(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 32);
}

function accountKey(source: Request | Headers, options: BetterAuthOptions, email: string): string {
  // The same address better-auth keys its own counters with.
  const ip = getIP(source, options) ?? "no-trusted-ip";
  return `${ip}|/sign-in/email|account:${accountOf(email)}`;
}

async function emailIn(request: Request): Promise<string | null> {
  try {
    const body = (await request.clone().json()) as { email?: unknown };
    return typeof body.email === "string" && body.email.trim() ? body.email : null;
  } catch {
    return null;
  }
}

export interface AuthRateLimit {
  /** better-auth's `rateLimit` option. */
  options: NonNullable<BetterAuthOptions["rateLimit"]>;
  /** The per-account sign-in limit; must be among the instance's plugins. */
  plugin: BetterAuthPlugin;
}

/** Rate limiting for one better-auth instance, counted in its database. */
export function authRateLimit(): AuthRateLimit {
  // Bound when better-auth initialises the plugin; the storage is not used before that.
  let adapter: Adapter | undefined;
  let lastPrune = 0;

  function bound(): Adapter {
    if (!adapter) throw new Error("rate limit used before better-auth was initialised");
    return adapter;
  }

  function pruneNow(now: number): void {
    if (now - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = now;
    bound()
      .deleteMany({ model: MODEL, where: [{ field: "lastRequest", operator: "lt", value: now - PRUNE_AFTER_MS }] })
      .catch((error: unknown) => console.error("rate limit: pruning old counters failed:", String(error)));
  }

  const storage: BetterAuthRateLimitStorage = {
    async consume(key, rule) {
      const now = Date.now();
      const decision = await consumeFixedWindow(bound(), key, rule, now);
      pruneNow(now);
      return decision;
    },
  };

  const plugin = {
    id: "todo-rate-limit",
    init(ctx) {
      adapter = ctx.adapter;
    },
    // Runs after better-auth's own per-address check, so an address over its ceiling cannot add
    // a counter per made-up email.
    async onRequest(request, ctx) {
      if (request.method !== "POST") return;
      if (!new URL(request.url).pathname.replace(/\/+$/, "").endsWith("/sign-in/email")) return;
      const email = await emailIn(request);
      if (!email) return;
      const decision = await storage.consume(accountKey(request, ctx.options, email), SIGN_IN_PER_ACCOUNT);
      if (!decision.allowed) return { response: tooManyRequests(decision.retryAfter ?? SIGN_IN_PER_ACCOUNT.window) };
    },
    hooks: {
      after: [
        {
          matcher: (ctx) => ctx.path === "/sign-in/email",
          handler: createAuthMiddleware(async (ctx) => {
            // Only failed attempts count towards the account's limit.
            const email = (ctx.body as { email?: unknown } | undefined)?.email;
            if (!ctx.context.newSession || typeof email !== "string") return;
            const source = ctx.request ?? ctx.headers;
            if (!source) return;
            await bound().deleteMany({
              model: MODEL,
              where: [{ field: "key", value: accountKey(source, ctx.context.options, email) }],
            });
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;

  const options = {
    // Also outside production (better-auth's default), so every environment and the tests
    // behave alike.
    enabled: true,
    // Creates better-auth's `rateLimit` table with the other auth tables (getMigrations) ...
    storage: "database",
    // ... which this fixed-window counter uses.
    customStorage: storage,
    customRules: {
      "/sign-in/email": SIGN_IN_PER_ADDRESS,
      "/sign-up/email": SIGN_UP_PER_ADDRESS,
      ...Object.fromEntries(UNLIMITED_PATHS.map((path) => [path, false as const])),
    },
  } satisfies AuthRateLimit["options"];

  return { options, plugin };
}
