import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderCommand } from "../../src/runner/index.js";
import { makeTarget, publishScript, readMarker, startCli, type Target } from "./helpers.js";

describe("renderCommand", () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), "cicd-quote-"));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const nasty = ["/srv/my app/it's.jar", "/a/$(touch pwned)/`touch pwned2`.jar", "/a/b;touch pwned3 &&'\"x", "/with\nnewline/x.jar", "/plain/app.jar"];

  it.each(nasty)("hands %j to the command as exactly one argument, whatever the template's quotes", (file) => {
    for (const template of ["printf '%s|' {file}", "printf '%s|' '{file}'", 'printf \'%s|\' "{file}"', "printf '%s|' {file} {file}"]) {
      const out = execFileSync("sh", ["-c", renderCommand(template, file)], { cwd: work, encoding: "utf8" });
      const times = template.split("{file}").length - 1;
      expect(out, template).toBe(`${file}|`.repeat(times));
    }
  });

  it("runs nothing injected through the file name", async () => {
    for (const file of nasty) execFileSync("sh", ["-c", renderCommand("true {file}", file)], { cwd: work });
    expect(await readdir(work)).toEqual([]);
  });

  it("requires the {file} placeholder", () => {
    expect(() => renderCommand("java -jar app.jar", "/x")).toThrow(/containing \{file\}/);
  });
});

describe("runner with a path holding spaces and a quote", () => {
  let t: Target;
  beforeEach(async () => {
    t = await makeTarget("cicd runner it's-");
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("runs the artifact at that path", async () => {
    expect(t.dir).toMatch(/ .*'/);
    const record = await publishScript(t, "b1", 'printf "%s" "$0" > "$MARKERS/ran-as"', "my app's build.sh");
    const cli = startCli(["--dir", t.dir, "--command", "cd / && sh {file}"], { MARKERS: t.markers });
    expect((await cli.exit).code).toBe(0);
    expect(record.artifacts[0]).toMatch(/^my app's build-\d{8}T\d{9}Z\.sh$/);
    expect(await readMarker(t, "ran-as")).toBe(path.join(t.dir, record.artifacts[0]!));
    expect(cli.stderr()).toContain(`started build b1 (${path.join(t.dir, record.artifacts[0]!)})`);
  });
});
