// The Todo Chatbot's user journey in a real browser, as one ordered story:
// sign up → sign out → sign in → tasks (add, complete, filter, edit, delete) → the eight
// contract chat messages, each checked against the tasks page → a second user is isolated →
// delete the account → signing in again fails.
//
// Steps share state and run in order; once one fails the rest are skipped, and the failed step
// leaves a screenshot of every open page and the browser console log under target/e2e/.

import assert from "node:assert/strict";
import { after, describe } from "node:test";
import { config, eventually, Run } from "../lib/harness.mjs";
import {
  addTask,
  byTitle,
  byTitleLoose,
  calls,
  deleteAccount,
  filterButton,
  mentions,
  newCredentials,
  openChat,
  openTasks,
  pageFetch,
  readTasks,
  reloadTasks,
  row,
  sendChat,
  showFilter,
  signedInUser,
  signOut,
  signUp,
  submitSignIn,
  tasksEventually,
  waitForPath,
} from "../lib/app.mjs";

const run = new Run("journey");

// Titles are chosen so that none contains another (the chat checks look for them in replies).
const FIRST = "Water the plants";
const SECOND = "Book dentist appointment";
const SECOND_EDITED = "Call the dentist";
const SECOND_DESCRIPTION = "Ask for a Friday slot";
const MEETING = "Team meeting";
const GROCERIES = "buy groceries";
const BILLS = "pay bills";
const MOM = "Call mom tonight";

const alice = newCredentials("alice");
const bob = newCredentials("bob");
const s = {}; // what the steps learn from the pages: ids, pages, contexts

/** Sends a chat message and records the reply and its tool calls in the run's log. */
async function chat(page, text) {
  const reply = await sendChat(page, text);
  run.note("chat", `${JSON.stringify(text)} → ${JSON.stringify(reply.content)} tools: ${reply.tools.map((t) => t.text).join(" | ")}`);
  // The backend sets the signed-in user on every tool call, whatever the agent produced.
  const userId = await page.getByTestId("app-main").getAttribute("data-user-id");
  for (const call of reply.tools) {
    if (call.args && "user_id" in call.args) {
      assert.equal(call.args.user_id, userId, `${call.name} ran for another user: ${call.text}`);
    }
  }
  return reply;
}

/** The tasks tab, reloaded: what the backend holds for the first user now. */
async function truth() {
  return reloadTasks(s.tasksTab);
}

/** Same ids, titles and states as `expected` (order ignored). */
function assertSameTasks(actual, expected, message) {
  const key = (t) => `${t.id}|${t.title}|${t.completed}`;
  assert.deepEqual(actual.map(key).sort(), expected.map(key).sort(), message);
}

