// The one typed client for the backend's REST API (docs/contract.md, "REST API"). In the browser it
// talks to this frontend's `/api/backend/...` proxy, which adds the user's JWT; it never holds a
// token or a backend address itself.

export type TaskStatusFilter = "all" | "pending" | "completed";

export interface Task {
  id: number;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  created_at: string;
  updated_at: string;
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  result: unknown;
}

export interface ChatReply {
  conversation_id: number;
  response: string;
  tool_calls: ToolCall[];
}

export interface Conversation {
  id: number;
  created_at: string;
  updated_at: string;
}

export interface Message {
  id: number;
  role: "user" | "assistant";
  content: string;
  tool_calls: ToolCall[] | null;
  created_at: string;
}

export interface TaskUpdate {
  title?: string;
  description?: string | null;
  completed?: boolean;
}

/** A non-2xx answer, with the backend's (or the proxy's) `detail` turned into readable text. */
export class BackendError extends Error {
  override name = "BackendError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface BackendClientOptions {
  /** Prefix that maps to the backend's `/api`; the proxy by default. */
  baseUrl?: string;
  fetch?: Fetch;
}

export const PROXY_BASE_URL = "/api/backend";

/** Readable text for FastAPI's `detail` (a string, or a list of validation errors). */
export function describeDetail(detail: unknown): string | null {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const parts = detail.map((item) => {
      if (typeof item !== "object" || item === null) return String(item);
      const { loc, msg } = item as { loc?: unknown; msg?: unknown };
      const field = Array.isArray(loc) ? loc.filter((p) => p !== "body").join(".") : "";
      return field ? `${field}: ${String(msg)}` : String(msg);
    });
    return parts.join("; ") || null;
  }
  return null;
}

export class BackendClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;

  constructor(
    readonly userId: string,
    options: BackendClientOptions = {},
  ) {
    this.baseUrl = (options.baseUrl ?? PROXY_BASE_URL).replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  listTasks(status: TaskStatusFilter = "all"): Promise<Task[]> {
    return this.request("GET", `/tasks?status=${encodeURIComponent(status)}`);
  }

  getTask(id: number): Promise<Task> {
    return this.request("GET", `/tasks/${id}`);
  }

  createTask(input: { title: string; description?: string }): Promise<Task> {
    return this.request("POST", "/tasks", input);
  }

  updateTask(id: number, update: TaskUpdate): Promise<Task> {
    return this.request("PUT", `/tasks/${id}`, update);
  }

  setCompleted(id: number, completed: boolean): Promise<Task> {
    return this.request("PATCH", `/tasks/${id}/complete`, { completed });
  }

  deleteTask(id: number): Promise<void> {
    return this.request("DELETE", `/tasks/${id}`);
  }

  chat(message: string, conversationId?: number | null): Promise<ChatReply> {
    const body: { message: string; conversation_id?: number } = { message };
    if (conversationId != null) body.conversation_id = conversationId;
    return this.request("POST", "/chat", body);
  }

  listConversations(): Promise<Conversation[]> {
    return this.request("GET", "/conversations");
  }

  listMessages(conversationId: number): Promise<Message[]> {
    return this.request("GET", `/conversations/${conversationId}/messages`);
  }

  /** Deletes every task, conversation and message of the user (account deletion). */
  deleteAllData(): Promise<void> {
    return this.request("DELETE", "");
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}/${encodeURIComponent(this.userId)}${path}`;
    const init: RequestInit = { method, headers: { accept: "application/json" } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { ...init.headers, "content-type": "application/json" };
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, init);
    } catch {
      throw new BackendError(0, "Cannot reach the server. Check your connection and try again.");
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

async function errorFrom(response: Response): Promise<BackendError> {
  let detail: string | null = null;
  try {
    detail = describeDetail(((await response.json()) as { detail?: unknown }).detail);
  } catch {
    // Not JSON (e.g. an HTML error page from something in between): fall back to the status.
  }
  const fallback: Record<number, string> = {
    401: "Your session has ended. Please sign in again.",
    403: "You are not allowed to do that.",
    404: "Not found.",
  };
  return new BackendError(
    response.status,
    detail ?? fallback[response.status] ?? `Request failed (HTTP ${response.status}).`,
  );
}
