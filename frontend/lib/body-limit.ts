/** A request body over the limit; answered with 413. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`Request body too large (the limit is ${limit} bytes).`);
  }
}

/** `Content-Length` as a number, or null when absent or malformed. */
export function declaredLength(request: Request): number | null {
  const value = request.headers.get("content-length");
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

/**
 * The request body, read up to `limit` bytes: refused from `Content-Length` before anything is
 * read, and otherwise counted while it is read and refused as soon as it passes the limit
 * (whatever `Content-Length` claimed), so an oversized upload is never held in memory.
 */
export async function readLimitedBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!request.body) return undefined;
  const declared = declaredLength(request);
  if (declared !== null && declared > limit) {
    await request.body.cancel().catch(() => undefined);
    throw new BodyTooLargeError(limit);
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
