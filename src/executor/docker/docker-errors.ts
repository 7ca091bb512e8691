import { errorMessage } from "../../shared/errors.js";

/** HTTP status of a failed Docker API call (dockerode puts it on the error), if any. */
export function dockerStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * Docker's own words for a failed call, without dockerode's "(HTTP code 500) server error - "
 * prefix, which tells a user nothing.
 */
export function dockerMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (json && typeof json === "object") {
    const message = (json as { message?: unknown }).message;
    if (typeof message === "string" && message.trim()) return message.trim();
  }
  if (typeof json === "string" && json.trim()) return json.trim();
  return errorMessage(error)
    .replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, "")
    .trim();
}

/** Runs a Docker call whose "already gone" (404) or "already done" answers are fine. */
export async function ignoring<T>(statuses: number[], call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const status = dockerStatus(error);
    if (status !== undefined && statuses.includes(status)) return undefined;
    throw error;
  }
}
