import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CicdClient } from "../../src/client/index.js";
import { runCicd, startCicd, type CicdProcess } from "../helpers/cicd-bin.js";
import { closeGate, FakeExecutor, openGate } from "../helpers/fake-executor.js";
import { freePort } from "../helpers/free-port.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { waitUntil } from "./helpers.js";

/**
 * `cicd runner --api` as a user runs it (bin/cicd.js, its own process) against a real server
 * (real HTTP, real SQLite; builds by the fake executor's in-process builders, whose artifact is
 * `built <key>`). The command runs program.sh with the downloaded artifact: it notes the
 * artifact's content in $MARKERS/ran, then behaves as $MARKERS/mode-<key> says: `crash` exits 3,
 * `exit0` exits 0, anything else (the default) serves until SIGTERM, noting the signal, or until
 * the test writes $MARKERS/crash-now (then it exits 3).
 */
const PROGRAM = `
content=$(cat "$1")
# Before the "ran" marker: a test that sees it may send SIGTERM at once.
trap 'echo "$content" >> "$MARKERS/term"; exit 0' TERM
echo "$content" >> "$MARKERS/ran"
echo "program: $content token=\${CICD_API_TOKEN:-none}"
mode=$(cat "$MARKERS/mode-$CICD_BUILD_KEY" 2>/dev/null)
[ "$mode" = crash ] && exit 3
[ "$mode" = exit0 ] && exit 0
while true; do
  [ -f "$MARKERS/crash-now" ] && rm -f "$MARKERS/crash-now" && exit 3
  sleep 0.05
done
`;

let server: TestServer;
let client: CicdClient;
let work: string;
let markers: string;
let program: string;
const running: CicdProcess[] = [];

/** Builds wait at this gate while `goodBuild` writes their mode file, so no runner sees them before. */
const gate = `api-source-${process.pid}`;
const target = (name: string) => ({ name, url: "files:///nowhere", commands: [`gate ${gate}`, "echo built"], artifacts: ["artifact.txt"] });

beforeAll(async () => {
  server = await startTestServer(testConfig({ targets: [target("app"), target("other"), target("gone")] }), { executor: new FakeExecutor() });
  client = new CicdClient({ baseUrl: server.url, token: server.apiToken });
});
afterAll(() => server.close(0));

let caseNo = 0;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "cicd-runner-api-"));
  markers = path.join(work, "markers");
  program = path.join(work, "program.sh");
  await writeFile(program, PROGRAM);
  await mkdir(markers);
  caseNo += 1;
});
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
});

/** A good build of `name`, published (its key); `mode` is written before the build can finish. */
async function goodBuild(name = "app", mode?: "crash" | "exit0"): Promise<string> {
  closeGate(gate);
  let key: string;
  try {
    ({ key } = await client.triggerBuild(name));
    if (mode) await writeFile(path.join(markers, `mode-${key}`), mode);
  } finally {
    openGate(gate);
  }
  const done = await client.waitForBuild(key, { intervalMs: 25, timeoutMs: 20_000 });
  expect(done.status).toBe("succeeded");
  return key;
}

function runnerArgs(name: string, ...extra: string[]): string[] {
  return ["runner", "--api", server.url, "--target", name, "--command", `sh ${program} {file}`, "--cache-dir", path.join(work, "cache"), "--poll", "100ms", "--grace", "3s", ...extra];
}

function env(token = server.apiToken): Record<string, string> {
  return { CICD_API_TOKEN: token, MARKERS: markers, LOG_LEVEL: "info" };
}

function start(args: string[], token?: string): CicdProcess {
  const p = startCicd(args, env(token));
  running.push(p);
  return p;
}

async function ran(): Promise<string[]> {
  return (await readFile(path.join(markers, "ran"), "utf8").catch(() => "")).split("\n").filter(Boolean);
}

async function statusOf(name: string): Promise<Record<string, string>> {
  return Object.fromEntries((await client.getArtifacts(name)).builds.map((b) => [b.key, b.status]));
}

