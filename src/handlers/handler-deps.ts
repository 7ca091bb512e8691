import type { Config } from "../config/load-config.js";
import type { BackgroundTasks } from "../github/background-tasks.js";
import type { BuildService, Deployments } from "../manager/types.js";
import type { Logger } from "../shared/logger.js";

/** A head commit of a pull request and GitHub's time for it (ISO 8601). */
export interface PullHead {
  sha: string;
  at: string;
}

/**
 * The head commits each pull request had, as pull_request webhooks told them, so that `/build`
 * builds the commit its commenter saw (src/store/pull-heads-store.ts). Repository names are
 * case-insensitive; times are GitHub's (the payloads' `updated_at`, the comment's `created_at`).
 */
export interface PullHeads {
  /** `sha` was the head of pull request `number` at `at` (an unreadable time records nothing). */
  record(repository: string, number: number, sha: string, at: string): void;
  /** Every head recorded for the pull request, oldest first. */
  heads(repository: string, number: number): PullHead[];
}

/** What every webhook handler gets. */
export interface HandlerDeps {
  service: BuildService;
  config: Config;
  logger: Logger;
  /** GitHub calls that must not hold up the webhook answer (reactions, replies). */
  tasks: BackgroundTasks;
  /** The check run page of a build once it exists (waits briefly), for `/build` replies. */
  checkRunUrl?: (key: string) => Promise<string | undefined>;
  /** Runners, for the "Deploy" button; absent when the server has none. */
  deployments?: Deployments;
  /** Sends a build's check run its new summary (after its meta changed), with retries. */
  refreshCheckRun?: (key: string) => void;
  /**
   * Pull request heads as the webhooks told them. Without it nothing is recorded, and `/build`
   * on a fork's pull request builds only a commit named in the comment.
   */
  pullHeads?: PullHeads;
}
