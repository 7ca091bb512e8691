import type { Sleeper } from "./sleeper.js";

/**
 * What serving an item did: `done` (nothing more to send: drop it), `again` (more to send: keep
 * it where it is), or a failure after which the lane waits `waitMs` and tries the next item.
 */
export type LaneOutcome = "done" | "again" | { waitMs: number };

interface Lane<T> {
  urgent: Set<T>;
  waiting: Set<T>;
  /** Set and cleared synchronously, so an item added while the loop ends is never left behind. */
  running: boolean;
  loop?: Promise<void>;
  /** Failures in a row: the back-off grows while GitHub keeps failing, whichever item it was. */
  failures: number;
}

/**
 * GitHub work, one lane per installation. Each lane sends one request at a time: GitHub asks
 * integrations not to make concurrent requests for one installation, and its secondary rate
 * limits punish bursts. So a burst of webhooks costs a queue of small items, not a pile of
 * requests in flight, and the server keeps its CPU for taking webhooks. Urgent items (a build
 * that started or finished) go before waiting ones (a build still in the queue), each group in
 * the order it arrived; after a failure the item goes to the back of its group, so one item
 * GitHub refuses does not hold up the others.
 */
export class InstallationLanes<T> {
  private readonly lanes = new Map<number, Lane<T>>();

  constructor(
    private readonly serve: (item: T, failuresInARow: number) => Promise<LaneOutcome>,
    private readonly sleeper: Sleeper,
    private readonly stopped: () => boolean,
  ) {}

  /** Adds `item` (or moves it up to urgent); an item already waiting keeps its place. */
  add(installationId: number, item: T, urgent: boolean): void {
    let lane = this.lanes.get(installationId);
    if (!lane) {
      lane = { urgent: new Set(), waiting: new Set(), running: false, failures: 0 };
      this.lanes.set(installationId, lane);
    }
    if (urgent || lane.urgent.has(item)) {
      lane.waiting.delete(item);
      lane.urgent.add(item);
    } else {
      lane.waiting.add(item);
    }
    if (!lane.running) {
      lane.running = true;
      lane.loop = this.drain(installationId, lane);
    }
  }

  remove(installationId: number, item: T): void {
    const lane = this.lanes.get(installationId);
    lane?.urgent.delete(item);
    lane?.waiting.delete(item);
  }

  /** Resolves when no lane has work in flight or waiting. */
  async idle(): Promise<void> {
    for (;;) {
      const loops = [...this.lanes.values()].filter((l) => l.running).map((l) => l.loop);
      if (!loops.length) return;
      await Promise.allSettled(loops);
    }
  }

  private async drain(installationId: number, lane: Lane<T>): Promise<void> {
    try {
      for (let item = first(lane); item !== undefined && !this.stopped(); item = first(lane)) {
        const outcome = await this.serve(item, lane.failures);
        if (outcome === "done") {
          this.remove(installationId, item);
          lane.failures = 0;
        } else if (outcome === "again") {
          lane.failures = 0;
        } else {
          lane.failures++;
          const group = lane.urgent.has(item) ? lane.urgent : lane.waiting;
          if (group.delete(item)) group.add(item);
          await this.sleeper.sleep(outcome.waitMs);
        }
      }
    } finally {
      lane.running = false;
      if (!lane.urgent.size && !lane.waiting.size) this.lanes.delete(installationId);
    }
  }
}

function first<T>(lane: Lane<T>): T | undefined {
  for (const item of lane.urgent) return item;
  for (const item of lane.waiting) return item;
  return undefined;
}
