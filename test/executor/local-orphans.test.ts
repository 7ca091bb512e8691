import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CicdClient } from "../../src/client/index.js";
import { LocalExecutor } from "../../src/executor/index.js";
import type { WorkloadHandle, WorkloadSpec } from "../../src/executor/index.js";
import type { WorkloadRecord } from "../../src/executor/local/workload-registry.js";
import { descendantsOf, killProcessTree, processStartTime } from "../../src/shared/exit-with-parent.js";
import { testTarget, writeConfigFile } from "../helpers/config-file.js";
import { freePort } from "../helpers/free-port.js";
import { projectRoot } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";

// Issue 10, point 13: with `executor: local`, nothing of a manager process outlives it. Real
// processes throughout; "alive" is read from /proc, so a zombie waiting to be reaped is gone.

const dir = mkdtempSync(path.join(os.tmpdir(), "cicd-orphans-"));
const started: ChildProcess[] = [];
/** Processes this file's workloads started, by pid and start time, ended at the end if a test failed. */
const strays = new Map<number, number | undefined>();
const stray = (...pids: number[]) => pids.forEach((pid) => strays.set(pid, processStartTime(pid)));
/** Registries of the servers this file started: swept at the end, so a failed test leaves nothing running. */
const registries: string[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const folder of registries) if (existsSync(folder)) new LocalExecutor({ logger: memoryLogger(), workloadsDir: folder, instance: "orphans" });
  for (const [pid, start] of strays) if (start !== undefined && processStartTime(pid) === start) killProcessTree(pid);
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  return processStartTime(pid) !== undefined;
}
const src = (file: string) => JSON.stringify(pathToFileURL(path.join(projectRoot, "src", file)).href);

/**
 * A workload that starts what a builder starts: a child in a session of its own (the build's
 * `sh -c`), which its group's signals do not reach. `term-exits` ends at once on SIGTERM,
 * before its child, as a builder that stops without waiting for its commands would.
 */
const workloadCli = path.join(dir, "workload.mjs");
writeFileSync(
  workloadCli,
  String.raw`
import { spawn } from "node:child_process";
const [role, action] = process.argv.slice(2);
const child = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
// The trap before the line the test waits for: a SIGTERM sent right after it must meet the trap.
if (action === "term-exits") process.on("SIGTERM", () => process.exit(0));
process.stdout.write(role + " " + process.pid + " started " + child.pid + "\n");
setInterval(() => {}, 1000);
`,
);

let seq = 0;
function spec(action: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return { id: `w${++seq}`, role: "builder", target: "hello", buildKey: `key${seq}`, image: "cicd-builder", args: [action], env: {}, mounts: [], ...extra };
}
async function startedPids(handle: WorkloadHandle): Promise<{ pid: number; detached: number }> {
  let text = "";
  void handle.output((chunk) => (text += chunk));
  await expect.poll(() => /started \d+/.test(text), { timeout: 15_000, interval: 100 }).toBe(true);
  const [, pid, detached] = /(\d+) started (\d+)/.exec(text)!;
  stray(Number(detached));
  return { pid: Number(pid), detached: Number(detached) };
}
const records = (folder: string): WorkloadRecord[] =>
  readdirSync(folder)
    .filter((n) => n.endsWith(".json"))
    .map((n) => JSON.parse(readFileSync(path.join(folder, n), "utf8")) as WorkloadRecord);

describe("local workloads and their process trees", () => {
  const executor = new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, workloadCli] });
  afterAll(() => executor.close());

  it("destroy() ends what the workload started in a session of its own", async () => {
    const handle = await executor.start(spec("stay"));
    const { pid, detached } = await startedPids(handle);
    expect(alive(detached)).toBe(true);
    await handle.destroy();
    expect(alive(pid)).toBe(false);
    await expect.poll(() => !alive(detached), { timeout: 15_000, interval: 100 }).toBe(true);
  });

  it("stop() ends it too when the workload exits on SIGTERM first", async () => {
    const handle = await executor.start(spec("term-exits"));
    const { detached } = await startedPids(handle);
    await handle.stop(10_000);
    expect((await handle.wait()).exitCode).toBe(0);
    await expect.poll(() => !alive(detached), { timeout: 15_000, interval: 100 }).toBe(true);
  });

  it("tells the workload the manager's pid", async () => {
    const env = new LocalExecutor({ logger: memoryLogger(), cliCommand: ["sh", "-c", 'echo "parent=$CICD_PARENT_PID"', "sh"] });
    const handle = await env.start(spec("x"));
    let text = "";
    await handle.output((chunk) => (text += chunk));
    expect(text).toContain(`parent=${process.pid}\n`);
  });
});

