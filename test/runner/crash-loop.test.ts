import { describe, expect, it } from "vitest";
import { CrashLoop } from "../../src/runner/index.js";

const crashAfter = (runtimeMs: number, exitCode = 1) => ({ exitCode, signal: null, runtimeMs });

describe("CrashLoop", () => {
  it("marks every failure bad when there is no probation", () => {
    const loop = new CrashLoop();
    expect(loop.judge("k", crashAfter(3_600_000))).toEqual({ action: "mark-bad", reason: "exited with code 1 after 60 min 0 s" });
  });

  it("marks a build bad that fails within its probation", () => {
    const loop = new CrashLoop({ probationMs: 30_000 });
    expect(loop.judge("k", crashAfter(5_000, 2))).toEqual({
      action: "mark-bad",
      reason: "exited with code 2 after 5.0 s, within its probation of 30.0 s",
    });
  });

  it("restarts crashes past probation after 10 s, 20 s, 40 s … at most 5 min, like CrashLoopBackOff", () => {
    const loop = new CrashLoop({ probationMs: 1_000, maxCrashes: 100, crashWindowMs: 1_000 });
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      now += 3_600_000; // outside the window every time: only the back-off matters here
      const verdict = loop.judge("k", crashAfter(60_000), now);
      if (verdict.action !== "restart") throw new Error(`expected a restart, got ${JSON.stringify(verdict)}`);
      delays.push(verdict.delayMs);
    }
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(loop.restarts).toBe(7);
    // A run of 10 minutes or more starts the back-off over.
    expect(loop.judge("k", crashAfter(600_000), now + 3_600_000)).toMatchObject({ action: "restart", delayMs: 10_000 });
  });

  it("marks the build bad after max crashes within the window, counting only crashes inside it", () => {
    const loop = new CrashLoop({ probationMs: 1_000, maxCrashes: 3, crashWindowMs: 60_000 });
    expect(loop.judge("k", crashAfter(2_000), 0)).toMatchObject({ action: "restart", crashes: 1 });
    expect(loop.judge("k", crashAfter(2_000), 70_000)).toMatchObject({ action: "restart", crashes: 1 });
    expect(loop.judge("k", crashAfter(2_000), 80_000)).toMatchObject({ action: "restart", crashes: 2 });
    expect(loop.judge("k", crashAfter(2_000), 90_000)).toEqual({
      action: "mark-bad",
      reason: "crashed 3 times within 1 min 0 s (last: exited with code 1 after 2.0 s)",
    });
  });

  it("starts counting afresh for another build", () => {
    const loop = new CrashLoop({ probationMs: 1_000, maxCrashes: 2 });
    expect(loop.judge("a", crashAfter(2_000), 0)).toMatchObject({ action: "restart", delayMs: 10_000 });
    expect(loop.judge("b", crashAfter(2_000), 1)).toMatchObject({ action: "restart", delayMs: 10_000, crashes: 1 });
    expect(loop.restarts).toBe(1);
  });
});
