import type { HandlerDeps } from "./handler-deps.js";
import { pullRequestRequests, recordPullHead, type PullRequestPayload } from "./pull-request-handler.js";
import { pushRequests, type PushPayload } from "./push-handler.js";
import { queueBuilds } from "./queue-builds.js";

/** Queues what one verified webhook asks for; resolves once every build is durably queued. */
export type DirectEvent = (payload: unknown, deliveryId: string) => Promise<void>;

/**
 * The events whose handling needs nothing but the payload (no GitHub client, no reply): push and
 * pull_request. The webhook endpoint queues them straight from the verified body, without
 * building a Probot context for each; Probot's push and pull_request handlers are these same
 * functions (register-handlers.ts). Every other event goes through Probot. A pull_request event
 * of any action records the pull request's head first (`deps.pullHeads`), for `/build`.
 */
export function directEvents(deps: Pick<HandlerDeps, "service" | "config" | "logger" | "pullHeads">): Record<"push" | "pull_request", DirectEvent> {
  return {
    push: async (payload, id) => {
      await queueBuilds(deps, pushRequests(deps, payload as PushPayload, id));
    },
    pull_request: async (payload, id) => {
      recordPullHead(deps.pullHeads, payload as PullRequestPayload);
      await queueBuilds(deps, pullRequestRequests(deps, payload as PullRequestPayload, id));
    },
  };
}
