import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readRunnerState } from "../../src/runner/index.js";
import { makeTarget, publishScript, readBuilds, readMarker, startCli, statusOf, waitUntil, type Target } from "./helpers.js";

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

/** True while `pid` is a live process (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("runner signals (cicd runner as its own process)", () => {
  it("forwards SIGTERM to the build and exits 0 once the build has stopped", async () => {
    await publishScript(t, "b1", `
trap 'sleep 0.3; echo "term handled" > "$MARKERS/term"; exit 0' TERM
echo $$ > "$MARKERS/pid"
while true; do sleep 0.05; done`);
    const stateFile = path.join(t.work, "state", "runner.json");
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}", "--state-file", stateFile], { MARKERS: t.markers });
    const scriptPid = Number(await waitUntil(() => readMarker(t, "pid"), "the build to start"));
    // While it runs, the state file tells what runs (read by the manager for GET /api/v1/runners/:id).
    const running = await waitUntil(async () => {
      const state = await readRunnerState(stateFile);
      return state?.phase === "running" ? state : undefined;
    }, "the state file to say running");
    expect(running).toMatchObject({ pid: cli.child.pid, dir: t.dir, current: { key: "b1", pid: expect.any(Number), restarts: 0 }, exitCode: null });
    expect(running.current!.file).toBe(path.join(t.dir, running.current!.artifact));
    expect(alive(running.current!.pid!)).toBe(true);
    expect(alive(scriptPid)).toBe(true);
    cli.child.kill("SIGTERM");
    expect(await cli.exit).toEqual({ code: 0, signal: null });
    expect(await readRunnerState(stateFile)).toMatchObject({ phase: "exited", exitCode: 0, current: null, lastExit: { key: "b1" } });
    // The runner waited for the build's handler to finish, and nothing was marked bad.
    expect(await readMarker(t, "term")).toBe("term handled\n");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good" });
    expect(cli.stderr()).toContain("stop requested (SIGTERM); stopping b1");
  });

  it("forwards SIGINT as SIGINT", async () => {
    await publishScript(t, "b1", `
trap 'echo int > "$MARKERS/int"; exit 0' INT
trap 'echo term > "$MARKERS/term"; exit 0' TERM
echo $$ > "$MARKERS/pid"
while true; do sleep 0.05; done`);
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}"], { MARKERS: t.markers });
    await waitUntil(() => readMarker(t, "pid"), "the build to start");
    cli.child.kill("SIGINT");
    expect((await cli.exit).code).toBe(0);
    expect(await readMarker(t, "int")).toBe("int\n");
    expect(await readMarker(t, "term")).toBeUndefined();
  });

  it("kills a build that ignores SIGTERM after --grace", async () => {
    await publishScript(t, "b1", `
trap '' TERM
echo $$ > "$MARKERS/pid"
while true; do sleep 0.05; done`);
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}", "--grace", "700ms"], { MARKERS: t.markers });
    const pid = Number(await waitUntil(() => readMarker(t, "pid"), "the build to start"));
    const sent = Date.now();
    cli.child.kill("SIGTERM");
    expect((await cli.exit).code).toBe(0);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(600);
    expect(alive(pid)).toBe(false);
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good" });
  });
});
