import "server-only";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { getSession } from "./auth";

/** The current request's session, looked up once per render. */
export const currentSession = cache(async () => getSession(await headers()));

/** The session, or a redirect to sign-in: the real check behind the middleware's cookie test. */
export async function requireSession() {
  const session = await currentSession();
  if (!session) redirect("/sign-in");
  return session;
}
