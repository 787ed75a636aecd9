import "server-only";

import { mkdirSync } from "node:fs";
import path from "node:path";
import type { BetterAuthOptions } from "better-auth";
import { Pool } from "pg";
import { ConfigError, type AuthDatabase } from "./config";

/**
 * Postgres advisory-lock key that serialises auth-table migrations across replicas
 * (the backend's alembic migrations use their own key).
 */
export const AUTH_MIGRATION_LOCK_KEY = 7_246_311_001;

export interface AuthDatabaseHandle {
  database: NonNullable<BetterAuthOptions["database"]>;
  /** Runs `fn` while no other process can run it against the same database. */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long a new connection may take. Without it a connection attempt to a database that drops
 * packets (a restarting node, a moved service) waits for the kernel's TCP timeout, minutes.
 */
export const CONNECT_TIMEOUT_MS = 5_000;

export async function openAuthDatabase(config: AuthDatabase): Promise<AuthDatabaseHandle> {
  return config.kind === "postgres" ? openPostgres(config.url) : openPglite(config.dataDir);
}

type KyselyPgliteModule = typeof import("kysely-pglite");

/**
 * The embedded database (PGlite through kysely-pglite) serves the local stack without PostgreSQL
 * only. Its specifier is computed so that neither the bundler nor the standalone output's file
 * tracer follows it: the standalone server, and with it the container image, carries none of
 * PGlite (some 20 MB with kysely-pglite's own dependencies). Node resolves it when it is used,
 * from the nearest node_modules: frontend/node_modules for `next dev`, and for the standalone
 * server while it runs from inside frontend/.next.
 */
export const PGLITE_MODULE = ["kysely", "pglite"].join("-");

export const PGLITE_MISSING =
  "AUTH_DATABASE_URL is not set, and this server has no embedded PGlite database to use instead " +
  "(a container image never has one): set AUTH_DATABASE_URL to a postgres:// or postgresql:// URL";

/** Loads kysely-pglite; {@link ConfigError} when this server has none (the image). */
export async function loadPglite(specifier: string = PGLITE_MODULE): Promise<KyselyPgliteModule> {
  try {
    return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as KyselyPgliteModule;
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new ConfigError(PGLITE_MISSING, { cause: error });
    }
    throw error;
  }
}

function openPostgres(url: string): AuthDatabaseHandle {
  const pool = new Pool({ connectionString: url, max: 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client losing its server (e.g. Postgres restarting) must not crash the process.
  pool.on("error", (error) => console.error("auth database pool error:", error.message));
  return {
    database: pool,
    async withMigrationLock(fn) {
      const client = await pool.connect();
      try {
        // Session-level lock on a dedicated connection: a second replica waits here until the
        // first has created the tables, then finds nothing left to do.
        await client.query("SELECT pg_advisory_lock($1)", [AUTH_MIGRATION_LOCK_KEY]);
        try {
          return await fn();
        } finally {
          await client.query("SELECT pg_advisory_unlock($1)", [AUTH_MIGRATION_LOCK_KEY]);
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string): Promise<AuthDatabaseHandle> {
  const { KyselyPGlite } = await loadPglite();
  const absolute = path.resolve(dataDir);
  mkdirSync(absolute, { recursive: true });
  // PGlite is single-process by design (one process owns the directory), so there is no other
  // replica to coordinate with; the local stack runs one frontend.
  const pglite = new KyselyPGlite(absolute);
  return {
    database: { dialect: pglite.dialect, type: "postgres" },
    withMigrationLock: (fn) => fn(),
    async ping() {
      await pglite.client.query("SELECT 1");
    },
    close: () => pglite.client.close(),
  };
}
