import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inProcessRunner, makeTarget, publishScript, readBuilds, readMarker, statusOf, waitUntil, type Target } from "./helpers.js";

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

// Counts its runs in $MARKERS/runs, runs a little past the probation, then crashes until run N.
const crashUntil = (okRun: number) => `
echo run >> "$MARKERS/runs"
n=$(wc -l < "$MARKERS/runs")
sleep 0.4
[ "$n" -ge ${okRun} ] && exit 0
exit 3`;

describe("runner probation and back-off", () => {
  it("restarts a build that crashes after its probation instead of marking it bad", async () => {
    await publishScript(t, "b1", "exit 0");
    await publishScript(t, "b2", crashUntil(3));
    const { runner, messages } = inProcessRunner(t, { probationMs: 200, maxCrashes: 5, backoffBaseMs: 100 });
    const started = Date.now();
    expect(await runner.run()).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "runs")).toBe("run\nrun\nrun\n");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good", b2: "good" });
    const restarts = messages().filter((m) => m.startsWith("b2 crashed past its probation"));
    expect(restarts).toHaveLength(2);
    expect(restarts[0]).toContain("restarting in 100 ms (crash 1 of 5");
    expect(restarts[1]).toContain("restarting in 200 ms (crash 2 of 5");
    // Three runs of 0.4 s plus back-offs of 100 ms and 200 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  });

  it("marks a build bad after --max-crashes crashes within the window and falls back", async () => {
    await publishScript(t, "b1", 'echo b1 > "$MARKERS/b1"');
    await publishScript(t, "b2", crashUntil(100));
    const { runner, messages } = inProcessRunner(t, { probationMs: 200, maxCrashes: 3, crashWindowMs: 60_000 });
    expect(await runner.run()).toEqual({ exitCode: 0, tried: ["b2"] });
    expect(await readMarker(t, "runs")).toBe("run\nrun\nrun\n");
    const b2 = (await readBuilds(t)).builds[1]!;
    expect(b2).toMatchObject({ status: "bad", exitCode: 3, reason: expect.stringContaining("crashed 3 times within 1 min 0 s") });
    expect(await readMarker(t, "b1")).toBe("b1\n");
    expect(messages()).toContain("falling back to b1");
  });

  it("still marks a build bad at once when it fails within its probation", async () => {
    await publishScript(t, "b1", "exit 0");
    await publishScript(t, "b2", 'echo run >> "$MARKERS/runs"; exit 3');
    const { runner } = inProcessRunner(t, { probationMs: 5_000 });
    expect(await runner.run()).toEqual({ exitCode: 0, tried: ["b2"] });
    expect(await readMarker(t, "runs")).toBe("run\n");
    expect((await readBuilds(t)).builds[1]).toMatchObject({ status: "bad", reason: expect.stringContaining("within its probation of 5.0 s") });
  });

  it("reports the restarts in its state while backing off", async () => {
    await publishScript(t, "b1", "sleep 0.3; exit 3");
    const { runner, messages } = inProcessRunner(t, { probationMs: 100, backoffBaseMs: 700, backoffMaxMs: 5_000, maxCrashes: 5 });
    const done = runner.run();
    await waitUntil(() => runner.snapshot.phase === "backoff", "the back-off");
    expect(runner.snapshot.current).toMatchObject({ key: "b1", pid: null });
    expect(messages().at(-1)).toContain("restarting in 700 ms");
    await waitUntil(() => runner.snapshot.phase === "running", "the restart");
    const decisions = runner.snapshot.decisions;
    const restartAt = Date.parse(decisions.find((d) => d.kind === "restart")!.at);
    const restartedAt = Date.parse(decisions.filter((d) => d.kind === "start")[1]!.at);
    expect(restartedAt - restartAt).toBeGreaterThanOrEqual(690);
    expect(runner.snapshot.current).toMatchObject({ key: "b1", restarts: 1, pid: expect.any(Number) });
    expect(runner.snapshot.lastExit).toMatchObject({ key: "b1", exitCode: 3 });
    runner.stop();
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good" });
  });
});
