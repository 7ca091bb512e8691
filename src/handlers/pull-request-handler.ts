import type { Context } from "probot";
import type { HandlerDeps } from "./handler-deps.js";
import { targetsOf } from "./match-targets.js";
import { queueBuilds } from "./queue-builds.js";

/**
 * pull_request opened / synchronize / reopened: builds the head commit (ref refs/pull/N/head)
 * for every target of the base repository that builds pull requests. A pull request from a fork
 * is built untrusted: without the target's secrets and token.
 */
export function pullRequestHandler(deps: HandlerDeps) {
  return async (context: Context<"pull_request.opened" | "pull_request.synchronize" | "pull_request.reopened">): Promise<void> => {
    const p = context.payload;
    const pr = p.pull_request;
    const base = pr.base.repo.full_name;
    const fork = pr.head.repo?.full_name.toLowerCase() !== base.toLowerCase();
    const targets = targetsOf(deps.config, base).filter((t) => t.pullRequests);
    await queueBuilds(
      deps,
      targets.map((t) => ({
        target: t.name,
        ref: `refs/pull/${pr.number}/head`,
        sha: pr.head.sha,
        trigger: "pull_request" as const,
        deliveryId: context.id,
        repository: base,
        installationId: p.installation?.id,
        pullRequest: pr.number,
        untrusted: fork,
      })),
    );
  };
}
