import type { Config } from "../config/load-config.js";
import type { BackgroundTasks } from "../github/background-tasks.js";
import type { BuildService, Deployments } from "../manager/types.js";
import type { Logger } from "../shared/logger.js";
import type { PullHeads } from "../shared/pull-heads.js";


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
