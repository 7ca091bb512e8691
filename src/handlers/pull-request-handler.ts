import type { Context } from "probot";
import type { TriggerRequest } from "../manager/types.js";
import type { HandlerDeps } from "./handler-deps.js";
import { targetsOf } from "./match-targets.js";

/** The pull_request actions that build; every other action is ignored. */
export const PULL_REQUEST_ACTIONS = ["opened", "synchronize", "reopened"] as const;

type BuildingEvent = `pull_request.${(typeof PULL_REQUEST_ACTIONS)[number]}`;
/** A pull_request payload; the direct path also passes other actions, which build nothing. */
export type PullRequestPayload = Context<BuildingEvent>["payload"];

/**
 * The builds a pull request event asks for: for opened / synchronize / reopened, the head commit
 * (ref refs/pull/N/head) for every target of the base repository that builds pull requests;
 * nothing for other actions. A pull request from a fork is built untrusted: without the
 * target's secrets and token. Shared by the Probot handler and the direct webhook path.
 */
export function pullRequestRequests(deps: Pick<HandlerDeps, "config">, p: PullRequestPayload, deliveryId: string): TriggerRequest[] {
  if (!(PULL_REQUEST_ACTIONS as readonly string[]).includes(p.action)) return [];
  const pr = p.pull_request;
  const base = pr.base.repo.full_name;
  const fork = pr.head.repo?.full_name.toLowerCase() !== base.toLowerCase();
  return targetsOf(deps.config, base)
    .filter((t) => t.pullRequests)
    .map((t) => ({
      target: t.name,
      ref: `refs/pull/${pr.number}/head`,
      sha: pr.head.sha,
      trigger: "pull_request" as const,
      deliveryId,
      repository: base,
      installationId: p.installation?.id,
      pullRequest: pr.number,
      untrusted: fork,
    }));
}

/** The Probot event names of the building pull_request actions (register-handlers.ts). */
export const pullRequestEvents = PULL_REQUEST_ACTIONS.map((a): BuildingEvent => `pull_request.${a}`);
