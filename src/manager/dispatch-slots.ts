/** One piece of work that holds a slot until it settles. */
export type SlotWork = () => Promise<void>;

/**
 * At most `concurrency` works at once, pulled rather than queued: whenever a slot is free the
 * slots ask `next()` for the next work (the manager reads it from the front of the queue in
 * SQLite), so nothing is held in memory for a build that waits, however long the queue. Work
 * given to `first()` (builds re-attached after a restart) goes before anything `next()` offers.
 *
 * `next()` must mark what it returns as taken before it returns (synchronously), so that the
 * following call offers something else.
 */
export class DispatchSlots {
  private busy = 0;
  private paused = true;
  private readonly urgent: { work: SlotWork; dropped?: () => void }[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly next: () => SlotWork | undefined,
  ) {}

  /** Starts filling slots (created paused, so recovery finishes first). */
  start(): void {
    this.paused = false;
    this.fill();
  }

  /** Takes no more work; works already running go on, those given to first() and not yet started are dropped (told). */
  pause(): void {
    this.paused = true;
    for (const { dropped } of this.urgent.splice(0)) dropped?.();
  }

  /** Runs `work` before anything `next()` offers, as soon as a slot is free; `dropped` is called if it never starts. */
  first(work: SlotWork, dropped?: () => void): void {
    this.urgent.push({ work, dropped });
    this.fill();
  }

  /** Something may be ready to run (a build was queued, a retry's wait ended): fills free slots. */
  fill(): void {
    while (!this.paused && this.busy < this.concurrency) {
      const work = this.urgent.shift()?.work ?? this.next();
      if (!work) return;
      this.busy++;
      // A work that throws has logged its own error (manager.ts); the slot is freed either way.
      void work()
        .catch(() => undefined)
        .finally(() => {
          this.busy--;
          this.fill();
        });
    }
  }
}
