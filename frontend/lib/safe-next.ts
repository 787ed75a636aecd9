const SAME_SITE = "https://same-site.invalid";

/**
 * Characters a browser drops or rewrites inside a URL (tabs, newlines, other control
 * characters; `\` is `/` to it), and their percent-encoded forms together with those of `/`,
 * which one more decoding step (a framework, a proxy) would turn into a second leading slash.
 */
const UNSAFE = /[\\\u0000-\u001f\u007f]|%(?:[01][0-9a-f]|7f|2f|5c)/i;

/** A post-sign-in destination from `?next=`, only if it stays on this site. */
export function safeNextPath(next: string | null | undefined, fallback = "/tasks"): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || UNSAFE.test(next)) return fallback;
  let url: URL;
  try {
    url = new URL(next, SAME_SITE);
  } catch {
    return fallback;
  }
  // The final word is the URL parser's, the same one the browser uses.
  if (url.origin !== SAME_SITE) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
