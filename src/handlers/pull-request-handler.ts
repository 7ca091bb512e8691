import type { Context } from "probot";
import type { TriggerRequest } from "../manager/types.js";
import type { PullHeads } from "../shared/pull-heads.js";
import type { HandlerDeps } from "./handler-deps.js";
import { targetsOf } from "./match-targets.js";

/** The pull_request actions that build; every other action only records the head. */
export const PULL_REQUEST_ACTIONS = ["opened", "synchronize", "reopened"] as const;

type BuildingEvent = `pull_request.${(typeof PULL_REQUEST_ACTIONS)[number]}`;
/**
 * A pull_request payload, typed as the building actions; the other actions come too (their
 * heads are recorded) and share the fields read here.
 */
export type PullRequestPayload = Context<BuildingEvent>["payload"];

/**
 * The builds a pull request event asks for: for opened / synchronize / reopened, the head commit
 * (ref refs/pull/N/head) for every target of the base repository that builds pull requests;
 * nothing for other actions. A pull request from a fork is built untrusted: without the
 * target's secrets and token. Shared by the Probot handler and the direct webhook path. Each
 * request carries the event's replay key: the same pull request head re-sent under another
 * delivery id (or as another action) queues nothing (src/store/build-store.ts, REPLAY_WINDOW_MS).
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
      replayKey: pullRequestReplayKey(base, pr.number, pr.head.sha),
      repository: base,
      installationId: p.installation?.id,
      pullRequest: pr.number,
      untrusted: fork,
    }));
}

/** What a pull request event asks for, whatever its delivery id or action: repository, number and head. */
export function pullRequestReplayKey(repository: string, number: number, sha: string): string {
  return `pull_request ${repository.toLowerCase()}#${number} ${sha.toLowerCase()}`;
}

/**
 * Records the pull request's head with GitHub's time for the event (`updated_at`), for `/build`
 * (build-comment-handler.ts). Every action does: each says the head was this commit by then
 * (an edit or a label, though, not since when: src/store/pull-heads-store.ts keeps the first time).
 */
export function recordPullHead(pullHeads: PullHeads | undefined, p: PullRequestPayload): void {
  const pr = p.pull_request;
  // A validly signed body of another shape records nothing (the direct path passes any body).
  if (!pullHeads || !pr?.head?.sha || !pr.updated_at || !pr.base?.repo?.full_name) return;
  pullHeads.record(pr.base.repo.full_name, pr.number, pr.head.sha, pr.updated_at);
}
