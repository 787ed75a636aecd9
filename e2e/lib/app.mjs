// What a person does in the Todo Chatbot, expressed with the frontend's accessible names
// (labels, roles) and, where there is no accessible handle, its data-testids. Everything that is
// checked is read from the page: task ids, titles and states come from the rendered rows.

import assert from "node:assert/strict";
import { config, eventually, fatal } from "./harness.mjs";

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A path-only check of the current URL (`/tasks`, `/sign-in`, …). */
export function pathIs(page, pathname) {
  return new URL(page.url()).pathname === pathname;
}

export async function waitForPath(page, pathname) {
  await page.waitForURL((url) => url.pathname === pathname);
}

// ---------------------------------------------------------------- auth

export function newCredentials(tag) {
  const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return {
    name: `E2E ${tag} ${unique}`,
    email: `e2e-${tag}-${unique}@example.com`,
    password: `pw-${unique}-${Math.random().toString(36).slice(2, 10)}`,
  };
}

/** The auth form's error text, or null once the page has left the form. */
async function authOutcome(page, target) {
  const error = page.getByTestId("auth-error");
  return eventually(
    async () => {
      if (pathIs(page, target)) return null;
      if (await error.isVisible()) return (await error.textContent()).trim();
      throw new Error(`still on ${page.url()}`);
    },
    { timeout: config.navigationTimeoutMs, what: `leaving the auth form for ${target}` },
  );
}

/**
 * Clicks the auth form's submit button and returns the error text, or null once the page has
 * reached `target`. The frontend rate-limits sign-in and sign-up (frontend/README.md: failed
 * sign-ins per address and email, all sign-ins and sign-ups per address, in fixed windows): a
 * 429 is not the answer being tested, so the click is repeated after the server's X-Retry-After
 * (at most twice).
 */
async function submitAuth(page, buttonName, target) {
  for (let attempt = 0; ; attempt += 1) {
    // An error left by an earlier attempt must not be taken for this attempt's outcome.
    const previous = page.getByTestId("auth-error");
    const stale = (await previous.isVisible()) ? await previous.elementHandle() : null;
    const answer = page.waitForResponse((r) => /\/api\/auth\/sign-(in|up)\//.test(new URL(r.url()).pathname), {
      timeout: config.navigationTimeoutMs,
    });
    answer.catch(() => undefined);
    await page.getByRole("button", { name: buttonName, exact: true }).click();
    const response = await answer;
    if (stale) {
      await eventually(
        async () => assert.equal(await stale.evaluate((node) => node.isConnected).catch(() => false), false),
        { what: "the previous auth error clearing" },
      );
      await stale.dispose().catch(() => undefined);
    }
    const outcome = await authOutcome(page, target);
    if (response.status() !== 429 || attempt >= 2) return outcome;
    const retryAfter = Math.min(11, Math.max(1, Number(response.headers()["x-retry-after"]) || 10));
    console.log(`# ${buttonName}: rate limited by the server (429), retrying after ${retryAfter} s`);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 200));
  }
}

