import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { editDistance, nearest } from "../../src/config/describe-issues.js";
import { runCicd } from "../helpers/cicd-bin.js";

/**
 * Issue 15, point 3, as a new user meets it: `cicd server --config cicd.yml` with a broken file
 * prints every problem at once (a line each, naming the file and the field), a misspelt key
 * with the nearest known one, YAML syntax errors with line and column; exit code 1, no stack.
 */

function configFile(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cicd-config-cli-"));
  const file = path.join(dir, "cicd.yml");
  writeFileSync(file, yaml);
  return file;
}

const env = { CICD_API_TOKEN: "config-errors-cli-token-0123456789", PORT: undefined, CICD_CONFIG: undefined };

describe("cicd server with a broken cicd.yml", () => {
  it("reports every problem at once, unknown keys first with the nearest known key, and exits 1", async () => {
    const file = configFile(
      [
        "port: high",
        "hots: 127.0.0.1",
        "executor: kubernetes",
        "targets:",
        "  - name: hello",
        "    url: files:///nowhere",
        "    comands: [make]",
        "    artifacts: [dist/*.jar]",
        "    timeout: soon",
        "",
      ].join("\n"),
    );
    const run = await runCicd(["server", "--config", file], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toEqual([
      'cicd: cicd.yml: targets[0]: unknown key "comands" (did you mean `commands`?)',
      'cicd.yml: unknown key "hots" (did you mean `host`?)',
      "cicd.yml: port: expected a port number",
      "cicd.yml: executor: expected docker, swarm or local",
      "cicd.yml: targets[0].timeout: expected a duration like 30s, 10m or 1h30m",
    ]);
  });

  it("lists the known keys when an unknown one is near none of them", async () => {
    const run = await runCicd(["server", "--config", configFile("colour: blue\n")], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cicd: cicd\.yml: unknown key "colour" \(expected one of: port, host, .*targets\)\n$/);
  });

  it("gives the line and column of YAML syntax errors", async () => {
    const run = await runCicd(["server", "--config", configFile("port: 3000\ntargets: [\n  {name: a\nport: 1\n")], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cicd: cicd\.yml: expected valid YAML at line \d+, column \d+: /);
    expect(run.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    const dup = await runCicd(["server", "--config", configFile("port: 3000\nhost: a\nport: 3001\n")], env);
    expect(dup.stderr).toBe("cicd: cicd.yml: expected valid YAML at line 3, column 1: Map keys must be unique\n");
  });
});

describe("the nearest known key", () => {
  it("is a typo away (a third of the key's length), a swap of two letters counting as one edit", () => {
    expect(editDistance("comands", "commands")).toBe(1);
    expect(editDistance("artefacts", "artifacts")).toBe(1);
    expect(editDistance("bracnhes", "branches")).toBe(1);
    expect(nearest("comands", ["command", "commands", "artifacts"])).toBe("commands");
    expect(nearest("Branches", ["branches"])).toBe("branches");
    expect(nearest("colour", ["port", "host", "concurrency"])).toBeUndefined();
  });
});
