// `npm run bench`: cicd beside the floor (building by hand), webhook ingest, manager memory and
// restart. Talks only to 127.0.0.1 and its own containers, cleans up after itself, and ends
// with one line per figure. docs/performance.md explains the method and the figures.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "../src/shared/logger.js";
import { ensureImage } from "../test/helpers/images.js";
import { startCicd } from "./cicd-bench.js";
import { Cleanup } from "./cleanup.js";
import { startFakeGitHub } from "./fake-github-api.js";
import { startFloor } from "./floor-bench.js";
import { idleServer, runMemory } from "./manager-memory.js";
import { createSampleProject } from "./sample-project.js";
import { compileCli, tsxCli } from "./server-process.js";
import { Report, type SideResult } from "./report.js";
import { envInt, machineCpuSeconds, median, sleep } from "./stats.js";
import { runIngest } from "./webhook-ingest.js";
import { describeFlood, runFlood } from "./webhook-flood.js";
import { describePublish, runPublishBench } from "./artifact-publish.js";

const int = envInt;
const settings = {
  n: int("BENCH_N", 15),
  burst: int("BENCH_BURST", 20),
  concurrency: int("BENCH_CONCURRENCY", 2),
  gapMs: int("BENCH_GAP_MS", 1000),
  webhooks: int("BENCH_WEBHOOKS", 2000),
  webhooksSingle: int("BENCH_WEBHOOKS_SINGLE", 200),
  webhookConcurrency: int("BENCH_WEBHOOK_CONCURRENCY", 16),
  queued: int("BENCH_QUEUED", 10_000),
  idleMs: int("BENCH_IDLE_MS", 3000),
  timeoutMin: int("BENCH_TIMEOUT_MIN", 20),
};
const parts = new Set((process.env.BENCH_ONLY || "builds,project,checkrun,webhooks,memory,git,flood,publish,scale").split(",").map((s) => s.trim()));

const runId = randomBytes(4).toString("hex");

/** The median of each phase over the single builds' recorded timings, as one `bench:` line. */
function phaseLine(all: Record<string, number>[]): string {
  const names = ["queuedMs", "handOverMs", "fetchMs", "commandsMs", "publishMs", "recordMs", "totalMs"];
  const parts = names.map((name) => `${name.replace(/Ms$/, "")}=${median(all.map((t) => t[name] ?? 0)).toFixed(0)}ms`);
  return `bench: cicd single build phases (median of ${all.length}) ${parts.join(" ")}`;
}
const root = mkdtempSync(path.join(tmpdir(), `cicd-bench-${runId}-`));
const cleanup = new Cleanup();
const report = new Report();
let failed = false;

