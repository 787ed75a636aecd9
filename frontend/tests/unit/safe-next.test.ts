import { describe, expect, it } from "vitest";
import { safeNextPath } from "@/lib/safe-next";

// `?next=` decides where the browser goes after sign-in (router.replace on the client, a
// redirect on the server): it must never leave this site.
describe("safeNextPath", () => {
  const OFF_SITE = [
    "//evil.com",
    "//evil.com/tasks",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "https://evil.com",
    "http://evil.com/tasks",
    "HTTPS://evil.com",
    "//user@evil.com",
    "/%2f%2fevil.com",
    "/%2F%2Fevil.com",
    "/%5c%5cevil.com",
    "/%5Cevil.com",
    "/tasks/%2f%2fevil.com",
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "/javascript:alert(1)//%0a",
    "data:text/html,<script>alert(1)</script>",
    // Browsers drop tabs and newlines inside URLs: "/\t/evil.com" is "//evil.com" to them.
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    "/%09/evil.com",
    "/\u0000/evil.com",
    " //evil.com",
    "evil.com",
    "tasks",
    "",
  ];

  it.each(OFF_SITE)("refuses %j", (next) => {
    const result = safeNextPath(next);
    expect(result).toBe("/tasks");
  });

  it("keeps every result a same-site path, whatever it is given", () => {
    for (const next of OFF_SITE) {
      const result = safeNextPath(next, "/fallback");
      const resolved = new URL(result, "https://todo.example");
      expect(resolved.origin).toBe("https://todo.example");
      expect(result.startsWith("/")).toBe(true);
      expect(result.startsWith("//")).toBe(false);
    }
  });

  it("keeps ordinary paths with their query and fragment", () => {
    expect(safeNextPath("/chat")).toBe("/chat");
    expect(safeNextPath("/tasks?status=pending#top")).toBe("/tasks?status=pending#top");
    expect(safeNextPath("/account")).toBe("/account");
    expect(safeNextPath(null)).toBe("/tasks");
    expect(safeNextPath(undefined, "/chat")).toBe("/chat");
  });
});
