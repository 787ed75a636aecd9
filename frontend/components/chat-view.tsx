"use client";

import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { BackendClient, type Conversation, type ToolCall } from "@/lib/backend-client";

interface ShownMessage {
  key: string;
  role: "user" | "assistant";
  content: string;
  toolCalls: ToolCall[];
}

const MAX_MESSAGE_LENGTH = 4000;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong.";
}

function formatWhen(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The arguments worth showing: `user_id` is always the signed-in user, set by the backend. */
function shownArguments(args: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...args };
  delete rest.user_id;
  return rest;
}

function compactJson(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

export function ChatView({ userId }: { userId: string }) {
  const client = useMemo(() => new BackendClient(userId), [userId]);
  const [conversations, setConversations] = useState<Conversation[] | null>(null);
  const [activeId, setActiveId] = useState<number | null>(null);
  const [messages, setMessages] = useState<ShownMessage[]>([]);
  const [loadingHistory, setLoadingHistory] = useState(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const endRef = useRef<HTMLLIElement>(null);

  const loadConversations = useCallback(async () => {
    try {
      setConversations(await client.listConversations());
    } catch (e) {
      setError(`Could not load conversations: ${errorText(e)}`);
      setConversations([]);
    }
  }, [client]);

  useEffect(() => {
    void loadConversations();
  }, [loadConversations]);

  useEffect(() => {
    endRef.current?.scrollIntoView({ block: "end" });
  }, [messages]);

  async function openConversation(id: number) {
    setActiveId(id);
    setError(null);
    setLoadingHistory(true);
    setMessages([]);
    try {
      const history = await client.listMessages(id);
      setMessages(
        history.map((m) => ({
          key: `m${m.id}`,
          role: m.role,
          content: m.content,
          toolCalls: m.tool_calls ?? [],
        })),
      );
    } catch (e) {
      setError(`Could not load this conversation: ${errorText(e)}`);
    } finally {
      setLoadingHistory(false);
      inputRef.current?.focus();
    }
  }

  function newConversation() {
    setActiveId(null);
    setMessages([]);
    setError(null);
    inputRef.current?.focus();
  }

  async function send(event?: FormEvent<HTMLFormElement>) {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || sending) return;
    setSending(true);
    setError(null);
    const pendingKey = `pending-${Date.now()}`;
    setMessages((current) => [...current, { key: pendingKey, role: "user", content: text, toolCalls: [] }]);
    setDraft("");
    try {
      const reply = await client.chat(text, activeId);
      setMessages((current) => [
        ...current,
        {
          key: `reply-${pendingKey}`,
          role: "assistant",
          content: reply.response,
          toolCalls: reply.tool_calls ?? [],
        },
      ]);
      if (reply.conversation_id !== activeId) {
        setActiveId(reply.conversation_id);
        void loadConversations();
      }
    } catch (e) {
      // Give the text back so nothing the user typed is lost.
      setMessages((current) => current.filter((m) => m.key !== pendingKey));
      setDraft(text);
      setError(`Message not sent: ${errorText(e)}`);
    } finally {
      setSending(false);
      inputRef.current?.focus();
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  }

  return (
    <div className="chat-layout" data-testid="chat-view">
      <nav className="card" aria-labelledby="conversations-heading">
        <h2 id="conversations-heading" style={{ fontSize: "1rem", margin: 0 }}>
          Conversations
        </h2>
        <button type="button" className="primary" onClick={newConversation} data-testid="chat-new" style={{ marginTop: "0.5rem", width: "100%" }}>
          New conversation
        </button>
        {conversations === null ? (
          <p role="status" className="muted" data-testid="conversations-loading">
            Loading…
          </p>
        ) : conversations.length === 0 ? (
          <p className="muted" data-testid="conversations-empty">
            No conversations yet.
          </p>
        ) : (
          <ul className="conversation-list" data-testid="conversation-list">
            {conversations.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  onClick={() => void openConversation(c.id)}
                  aria-current={c.id === activeId ? "true" : undefined}
                  data-testid={`conversation-${c.id}`}
                  data-conversation-id={c.id}
                >
                  #{c.id} · {formatWhen(c.updated_at)}
                </button>
              </li>
            ))}
          </ul>
        )}
      </nav>

      <section className="card" aria-labelledby="chat-heading" data-conversation-id={activeId ?? ""} data-testid="chat-panel">
        <h2 id="chat-heading" style={{ fontSize: "1rem", marginTop: 0 }}>
          {activeId === null ? "New conversation" : `Conversation #${activeId}`}
        </h2>
        <ul className="messages" aria-live="polite" aria-busy={loadingHistory || sending} data-testid="chat-messages">
          {loadingHistory && (
            <li role="status" className="muted" data-testid="chat-history-loading">
              Loading messages…
            </li>
          )}
          {!loadingHistory && messages.length === 0 && (
            <li className="muted" data-testid="chat-empty">
              Ask me to add, list, complete, update or delete tasks — e.g. “Add a task to buy groceries”.
            </li>
          )}
          {messages.map((m) => (
            <li key={m.key} className="message" data-role={m.role} data-testid="chat-message">
              <span className="who">{m.role === "user" ? "You" : "Assistant"}</span>
              {m.content}
              {m.toolCalls.length > 0 && <ToolCalls calls={m.toolCalls} />}
            </li>
          ))}
          {sending && (
            <li role="status" className="muted" data-testid="chat-thinking">
              Assistant is thinking…
            </li>
          )}
          <li ref={endRef} aria-hidden="true" />
        </ul>
        {error && (
          <p className="error" role="alert" data-testid="chat-error">
            {error}
          </p>
        )}
        <form onSubmit={send} data-testid="chat-form">
          <div className="field">
            <label htmlFor="chat-input">Message</label>
            <textarea
              ref={inputRef}
              id="chat-input"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              maxLength={MAX_MESSAGE_LENGTH}
              rows={2}
              placeholder="Type a message; Enter sends, Shift+Enter adds a line"
              data-testid="chat-input"
            />
          </div>
          <button type="submit" className="primary" disabled={sending || !draft.trim()} data-testid="chat-send">
            {sending ? "Sending…" : "Send"}
          </button>
        </form>
      </section>
    </div>
  );
}

function ToolCalls({ calls }: { calls: ToolCall[] }) {
  return (
    <details className="tool-calls" data-testid="tool-calls">
      <summary>
        {calls.length === 1 ? "1 action" : `${calls.length} actions`}: {calls.map((c) => c.name).join(", ")}
      </summary>
      <ul>
        {calls.map((call, index) => (
          <li key={index} data-testid="tool-call" data-tool-name={call.name}>
            <code>
              {call.name}({compactJson(shownArguments(call.arguments ?? {}))})
            </code>
            {call.result !== undefined && call.result !== null && (
              <>
                {" → "}
                <code>{compactJson(call.result)}</code>
              </>
            )}
          </li>
        ))}
      </ul>
    </details>
  );
}
