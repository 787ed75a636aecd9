"use client";

import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { BackendClient, type Task, type TaskStatusFilter } from "@/lib/backend-client";

const FILTERS: { value: TaskStatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "pending", label: "Pending" },
  { value: "completed", label: "Completed" },
];

const EMPTY_TEXT: Record<TaskStatusFilter, string> = {
  all: "No tasks yet. Add your first one above, or ask the assistant in Chat.",
  pending: "Nothing pending. Well done!",
  completed: "No completed tasks yet.",
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : "Something went wrong.";
}

export function TasksView({ userId }: { userId: string }) {
  const client = useMemo(() => new BackendClient(userId), [userId]);
  const [filter, setFilter] = useState<TaskStatusFilter>("all");
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const newTitleRef = useRef<HTMLInputElement>(null);

  const load = useCallback(
    async (status: TaskStatusFilter) => {
      setLoadError(null);
      try {
        setTasks(await client.listTasks(status));
      } catch (error) {
        setLoadError(errorText(error));
      }
    },
    [client],
  );

  useEffect(() => {
    setTasks(null);
    void load(filter);
  }, [filter, load]);

  /** Runs a change, then reloads the list so the filter and ordering stay the backend's. */
  async function mutate(action: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setActionError(null);
    try {
      await action();
      await load(filter);
      return true;
    } catch (error) {
      setActionError(errorText(error));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function onAdd(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const title = String(data.get("title") ?? "").trim();
    const description = String(data.get("description") ?? "").trim();
    if (!title) {
      setActionError("Enter a title for the task.");
      newTitleRef.current?.focus();
      return;
    }
    const ok = await mutate(() =>
      client.createTask(description ? { title, description } : { title }),
    );
    if (ok) {
      form.reset();
      newTitleRef.current?.focus();
    }
  }

  return (
    <div data-testid="tasks-view">
      <section className="card" aria-labelledby="add-task-heading">
        <h2 id="add-task-heading" className="visually-hidden">
          Add a task
        </h2>
        <form onSubmit={onAdd} data-testid="task-add-form">
          <div className="field">
            <label htmlFor="task-new-title">New task</label>
            <input
              ref={newTitleRef}
              id="task-new-title"
              name="title"
              type="text"
              maxLength={200}
              required
              placeholder="e.g. Buy groceries"
              data-testid="task-new-title"
            />
          </div>
          <div className="field">
            <label htmlFor="task-new-description">Description (optional)</label>
            <textarea
              id="task-new-description"
              name="description"
              maxLength={2000}
              rows={2}
              data-testid="task-new-description"
            />
          </div>
          <button type="submit" className="primary" disabled={busy} data-testid="task-add-submit">
            Add task
          </button>
        </form>
      </section>

      <div className="filters" role="group" aria-label="Show tasks">
        {FILTERS.map(({ value, label }) => (
          <button
            key={value}
            type="button"
            aria-pressed={filter === value}
            onClick={() => setFilter(value)}
            data-testid={`filter-${value}`}
          >
            {label}
          </button>
        ))}
      </div>

      {actionError && (
        <p className="error" role="alert" data-testid="tasks-action-error">
          {actionError}
        </p>
      )}

      <section className="card" aria-labelledby="task-list-heading" aria-busy={tasks === null}>
        <h2 id="task-list-heading" className="visually-hidden">
          {FILTERS.find((f) => f.value === filter)?.label} tasks
        </h2>
        {loadError ? (
          <div role="alert" data-testid="tasks-error">
            <p className="error">Could not load your tasks: {loadError}</p>
            <button type="button" onClick={() => void load(filter)} data-testid="tasks-retry">
              Try again
            </button>
          </div>
        ) : tasks === null ? (
          <p role="status" className="muted" data-testid="tasks-loading">
            Loading tasks…
          </p>
        ) : tasks.length === 0 ? (
          <p className="muted" data-testid="tasks-empty">
            {EMPTY_TEXT[filter]}
          </p>
        ) : (
          <ul className="task-list" data-testid="task-list">
            {tasks.map((task) => (
              <TaskRow key={task.id} task={task} busy={busy} mutate={mutate} client={client} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

type RowProps = {
  task: Task;
  busy: boolean;
  client: BackendClient;
  mutate: (action: () => Promise<unknown>) => Promise<boolean>;
};

function TaskRow({ task, busy, client, mutate }: RowProps) {
  const [mode, setMode] = useState<"view" | "edit" | "confirm-delete">("view");
  const editButtonRef = useRef<HTMLButtonElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const editTitleRef = useRef<HTMLInputElement>(null);
  const id = task.id;

  useEffect(() => {
    if (mode === "confirm-delete") confirmRef.current?.focus();
    if (mode === "edit") editTitleRef.current?.focus();
  }, [mode]);

  function backToView() {
    setMode("view");
    // Return focus to where the user started, once the button is back in the DOM.
    requestAnimationFrame(() => editButtonRef.current?.focus());
  }

  async function onSave(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const title = String(data.get("title") ?? "").trim();
    const description = String(data.get("description") ?? "").trim();
    if (!title) {
      editTitleRef.current?.focus();
      return;
    }
    const ok = await mutate(() => client.updateTask(id, { title, description: description || null }));
    if (ok) backToView();
  }

  return (
    <li
      className="task-row"
      data-testid={`task-row-${id}`}
      data-task-id={id}
      data-completed={task.completed}
    >
      <input
        type="checkbox"
        id={`task-toggle-${id}`}
        checked={task.completed}
        disabled={busy}
        onChange={() => void mutate(() => client.setCompleted(id, !task.completed))}
        aria-label={`${task.completed ? "Reopen" : "Complete"} “${task.title}”`}
        data-testid={`task-toggle-${id}`}
      />
      {mode === "edit" ? (
        <form className="task-main" onSubmit={onSave} data-testid={`task-edit-form-${id}`}>
          <div className="field">
            <label htmlFor={`task-edit-title-${id}`}>Title</label>
            <input
              ref={editTitleRef}
              id={`task-edit-title-${id}`}
              name="title"
              type="text"
              defaultValue={task.title}
              maxLength={200}
              required
              data-testid={`task-edit-title-${id}`}
            />
          </div>
          <div className="field">
            <label htmlFor={`task-edit-description-${id}`}>Description</label>
            <textarea
              id={`task-edit-description-${id}`}
              name="description"
              defaultValue={task.description ?? ""}
              maxLength={2000}
              rows={2}
              data-testid={`task-edit-description-${id}`}
            />
          </div>
          <div className="row">
            <button type="submit" className="primary" disabled={busy} data-testid={`task-save-${id}`}>
              Save
            </button>
            <button type="button" onClick={backToView} data-testid={`task-cancel-${id}`}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <div className="task-main">
            <label htmlFor={`task-toggle-${id}`} className="task-title" data-testid={`task-title-${id}`}>
              {task.title}
            </label>
            {task.description && (
              <div className="muted" data-testid={`task-description-${id}`}>
                {task.description}
              </div>
            )}
            <span className="task-id" data-testid={`task-id-${id}`}>
              #{id} · {task.completed ? "completed" : "pending"}
            </span>
          </div>
          {mode === "confirm-delete" ? (
            <div className="row" role="group" aria-label={`Confirm deleting “${task.title}”`}>
              <span>Delete this task?</span>
              <button
                ref={confirmRef}
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => void mutate(() => client.deleteTask(id))}
                data-testid={`task-delete-confirm-${id}`}
              >
                Delete
              </button>
              <button type="button" onClick={backToView} data-testid={`task-delete-cancel-${id}`}>
                Keep
              </button>
            </div>
          ) : (
            <div className="row">
              <button
                ref={editButtonRef}
                type="button"
                onClick={() => setMode("edit")}
                aria-label={`Edit “${task.title}”`}
                data-testid={`task-edit-${id}`}
              >
                Edit
              </button>
              <button
                type="button"
                onClick={() => setMode("confirm-delete")}
                aria-label={`Delete “${task.title}”`}
                data-testid={`task-delete-${id}`}
              >
                Delete
              </button>
            </div>
          )}
        </>
      )}
    </li>
  );
}
