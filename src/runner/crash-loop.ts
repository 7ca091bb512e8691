import { formatDuration } from "../shared/duration.js";
import { describeExit, type ProcessExit } from "./build-process.js";

export interface CrashLoopOptions {
  /**
   * A failure after running longer than this is a crash: restarted with back-off instead of
   * marked bad. Undefined: every failure marks the build bad.
   */
  probationMs?: number;
  /** Crashes within `crashWindowMs` after which the build is marked bad after all (default 5). */
  maxCrashes?: number;
  crashWindowMs?: number;
  /** First back-off delay, doubled per restart up to `backoffMaxMs` (defaults 10 s, 5 min). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A run at least this long resets the back-off to its base (default 10 min). */
  backoffResetMs?: number;
}

export type CrashVerdict =
  | { action: "mark-bad"; reason: string }
  | { action: "restart"; delayMs: number; crashes: number; reason: string };

/**
 * Decides what a failed run means, like Kubernetes' CrashLoopBackOff: a build that fails during
 * probation is bad; one that fails later is restarted after 10 s, 20 s, 40 s … (at most 5 min,
 * back to 10 s after a run of 10 min), until it crashed `maxCrashes` times within the window.
 */
export class CrashLoop {
  readonly options: Required<Omit<CrashLoopOptions, "probationMs">> & { probationMs?: number };
  private key: string | undefined;
  private crashTimes: number[] = [];
  private step = 0;
  /** Restarts of the current build so far. */
  restarts = 0;

  constructor(options: CrashLoopOptions = {}) {
    this.options = {
      probationMs: options.probationMs,
      maxCrashes: options.maxCrashes ?? 5,
      crashWindowMs: options.crashWindowMs ?? 600_000,
      backoffBaseMs: options.backoffBaseMs ?? 10_000,
      backoffMaxMs: options.backoffMaxMs ?? 300_000,
      backoffResetMs: options.backoffResetMs ?? 600_000,
    };
  }

  /** Forgets the history unless `key` is the build it belongs to. */
  track(key: string): void {
    if (key === this.key) return;
    this.key = key;
    this.crashTimes = [];
    this.step = 0;
    this.restarts = 0;
  }

  judge(key: string, exit: ProcessExit, now = Date.now()): CrashVerdict {
    this.track(key);
    const o = this.options;
    const what = `${describeExit(exit)} after ${formatDuration(exit.runtimeMs)}`;
    if (o.probationMs === undefined) return { action: "mark-bad", reason: what };
    if (exit.runtimeMs <= o.probationMs) {
      return { action: "mark-bad", reason: `${what}, within its probation of ${formatDuration(o.probationMs)}` };
    }
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < o.crashWindowMs), now];
    const crashes = this.crashTimes.length;
    if (crashes >= o.maxCrashes) {
      return { action: "mark-bad", reason: `crashed ${crashes} times within ${formatDuration(o.crashWindowMs)} (last: ${what})` };
    }
    if (exit.runtimeMs >= o.backoffResetMs) this.step = 0;
    const delayMs = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** this.step);
    this.step += 1;
    this.restarts += 1;
    return { action: "restart", delayMs, crashes, reason: what };
  }
}