export async function signUp(page, user) {
  await page.goto("/sign-up");
  await page.getByRole("heading", { name: "Create your account" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill(user.name);
  await page.getByLabel("Email", { exact: true }).fill(user.email);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  const failure = await submitAuth(page, "Sign up", "/tasks");
  const hint = /invalid origin/i.test(failure ?? "")
    ? ` (better-auth accepts only the origin of its BETTER_AUTH_URL: E2E_BASE_URL=${config.baseUrl} must be exactly that origin, e.g. http://localhost:3000 for cargo xtask dev)`
    : "";
  assert.equal(failure, null, `sign-up of ${user.email} failed: ${failure}${hint}`);
  return signedInUser(page, user.email);
}

/** Fills and submits the sign-in form on the current page; returns the error text or null. */
export async function submitSignIn(page, email, password, target = "/tasks") {
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  return submitAuth(page, "Sign in", target);
}

/** On an app page: checks the header shows `email`, and returns the user id the page renders. */
export async function signedInUser(page, email) {
  await eventually(
    async () => assert.equal((await page.getByTestId("user-email").textContent())?.trim(), email),
    { what: "the header showing the signed-in email" },
  );
  const userId = await page.getByTestId("app-main").getAttribute("data-user-id");
  assert.ok(userId, "the app's <main> carries no data-user-id");
  return userId;
}

export async function signOut(page) {
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await waitForPath(page, "/sign-in");
}

/** Deletes the signed-in account through the Account page; ends on /sign-in?deleted=1. */
export async function deleteAccount(page, { userId, email }) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
  await waitForPath(page, "/account");
  await page.getByRole("heading", { name: "Account", level: 1 }).waitFor();
  assert.equal((await page.getByTestId("account-user-id").textContent())?.trim(), userId, "account page user id");
  assert.equal((await page.getByTestId("account-email").textContent())?.trim(), email, "account page email");
  const submit = page.getByRole("button", { name: "Delete my account" });
  if (!(await submit.isVisible())) {
    const stale = await page.getByTestId("delete-account-stale").isVisible();
    throw new Error(stale ? "the account page says the session is not fresh enough to delete the account" : "no delete button");
  }
  assert.equal(await submit.isDisabled(), true, "the delete button must stay disabled until the confirmation is typed");
  await page.getByLabel("Type delete to confirm").fill("delete");
  await eventually(async () => assert.equal(await submit.isEnabled(), true), { what: "the delete button enabling" });
  await submit.click();
  const outcome = await eventually(
    async () => {
      if (pathIs(page, "/sign-in")) return null;
      const error = page.getByTestId("delete-account-error");
      if (await error.isVisible()) return (await error.textContent()).trim();
      throw new Error(`still on ${page.url()}`);
    },
    { timeout: config.navigationTimeoutMs, what: "account deletion finishing" },
  );
  assert.equal(outcome, null, `account deletion failed: ${outcome}`);
  assert.equal(new URL(page.url()).searchParams.get("deleted"), "1", "sign-in page after deletion carries ?deleted=1");
  await eventually(
    async () => assert.match(await page.getByTestId("auth-notice").textContent(), /account was deleted/i),
    { what: "the 'account was deleted' notice" },
  );
}

// ---------------------------------------------------------------- tasks

export async function openTasks(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
  await waitForPath(page, "/tasks");
}

/**
 * The tasks the page shows now, once the list has loaded: `[{id, title, description, completed}]`
 * in page order. Fails fast when the page shows a load error.
 */
export async function readTasks(page) {
  const settled = page.locator(
    '[data-testid="task-list"], [data-testid="tasks-empty"], [data-testid="tasks-error"]',
  );
  await settled.first().waitFor();
  const loadError = page.getByTestId("tasks-error");
  if (await loadError.isVisible()) throw fatal(`the tasks page shows an error: ${(await loadError.textContent()).trim()}`);
  return page.locator("li[data-task-id]").evaluateAll((rows) =>
    rows.map((row) => {
      const id = row.getAttribute("data-task-id");
      const title = row.querySelector(`[data-testid="task-title-${id}"]`);
      const description = row.querySelector(`[data-testid="task-description-${id}"]`);
      return {
        id: Number(id),
        title: title ? title.textContent : null,
        description: description ? description.textContent : null,
        completed: row.getAttribute("data-completed") === "true",
      };
    }),
  );
}

/** Reloads the tasks page (the backend's truth, filter back to All) and reads it. */
export async function reloadTasks(page) {
  await page.reload();
  await waitForPath(page, "/tasks");
  return readTasks(page);
}

/** Waits until `check(tasks)` passes for what the page shows; returns those tasks. */
export async function tasksEventually(page, check, what) {
  return eventually(
    async () => {
      const tasks = await readTasks(page);
      await check(tasks);
      return tasks;
    },
    { what },
  );
}

export function byTitle(tasks, title) {
  const found = tasks.filter((t) => t.title === title);
  assert.equal(found.length, 1, `expected exactly one task titled "${title}" on the page, found ${found.length}: ${JSON.stringify(tasks)}`);
  return found[0];
}

/** Case-insensitive lookup (a chat agent may capitalise what it adds). */
export function byTitleLoose(tasks, title) {
  const found = tasks.filter((t) => t.title.trim().toLowerCase() === title.toLowerCase());
  assert.equal(found.length, 1, `expected exactly one task titled "${title}" (any case), found ${found.length}: ${JSON.stringify(tasks)}`);
  return found[0];
}

export async function addTask(page, title, description) {
  await page.getByLabel("New task", { exact: true }).fill(title);
  if (description) await page.getByLabel("Description (optional)").fill(description);
  await page.getByRole("button", { name: "Add task", exact: true }).click();
  const tasks = await tasksEventually(page, (list) => byTitle(list, title), `task "${title}" appearing in the list`);
  // The form is cleared once the task is saved.
  await eventually(async () => assert.equal(await page.getByLabel("New task", { exact: true }).inputValue(), ""), {
    what: "the add form clearing",
  });
  return byTitle(tasks, title);
}

export function filterButton(page, label) {
  return page.getByRole("group", { name: "Show tasks" }).getByRole("button", { name: label, exact: true });
}

export async function showFilter(page, label) {
  const button = filterButton(page, label);
  await button.click();
  await eventually(async () => assert.equal(await button.getAttribute("aria-pressed"), "true"), {
    what: `the ${label} filter being pressed`,
  });
}

/** The row of task `id` (a <li> with data-task-id). */
export function row(page, id) {
  return page.locator(`li[data-task-id="${id}"]`);
}

// ---------------------------------------------------------------- chat

export async function openChat(page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat" }).click();
  await waitForPath(page, "/chat");
  await page.getByLabel("Message", { exact: true }).waitFor();
}

/**
 * Sends `text` in the chat and waits for the assistant's reply. Returns the reply's text, its
 * tool calls as shown (`[{name, args, text}]`) and the conversation id the panel shows.
 */
export async function sendChat(page, text) {
  const assistant = page.locator('[data-testid="chat-message"][data-role="assistant"]');
  const user = page.locator('[data-testid="chat-message"][data-role="user"]');
  const before = await assistant.count();
  const userBefore = await user.count();
  const input = page.getByLabel("Message", { exact: true });
  await input.fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await eventually(
    async () => {
      const error = page.getByTestId("chat-error");
      if (await error.isVisible()) throw fatal(`the chat shows an error for "${text}": ${(await error.textContent()).trim()}`);
      assert.equal(await assistant.count(), before + 1, "assistant replies shown");
      assert.equal(await page.getByTestId("chat-thinking").count(), 0, "still thinking");
    },
    { timeout: config.chatTimeoutMs, what: `the assistant's reply to "${text}"` },
  );
  assert.equal(await user.count(), userBefore + 1, "the user's message is shown once");
  assert.equal((await messageText(user.last())).trim(), text, "the user's message is shown as typed");
  assert.equal(await input.inputValue(), "", "the message box is cleared after sending");
  const reply = assistant.nth(before);
  const content = await messageText(reply);
  const tools = await reply.locator('[data-testid="tool-call"]').evaluateAll((items) =>
    items.map((item) => {
      const code = item.querySelector("code")?.textContent ?? "";
      const open = code.indexOf("(");
      const argsText = open >= 0 && code.endsWith(")") ? code.slice(open + 1, -1) : "";
      let args = null;
      try {
        args = argsText ? JSON.parse(argsText) : {};
      } catch {
        args = null; // shortened in the UI (over 160 characters)
      }
      return { name: item.getAttribute("data-tool-name"), args, text: item.textContent };
    }),
  );
  const conversationId = await page.getByTestId("chat-panel").getAttribute("data-conversation-id");
  return { content, tools, conversationId };
}

/** A chat message's own text, without the "You"/"Assistant" badge and the tool-call details. */
function messageText(item) {
  return item.evaluate((li) => {
    const copy = li.cloneNode(true);
    copy.querySelectorAll(".who, details").forEach((node) => node.remove());
    return copy.textContent ?? "";
  });
}

export function toolNames(reply) {
  return reply.tools.map((t) => t.name);
}

/** Asserts the reply used `name` (at least once) and returns those calls. */
export function calls(reply, name) {
  const found = reply.tools.filter((t) => t.name === name);
  assert.ok(found.length > 0, `expected a ${name} call, the reply shows [${toolNames(reply).join(", ")}]: ${reply.content}`);
  return found;
}

/** Asserts `text` mentions each title (case-insensitive) and none of `absent`. */
export function mentions(text, present, absent = []) {
  const lower = text.toLowerCase();
  for (const title of present) {
    assert.ok(lower.includes(title.toLowerCase()), `the reply should mention "${title}": ${text}`);
  }
  for (const title of absent) {
    assert.ok(!new RegExp(`\\b${escapeRegExp(title.toLowerCase())}\\b`).test(lower), `the reply should not mention "${title}": ${text}`);
  }
}

// ---------------------------------------------------------------- the proxy, from a page

/** `fetch` from inside the page (its cookies, its origin): `{status, body}`. */
export function pageFetch(page, url, init = {}) {
  return page.evaluate(
    async ({ url, init }) => {
      const response = await fetch(url, init);
      return { status: response.status, body: await response.text() };
    },
    { url, init },
  );
}