describe("the workload registry", () => {
  it("records each workload while it runs, and removes the record when it is destroyed", async () => {
    const folder = path.join(dir, "registry-1");
    const executor = new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, workloadCli], workloadsDir: folder, instance: "a" });
    const handle = await executor.start(spec("stay", { id: "rec1", buildKey: "k-rec1" }));
    const { pid } = await startedPids(handle);
    expect(records(folder)).toEqual([
      expect.objectContaining({ id: "rec1", role: "builder", target: "hello", buildKey: "k-rec1", instance: "a", pid, pgid: pid, start: processStartTime(pid) }),
    ]);
    await handle.destroy();
    expect(records(folder)).toEqual([]);
    await executor.close();
  });

  it("a new executor ends what an old one of the same instance left running, nothing else", async () => {
    const folder = path.join(dir, "registry-2");
    // The "crashed" manager: its executor is simply never closed.
    const old = new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, workloadCli], workloadsDir: folder, instance: "a" });
    const builder = await startedPids(await old.start(spec("stay")));
    const runner = await startedPids(await old.start(spec("stay", { role: "runner", buildKey: undefined })));
    // Another server's database in the same folder: its workload is not ours to end.
    const neighbour = new LocalExecutor({ logger: memoryLogger(), cliCommand: [process.execPath, workloadCli], workloadsDir: folder, instance: "b" });
    const theirs = await neighbour.start(spec("stay"));
    const their = await startedPids(theirs);
    // A record whose pid now belongs to another process (start time differs): left alone.
    const unrelated = spawn("sleep", ["300"], { stdio: "ignore" });
    started.push(unrelated);
    writeFileSync(
      path.join(folder, "reused.json"),
      JSON.stringify({ id: "reused", role: "builder", target: "hello", instance: "a", pid: unrelated.pid, pgid: unrelated.pid, start: processStartTime(unrelated.pid!)! - 1, startedAt: "" }),
    );
    writeFileSync(path.join(folder, "broken.json"), "{not json");

    const log = memoryLogger();
    new LocalExecutor({ logger: log, cliCommand: [process.execPath, workloadCli], workloadsDir: folder, instance: "a" });
    // SIGKILLed by the constructor; the kernel ends them a moment later.
    await expect.poll(() => ![builder.pid, builder.detached, runner.pid, runner.detached].some(alive), { timeout: 5_000, interval: 100 }).toBe(true);
    expect(alive(their.pid) && alive(their.detached) && alive(unrelated.pid!)).toBe(true);
    expect(records(folder).map((r) => r.instance)).toEqual(["b"]);
    expect(existsSync(path.join(folder, "broken.json"))).toBe(false);
    expect(log.lines.join("\n")).toMatch(/ended workloads a previous manager process left running.*"role":"runner"/);
    await theirs.destroy();
  });
});

