import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inProcessRunner, makeTarget, publishScript, readBuilds, readMarker, statusOf, waitUntil, type Target } from "./helpers.js";

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

// A service that runs until SIGTERM, noting the run and the signal; from run N on it exits 0 at once.
// The trap is set first: a test that sees the run may send the signal at once.
const service = (name: string, cleanFromRun = 1_000) => `
trap 'echo term >> "$MARKERS/${name}-term"; exit 0' TERM
echo run >> "$MARKERS/${name}-runs"
[ "$(wc -l < "$MARKERS/${name}-runs")" -ge ${cleanFromRun} ] && exit 0
while true; do sleep 0.05; done`;

describe("runner --watch", () => {
  it("stops the running build gracefully and switches when a newer good build appears", async () => {
    await publishScript(t, "b1", service("b1"));
    const { runner, messages } = inProcessRunner(t, { watch: true });
    const done = runner.run();
    await waitUntil(() => readMarker(t, "b1-runs"), "b1 to start");
    await publishScript(t, "b2", 'echo b2 > "$MARKERS/b2"; exit 0');

    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b1-term")).toBe("term\n");
    expect(await readMarker(t, "b2")).toBe("b2\n");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good", b2: "good" });
    const m = messages();
    const switching = m.indexOf("newer build b2 appeared, switching");
    expect(switching).toBeGreaterThan(0);
    expect(m[switching + 1]).toMatch(/^b1 (exited|was killed)/); // the old build ended, not judged
    expect(m[switching + 2]).toMatch(/^started build b2 /);
  });

  it("falls back to the build it left when the newer one fails", async () => {
    await publishScript(t, "b1", service("b1", 2));
    const { runner, messages } = inProcessRunner(t, { watch: true });
    const done = runner.run();
    await waitUntil(() => readMarker(t, "b1-runs"), "b1 to start");
    await publishScript(t, "b2", "exit 5");

    expect(await done).toEqual({ exitCode: 0, tried: ["b2"] });
    expect(await readMarker(t, "b1-runs")).toBe("run\nrun\n");
    expect(await readMarker(t, "b1-term")).toBe("term\n");
    const doc = await readBuilds(t);
    expect(doc.builds[1]).toMatchObject({ key: "b2", status: "bad", exitCode: 5 });
    expect(doc.builds[0]).toMatchObject({ key: "b1", status: "good" });
    const m = messages();
    const order = ["newer build b2 appeared, switching", "b2 exited with code 5", "marked b2 bad", "falling back to b1", "b1 exited with code 0"];
    const positions = order.map((text) => m.findIndex((d) => d.startsWith(text)));
    expect(positions.every((p) => p >= 0), m.join("\n")).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("without --watch keeps running the build it started", async () => {
    await publishScript(t, "b1", service("b1"));
    const { runner } = inProcessRunner(t);
    const done = runner.run();
    await waitUntil(() => readMarker(t, "b1-runs"), "b1 to start");
    await publishScript(t, "b2", 'echo b2 > "$MARKERS/b2"');
    await new Promise((r) => setTimeout(r, 600)); // several poll intervals
    expect(runner.snapshot.current?.key).toBe("b1");
    runner.stop();
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b2")).toBeUndefined();
  });
});

describe("runner --wait", () => {
  it("waits for a first good build in an empty folder", async () => {
    const { runner } = inProcessRunner(t, { wait: true });
    const done = runner.run();
    await waitUntil(() => runner.snapshot.phase === "waiting", "the runner to wait");
    expect(runner.snapshot.decisions.at(-1)?.message).toBe(`no good build in ${t.dir}; waiting for a new good build`);
    await publishScript(t, "b1", 'echo b1 > "$MARKERS/b1"');
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b1")).toBe("b1\n");
  });

  it("waits after every build failed instead of exiting, and runs the next good build", async () => {
    await publishScript(t, "b1", "exit 3");
    const { runner } = inProcessRunner(t, { wait: true });
    const done = runner.run();
    await waitUntil(() => runner.snapshot.phase === "waiting", "the runner to wait");
    expect(runner.snapshot.decisions.at(-1)?.message).toBe("no good build left; tried b1; waiting for a new good build");
    await publishScript(t, "b2", 'echo b2 > "$MARKERS/b2"');
    expect(await done).toEqual({ exitCode: 0, tried: ["b1"] });
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "bad", b2: "good" });
  });

  it("waits for a target folder that does not exist yet", async () => {
    const later: Target = { ...t, name: "later", dir: path.join(t.fs.root, "later") };
    const { runner } = inProcessRunner(later, { wait: true });
    const done = runner.run();
    await waitUntil(() => runner.snapshot.phase === "waiting", "the runner to wait");
    await publishScript(later, "b1", 'echo b1 > "$MARKERS/b1"');
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b1")).toBe("b1\n");
  });

  it("ends with 0 when stopped while waiting", async () => {
    const { runner } = inProcessRunner(t, { wait: true });
    const done = runner.run();
    await waitUntil(() => runner.snapshot.phase === "waiting", "the runner to wait");
    runner.stop("SIGINT");
    expect(await done).toEqual({ exitCode: 0, tried: [] });
    expect(runner.snapshot).toMatchObject({ phase: "exited", exitCode: 0 });
  });
});
