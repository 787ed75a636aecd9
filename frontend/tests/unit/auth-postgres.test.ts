import { getMigrations } from "better-auth/db/migration";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOptions } from "@/lib/auth";
import { openAuthDatabase } from "@/lib/auth-db";
import { authConfigFromEnv } from "@/lib/config";

// The cluster's path: auth tables on a real Postgres. Runs when TEST_POSTGRES_URL names a server
// whose user may create databases (e.g. postgresql://postgres@127.0.0.1:5432/postgres); each run
// uses a database of its own and drops it afterwards.
const serverUrl = process.env.TEST_POSTGRES_URL;

describe.skipIf(!serverUrl)("auth on Postgres", () => {
  const database = `todo_auth_test_${process.pid}_${Date.now()}`;
  let url: string;

  beforeAll(async () => {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const u = new URL(serverUrl!);
    u.pathname = `/${database}`;
    url = u.toString();
  });

  afterAll(async () => {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it("creates the tables once when two replicas start at the same time", async () => {
    const config = authConfigFromEnv({
      BETTER_AUTH_SECRET: "unit-test-secret-unit-test-secret-0123",
      AUTH_DATABASE_URL: url,
    });
    const replicas = [openAuthDatabase(config.database), openAuthDatabase(config.database)];
    try {
      await Promise.all(
        replicas.map((db) =>
          db.withMigrationLock(async () => {
            const { runMigrations } = await getMigrations(authOptions(config, db.database));
            await runMigrations();
          }),
        ),
      );
      const after = await getMigrations(authOptions(config, replicas[0].database));
      expect(after.toBeCreated).toEqual([]);
      expect(after.toBeAdded).toEqual([]);
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });
});
