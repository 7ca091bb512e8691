import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BuildRunner, parseRunnerArgs, readRunnerState, type BuildRunnerOptions } from "../../src/runner/index.js";
import { inProcessRunner, makeTarget, publishScript, readBuilds, readMarker, startCli, statusOf, type Target } from "./helpers.js";

let t: Target;
beforeEach(async () => {
  t = await makeTarget();
});
afterEach(async () => {
  await t.cleanup();
});

describe("runner fallback", () => {
  it("marks a failing newest build bad with its exit code and falls back to the next older good one", async () => {
    await publishScript(t, "b1", 'echo "$CICD_BUILD_KEY" > "$MARKERS/b1"; exit 0');
    await publishScript(t, "b2", 'echo ran > "$MARKERS/b2"; exit 3');
    await publishScript(t, "b3", 'echo ran > "$MARKERS/b3"; kill -KILL $$');
    const stateFile = path.join(t.work, "state.json");
    const { runner, messages, logger } = inProcessRunner(t, { stateFile });

    const result = await runner.run();

    expect(result).toEqual({ exitCode: 0, tried: ["b3", "b2"] });
    const doc = await readBuilds(t);
    expect(statusOf(doc)).toEqual({ b1: "good", b2: "bad", b3: "bad" });
    // The script's shell is a child of `sh -c`, which reports the kill as 128 + 9.
    expect(doc.builds[2]).toMatchObject({ status: "bad", exitCode: 137, reason: expect.stringContaining("exited with code 137 (128 + SIGKILL)") });
    expect(doc.builds[1]).toMatchObject({ status: "bad", exitCode: 3, signal: null, reason: expect.stringContaining("exited with code 3") });
    expect(await readMarker(t, "b3")).toBe("ran\n");
    expect(await readMarker(t, "b2")).toBe("ran\n");
    expect(await readMarker(t, "b1")).toBe("b1\n");
    const decisions = messages();
    const order = [
      `started build b3 (${path.join(t.dir, doc.builds[2]!.artifacts[0]!)})`,
      "b3 exited with code 137 (128 + SIGKILL)",
      "marked b3 bad",
      "falling back to b2",
      "b2 exited with code 3",
      "marked b2 bad",
      "falling back to b1",
      "b1 exited with code 0",
    ];
    const positions = order.map((text) => decisions.findIndex((d) => d.includes(text)));
    expect(positions.every((p) => p >= 0), decisions.join("\n")).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // Every decision is also a log line.
    expect(logger.lines.filter((l) => l.includes("marked b2 bad"))).toHaveLength(1);

    const state = await readRunnerState(stateFile);
    expect(state).toMatchObject({ phase: "exited", exitCode: 0, tried: ["b3", "b2"], lastExit: { key: "b1", exitCode: 0, signal: null } });
    expect(state!.decisions.map((d) => d.message)).toEqual(decisions);
  });

  it("shuts down with 0 when the newest build exits without error, marking nothing", async () => {
    await publishScript(t, "b1", "exit 1");
    await publishScript(t, "b2", 'echo done > "$MARKERS/b2"');
    const before = await readFile(path.join(t.dir, "builds.json"), "utf8");
    const { runner } = inProcessRunner(t);
    expect(await runner.run()).toEqual({ exitCode: 0, tried: [] });
    expect(await readMarker(t, "b2")).toBe("done\n");
    expect(await readFile(path.join(t.dir, "builds.json"), "utf8")).toBe(before);
  });

  it("stops with exit code 1 when every build fails, naming the builds it tried (CLI)", async () => {
    await publishScript(t, "b1", "exit 4");
    await publishScript(t, "b2", "exit 5");
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}"]);
    expect(await cli.exit).toEqual({ code: 1, signal: null });
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "bad", b2: "bad" });
    expect(cli.stderr()).toContain(`No good build left in ${t.dir}; tried b2, b1`);
    expect(cli.stderr().match(/no good build/gi)).toHaveLength(1); // said once (issue 15)
  });

  it("says so and exits 1 when there is no good build at all", async () => {
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}"]);
    expect((await cli.exit).code).toBe(1);
    expect(cli.stderr()).toContain(`No good build in ${t.dir}; nothing to run.`);
    expect(cli.stderr().match(/no good build/gi)).toHaveLength(1); // said once (issue 15)
  });

  it("marks a build whose artifact is missing bad without running anything and falls back", async () => {
    await publishScript(t, "b1", 'echo ran > "$MARKERS/b1"');
    const b2 = await publishScript(t, "b2", 'echo ran > "$MARKERS/b2"');
    await rm(path.join(t.dir, b2.artifacts[0]!));
    const { runner } = inProcessRunner(t);
    expect((await runner.run()).exitCode).toBe(0);
    const doc = await readBuilds(t);
    expect(doc.builds[1]).toMatchObject({ status: "bad", reason: `its artifact ${b2.artifacts[0]} is missing` });
    expect(await readMarker(t, "b1")).toBe("ran\n");
  });

  it("runs the artifact matching --artifact-pattern and skips builds without one", async () => {
    await publishScript(t, "b1", 'echo b1 > "$MARKERS/ran"', "server.sh");
    await publishScript(t, "b2", 'echo b2 > "$MARKERS/ran"', "notes.txt");
    const { runner, messages } = inProcessRunner(t, { artifactPattern: "server-*.sh" });
    expect((await runner.run()).exitCode).toBe(0);
    expect(await readMarker(t, "ran")).toBe("b1\n");
    expect(statusOf(await readBuilds(t))).toEqual({ b1: "good", b2: "good" });
    expect(messages()).toContain("skipping b2: no artifact matches server-*.sh");
  });

  it("refuses a corrupt builds.json with a clear error and leaves it untouched", async () => {
    const corrupt = '{"target": "app", "builds": [{"key": "b1", "status": "go';
    await writeFile(path.join(t.dir, "builds.json"), corrupt);
    const cli = startCli(["--dir", t.dir, "--command", "sh {file}"]);
    expect((await cli.exit).code).toBe(1);
    expect(cli.stderr()).toContain("is not a valid builds file");
    expect(await readFile(path.join(t.dir, "builds.json"), "utf8")).toBe(corrupt);
  });

  it("rejects bad usage with exit code 2 and says what is wrong", async () => {
    const cases: [string[], string][] = [
      [["--command", "sh {file}"], "`--dir`"],
      [["--dir", t.dir, "--command", "java -jar app.jar"], "containing {file}"],
      [["--dir", t.dir, "--command", "sh {file}", "--probation", "soon"], "`--probation` to be a duration"],
      [["--dir", t.dir, "--command", "sh {file}", "--max-crashes", "0"], "`--max-crashes` to be a whole number"],
      [["--dir", t.dir, "--command", "sh {file}", "--bogus"], "known flags"],
    ];
    for (const [args, text] of cases) {
      expect(() => new BuildRunner({ ...(parseRunnerArgs(args) as BuildRunnerOptions) }), args.join(" ")).toThrow(text);
    }
    const cli = startCli(["--dir", path.join(t.work, "nope"), "--command", "sh {file}"]);
    expect((await cli.exit).code).toBe(2);
    expect(cli.stderr()).toContain("Expected `--dir` to be an existing folder");
  });
});