describe("exitWithParent", () => {
  /**
   * manager.mjs stands for the manager: it starts watched.ts as the local executor does (own
   * group, CICD_PARENT_PID, output piped to it and relayed) and is then killed with SIGKILL.
   */
  const manager = path.join(dir, "manager.mjs");
  const watched = path.join(dir, "watched.mts");
  writeFileSync(
    watched,
    `import { spawn } from "node:child_process";
import { exitWithParent } from ${src("shared/exit-with-parent.ts")};
exitWithParent(Number(process.env.CICD_PARENT_PID), { intervalMs: Number(process.env.INTERVAL) });
const child = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
console.log("watched " + process.pid + " started " + child.pid);
setInterval(() => { if (process.env.CHATTY) console.log("tick"); }, 100);
`,
  );
  writeFileSync(
    manager,
    `import { spawn } from "node:child_process";
const child = spawn(process.execPath, ["--import", "tsx", ${JSON.stringify(watched)}], {
  cwd: ${JSON.stringify(projectRoot)}, detached: true, stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, CICD_PARENT_PID: String(process.pid) },
});
child.stdout.pipe(process.stdout);
child.stderr.pipe(process.stderr);
setInterval(() => {}, 1000);
`,
  );

  async function killManager(env: Record<string, string>) {
    const child = spawn(process.execPath, [manager], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    started.push(child);
    let text = "";
    child.stdout!.on("data", (d) => (text += d));
    child.stderr!.on("data", (d) => (text += d));
    await expect.poll(() => /started \d+/.test(text), { timeout: 30_000, interval: 100 }).toBe(true);
    const [, pid, detached] = /watched (\d+) started (\d+)/.exec(text)!.map(Number);
    stray(pid!, detached!);
    child.kill("SIGKILL");
    return { pid: pid!, detached: detached! };
  }

  it("ends the workload and what it started once its parent is gone", async () => {
    const { pid, detached } = await killManager({ INTERVAL: "200" });
    await expect.poll(() => !alive(pid) && !alive(detached), { timeout: 15_000, interval: 100 }).toBe(true);
  });

  it("ends them at the first write to the broken pipe, before the next look at the parent", async () => {
    // Without the watchdog a Node.js workload dies of EPIPE there, leaving its commands behind.
    const { pid, detached } = await killManager({ INTERVAL: "3600000", CHATTY: "1" });
    await expect.poll(() => !alive(pid) && !alive(detached), { timeout: 15_000, interval: 100 }).toBe(true);
  });
});

describe("a server with executor: local killed with SIGKILL", () => {
  const bundle = path.join(projectRoot, "docker/build/cicd.mjs");
  const source = path.join(dir, "source");
  mkdirSync(source, { recursive: true });
  writeFileSync(path.join(source, "README"), "slow build\n");
  const token = "orphans-test-api-token-0123456789";

  /** The server's entry: start-server as `cicd server` runs it, with the local executor on the CLI bundle. */
  const entry = path.join(dir, "server.mts");
  writeFileSync(
    entry,
    `import path from "node:path";
import { loadConfig } from ${src("config/load-config.ts")};
import { LocalExecutor } from ${src("executor/index.ts")};
import { createLogger } from ${src("shared/logger.ts")};
import { startServer } from ${src("server/start-server.ts")};
const config = loadConfig(process.argv[2]);
const logger = createLogger("cicd");
const executor = new LocalExecutor({
  logger: logger.child("executor"),
  cliCommand: [process.execPath, ${JSON.stringify(bundle)}],
  workloadsDir: path.join(path.dirname(config.database), "workloads"),
  instance: "orphans",
});
await startServer({ config, logger, executor });
`,
  );

  let serverOutput = "";
  async function startServerProcess(config: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", entry, config], { cwd: projectRoot, env: { ...process.env, CICD_API_TOKEN: token }, stdio: ["ignore", "pipe", "pipe"] });
    started.push(child);
    let text = "";
    child.stdout!.on("data", (d) => ((text += d), (serverOutput += d)));
    child.stderr!.on("data", (d) => ((text += d), (serverOutput += d)));
    await vi.waitFor(() => expect(text.includes("listening on") || child.exitCode !== null, text).toBe(true), { timeout: 60_000, interval: 100 });
    expect(child.exitCode, text).toBeNull();
    return child;
  }

  /**
   * One slow build running (its command appends its shell's pid to `pids`, and first notes in
   * `overlaps` any earlier attempt still alive) and one quick build of another target queued
   * behind it, whose builder is started ahead (warm).
   */
  async function crashMidBuild(name: string) {
    const work = path.join(dir, name);
    mkdirSync(work, { recursive: true });
    // Written by the build's commands, which run under an unprivileged uid when the server is root.
    const shared = path.join(work, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    for (const folder of [dir, work]) chmodSync(folder, 0o755);
    const pids = path.join(shared, "pids");
    const overlaps = path.join(shared, "overlaps");
    // Alive means in /proc and not a zombie (state Z after the name) waiting to be reaped.
    const slow = `for p in $(cat ${pids} 2>/dev/null); do [ -e /proc/$p ] && ! grep -q ') [ZX] ' /proc/$p/stat && echo $p >> ${overlaps}; done; echo $$ >> ${pids}; sleep 300`;
    const port = await freePort();
    const { file: config } = writeConfigFile(
      {
        port,
        host: "127.0.0.1",
        executor: "local",
        concurrency: 1,
        targets: [
          testTarget("slow", { url: `files://${source}`, commands: [slow], artifacts: ["README"] }),
          testTarget("queued", { url: `files://${source}`, commands: ["true"], artifacts: ["README"] }),
        ],
      },
      { dir: work },
    );
    const server = await startServerProcess(config);
    const client = new CicdClient({ baseUrl: `http://127.0.0.1:${port}`, token });
    const first = await client.triggerBuild("slow");
    await client.triggerBuild("queued");
    const workloads = path.join(work, "data", "workloads");
    registries.push(workloads);
    // The running build's builder, and the queued build's, started ahead of its turn.
    await vi.waitFor(() => expect(existsSync(pids) && existsSync(workloads) && records(workloads).length >= 2, `${serverOutput}\npids: ${existsSync(pids)}, records: ${existsSync(workloads) ? JSON.stringify(records(workloads)) : "none"}`).toBe(true), { timeout: 60_000, interval: 100 });
    const builders = records(workloads);
    expect(builders.every((r) => r.role === "builder")).toBe(true);
    expect(builders.map((r) => r.buildKey)).toContain(first.key);
    const sh = Number(readFileSync(pids, "utf8").trim());
    // The builders, the build's shell and what it started (its sleep).
    const all = [...builders.map((r) => r.pid), sh, ...descendantsOf(sh).map((p) => p.pid)];
    expect(all.length).toBeGreaterThan(builders.length + 1);
    stray(...all);
    expect(all.every(alive)).toBe(true);
    server.kill("SIGKILL");
    await new Promise((r) => server.once("exit", r));
    return { config, client, first: first.key, all, pids, overlaps };
  }

  beforeAll(() => {
    execFileSync(process.execPath, ["scripts/bundle.js"], { cwd: projectRoot });
  });

  it("builders and the build's commands end by themselves (no restart)", async () => {
    const { all } = await crashMidBuild("no-restart");
    await expect.poll(() => !all.some(alive), { timeout: 15_000, interval: 100 }).toBe(true);
  }, 180_000);

  it("after a restart none is left running, and the retry never runs beside its first attempt", async () => {
    const { config, client, first, all, pids, overlaps } = await crashMidBuild("restart");
    const restarted = await startServerProcess(config);
    // The restart ended them before recovery queued the build again (SIGKILL, already sent).
    await expect.poll(() => !all.some(alive), { timeout: 5_000, interval: 100 }).toBe(true);
    await expect.poll(() => readFileSync(pids, "utf8").trim().split("\n").length === 2, { timeout: 60_000, interval: 100 }).toBe(true);
    const build = await client.getBuild(first);
    expect(build.status).toBe("running");
    expect(build.attempts).toBe(2);
    expect(existsSync(overlaps) ? readFileSync(overlaps, "utf8") : "").toBe("");
    // The retry, and what it started, end with the next sweep of the registry too.
    const retry = Number(readFileSync(pids, "utf8").trim().split("\n")[1]);
    const retryTree = [retry, ...descendantsOf(retry).map((p) => p.pid)];
    stray(...retryTree);
    restarted.kill("SIGKILL");
    await new Promise((r) => restarted.once("exit", r));
    new LocalExecutor({ logger: memoryLogger(), workloadsDir: path.join(path.dirname(config), "data", "workloads"), instance: "orphans" });
    await expect.poll(() => !retryTree.some(alive), { timeout: 5_000, interval: 100 }).toBe(true);
  }, 180_000);
});