describe("cicd runner --api", () => {
  it("runs the newest good build, downloaded into the cache, and keeps the API token from it", async () => {
    await goodBuild("app");
    const k2 = await goodBuild("app", "exit0");
    const p = start(runnerArgs("app"));
    expect(await p.exited).toBe(0);
    expect(await ran()).toEqual([`built ${k2}`]);
    expect(p.output()).toContain(`program: built ${k2} token=none`);
    expect(p.output()).not.toContain(server.apiToken);
    // The copy it ran is the server's artifact, byte for byte, under its builds.json name.
    const name = (await client.getArtifacts("app")).builds.at(-1)!.artifacts[0]!;
    const cached = await readFile(path.join(work, "cache", name));
    expect(cached.equals(Buffer.from(await client.downloadArtifact("app", name)))).toBe(true);
    expect((await readdir(path.join(work, "cache"))).filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("marks a crashing build bad through the API and falls back to the previous good build", async () => {
    const k1 = await goodBuild("other");
    const k2 = await goodBuild("other", "crash");
    const p = start(runnerArgs("other"));
    await waitUntil(async () => (await ran()).length === 2, "the fallback to start");
    expect(await ran()).toEqual([`built ${k2}`, `built ${k1}`]);
    const record = (await client.getArtifacts("other")).builds.find((b) => b.key === k2)!;
    expect(record).toMatchObject({ status: "bad", exitCode: 3, reason: expect.stringContaining("exited with code 3") });
    expect(await statusOf("other")).toEqual({ [k1]: "good", [k2]: "bad" });
    expect(p.child.exitCode).toBeNull(); // k1 serves on
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(await readFile(path.join(markers, "term"), "utf8")).toBe(`built ${k1}\n`);
    expect(p.output()).toMatch(new RegExp(`marked ${k2} bad: .*exited with code 3[\\s\\S]*falling back to ${k1}`));
  });

  it("with --watch switches to a newer good build, and back when the newer one crashes", async () => {
    const k1 = await goodBuild("app");
    const p = start(runnerArgs("app", "--watch"));
    await p.seen(`started build ${k1}`);
    const k2 = await goodBuild("app");
    await p.seen(`newer build ${k2} appeared, switching`);
    await waitUntil(async () => (await ran()).includes(`built ${k2}`), `${k2} to run`);
    expect(await readFile(path.join(markers, "term"), "utf8")).toBe(`built ${k1}\n`);

    const k3 = await goodBuild("app", "crash");
    await p.seen(`falling back to ${k2}`);
    await waitUntil(async () => (await ran()).length === 4, `${k2} to run again`);
    expect(await ran()).toEqual([`built ${k1}`, `built ${k2}`, `built ${k3}`, `built ${k2}`]);
    expect((await statusOf("app"))[k3]).toBe("bad");
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });

  it("keeps the running build when the API goes away, says so once, and stops cleanly", async () => {
    // A server of its own, to close while the runner runs its build.
    const own = await startTestServer(testConfig({ targets: [target("app")] }), { executor: new FakeExecutor() });
    const ownClient = new CicdClient({ baseUrl: own.url, token: own.apiToken });
    const { key } = await ownClient.triggerBuild("app");
    expect((await ownClient.waitForBuild(key, { intervalMs: 25, timeoutMs: 20_000 })).status).toBe("succeeded");
    const args = runnerArgs("app", "--watch");
    args[2] = own.url;
    const p = start(args, own.apiToken);
    await p.seen(`started build ${key}`);
    await own.close(0);
    await p.seen("Cannot reach the cicd API");
    // Nothing to wait for: the build must simply go on. Two seconds are many polls (100 ms, backing off).
    await new Promise((r) => setTimeout(r, 2000));
    expect(p.child.exitCode).toBeNull();
    expect(existsSync(path.join(markers, "term"))).toBe(false);
    expect(p.output().match(/Cannot reach the cicd API/g), p.output()).toHaveLength(1);
    expect(p.output()).not.toMatch(/no good build/i);
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(await readFile(path.join(markers, "term"), "utf8")).toBe(`built ${key}\n`);
  });

  it("while the API is down, falls back to a cached build and marks the crashed one bad once the API is back", async () => {
    const config = testConfig({ port: await freePort(), targets: [target("app")] });
    let own = await startTestServer(config, { executor: new FakeExecutor() });
    let ownClient = new CicdClient({ baseUrl: own.url, token: own.apiToken });
    const build = async () => {
      const { key } = await ownClient.triggerBuild("app");
      expect((await ownClient.waitForBuild(key, { intervalMs: 25, timeoutMs: 20_000 })).status).toBe("succeeded");
      return key;
    };
    try {
      const k1 = await build();
      const args = runnerArgs("app", "--watch");
      args[2] = own.url;
      const p = start(args, own.apiToken);
      await p.seen(`started build ${k1}`);
      const k2 = await build();
      await p.seen(`started build ${k2}`);
      await own.close(0);
      await p.seen("Cannot reach the cicd API");

      await writeFile(path.join(markers, "crash-now"), "");
      await p.seen(`falling back to ${k1}`);
      await waitUntil(async () => (await ran()).length === 3, `${k1} to run again from the cache`);
      expect(await ran()).toEqual([`built ${k1}`, `built ${k2}`, `built ${k1}`]);
      expect(p.output()).toContain(`${k2} is marked bad here; it will be marked bad at ${own.url} once the API answers`);

      own = await startTestServer(config, { executor: new FakeExecutor() });
      ownClient = new CicdClient({ baseUrl: own.url, token: own.apiToken });
      await p.seen(`marked ${k2} bad at ${own.url}`);
      expect((await ownClient.getArtifacts("app")).builds.map((b) => [b.key, b.status, b.exitCode])).toEqual([
        [k1, "good", undefined],
        [k2, "bad", 3],
      ]);
      expect(p.output().match(/Cannot reach the cicd API/g)).toHaveLength(1);
      expect(p.output()).toContain(`the cicd API at ${own.url} answers again`);
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      await own.close(0);
    }
  });

  it("started while the API is down, waits for it (not 'no good build') and then runs its newest good build", async () => {
    const config = testConfig({ port: await freePort(), targets: [target("app")] });
    let own = await startTestServer(config, { executor: new FakeExecutor() });
    try {
      const ownClient = new CicdClient({ baseUrl: own.url, token: own.apiToken });
      const { key } = await ownClient.triggerBuild("app");
      expect((await ownClient.waitForBuild(key, { intervalMs: 25, timeoutMs: 20_000 })).status).toBe("succeeded");
      await writeFile(path.join(markers, `mode-${key}`), "exit0");
      await own.close(0);
      const args = runnerArgs("app");
      args[2] = own.url;
      const p = start(args, own.apiToken);
      await p.seen("Trying again with back-off");
      own = await startTestServer(config, { executor: new FakeExecutor() });
      expect(await p.exited).toBe(0);
      expect(await ran()).toEqual([`built ${key}`]);
      expect(p.output()).not.toMatch(/no good build/i);
    } finally {
      await own.close(0);
    }
  });

  it("says clearly that the token was refused, without printing it", async () => {
    await goodBuild("app");
    const wrong = `wrong-token-${caseNo}-5f2a9c`;
    const result = await runCicd(runnerArgs("app"), env(wrong));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The cicd API at ${server.url} refused the token (401): set CICD_API_TOKEN`);
    expect(result.stdout + result.stderr).not.toContain(wrong);
    expect(await ran()).toEqual([]);
  });

  it("reports an unknown target as an error, not as no good build", async () => {
    const result = await runCicd(runnerArgs("nope"), env());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No target named "nope"');
  });

  it("rejects bad usage with exit code 2: --dir with --api, neither, no token, no --target, credentials in the URL", async () => {
    const command = ["--command", "sh {file}"];
    const cases: [string[], Record<string, string | undefined>, string][] = [
      [["runner", "--dir", work, "--api", server.url, "--target", "app", ...command], env(), "Expected `--dir` to be left out when --api is given"],
      [["runner", ...command], env(), "Expected `--dir` to be the target folder that holds builds.json (or give --api URL --target NAME instead)"],
      [["runner", "--api", server.url, "--target", "app", ...command], { CICD_API_TOKEN: undefined }, "Expected `CICD_API_TOKEN` to be set in the environment"],
      [["runner", "--api", server.url, ...command], env(), "Expected `--target` to be the name of the target"],
      [["runner", "--dir", work, "--target", "app", ...command], env(), "Expected `--target` to be given only with --api"],
      [["runner", "--api", server.url.replace("http://", "http://me:s3cret-pw@"), "--target", "app", ...command], env(), "Expected `--api` to be a URL without a user name or password"],
    ];
    for (const [args, environment, text] of cases) {
      const result = await runCicd(args, environment);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toContain(text);
      expect(result.stderr).not.toContain("s3cret-pw");
      expect(result.stderr).not.toContain(server.apiToken);
    }
  });
});

describe("POST /api/v1/targets/:name/builds/:key/mark-bad", () => {
  it("marks a build of builds.json bad once, keeps the first reason, and says 404 for what it does not hold", async () => {
    const key = await goodBuild("gone");
    const first = await client.markBuildBad("gone", key, { reason: "first", exitCode: 3, signal: null });
    expect(first).toMatchObject({ key, status: "bad", reason: "first", exitCode: 3, signal: null, markedBadAt: expect.any(String) });
    const again = await client.markBuildBad("gone", key, { reason: "second" });
    expect(again).toEqual(first);
    expect((await client.getArtifacts("gone")).builds.find((b) => b.key === key)).toEqual(first);
    const missing = await server.api(`/api/v1/targets/gone/builds/nope/mark-bad`, { method: "POST", json: {} });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: "NOT_FOUND", error: 'No build in builds.json named "gone/nope".' });
    expect((await server.api(`/api/v1/targets/nope/builds/${key}/mark-bad`, { method: "POST", json: {} })).status).toBe(404);
    expect((await server.api(`/api/v1/targets/gone/builds/${key}/mark-bad`, { method: "POST", json: { exitCode: "three" } })).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/targets/gone/builds/${key}/mark-bad`, { method: "POST" })).status).toBe(401);
  });
});
