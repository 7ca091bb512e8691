import type { ProcessExit } from "./build-process.js";
import type { BuildsFeed } from "./build-source.js";

/** A stop request that can be awaited by many waits, each cleaning up after itself. */
export class StopRequest {
  signal: NodeJS.Signals | null = null;
  private readonly listeners = new Set<() => void>();

  /** Records the request; returns false if one was already made. */
  request(signal: NodeJS.Signals): boolean {
    if (this.signal) return false;
    this.signal = signal;
    for (const listener of [...this.listeners]) listener();
    return true;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export type Wake = { kind: "exit"; exit: ProcessExit } | { kind: "stop" } | { kind: "newer"; key: string } | { kind: "timeout" };

export interface WaitSources {
  stop: StopRequest;
  exit?: Promise<ProcessExit>;
  timeoutMs?: number;
  /** Checked now and on every change the watcher reports; a key wakes the wait. */
  newer?: { watcher: BuildsFeed; find: () => Promise<string | undefined> };
}

/**
 * Resolves with the first of: the build's exit, a stop request, a newer build, the timeout.
 * Every listener and timer is removed once it resolves. Checks for a newer build never
 * overlap; a change reported during a check triggers one more check after it.
 */
export function waitFor(w: WaitSources): Promise<Wake> {
  return new Promise((resolve) => {
    const cleanups: (() => void)[] = [];
    let settled = false;
    const settle = (wake: Wake) => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      resolve(wake);
    };
    if (w.stop.signal) return settle({ kind: "stop" });
    cleanups.push(w.stop.subscribe(() => settle({ kind: "stop" })));
    void w.exit?.then((exit) => settle({ kind: "exit", exit }));
    if (w.timeoutMs !== undefined) {
      const timer = setTimeout(() => settle({ kind: "timeout" }), w.timeoutMs);
      cleanups.push(() => clearTimeout(timer));
    }
    if (w.newer) {
      const { watcher, find } = w.newer;
      let checking = false;
      let again = false;
      const check = async () => {
        checking = true;
        do {
          again = false;
          const key = await find();
          if (key) settle({ kind: "newer", key });
        } while (again && !settled);
        checking = false;
      };
      const trigger = () => {
        if (checking) again = true;
        else if (!settled) void check();
      };
      cleanups.push(watcher.subscribe(trigger));
      trigger();
    }
  });
}
