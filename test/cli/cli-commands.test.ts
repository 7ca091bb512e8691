import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CicdClient } from "../../src/client/index.js";
import { runCicd } from "../helpers/cicd-bin.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { freePort } from "../helpers/free-port.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

describe("the cicd CLI against a real server", () => {
  let server: TestServer;
  let client: CicdClient;
  let env: Record<string, string>;
  // No user's own config file is read: the config folder is a fresh one.
  const config = mkdtempSync(path.join(tmpdir(), "cicd-cli-config-"));
  beforeAll(async () => {
    server = await startTestServer(
      testConfig({
        targets: [
          { name: "hello", url: "files:///nowhere", commands: ["echo hello from the build", "echo done"], artifacts: ["artifact.txt"], run: { command: "true {file}" } },
          { name: "broken", url: "files:///nowhere", commands: ["echo about to fail", "exit 3"], artifacts: ["artifact.txt"] },
          { name: "slow", url: "files:///nowhere", commands: ["sleep 60000"], artifacts: ["artifact.txt"] },
        ],
      }),
      { executor: new FakeExecutor() },
    );
    client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
    env = { CICD_SERVER: server.url, CICD_API_TOKEN: server.apiToken, XDG_CONFIG_HOME: config };
  });
  afterAll(() => server.close(0));

  it("build prints the new key; --follow prints the log and exits 0 for a passing build, 1 for a failing one", async () => {
    const plain = await runCicd(["build", "hello"], env);
    expect(plain.code).toBe(0);
    const key = plain.stdout.trim();
    expect((await client.getBuild(key)).target).toBe("hello");

    const passing = await runCicd(["build", "hello", "--follow"], env);
    expect(passing.code).toBe(0);
    const [passKey, ...log] = passing.stdout.split("\n");
    expect(log.join("\n")).toContain("hello from the build\ndone\n");
    expect(passing.stderr).toContain(`build ${passKey} (hello #`);
    expect(passing.stderr).toContain("succeeded");
    expect((await client.getBuild(passKey!)).status).toBe("succeeded");

    const failing = await runCicd(["build", "broken", "--follow"], env);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain("about to fail\n");
    expect(failing.stderr).toMatch(/failed: command 2 failed with exit code 3/);
  });

  it("builds: a table for people, --json for scripts, filters by target and status", async () => {
    const { key } = await client.triggerBuild("hello");
    await client.waitForBuild(key, { intervalMs: 50, timeoutMs: 20_000 });
    const table = await runCicd(["builds", "--target", "hello"], env);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header!.split(/\s+/)).toEqual(["#", "KEY", "TARGET", "STATUS", "REF", "AGE"]);
    expect(rows.some((r) => r.includes(key) && /\bsucceeded\b/.test(r))).toBe(true);
    expect(rows.every((r) => r.includes(" hello "))).toBe(true);

    const json = await runCicd(["builds", "--status", "failed", "--json"], env);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { key: string; status: string }[];
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((b) => b.status === "failed")).toBe(true);

    const usage = await runCicd(["builds", "--status", "fine"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--status must be one of queued, running, succeeded, failed, cancelled, error");
    expect((await runCicd(["builds", "--nonsense"], env)).code).toBe(2);
  });

  it("logs KEY prints the log; logs --follow sets the exit code from the build's result", async () => {
    const { key } = await client.triggerBuild("broken");
    const followed = await runCicd(["logs", key, "--follow"], env);
    expect(followed.code).toBe(1);
    expect(followed.stdout).toContain("about to fail\n");
    const whole = await runCicd(["logs", key], env);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toBe(await client.getLog(key));
  });

  it("cancel KEY cancels a running build", async () => {
    const { key } = await client.triggerBuild("slow");
    const cancelled = await runCicd(["cancel", key], env);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`build ${key} (slow #`);
    expect((await client.getBuild(key)).status).toBe("cancelled");
    const again = await runCicd(["cancel", key], env);
    expect(again.code).toBe(1);
  });

  it("artifacts and download: the newest good build's files, or a given key's, into -o DIR", async () => {
    const { key } = await client.triggerBuild("hello");
    await client.waitForBuild(key, { intervalMs: 50, timeoutMs: 20_000 });
    const table = await runCicd(["artifacts", "hello"], env);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[1]).toContain(key);
    const json = JSON.parse((await runCicd(["artifacts", "hello", "--json"], env)).stdout) as { target: string; builds: { key: string; artifacts: string[] }[] };
    expect(json.target).toBe("hello");
    const newest = json.builds.at(-1)!;
    expect(newest.key).toBe(key);

    const dir = mkdtempSync(path.join(tmpdir(), "cicd-download-"));
    const got = await runCicd(["download", "hello", "-o", dir], env);
    expect(got.code).toBe(0);
    const file = path.join(dir, newest.artifacts[0]!);
    expect(got.stdout.trim()).toBe(file);
    expect(readFileSync(file, "utf8")).toBe(`built ${key}\n`);

    const older = json.builds[0]!;
    const byKey = await runCicd(["download", "hello", "--key", older.key, "-o", dir], env);
    expect(byKey.code).toBe(0);
    expect(readFileSync(byKey.stdout.trim(), "utf8")).toBe(`built ${older.key}\n`);
  });

  it("runners lists runners (table and --json)", async () => {
    const runner = await client.createRunner("hello");
    const table = await runCicd(["runners"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(runner.id);
    const json = JSON.parse((await runCicd(["runners", "--json"], env)).stdout) as { id: string }[];
    expect(json.map((r) => r.id)).toContain(runner.id);
    await client.deleteRunner(runner.id);
  });

  it("errors say what to do: unknown target (the known ones), wrong or missing token, unreachable server, usage", async () => {
    const unknown = await runCicd(["build", "helo"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No target named "helo". Known targets: hello, broken, slow.');
    expect((await runCicd(["artifacts", "helo"], env)).stderr).toContain("Known targets: hello, broken, slow.");

    const wrong = await runCicd(["builds"], { ...env, CICD_API_TOKEN: "not-the-token" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("the server refused the API token (401): set CICD_API_TOKEN");
    expect(wrong.stderr).not.toContain("not-the-token");
    const missing = await runCicd(["builds"], { ...env, CICD_API_TOKEN: "" });
    expect(missing.stderr).toContain("set CICD_API_TOKEN");

    const port = await freePort();
    const away = await runCicd(["builds"], { ...env, CICD_SERVER: `http://127.0.0.1:${port}` });
    expect(away.code).toBe(1);
    expect(away.stderr).toContain(`cannot reach the cicd server at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(away.stderr).toContain("Set CICD_SERVER");

    const usage = await runCicd(["build"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing TARGET");
    expect(usage.stderr).toContain("Usage: cicd build TARGET");
    expect((await runCicd(["logs", "a", "b"], env)).code).toBe(2);
    expect((await runCicd(["frobnicate"], env)).code).toBe(2);
  });

  it("reads server and token from the config file only when it is 0600, and says how to fix it otherwise", async () => {
    const home = mkdtempSync(path.join(tmpdir(), "cicd-cli-home-"));
    mkdirSync(path.join(home, "cicd"));
    const file = path.join(home, "cicd", "config.json");
    writeFileSync(file, JSON.stringify({ server: server.url, token: server.apiToken }));
    chmodSync(file, 0o644);
    const base = { XDG_CONFIG_HOME: home, CICD_SERVER: "", CICD_API_TOKEN: "" };
    const refused = await runCicd(["builds", "--json"], base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${file} can be read by other users (mode 0644) and holds the API token, so it is not used. Run: chmod 600 ${file}`);
    chmodSync(file, 0o600);
    const used = await runCicd(["builds", "--json"], base);
    expect(used.code).toBe(0);
    expect(Array.isArray(JSON.parse(used.stdout))).toBe(true);
    // The environment wins over the file.
    const overridden = await runCicd(["builds"], { ...base, CICD_API_TOKEN: "not-the-token" });
    expect(overridden.stderr).toContain("refused the API token");
  });
});
