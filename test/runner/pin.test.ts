import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseRunnerArgs } from "../../src/runner/index.js";
import { inProcessRunner, makeTarget, publishScript, readBuilds, readMarker, startCli, statusOf, waitUntil, type Target } from "./helpers.js";

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

// Notes that it ran; exits with `code` at once.
const note = (name: string, code = 0) => `echo "$CICD_BUILD_KEY" >> "$MARKERS/${name}"; exit ${code}`;
// Runs until SIGTERM, noting the start and the signal (the trap is set first: a test that sees
// the start may send the signal at once).
const service = (name: string) => `
trap 'echo term >> "$MARKERS/${name}-term"; exit 0' TERM
echo run >> "$MARKERS/${name}-runs"
while true; do sleep 0.05; done`;

describe("runner --pin", () => {
  it("starts the pinned build although newer good builds exist", async () => {
    await publishScript(t, "b1", note("b1"));
    await publishScript(t, "b2", note("b2"));
    await publishScript(t, "b3", note("b3"));
    const { runner, messages } = inProcessRunner(t, { pin: "b2" });

    expect(await runner.run()).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b2")).toBe("b2\n");
    expect(await readMarker(t, "b3")).toBeUndefined();
    expect(await readMarker(t, "b1")).toBeUndefined();
    expect(messages()[0]).toBe("pinned to build b2; leaving out 1 newer build(s) already listed (b3)");
    expect(runner.snapshot.pin).toBe("b2");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good", b2: "good", b3: "good" });
  });

  it("marks a failing pinned build bad and falls back to the older good builds, never to the newer ones", async () => {
    await publishScript(t, "b1", note("b1"));
    await publishScript(t, "b2", note("b2", 4));
    await publishScript(t, "b3", note("b3"));
    const { runner, messages } = inProcessRunner(t, { pin: "b2" });

    expect(await runner.run()).toEqual({ exitCode: 0, tried: ["b2"] });
    const doc = await readBuilds(t);
    expect(statusOf(doc)).toEqual({ b1: "good", b2: "bad", b3: "good" });
    expect(doc.builds[1]).toMatchObject({ exitCode: 4, markedBadAt: expect.any(String) });
    expect(await readMarker(t, "b1")).toBe("b1\n");
    expect(await readMarker(t, "b3")).toBeUndefined();
    expect(messages()).toEqual(expect.arrayContaining(["falling back to b1"]));
  });

  it("with every older build failing too, stops and names what it tried (the newer ones stay out)", async () => {
    await publishScript(t, "b1", note("b1", 1));
    await publishScript(t, "b2", note("b2", 2));
    await publishScript(t, "b3", note("b3"));
    const { runner } = inProcessRunner(t, { pin: "b2" });
    const result = await runner.run();
    expect(result).toMatchObject({ exitCode: 1, tried: ["b2", "b1"] });
    expect(result.error?.message).toContain("tried b2, b1");
    expect(await readMarker(t, "b3")).toBeUndefined();
  });

  it("pinned to a build already marked bad: says so and runs the next older good build", async () => {
    await publishScript(t, "b1", note("b1"));
    await publishScript(t, "b2", note("b2"));
    await publishScript(t, "b3", note("b3"));
    await t.fs.builds(t.name).markBad("b2", { exitCode: 9, reason: "earlier" });
    const { runner, messages } = inProcessRunner(t, { pin: "b2" });
    expect(await runner.run()).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b1")).toBe("b1\n");
    expect(await readMarker(t, "b2")).toBeUndefined();
    expect(await readMarker(t, "b3")).toBeUndefined();
    expect(messages()[0]).toMatch(/^pinned build b2 is marked bad; falling back to older good builds/);
    expect(messages()).toContain("falling back to b1");
  });

  it("refuses a key that builds.json does not list, running nothing", async () => {
    await publishScript(t, "b1", note("b1"));
    const { runner } = inProcessRunner(t, { pin: "nope" });
    const result = await runner.run();
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatchObject({ code: "UNPROCESSABLE", message: expect.stringContaining("Cannot pin build nope: it is not listed in") });
    expect(await readMarker(t, "b1")).toBeUndefined();
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good" });
  });

  it("with --watch stays on the pin while older-listed builds exist and switches to a build published later", async () => {
    await publishScript(t, "b1", service("b1"));
    await publishScript(t, "b2", service("b2"));
    const { runner, messages } = inProcessRunner(t, { pin: "b1", watch: true });
    const done = runner.run();
    await waitUntil(() => readMarker(t, "b1-runs"), "b1 to start");
    await new Promise((r) => setTimeout(r, 500)); // several poll intervals: b2 existed before, it must not take over
    expect(runner.snapshot.current?.key).toBe("b1");
    expect(await readMarker(t, "b2-runs")).toBeUndefined();

    await publishScript(t, "b3", note("b3"));
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b1-term")).toBe("term\n");
    expect(await readMarker(t, "b3")).toBe("b3\n");
    expect(await readMarker(t, "b2-runs")).toBeUndefined();
    expect(messages()).toContain("newer build b3 appeared, switching");
  });

  it("with --watch falls back below the pin when the later build fails, skipping the builds it was pinned over", async () => {
    await publishScript(t, "b1", note("b1"));
    await publishScript(t, "b2", service("b2"));
    await publishScript(t, "b3", note("b3"));
    const { runner } = inProcessRunner(t, { pin: "b2", watch: true });
    const done = runner.run();
    await waitUntil(() => readMarker(t, "b2-runs"), "b2 to start");
    await publishScript(t, "b4", "exit 6");
    // b4 fails → bad; the runner goes back to b2 (still good), which then runs until stopped.
    await waitUntil(async () => (await readMarker(t, "b2-runs")) === "run\nrun\n", "b2 to run again");
    runner.stop();
    expect(await done).toEqual({ exitCode: 0, tried: ["b4"] });
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good", b2: "good", b3: "good", b4: "bad" });
    expect(await readMarker(t, "b3")).toBeUndefined();
  });
});

describe("cicd runner --pin (separate process)", () => {
  it("parses --pin and rejects an empty key", () => {
    expect(parseRunnerArgs(["--dir", "d", "--command", "sh {file}", "--pin", "abc"])).toMatchObject({ pin: "abc" });
    expect(() => parseRunnerArgs(["--dir", "d", "--command", "sh {file}", "--pin", " "])).toThrow(/--pin/);
  });

  it("runs the pinned build and exits 0; an unknown key exits 1 naming it", async () => {
    await publishScript(t, "b1", note("b1"));
    await publishScript(t, "b2", note("b2"));
    const ok = startCli(["--dir", t.dir, "--command", "sh {file}", "--pin", "b1"], { MARKERS: t.markers });
    expect(await ok.exit).toEqual({ code: 0, signal: null });
    expect(await readMarker(t, "b1")).toBe("b1\n");
    expect(await readMarker(t, "b2")).toBeUndefined();
    expect(ok.stderr()).toContain("pinned to build b1");

    const bad = startCli(["--dir", t.dir, "--command", "sh {file}", "--pin", "zzz"], { MARKERS: t.markers });
    expect((await bad.exit).code).toBe(1);
    expect(bad.stderr()).toContain("Cannot pin build zzz");
  });
});
