import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { containersWith, type Cleanup } from "./cleanup.js";
import type { SampleProject } from "./sample-project.js";
import { freePort, rssKb, spawnServer, stopServer, waitHealthy, type ServerChild } from "./server-process.js";
import { sleep, timed } from "./stats.js";

export interface MemoryOptions {
  project: SampleProject;
  dir: string;
  /** Name of the target whose one running build holds the queue (label cicd.target, for cleanup). */
  target: string;
  /** How to start the CLI with node (compiled file, or tsx + source). */
  cli: string[];
  /** Environment of the server: the API token and the GitHub App settings. */
  env: Record<string, string>;
  cleanup: Cleanup;
  queued: number;
  /** Requests in flight while queueing over REST. */
  concurrency: number;
  idleMs: number;
}

export interface MemoryResult {
  /** From spawn to /healthz answering, empty store. */
  startMs: number;
  idleKb: number;
  queuedKb: number;
  /** V8's heap in use at that moment (`/metrics`): what the queue holds, without the garbage of the requests that queued it. */
  queuedHeapKb: number;
  /** Time to queue `queued` builds over REST. */
  queueMs: number;
  /** From spawn to /healthz answering with the whole queue rebuilt. */
  restartMs: number;
  /** RSS of the restarted process after `idleMs` (the queue without the garbage of 10,000 requests). */
  restartedKb: number;
  restartedHeapKb: number;
}

const TOKEN = "bench-api-token-0123456789";

/**
 * The manager as a process of its own (`cicd server --config …`, Docker executor, GitHub App
 * configured against the fake API): RSS after `idleMs` idle; then `queued` builds queued over
 * REST to a target with `concurrency: 1` whose build is `sleep 600`, so one build runs in a
 * real builder container and every other one stays queued; RSS again after `idleMs`; then
 * SIGKILL (a crash) and a new start, timed until `/healthz` reports the whole queue back, and
 * the restarted process's RSS after `idleMs`. Default settings otherwise (warm builders on), with
 * a check that they never start more than a few containers.
 */
export async function runMemory(o: MemoryOptions): Promise<MemoryResult> {
  const server = await startChild(o, "main");
  const { url } = server;
  await sleep(o.idleMs);
  const idleKb = rssKb(server.pid);

  const queue = await timed(() => queueBuilds(url, o.target, o.queued, o.concurrency));
  await checkContainers(o.target);
  await waitFor(async () => (await api<{ builds: unknown[] }>(url, `/api/v1/builds?target=${o.target}&status=running`)).builds.length === 1, 180_000, "the holding build to run");
  await waitHealthy(url, (h) => h.queued + h.running === o.queued, 60_000);
  await sleep(o.idleMs);
  const queuedKb = rssKb(server.pid);
  const queuedHeapKb = await heapUsedKb(url);

  await stopServer(server, "SIGKILL");
  const restart = await timed(async () => {
    const again = startProcess(o, server.configFile, server.logFile);
    await waitHealthy(url, (h) => h.queued + h.running === o.queued, 60_000, 5);
    return again;
  });
  await sleep(o.idleMs);
  const restartedKb = rssKb(restart.value.pid);
  const restartedHeapKb = await heapUsedKb(url);
  await stopServer(restart.value, "SIGTERM");
  return { startMs: server.startMs, idleKb, queuedKb, queuedHeapKb, queueMs: queue.ms, restartMs: restart.ms, restartedKb, restartedHeapKb };
}

/** The server's V8 heap in use, from its Prometheus metrics. */
async function heapUsedKb(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!match) throw new Error("the server's /metrics has no nodejs_heap_size_used_bytes");
  return Number(match[1]) / 1024;
}

/** A freshly started server (its own, empty data folder): time to /healthz, RSS after `idleMs`. */
export async function idleServer(
  o: Pick<MemoryOptions, "project" | "dir" | "target" | "cli" | "env" | "cleanup" | "idleMs">,
  name: string,
): Promise<{ kb: number; startMs: number }> {
  const server = await startChild(o, name);
  await sleep(o.idleMs);
  const kb = rssKb(server.pid);
  await stopServer(server, "SIGTERM");
  return { kb, startMs: server.startMs };
}

type Child = ServerChild & { url: string; configFile: string; logFile: string; startMs: number };

async function startChild(o: Pick<MemoryOptions, "project" | "dir" | "target" | "cli" | "env" | "cleanup">, name: string): Promise<Child> {
  const dir = path.join(o.dir, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configFile = path.join(dir, "cicd.yml");
  const config = {
    port,
    host: "0.0.0.0",
    servicefs: "./servicefs",
    database: "./cicd.sqlite",
    executor: "docker",
    concurrency: 1,
    shutdownGrace: "0s",
    targets: [{ name: o.target, url: o.project.url, commands: ["sleep 600"], artifacts: o.project.artifacts, timeout: "30m" }],
  };
  writeFileSync(configFile, `# written by the benchmark (bench/manager-memory.ts)\n${JSON.stringify(config, null, 2)}\n`);
  const logFile = path.join(dir, "server.log");
  const url = `http://127.0.0.1:${port}`;
  const started = await timed(async () => {
    const child = startProcess(o, configFile, logFile);
    await waitHealthy(url, () => true, 60_000, 5);
    return child;
  });
  return Object.assign(started.value, { url, configFile, logFile, startMs: started.ms });
}

function startProcess(o: Pick<MemoryOptions, "cli" | "env" | "cleanup">, configFile: string, logFile: string): ServerChild {
  // Only what a server needs from this environment: no GitHub or cicd settings leak in.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APP_ID|PRIVATE_KEY|WEBHOOK_SECRET|GHE_|CICD_|PORT$)/.test(k)));
  const child = spawnServer(o.cli, configFile, { ...base, CICD_API_TOKEN: TOKEN, ...o.env }, logFile);
  o.cleanup.add(`stop server process ${child.pid}`, () => stopServer(child, "SIGKILL"));
  return child;
}

/** At most this many builder containers for the target: the running build and warm ones. */
const MAX_CONTAINERS = 4;

/**
 * A safety net: builders started ahead of time must stay capped (at `concurrency`). Were every
 * trigger to start one, 10,000 queued builds would mean 10,000 containers; stop well before.
 */
async function checkContainers(target: string): Promise<void> {
  const ids = await containersWith(["cicd.managed=true", `cicd.target=${target}`]);
  if (ids.length > MAX_CONTAINERS) {
    throw new Error(`${ids.length} builder containers for ${target} with concurrency 1; builders started ahead of time are not capped. Stopped.`);
  }
}

async function queueBuilds(url: string, target: string, count: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        if (next % 250 === 0) await checkContainers(target);
        const res = await fetch(`${url}/api/v1/builds`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ target }),
        });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`POST /api/v1/builds answered ${res.status}: ${text}`);
      }
    }),
  );
}

async function api<T>(url: string, pathname: string): Promise<T> {
  const res = await fetch(`${url}${pathname}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) throw new Error(`GET ${pathname} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
