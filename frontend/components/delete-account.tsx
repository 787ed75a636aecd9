"use client";

import { useRouter } from "next/navigation";
import { useMemo, useState, type FormEvent } from "react";
import { authClient } from "@/lib/auth-client";
import { BackendClient } from "@/lib/backend-client";

const CONFIRM_WORD = "delete";

type Props = { userId: string; sessionFresh: boolean };

export function DeleteAccount({ userId, sessionFresh }: Props) {
  const router = useRouter();
  const client = useMemo(() => new BackendClient(userId), [userId]);
  const [confirmText, setConfirmText] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (confirmText.trim().toLowerCase() !== CONFIRM_WORD) return;
    setPending(true);
    setError(null);
    try {
      // The backend data goes first: if it fails, the account still exists to retry with.
      await client.deleteAllData();
    } catch (e) {
      setPending(false);
      setError(`Could not delete your tasks and conversations: ${e instanceof Error ? e.message : e}`);
      return;
    }
    const { error: failure } = await authClient.deleteUser({});
    if (failure) {
      setPending(false);
      setError(
        `Your tasks and conversations were deleted, but the account was not: ${failure.message ?? "unknown error"}. ` +
          "Sign out, sign in again and retry.",
      );
      return;
    }
    router.replace("/sign-in?deleted=1");
    router.refresh();
  }

  return (
    <section className="card" aria-labelledby="delete-heading" data-testid="delete-account">
      <h2 id="delete-heading">Delete account</h2>
      <p>
        This permanently deletes your account, all your tasks and all your conversations. It cannot be
        undone.
      </p>
      {sessionFresh ? (
        <form onSubmit={onSubmit} data-testid="delete-account-form">
          <div className="field">
            <label htmlFor="delete-confirm">
              Type <strong>{CONFIRM_WORD}</strong> to confirm
            </label>
            <input
              id="delete-confirm"
              type="text"
              autoComplete="off"
              value={confirmText}
              onChange={(e) => setConfirmText(e.target.value)}
              data-testid="delete-account-confirm"
            />
          </div>
          {error && (
            <p className="error" role="alert" data-testid="delete-account-error">
              {error}
            </p>
          )}
          <button
            type="submit"
            className="danger"
            disabled={pending || confirmText.trim().toLowerCase() !== CONFIRM_WORD}
            data-testid="delete-account-submit"
          >
            {pending ? "Deleting…" : "Delete my account"}
          </button>
        </form>
      ) : (
        <p className="muted" data-testid="delete-account-stale">
          For your safety, deleting the account needs a recent sign-in. Sign out, sign in again, and
          come back here.
        </p>
      )}
    </section>
  );
}
