import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { getJson } from "../shared/post-json.js";
import { buildRequestSchema, type BuildRequest } from "../shared/protocol.js";

export interface FetchBuildOptions {
  /** The manager's builder events URL (`…/internal/builders/events`); the request is beside it. */
  managerUrl: string;
  token: string;
  builderId: string;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Fetches this builder's build request from the manager, for builders the manager cannot
 * connect to (swarm tasks on overlay networks): a long poll, asked again after each empty (204)
 * answer and, with back-off, after each failure. Resolves with the request, or undefined when
 * `signal` aborts (the builder is being stopped). A 401 is final: the manager no longer knows
 * this builder (its build ended, or the manager restarted), so there is nothing to fetch.
 */
export async function fetchBuild(o: FetchBuildOptions): Promise<BuildRequest | undefined> {
  const url = new URL(`${encodeURIComponent(o.builderId)}/request`, o.managerUrl).toString();
  let delay = 100;
  while (!o.signal.aborted) {
    try {
      const answer = await getJson(url, { token: o.token, timeoutMs: 60_000, signal: o.signal });
      // Stopped meanwhile (the builder is ending): a request that came anyway is not started.
      if (o.signal.aborted) return undefined;
      if (answer.status === 200) {
        const parsed = buildRequestSchema.safeParse(JSON.parse(answer.text));
        if (parsed.success) return parsed.data;
        o.log.error("the manager sent a build request this builder cannot read", { issues: parsed.error.issues.map((i) => i.path.join(".")).join(", ") });
        return undefined;
      }
      if (answer.status === 401) {
        o.log.error("the manager does not know this builder any more; no build to fetch");
        return undefined;
      }
      if (answer.status === 204) {
        delay = 100;
        continue;
      }
      o.log.warn("fetching the build request failed; trying again", { status: answer.status });
    } catch (error) {
      if (o.signal.aborted) return undefined;
      o.log.warn("cannot reach the manager to fetch the build request; trying again", { error: errorMessage(error) });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 5_000);
  }
  return undefined;
}
