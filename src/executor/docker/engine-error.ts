/**
 * A failed Docker Engine API call. `message` is the engine's own words (its JSON `message`), so
 * it can go into a user-facing CicdError as is. `statusCode` is the HTTP status of an error
 * answer; undefined when the engine could not be reached, or when a build or pull reported its
 * error inside a 200 progress stream. Never leaves executor/docker: the callers turn it into an
 * EXECUTOR_FAILED CicdError (docker-errors.ts reads it).
 */
export class EngineError extends Error {
  override readonly name = "EngineError";

  constructor(
    message: string,
    readonly statusCode: number | undefined,
    /** "POST /containers/create", for debugging; carries no secrets (ids and names only). */
    readonly call: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The engine's message in an error answer: JSON `{"message": ...}`, else the plain text. */
export function engineMessage(body: string, statusCode: number): string {
  const text = body.trim();
  try {
    const message = (JSON.parse(text) as { message?: unknown } | null)?.message;
    if (typeof message === "string" && message.trim()) return message.trim();
  } catch {
    // Not JSON: some proxies and old engines answer in plain text.
  }
  return text || `the Docker engine answered HTTP ${statusCode}`;
}
