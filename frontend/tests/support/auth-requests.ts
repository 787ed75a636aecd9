// Requests to better-auth's endpoints as a browser sends them, from a chosen client address.

export const BASE = "http://localhost:3000";

interface Handler {
  handler(request: Request): Promise<Response>;
}

export function authPost(path: string, body: unknown, ip: string, headers: Record<string, string> = {}): Request {
  return new Request(`${BASE}/api/auth${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE, "x-forwarded-for": ip, ...headers },
    body: JSON.stringify(body),
  });
}

export function signIn(auth: Handler, email: string, password: string, ip: string): Promise<Response> {
  return auth.handler(authPost("/sign-in/email", { email, password }, ip));
}

export async function signUp(auth: Handler, email: string, password: string, ip: string): Promise<Response> {
  const response = await auth.handler(authPost("/sign-up/email", { email, password, name: email }, ip));
  if (response.status !== 200) throw new Error(`sign-up of ${email}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

export function cookieHeader(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}
