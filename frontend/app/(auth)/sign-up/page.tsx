import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AuthForm } from "@/components/auth-form";
import { currentSession } from "@/lib/session";

export const metadata: Metadata = { title: "Sign up" };

export default async function SignUpPage() {
  if (await currentSession()) redirect("/tasks");
  return (
    <main id="main">
      <AuthForm mode="sign-up" next="/tasks" />
    </main>
  );
}
