import type { Metadata } from "next";
import { DeleteAccount } from "@/components/delete-account";
import { SESSION_FRESH_AGE_SECONDS } from "@/lib/auth";
import { requireSession } from "@/lib/session";

export const metadata: Metadata = { title: "Account" };

// Leave a margin so a session that is fresh when the page renders is still fresh on submit.
const FRESHNESS_MARGIN_SECONDS = 10 * 60;

export default async function AccountPage() {
  const { user, session } = await requireSession();
  const ageSeconds = (Date.now() - new Date(session.createdAt).getTime()) / 1000;
  const fresh = ageSeconds < SESSION_FRESH_AGE_SECONDS - FRESHNESS_MARGIN_SECONDS;
  return (
    <>
      <h1>Account</h1>
      <section className="card" aria-labelledby="profile-heading">
        <h2 id="profile-heading">Profile</h2>
        <p>
          Name: <span data-testid="account-name">{user.name}</span>
          <br />
          Email: <span data-testid="account-email">{user.email}</span>
          <br />
          User id: <code data-testid="account-user-id">{user.id}</code>
        </p>
      </section>
      <DeleteAccount userId={user.id} sessionFresh={fresh} />
    </>
  );
}
