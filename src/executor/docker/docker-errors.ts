import { errorMessage } from "../../shared/errors.js";

/** HTTP status of a failed Docker Engine API call (an EngineError's), if any. */
export function dockerStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** Docker's own words for a failed call: an EngineError's message is the engine's, without HTTP details. */
export function dockerMessage(error: unknown): string {
  return errorMessage(error).trim();
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
