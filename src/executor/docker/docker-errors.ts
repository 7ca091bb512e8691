import { errorMessage } from "../../shared/errors.js";

/** HTTP status of a failed Docker Engine API call (dockerode's `statusCode`), if any. */
export function dockerStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * Docker's own words for a failed call: the engine's JSON `message` when it answered, without
 * dockerode's "(HTTP code 404) no such container -" prefix; else the transport's error.
 */
export function dockerMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (json && typeof json === "object" && typeof (json as { message?: unknown }).message === "string") return (json as { message: string }).message.trim();
  if (typeof json === "string" && json.trim()) return json.trim();
  return errorMessage(error).replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
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

/** The engine's 409 "removal of container … is already in progress": another call is removing it. */
export function isRemovalInProgress(error: unknown): boolean {
  return dockerStatus(error) === 409 && /already in progress/i.test(dockerMessage(error));
}
