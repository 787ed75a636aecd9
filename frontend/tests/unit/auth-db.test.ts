import { describe, expect, it } from "vitest";
import { loadPglite, PGLITE_MODULE } from "@/lib/auth-db";
import { ConfigError } from "@/lib/config";

describe("the embedded PGlite", () => {
  it("is loaded from node_modules where the local stack runs", async () => {
    expect(PGLITE_MODULE).toBe("kysely-pglite");
    const { KyselyPGlite } = await loadPglite();
    expect(typeof KyselyPGlite).toBe("function");
  });

  it("is a configuration error naming AUTH_DATABASE_URL where it is not installed (the image)", async () => {
    const missing = loadPglite("kysely-pglite-not-installed");
    await expect(missing).rejects.toBeInstanceOf(ConfigError);
    await expect(missing).rejects.toThrow(/AUTH_DATABASE_URL is not set.*no embedded PGlite.*postgresql:\/\//);
  });
});
