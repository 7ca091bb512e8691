import type { Config } from "../config/load-config.js";
import type { BackgroundTasks } from "../github/background-tasks.js";
import type { BuildService } from "../manager/types.js";
import type { Logger } from "../shared/logger.js";

/** What every webhook handler gets. */
export interface HandlerDeps {
  service: BuildService;
  config: Config;
  logger: Logger;
  /** GitHub calls that must not hold up the webhook answer (reactions, replies). */
  tasks: BackgroundTasks;
  /** The check run page of a build once it exists (waits briefly), for `/build` replies. */
  checkRunUrl?: (key: string) => Promise<string | undefined>;
}
