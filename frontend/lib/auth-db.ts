import "server-only";

import { mkdirSync } from "node:fs";
import path from "node:path";
import type { BetterAuthOptions } from "better-auth";
import { KyselyPGlite } from "kysely-pglite";
import { Pool } from "pg";
import type { AuthDatabase } from "./config";

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

export function openAuthDatabase(config: AuthDatabase): AuthDatabaseHandle {
  return config.kind === "postgres" ? openPostgres(config.url) : openPglite(config.dataDir);
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

function openPglite(dataDir: string): AuthDatabaseHandle {
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