const say = (line: string) => process.stdout.write(`${line}\n`);
const logger = (name: string) => {
  const stream = createWriteStream(path.join(root, `${name}.log`));
  cleanup.add(`close ${name}.log`, () => new Promise<void>((resolve) => stream.end(resolve)));
  return createLogger("cicd", { write: (line) => stream.write(`${line}\n`) });
};
async function part(name: string, work: () => Promise<void>): Promise<void> {
  const started = Date.now();
  say(`bench: … ${name}`);
  try {
    await work();
    say(`bench: … ${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (error) {
    failed = true;
    say(`bench: ${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
async function finish(code: number): Promise<never> {
  await cleanup.run();
  if (code === 0 && !process.env.BENCH_KEEP) rmSync(root, { recursive: true, force: true });
  else say(`bench: logs and data kept in ${root}`);
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`bench: ${signal}: cleaning up`);
    void finish(130);
  });
}
const watchdog = setTimeout(() => {
  say(`bench: still running after ${settings.timeoutMin} min (BENCH_TIMEOUT_MIN); giving up`);
  void finish(1);
}, settings.timeoutMin * 60_000);
watchdog.unref();

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
try {
  docker("info", "--format", "{{.ServerVersion}}");
} catch {
  say("bench: no Docker engine answers `docker info`; the benchmark needs one.");
  await finish(1);
}
say(`bench: machine ${cpus().length} cores, node ${process.version}, docker ${docker("version", "--format", "{{.Server.Version}}")}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
say(`bench: settings ${JSON.stringify(settings)}; run ${runId}; data in ${root}`);

const image = await ensureImage("builder");
const project = createSampleProject(path.join(root, "project"));

if (parts.has("builds")) {
  await part(`builds: floor (bench/floor.sh) and cicd (REST trigger → succeeded + artifact), 1 warm-up + ${settings.n} single builds each, taken in turns, then a burst of ${settings.burst} each at concurrency ${settings.concurrency}`, async () => {
    const label = `cicd.bench=${runId}`;
    const instance = `bench-${runId}`;
    cleanup.containers([label]);
    cleanup.containers([`cicd.instance=${instance}`]);
    const floor = startFloor({ project, image, label, outDir: path.join(root, "floor-artifacts"), ...settings });
    const cicd = await startCicd({ project, dir: mkdtempSync(path.join(root, "cicd-")), instance, logger: logger("cicd-server"), ...settings });
    try {
      const f: SideResult = { singleMs: [], burstMs: 0 };
      const c: SideResult = { singleMs: [], burstMs: 0 };
      await floor.once();
      await cicd.once();
      // In turns, so that both sides meet the same conditions (other work on the machine comes and goes).
      for (let i = 0; i < settings.n; i++) {
        await sleep(settings.gapMs);
        f.singleMs.push(await floor.once());
        await sleep(settings.gapMs);
        c.singleMs.push(await cicd.once());
      }
      report.extra.push(phaseLine(cicd.timings?.() ?? []));
      await sleep(settings.gapMs);
      let cpu = machineCpuSeconds();
      f.burstMs = await floor.burst();
      f.burstCpuPerBuild = (machineCpuSeconds() - cpu) / settings.burst;
      await sleep(settings.gapMs);
      cpu = machineCpuSeconds();
      c.burstMs = await cicd.burst();
      c.burstCpuPerBuild = (machineCpuSeconds() - cpu) / settings.burst;
      report.floor = f;
      report.cicd = c;
    } finally {
      await cicd.close();
    }
    // The same burst with `reuse`: a builder container serves up to that many builds.
    const reuse = int("BENCH_REUSE", 10);
    const reusing = await startCicd({ project, dir: mkdtempSync(path.join(root, "cicd-reuse-")), instance, logger: logger("cicd-reuse-server"), ...settings, reuse });
    try {
      await reusing.once();
      await sleep(settings.gapMs);
      const cpu = machineCpuSeconds();
      const burstMs = await reusing.burst();
      report.reuse = { reuse, burstMs, burstCpuPerBuild: (machineCpuSeconds() - cpu) / settings.burst };
    } finally {
      await reusing.close();
    }
  });
}

if (parts.has("checkrun")) {
  const n = int("BENCH_CHECKRUN_N", 15);
  await part(`check runs: ${n} push webhooks, one at a time, each to its check run in_progress at the (fake) GitHub API`, async () => {
    const { runCheckRunLatency } = await import("./check-run-latency.js");
    const instance = `bench-${runId}-checkrun`;
    cleanup.containers([`cicd.instance=${instance}`]);
    const r = await runCheckRunLatency({ project, dir: mkdtempSync(path.join(root, "checkrun-")), instance, logger: logger("checkrun-server"), n });
    report.extra.push(`bench: push webhook → check run in_progress p50=${r.p50Ms.toFixed(0)}ms p95=${r.p95Ms.toFixed(0)}ms (n=${r.samplesMs.length})`);
  });
}

if (parts.has("scale")) {
  const burst = int("BENCH_SCALE_BURST", 12);
  await part(`scale-out: bursts of ${burst} builds on executor docker and on a single-node swarm, at concurrency 1, 2 and 4 (builds per minute)`, async () => {
    const { joinSwarm } = await import("../test/helpers/swarm.js");
    const swarm = await joinSwarm();
    cleanup.add("leave the swarm the benchmark joined", () => swarm.leave());
    const rows: string[] = [];
    for (const executor of ["docker", "swarm"] as const) {
      for (const concurrency of [1, 2, 4]) {
        const instance = `bench-${runId}-${executor}-${concurrency}`;
        cleanup.containers([`cicd.instance=${instance}`]);
        const cicd = await startCicd({ project, dir: mkdtempSync(path.join(root, `scale-${executor}-${concurrency}-`)), instance, logger: logger(`scale-${executor}-${concurrency}`), burst, concurrency, executor });
        try {
          await cicd.once();
          const ms = await cicd.burst();
          rows.push(`bench: scale executor=${executor} concurrency=${concurrency} burst${burst}=${(ms / 1000).toFixed(2)}s builds/min=${((burst * 60_000) / ms).toFixed(1)}`);
        } finally {
          await cicd.close();
        }
      }
    }
    report.extra.push(...rows);
  });
}

if (parts.has("webhooks")) {
  await part(`webhooks: ${settings.webhooksSingle} signed push webhooks one at a time, then ${settings.webhooks} ${settings.webhookConcurrency} at a time, over keep-alive HTTP`, async () => {
    const dir = mkdtempSync(path.join(root, "webhooks-"));
    report.ingest = await runIngest({ project, dir, logger: logger("webhook-server"), n: settings.webhooks, single: settings.webhooksSingle, concurrency: settings.webhookConcurrency });
  });
}

if (parts.has("memory")) {
  await part(`memory: cicd server process, idle, ${settings.queued} queued builds, restart`, async () => {
    const github = await startFakeGitHub();
    cleanup.add("stop the fake GitHub API", () => github.close());
    const target = `bench-hold-${runId}`;
    cleanup.containers(["cicd.managed=true", `cicd.target=${target}`]);
    // Inside the project, so that the compiled file finds node_modules; out of lint's way.
    const buildDir = path.join(import.meta.dirname, "..", "node_modules", ".cache", `cicd-bench-${runId}`);
    cleanup.dir(buildDir);
    const cli = await compileCli(path.join(buildDir, "cicd.mjs"));
    const common = { project, target, env: github.env, cleanup, idleMs: settings.idleMs };
    report.idleTsx = await idleServer({ ...common, dir: path.join(root, "memory"), cli: tsxCli }, "idle-tsx");
    report.idleRestOnly = await idleServer({ ...common, env: {}, dir: path.join(root, "memory"), cli }, "idle-rest-only");
    report.memory = await runMemory({ ...common, dir: path.join(root, "memory"), cli, queued: settings.queued, concurrency: 16 });
  });
}

if (parts.has("flood")) {
  await part("webhook flood: 100 slow connections for 10 s against a server process", async () => {
    const buildDir = path.join(import.meta.dirname, "..", "node_modules", ".cache", `cicd-bench-flood-${runId}`);
    cleanup.dir(buildDir);
    const cli = await compileCli(path.join(buildDir, "cicd.mjs"));
    const options = { connections: int("BENCH_FLOOD_CONNECTIONS", 100), seconds: int("BENCH_FLOOD_SECONDS", 10), reopenMs: int("BENCH_FLOOD_REOPEN_MS", 50) };
    for (const line of describeFlood(await runFlood({ ...options, cli, dir: mkdtempSync(path.join(root, "flood-")) }), options)) say(line);
  });
}

if (parts.has("project")) {
  const rounds = Math.max(int("BENCH_PROJECT_ROUNDS", 3), 1);
  await part(`real project: a TypeScript project with npm dependencies, by hand, by cicd cold and warm (${rounds} rounds; needs the npm registry)`, async () => {
    const { benchRealProject } = await import("./real-project.js");
    const label = `cicd.bench=${runId}`;
    const instance = `bench-project-${runId}`;
    cleanup.containers([label]);
    cleanup.containers([`cicd.instance=${instance}`]);
    report.extra.push(...(await benchRealProject({ dir: path.join(root, "real-project"), image, label, instance, logger: logger("real-project"), cleanup, rounds })));
  });
}

if (parts.has("publish")) {
  await part("artifact publishing: direct copy vs upload to the manager", async () => {
    for (const line of describePublish(await runPublishBench({ dir: path.join(root, "publish"), sizeMiB: int("BENCH_ARTIFACT_MIB", 256), rounds: int("BENCH_PUBLISH_ROUNDS", 5) }))) say(line);
  });
}

if (parts.has("git")) {
  await part("git: checkout with the mirror cache against a fresh fetch (bench/git-cache.ts)", async () => {
    const { benchGitCache } = await import("./git-cache.js");
    report.extra.push(...(await benchGitCache()));
  });
}

say("");
say(`bench: load average at the end ${loadavg().map((l) => l.toFixed(2)).join(" ")} (other work on the machine slows every figure)`);
for (const line of report.details(settings)) say(line);
say("");
for (const line of report.lines(settings)) say(line);
await finish(failed ? 1 : 0);
