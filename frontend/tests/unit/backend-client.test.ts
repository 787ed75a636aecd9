import { describe, expect, it } from "vitest";
import { BackendClient, BackendError, describeDetail } from "@/lib/backend-client";

interface Call {
  url: string;
  method: string;
  body: unknown;
  headers: Record<string, string>;
}

/** A fetch that records each call and answers from a queue. */
function fakeFetch(...answers: Response[]) {
  const calls: Call[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    calls.push({
      url,
      method: init?.method ?? "GET",
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init?.headers ?? {}) as Record<string, string>,
    });
    const answer = answers.shift();
    if (!answer) throw new Error("unexpected call");
    return answer;
  };
  return { calls, fetch };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const TASK = {
  id: 1,
  user_id: "u1",
  title: "Buy milk",
  description: null,
  completed: false,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

describe("BackendClient", () => {
  it("goes through the proxy by default, under the user's id", async () => {
    const { calls, fetch } = fakeFetch(json([TASK]));
    const client = new BackendClient("user 1", { fetch });
    expect(await client.listTasks()).toEqual([TASK]);
    expect(calls[0]).toMatchObject({ url: "/api/backend/user%201/tasks?status=all", method: "GET" });
  });

  it("builds each endpoint of the contract", async () => {
    const { calls, fetch } = fakeFetch(
      json([]),
      json(TASK, 201),
      json(TASK),
      json(TASK),
      json({ ...TASK, completed: true }),
      new Response(null, { status: 204 }),
      json({ conversation_id: 4, response: "Added", tool_calls: [] }),
      json({ conversation_id: 4, response: "Listed", tool_calls: [] }),
      json([]),
      json([]),
      new Response(null, { status: 204 }),
    );
    const client = new BackendClient("u1", { baseUrl: "http://x/api/", fetch });
    await client.listTasks("pending");
    await client.createTask({ title: "Buy milk" });
    await client.getTask(1);
    await client.updateTask(1, { title: "Buy oat milk" });
    expect((await client.setCompleted(1, true)).completed).toBe(true);
    expect(await client.deleteTask(1)).toBeUndefined();
    expect((await client.chat("Add a task to buy milk")).conversation_id).toBe(4);
    await client.chat("Show me all my tasks", 4);
    await client.listConversations();
    await client.listMessages(4);
    await client.deleteAllData();

    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET http://x/api/u1/tasks?status=pending",
      "POST http://x/api/u1/tasks",
      "GET http://x/api/u1/tasks/1",
      "PUT http://x/api/u1/tasks/1",
      "PATCH http://x/api/u1/tasks/1/complete",
      "DELETE http://x/api/u1/tasks/1",
      "POST http://x/api/u1/chat",
      "POST http://x/api/u1/chat",
      "GET http://x/api/u1/conversations",
      "GET http://x/api/u1/conversations/4/messages",
      "DELETE http://x/api/u1",
    ]);
    expect(calls[1].body).toEqual({ title: "Buy milk" });
    expect(calls[1].headers["content-type"]).toBe("application/json");
    expect(calls[4].body).toEqual({ completed: true });
    expect(calls[6].body).toEqual({ message: "Add a task to buy milk" });
    expect(calls[7].body).toEqual({ message: "Show me all my tasks", conversation_id: 4 });
    expect(calls[0].body).toBeUndefined();
  });

  it("turns a string detail into the error message", async () => {
    const { fetch } = fakeFetch(json({ detail: "Task 9 not found" }, 404));
    const error = await new BackendClient("u1", { fetch }).getTask(9).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ status: 404, message: "Task 9 not found" });
  });

  it("names the field of a 422 validation error", async () => {
    const { fetch } = fakeFetch(
      json({ detail: [{ loc: ["body", "title"], msg: "String should have at least 1 character" }] }, 422),
    );
    const error = await new BackendClient("u1", { fetch }).createTask({ title: " " }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422, message: "title: String should have at least 1 character" });
  });

  it("keeps the proxy's 502 message and falls back to a readable text for non-JSON errors", async () => {
    const { fetch } = fakeFetch(
      json({ detail: "The backend service is unreachable (ECONNREFUSED). Try again shortly." }, 502),
      new Response("<html>oops</html>", { status: 500 }),
      new Response("", { status: 401 }),
    );
    const client = new BackendClient("u1", { fetch });
    await expect(client.listTasks()).rejects.toMatchObject({ status: 502, message: /unreachable/ });
    await expect(client.listTasks()).rejects.toMatchObject({ status: 500, message: "Request failed (HTTP 500)." });
    await expect(client.listTasks()).rejects.toMatchObject({ status: 401, message: /sign in again/ });
  });

  it("reports a network failure as status 0", async () => {
    const client = new BackendClient("u1", {
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    await expect(client.listTasks()).rejects.toMatchObject({ status: 0, message: /Cannot reach the server/ });
  });
});

describe("describeDetail", () => {
  it("handles strings, lists and anything else", () => {
    expect(describeDetail("x")).toBe("x");
    expect(describeDetail([{ loc: ["body", "message"], msg: "too long" }, { msg: "bad" }])).toBe(
      "message: too long; bad",
    );
    expect(describeDetail({ weird: true })).toBeNull();
  });
});
