import type { ReactNode } from "react";
import { NavLinks } from "@/components/nav-links";
import { SignOutButton } from "@/components/sign-out-button";
import { requireSession } from "@/lib/session";

export const dynamic = "force-dynamic";

export default async function AppLayout({ children }: { children: ReactNode }) {
  const { user } = await requireSession();
  return (
    <>
      <header className="site-header">
        <span className="brand">Todo Chatbot</span>
        <NavLinks />
        <div className="user-box">
          <span data-testid="user-email">{user.email}</span>
          <SignOutButton />
        </div>
      </header>
      <main id="main" data-testid="app-main" data-user-id={user.id}>
        {children}
      </main>
    </>
  );
}
