import type { IncomingMessage } from "node:http";

/**
 * Reads a request's body into memory, up to `limit` bytes. Resolves undefined when the body is
 * larger: a declared `content-length` over the limit is refused before a byte is read, and a
 * body that grows past it while streaming (no or a lying `content-length`) stops being kept.
 * Either way the rest is drained, not kept, so the connection can still carry the answer.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
    else chunks.length = 0;
  }
  return size > limit ? undefined : Buffer.concat(chunks, size);
}
