import { benchConfig } from "./bench-config.js";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { Executor } from "../src/executor/types.js";
import { startServer } from "../src/server/start-server.js";
import type { Logger } from "../src/shared/logger.js";
import { startFakeGitHub } from "./fake-github-api.js";
import type { SampleProject } from "./sample-project.js";
import { percentile } from "./stats.js";
import type { LoadOptions, LoadResult } from "./webhook-load.js";

export interface IngestOptions {
  project: SampleProject;
  dir: string;
  logger: Logger;
  /** Webhooks measured under load, `concurrency` at a time. */
  n: number;
  concurrency: number;
  /** Webhooks measured one at a time (the answer time GitHub sees when nothing else happens). */
  single: number;
}

export interface PhaseResult {
  /** Webhooks sent, warm-up included. */
  sent: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the server's process per webhook, ms (user + system, warm-up included). */
  cpuMs: number;
}

export interface IngestResult {
  single: PhaseResult;
  load: PhaseResult;
  sent: number;
  accepted: number;
  /** Sent delivery ids that have a build in the SQLite file afterwards. */
  stored: number;
  lost: number;
  failures: string[];
}

/**
 * Builds are queued but never run: the dispatch slots wait forever for an image that never
 * gets ready, so everything the webhooks queue stays in the queue (and in SQLite).
 */
const neverRuns: Executor = {
  name: "never-runs",
  sharesDisk: true,
  reachesWorkloads: true,
  check: async () => "nothing",
  isolated: true,
  outlivesManager: false,
  managerHost: "127.0.0.1",
  prepareImage: () => new Promise<void>(() => undefined),
  start: () => Promise.reject(new Error("the benchmark's executor never runs builds")),
  find: async () => [],
  attach: async () => undefined,
  close: async () => undefined,
};

/**
 * Webhook ingest: a server in this process with the GitHub App mounted (fake GitHub API on
 * 127.0.0.1) takes signed `push` webhooks from a load generator in a child process. Every
 * webhook has its own delivery id and must queue a build; afterwards the SQLite file must hold
 * a build for every delivery id that was sent.
 */
export async function runIngest(o: IngestOptions): Promise<IngestResult> {
  const github = await startFakeGitHub();
  const payload = pushPayload();
  const config = benchConfig(o.dir, "bench/webhook-ingest.ts", {
    host: "127.0.0.1",
    targets: [{ name: "hello-world", repository: payload.repository.full_name, url: o.project.url, commands: o.project.commands, artifacts: o.project.artifacts, supersede: process.env.BENCH_SUPERSEDE !== "false" }],
  });
  const server = await startServer({ config, executor: neverRuns, logger: o.logger, env: { CICD_API_TOKEN: "bench-api-token-0123456789", ...github.env } });
  const bodyFile = path.join(o.dir, "push.json");
  writeFileSync(bodyFile, JSON.stringify(payload));
  const results: (LoadResult & { cpuMs: number; idsFile: string })[] = [];
  try {
    const phases = [
      { name: "single", n: o.single, warmup: 20, concurrency: 1 },
      { name: "load", n: o.n, warmup: 100, concurrency: o.concurrency },
    ];
    for (const phase of phases) {
      const idsFile = path.join(o.dir, `delivery-ids-${phase.name}.txt`);
      const cpu = process.cpuUsage();
      const result = await runLoad({ url: `${server.url}/api/github/webhooks`, secret: github.webhookSecret, bodyFile, idsFile, ...phase });
      const used = process.cpuUsage(cpu);
      results.push({ ...result, idsFile, cpuMs: (used.user + used.system) / 1000 / result.sent });
    }
  } finally {
    // The check-run reporter may still be working through its backlog; don't wait for all of it.
    await Promise.race([server.close(0), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await github.close();
  }
  const sentIds = results.flatMap((r) => readFileSync(r.idsFile, "utf8").split("\n").filter(Boolean));
  const db = new Database(config.database, { readonly: true });
  const storedIds = new Set(db.prepare("SELECT delivery_id FROM builds WHERE trigger = 'push'").pluck().all() as string[]);
  db.close();
  const stored = sentIds.filter((id) => storedIds.has(id)).length;
  const phase = (r: (typeof results)[number]): PhaseResult => ({
    sent: r.sent,
    perSecond: (r.latencies.length / r.elapsedMs) * 1000,
    p50Ms: percentile(r.latencies, 50),
    p99Ms: percentile(r.latencies, 99),
    cpuMs: r.cpuMs,
  });
  return {
    single: phase(results[0]!),
    load: phase(results[1]!),
    sent: sentIds.length,
    accepted: results.reduce((sum, r) => sum + r.ok, 0),
    stored,
    lost: sentIds.length - stored,
    failures: results.flatMap((r) => r.failures),
  };
}

function runLoad(options: LoadOptions): Promise<LoadResult> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "webhook-load.ts"), JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(out) as LoadResult);
      else reject(new Error(`webhook load generator exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Payload = any;

/** GitHub's own example of a push to the default branch by an installed app. */
export function pushPayload(): Payload {
  const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: Payload[] }[];
  const examples = definitions.find((d) => d.name === "push")!.examples;
  const example = examples.find((p) => p.installation && p.ref === `refs/heads/${p.repository.default_branch}` && !p.deleted);
  if (!example) throw new Error("@octokit/webhooks-examples has no push to a default branch with an installation");
  return structuredClone(example);
}
