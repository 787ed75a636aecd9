"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { authClient } from "@/lib/auth-client";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "@/lib/password-policy";

type Props = { mode: "sign-in" | "sign-up"; next: string; notice?: string };

export function AuthForm({ mode, next, notice }: Props) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const signUp = mode === "sign-up";

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setPending(true);
    setError(null);
    const { error: failure } = signUp
      ? await authClient.signUp.email({
          name: String(form.get("name") ?? "").trim() || email,
          email,
          password,
        })
      : await authClient.signIn.email({ email, password });
    if (failure) {
      setPending(false);
      setError(failure.message ?? (signUp ? "Could not create the account." : "Could not sign in."));
      return;
    }
    router.replace(next);
    router.refresh();
  }

  return (
    <section className="card auth-card" aria-labelledby="auth-heading">
      <h1 id="auth-heading">{signUp ? "Create your account" : "Sign in"}</h1>
      {notice && (
        <p role="status" data-testid="auth-notice">
          {notice}
        </p>
      )}
      <form onSubmit={onSubmit} data-testid={`${mode}-form`}>
        {signUp && (
          <div className="field">
            <label htmlFor="auth-name">Name</label>
            <input id="auth-name" name="name" type="text" autoComplete="name" maxLength={100} />
          </div>
        )}
        <div className="field">
          <label htmlFor="auth-email">Email</label>
          <input id="auth-email" name="email" type="email" autoComplete="email" required autoFocus />
        </div>
        <div className="field">
          <label htmlFor="auth-password">Password</label>
          <input
            id="auth-password"
            name="password"
            type="password"
            autoComplete={signUp ? "new-password" : "current-password"}
            minLength={signUp ? MIN_PASSWORD_LENGTH : undefined}
            maxLength={signUp ? MAX_PASSWORD_LENGTH : undefined}
            required
            aria-describedby={signUp ? "auth-password-hint" : undefined}
          />
          {signUp && (
            <small id="auth-password-hint" className="muted">
              At least {MIN_PASSWORD_LENGTH} characters.
            </small>
          )}
        </div>
        {error && (
          <p className="error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={pending} data-testid="auth-submit">
          {pending ? "Please wait…" : signUp ? "Sign up" : "Sign in"}
        </button>
      </form>
      <p className="muted">
        {signUp ? (
          <>
            Already have an account? <Link href="/sign-in">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link href="/sign-up">Create an account</Link>
          </>
        )}
      </p>
    </section>
  );
}