describe("Todo Chatbot in the browser", () => {
  // Not a before hook: a failed health check is then one clear failure, the rest skipped.
  run.step(`the app answers at ${config.baseUrl} and Chromium starts`, () => run.start(), {
    timeout: config.healthTimeoutMs + 35_000,
  });
  after(async () => {
    await run.stop();
  });

  run.step("sign up creates the account and lands on an empty task list", async () => {
    s.alice = await run.newContext("alice");
    s.page = await run.newPage(s.alice, "alice");
    s.aliceId = await signUp(s.page, alice);
    assert.match(s.aliceId, /\S/);
    await s.page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
    assert.deepEqual(await readTasks(s.page), []);
    assert.match(await s.page.getByTestId("tasks-empty").textContent(), /No tasks yet/);
  });

  run.step("sign out ends the session", async () => {
    await signOut(s.page);
    await s.page.getByRole("heading", { name: "Sign in" }).waitFor();
    // The app is closed again: /tasks sends the visitor to sign-in, remembering where to go.
    await s.page.goto("/tasks");
    await waitForPath(s.page, "/sign-in");
    assert.equal(new URL(s.page.url()).searchParams.get("next"), "/tasks");
    const proxied = await pageFetch(s.page, `/api/backend/${encodeURIComponent(s.aliceId)}/tasks`);
    assert.equal(proxied.status, 401, `the proxy without a session: ${JSON.stringify(proxied)}`);
  });

  run.step("sign in: a wrong password is refused, the right one opens the tasks", async () => {
    const refused = await submitSignIn(s.page, alice.email, `${alice.password}-wrong`, "/tasks");
    assert.ok(refused, "a wrong password must not sign in");
    assert.doesNotMatch(refused, /too many/i, "rate limited instead of refused");
    assert.ok(new URL(s.page.url()).pathname === "/sign-in");
    const error = await submitSignIn(s.page, alice.email, alice.password, "/tasks");
    assert.equal(error, null, `sign-in failed: ${error}`);
    assert.equal(await signedInUser(s.page, alice.email), s.aliceId, "same user id after signing in again");
  });

  run.step("add two tasks", async () => {
    const first = await addTask(s.page, FIRST);
    const second = await addTask(s.page, SECOND, SECOND_DESCRIPTION);
    assert.notEqual(first.id, second.id);
    assert.equal(first.completed, false);
    assert.equal(second.completed, false);
    assert.equal(second.description, SECOND_DESCRIPTION);
    s.firstId = first.id;
    s.secondId = second.id;
    const tasks = await reloadTasks(s.page);
    assert.deepEqual(
      tasks.map((t) => t.title),
      [SECOND, FIRST],
      "after a reload both are there, newest first",
    );
  });

  run.step("complete one task", async () => {
    // A controlled checkbox: it flips once the backend has answered, so click, then wait.
    await s.page.getByRole("checkbox", { name: `Complete “${FIRST}”` }).click();
    await tasksEventually(
      s.page,
      (tasks) => assert.equal(byTitle(tasks, FIRST).completed, true),
      `"${FIRST}" shown as completed`,
    );
    await s.page.getByRole("checkbox", { name: `Reopen “${FIRST}”` }).waitFor();
    assert.match(await s.page.getByTestId(`task-id-${s.firstId}`).textContent(), /completed/);
    const tasks = await reloadTasks(s.page);
    assert.equal(byTitle(tasks, FIRST).completed, true, "still completed after a reload");
    assert.equal(byTitle(tasks, SECOND).completed, false, "the other one is still pending");
  });

  run.step("filter pending, then completed", async () => {
    await showFilter(s.page, "Pending");
    await tasksEventually(
      s.page,
      (tasks) => assert.deepEqual(tasks.map((t) => t.id), [s.secondId]),
      "only the pending task under Pending",
    );
    await showFilter(s.page, "Completed");
    await tasksEventually(
      s.page,
      (tasks) => assert.deepEqual(tasks.map((t) => t.id), [s.firstId]),
      "only the completed task under Completed",
    );
    assert.equal(await filterButton(s.page, "Pending").getAttribute("aria-pressed"), "false");
    await showFilter(s.page, "All");
    await tasksEventually(s.page, (tasks) => assert.equal(tasks.length, 2), "both tasks under All");
  });

  run.step("edit a task's title and description", async () => {
    await s.page.getByRole("button", { name: `Edit “${SECOND}”` }).click();
    const form = row(s.page, s.secondId);
    const title = form.getByLabel("Title", { exact: true });
    assert.equal(await title.inputValue(), SECOND, "the edit form starts with the current title");
    await title.fill(SECOND_EDITED);
    await form.getByLabel("Description", { exact: true }).fill(`${SECOND_DESCRIPTION}, after 10am`);
    await form.getByRole("button", { name: "Save", exact: true }).click();
    await tasksEventually(
      s.page,
      (tasks) => {
        const edited = tasks.find((t) => t.id === s.secondId);
        assert.equal(edited?.title, SECOND_EDITED);
        assert.equal(edited?.description, `${SECOND_DESCRIPTION}, after 10am`);
      },
      "the edited title and description shown",
    );
    const tasks = await reloadTasks(s.page);
    const edited = byTitle(tasks, SECOND_EDITED);
    assert.equal(edited.id, s.secondId, "an edit keeps the task's id");
    assert.equal(edited.completed, false);
    assert.ok(!tasks.some((t) => t.title === SECOND), "the old title is gone");
  });

  run.step("delete a task, after its confirmation (Keep first, then Delete)", async () => {
    await s.page.getByRole("button", { name: `Delete “${SECOND_EDITED}”` }).click();
    const confirm = s.page.getByRole("group", { name: `Confirm deleting “${SECOND_EDITED}”` });
    await confirm.waitFor();
    await confirm.getByRole("button", { name: "Keep", exact: true }).click();
    await confirm.waitFor({ state: "detached" });
    assert.equal(byTitle(await readTasks(s.page), SECOND_EDITED).id, s.secondId, "Keep keeps the task");

    await s.page.getByRole("button", { name: `Delete “${SECOND_EDITED}”` }).click();
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await tasksEventually(
      s.page,
      (tasks) => assert.deepEqual(tasks.map((t) => t.id), [s.firstId]),
      "the deleted task gone from the list",
    );
    const tasks = await reloadTasks(s.page);
    assert.deepEqual(tasks.map((t) => t.title), [FIRST], "still gone after a reload");
  });

  // ------------------------------------------------------------------ chat
  // The chat runs in one tab and the tasks page in a second tab of the same session, reloaded
  // after every message: each reply is checked against what the tasks page then shows.

  run.step("chat 1/8: “Add a task to buy groceries” adds a task", async () => {
    s.tasksTab = s.page;
    s.chatTab = await run.newPage(s.alice, "alice-chat");
    await s.chatTab.goto("/tasks");
    await openChat(s.chatTab);
    await s.chatTab.getByTestId("chat-empty").waitFor();
    s.before = await truth();

    const reply = await chat(s.chatTab, "Add a task to buy groceries");
    calls(reply, "add_task");
    assert.match(reply.conversationId, /^\d+$/, "the panel shows the new conversation's id");
    s.conversationId = reply.conversationId;
    const after = await truth();
    const added = byTitleLoose(after, GROCERIES);
    assert.equal(added.completed, false);
    assert.ok(!s.before.some((t) => t.id === added.id), "a new id");
    assertSameTasks(after.filter((t) => t.id !== added.id), s.before, "nothing else changed");
    mentions(reply.content, [GROCERIES]);
    s.groceriesId = added.id;
    s.before = after;
  });

  run.step("chat 2/8: “I need to remember to pay bills” adds a task", async () => {
    const reply = await chat(s.chatTab, "I need to remember to pay bills");
    calls(reply, "add_task");
    assert.equal(reply.conversationId, s.conversationId, "the same conversation goes on");
    const after = await truth();
    const added = byTitleLoose(after, BILLS);
    assert.equal(added.completed, false);
    assertSameTasks(after.filter((t) => t.id !== added.id), s.before, "nothing else changed");
    mentions(reply.content, [BILLS]);
    s.billsId = added.id;
    s.before = after;
  });

  run.step("chat 3/8: “Show me all my tasks” lists every task on the page", async () => {
    const reply = await chat(s.chatTab, "Show me all my tasks");
    const [list] = calls(reply, "list_tasks");
    assert.ok(list.args === null || list.args.status === undefined || list.args.status === "all", `list_tasks(${JSON.stringify(list.args)})`);
    const after = await truth();
    assertSameTasks(after, s.before, "listing changes nothing");
    assert.equal(after.length, 3);
    mentions(reply.content, after.map((t) => t.title));
  });

  run.step("chat 4/8: “What's pending?” lists the pending tasks only", async () => {
    const reply = await chat(s.chatTab, "What's pending?");
    const list = calls(reply, "list_tasks");
    assert.ok(list.some((c) => c.args?.status === "pending"), `list_tasks with status pending: ${JSON.stringify(list.map((c) => c.args))}`);
    const after = await truth();
    assertSameTasks(after, s.before, "listing changes nothing");
    const pending = after.filter((t) => !t.completed).map((t) => t.title);
    const done = after.filter((t) => t.completed).map((t) => t.title);
    assert.deepEqual(pending.map((t) => t.toLowerCase()).sort(), [BILLS, GROCERIES].sort());
    mentions(reply.content, pending, done);
  });

  run.step("chat 5/8: “What have I completed?” lists the completed tasks only", async () => {
    const reply = await chat(s.chatTab, "What have I completed?");
    const list = calls(reply, "list_tasks");
    assert.ok(list.some((c) => c.args?.status === "completed"), `list_tasks with status completed: ${JSON.stringify(list.map((c) => c.args))}`);
    const after = await truth();
    assertSameTasks(after, s.before, "listing changes nothing");
    const done = after.filter((t) => t.completed).map((t) => t.title);
    const pending = after.filter((t) => !t.completed).map((t) => t.title);
    assert.deepEqual(done, [FIRST]);
    mentions(reply.content, done, pending);
  });

  run.step("chat 6/8: “Mark task N as complete” completes task N (N read from the page)", async () => {
    // N is the id the tasks page shows for the groceries task.
    const target = byTitleLoose(s.before, GROCERIES);
    assert.equal(target.completed, false);
    const reply = await chat(s.chatTab, `Mark task ${target.id} as complete`);
    const [call] = calls(reply, "complete_task");
    assert.equal(Number(call.args?.task_id), target.id, `complete_task(${JSON.stringify(call.args)})`);
    const after = await truth();
    assert.equal(after.find((t) => t.id === target.id)?.completed, true, `task ${target.id} completed on the page`);
    assertSameTasks(
      after.filter((t) => t.id !== target.id),
      s.before.filter((t) => t.id !== target.id),
      "nothing else changed",
    );
    s.before = after;
  });

  run.step("chat 7/8: “Delete the meeting task” deletes the task titled “Team meeting”", async () => {
    // The meeting task is made on the tasks page first, so its id comes from the page too.
    const meeting = await addTask(s.tasksTab, MEETING);
    const before = await truth();
    assert.equal(byTitle(before, MEETING).id, meeting.id);
    const reply = await chat(s.chatTab, "Delete the meeting task");
    const [call] = calls(reply, "delete_task");
    // The agent finds the task by title: it lists first (the contract's list_tasks, then delete_task).
    const names = reply.tools.map((t) => t.name);
    assert.ok(names.indexOf("list_tasks") >= 0 && names.indexOf("list_tasks") < names.indexOf("delete_task"), `list_tasks before delete_task: [${names}]`);
    assert.equal(Number(call.args?.task_id), meeting.id, `delete_task(${JSON.stringify(call.args)})`);
    const after = await truth();
    assert.ok(!after.some((t) => t.id === meeting.id), `task ${meeting.id} “${MEETING}” is gone from the page`);
    assertSameTasks(after, s.before, "only the meeting task went away");
    mentions(reply.content, [MEETING]);
  });

  run.step("chat 8/8: “Change task N to 'Call mom tonight'” renames task N (N read from the page)", async () => {
    const target = byTitleLoose(s.before, BILLS);
    const reply = await chat(s.chatTab, `Change task ${target.id} to '${MOM}'`);
    const [call] = calls(reply, "update_task");
    assert.equal(Number(call.args?.task_id), target.id, `update_task(${JSON.stringify(call.args)})`);
    const after = await truth();
    const renamed = after.find((t) => t.id === target.id);
    assert.equal(renamed?.title, MOM, `task ${target.id} renamed on the page`);
    assert.equal(renamed.completed, target.completed, "renaming keeps the state");
    assertSameTasks(
      after.filter((t) => t.id !== target.id),
      s.before.filter((t) => t.id !== target.id),
      "nothing else changed",
    );
    mentions(reply.content, [MOM]);
    s.before = after;
    s.momId = target.id;
  });

  run.step("the conversation is stored: reopened after a reload it shows all 16 messages", async () => {
    await s.chatTab.reload();
    await waitForPath(s.chatTab, "/chat");
    const entry = s.chatTab.getByTestId(`conversation-${s.conversationId}`);
    await entry.click();
    await eventually(
      async () => assert.equal(await s.chatTab.getByTestId("chat-panel").getAttribute("data-conversation-id"), s.conversationId),
      { what: "the conversation opening" },
    );
    await s.chatTab.getByRole("heading", { name: `Conversation #${s.conversationId}` }).waitFor();
    const messages = s.chatTab.getByTestId("chat-message");
    await eventually(async () => assert.equal(await messages.count(), 16), { what: "16 stored messages shown" });
    const roles = await messages.evaluateAll((items) => items.map((item) => item.getAttribute("data-role")));
    assert.deepEqual(roles, Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? "user" : "assistant")));
    const firstUser = await messages.first().evaluate((li) => li.textContent);
    assert.match(firstUser, /Add a task to buy groceries/);
  });

  // ------------------------------------------------------------------ a second user

  run.step("a second user sees none of the first user's tasks and cannot reach them by id", async () => {
    s.bob = await run.newContext("bob");
    const page = await run.newPage(s.bob, "bob");
    s.bobPage = page;
    s.bobId = await signUp(page, bob);
    assert.notEqual(s.bobId, s.aliceId);
    const aliceTasks = s.before; // as the first user's page showed them last
    assert.ok(aliceTasks.length >= 2);
    const aliceTitles = aliceTasks.map((t) => t.title);

    // The tasks page: empty, under every filter.
    assert.deepEqual(await readTasks(page), [], "the second user's list is empty");
    for (const filter of ["Pending", "Completed", "All"]) {
      await showFilter(page, filter);
      await tasksEventually(page, (tasks) => assert.deepEqual(tasks, []), `nothing under ${filter}`);
    }
    const body = await page.locator("body").textContent();
    for (const title of aliceTitles) assert.ok(!body.includes(title), `"${title}" visible to the second user`);

    // Through the proxy, from the second user's session: the first user's path, and the
    // first user's task ids on the second user's own path.
    const pendingTask = aliceTasks.find((t) => !t.completed);
    assert.ok(pendingTask, "the first user has a pending task to probe with");
    const alicePath = `/api/backend/${encodeURIComponent(s.aliceId)}`;
    const bobPath = `/api/backend/${encodeURIComponent(s.bobId)}`;
    const json = { "content-type": "application/json" };
    const probes = [
      ["GET", `${alicePath}/tasks`],
      ["GET", `${alicePath}/tasks?status=pending`],
      ["GET", `${alicePath}/conversations`],
      ...aliceTasks.map((t) => ["GET", `${alicePath}/tasks/${t.id}`]),
      ["PUT", `${alicePath}/tasks/${pendingTask.id}`, { title: "taken over" }],
      ["PATCH", `${alicePath}/tasks/${pendingTask.id}/complete`, { completed: true }],
      ["DELETE", `${alicePath}/tasks/${pendingTask.id}`],
      ["POST", `${alicePath}/tasks`, { title: "planted by the second user" }],
      ["GET", `${alicePath}/conversations/${s.conversationId}/messages`],
      ["POST", `${alicePath}/chat`, { message: "Show me all my tasks" }],
      ["DELETE", alicePath],
    ];
    for (const [method, url, payload] of probes) {
      const init = payload ? { method, headers: json, body: JSON.stringify(payload) } : { method };
      const answer = await pageFetch(page, url, init);
      assert.ok([403, 404].includes(answer.status), `${method} ${url} as the second user: HTTP ${answer.status} ${answer.body}`);
      for (const title of aliceTitles) assert.ok(!answer.body.includes(title), `${method} ${url} leaked "${title}"`);
    }
    const ownPathProbes = [
      ...aliceTasks.map((t) => ["GET", `${bobPath}/tasks/${t.id}`]),
      ["PUT", `${bobPath}/tasks/${pendingTask.id}`, { title: "taken over" }],
      ["PATCH", `${bobPath}/tasks/${pendingTask.id}/complete`, { completed: true }],
      ["DELETE", `${bobPath}/tasks/${pendingTask.id}`],
      ["GET", `${bobPath}/conversations/${s.conversationId}/messages`],
    ];
    for (const [method, url, payload] of ownPathProbes) {
      const init = payload ? { method, headers: json, body: JSON.stringify(payload) } : { method };
      const answer = await pageFetch(page, url, init);
      assert.equal(answer.status, 404, `${method} ${url} (another user's task id) must be a 404: ${answer.body}`);
      for (const title of aliceTitles) assert.ok(!answer.body.includes(title), `${method} ${url} leaked "${title}"`);
    }

    // Through the chat: the agent acts for the signed-in user only.
    await openChat(page);
    const listing = await chat(page, "Show me all my tasks");
    calls(listing, "list_tasks");
    mentions(listing.content, [], aliceTitles);
    for (const attempt of [`Mark task ${pendingTask.id} as complete`, `Delete task ${pendingTask.id}`]) {
      const reply = await chat(page, attempt);
      mentions(reply.content, [], aliceTitles);
      for (const call of reply.tools) {
        for (const title of aliceTitles) assert.ok(!call.text.includes(title), `"${attempt}" leaked "${title}": ${call.text}`);
        assert.doesNotMatch(call.text, /"status":\s*"(completed|deleted)"/, `"${attempt}" acted on another user's task: ${call.text}`);
      }
    }

    // Nothing of the first user's changed.
    assertSameTasks(await truth(), aliceTasks, "the first user's tasks are untouched");
    await openTasks(page);
    assert.deepEqual(await readTasks(page), [], "the second user still has no tasks");
  });

  run.step("the second user deletes their account (clean-up)", async () => {
    await deleteAccount(s.bobPage, { userId: s.bobId, email: bob.email });
  });

  // ------------------------------------------------------------------ account deletion

  run.step("delete the first user's account", async () => {
    await s.chatTab.close();
    await deleteAccount(s.page, { userId: s.aliceId, email: alice.email });
    // The old session is gone: the app and the proxy both turn the browser away.
    await s.page.goto("/tasks");
    await waitForPath(s.page, "/sign-in");
    // The front door stays a page for a signed-out visitor, with its way in.
    const home = await s.page.goto("/");
    assert.equal(home.status(), 200);
    assert.equal(new URL(s.page.url()).pathname, "/");
    await s.page.getByRole("link", { name: "Sign in" }).click();
    await waitForPath(s.page, "/sign-in");
    const proxied = await pageFetch(s.page, `/api/backend/${encodeURIComponent(s.aliceId)}/tasks`);
    assert.equal(proxied.status, 401, `the proxy after deletion: ${JSON.stringify(proxied)}`);
  });

  run.step("signing in to the deleted account fails", async () => {
    await s.page.goto("/sign-in");
    const error = await submitSignIn(s.page, alice.email, alice.password, "/tasks");
    assert.ok(error, "signing in to a deleted account must fail");
    assert.doesNotMatch(error, /too many/i, "rate limited instead of refused");
    assert.equal(new URL(s.page.url()).pathname, "/sign-in");
    assert.equal(await s.page.getByTestId("user-email").count(), 0, "no signed-in header");
  });
});

