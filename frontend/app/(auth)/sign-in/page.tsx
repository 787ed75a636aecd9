import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthForm } from "@/components/auth-form";
import { currentSession } from "@/lib/session";
import { safeNextPath } from "@/lib/safe-next";

export const metadata: Metadata = { title: "Sign in" };

type Props = { searchParams: Promise<{ next?: string; deleted?: string }> };

export default async function SignInPage({ searchParams }: Props) {
  const { next, deleted } = await searchParams;
  if (await currentSession()) redirect(safeNextPath(next));
  return (
    <main id="main">
      <AuthForm mode="sign-in" next={safeNextPath(next)} notice={deleted ? "Your account was deleted." : undefined} />
    </main>
  );
}
