import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/**
 * GitHub side effects that must not hold up a webhook answer (reactions, reply comments).
 * Each task's failure is logged and swallowed; `idle()` lets shutdown and tests wait for them.
 */
export class BackgroundTasks {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly logger: Logger,
    /** Told of every task that failed (metrics). */
    private readonly onError?: () => void,
  ) {}

  /** Starts `task` now; never throws, never rejects. */
  run(what: string, task: () => Promise<unknown>): void {
    const promise: Promise<void> = Promise.resolve()
      .then(task)
      .then(
        () => undefined,
        (error: unknown) => {
          this.onError?.();
          this.logger.warn(`GitHub: could not ${what}`, { error: errorMessage(error) });
        },
      )
      .finally(() => this.pending.delete(promise));
    this.pending.add(promise);
  }

  /** Resolves once every task started so far (and any they started) has settled. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
