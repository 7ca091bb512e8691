import { benchConfig } from "./bench-config.js";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { CicdClient } from "../src/client/index.js";
import { createExecutor, type ExecutorName } from "../src/executor/index.js";
import { FINAL_STATUSES, type Build } from "../src/manager/types.js";
import { startServer, type RunningServer } from "../src/server/start-server.js";
import type { Logger } from "../src/shared/logger.js";
import type { SampleProject } from "./sample-project.js";
import type { BenchSide } from "./floor-bench.js";
import { timed } from "./stats.js";

export interface CicdBenchOptions {
  project: SampleProject;
  /** Folder for the server's cicd.yml, SQLite, logs and servicefs. */
  dir: string;
  /** Names the Docker executor's containers (label cicd.instance), for cleanup. */
  instance: string;
  logger: Logger;
  burst: number;
  concurrency: number;
  /** Where builds run (default docker). */
  executor?: ExecutorName;
  /** The target's `reuse` (default 1: a container per build). */
  reuse?: number;
}

const TARGET = "sample";

/**
 * cicd on the real Docker engine, in this process: the REST trigger (`POST /api/v1/builds`
 * through the typed client) until the build is `succeeded` and its artifact is in the service
 * file system. The build's status is followed with `manager.waitFor` (an event, no polling
 * delay). A burst is `burst` builds triggered at once and drained with the server's `concurrency`.
 */
export async function startCicd(o: CicdBenchOptions): Promise<BenchSide> {
  const config = benchConfig(o.dir, "bench/cicd-bench.ts", {
    // Builder containers call back through the Docker bridge (host.docker.internal).
    host: "0.0.0.0",
    concurrency: o.concurrency,
    targets: [{ name: TARGET, url: o.project.url, commands: o.project.commands, artifacts: o.project.artifacts, timeout: "5m", reuse: o.reuse ?? 1 }],
  });
  const token = "bench-api-token-0123456789";
  const executor = createExecutor(o.executor ?? "docker", { logger: o.logger.child("executor"), instance: o.instance });
  const server = await startServer({ config, executor, logger: o.logger, env: { CICD_API_TOKEN: token } });
  const client = new CicdClient({ baseUrl: server.url, token });
  const build = async () => {
    const { key } = await client.triggerBuild(TARGET);
    return finished(server, key, config.servicefs);
  };
  return {
    once: async () => (await timed(build)).ms,
    burst: async () => (await timed(() => Promise.all(Array.from({ length: o.burst }, build)))).ms,
    timings: () => server.manager.list({ target: TARGET }).flatMap((b) => (b.meta.timings ? [b.meta.timings as Record<string, number>] : [])),
    close: () => server.close(0),
  };
}

/** Waits for the build to end; anything but `succeeded` with its artifact on disk throws. */
async function finished(server: RunningServer, key: string, servicefs: string): Promise<Build> {
  const done = await server.manager.waitFor(key, (b) => FINAL_STATUSES.includes(b.status), 300_000);
  if (done.status !== "succeeded") {
    throw new Error(`cicd: build ${key} ended ${done.status}: ${done.reason ?? "no reason"} (log: ${server.manager.logPath(key)})`);
  }
  const file = path.join(servicefs, TARGET, done.artifacts[0] ?? "(none)");
  if (!existsSync(file) || statSync(file).size === 0) throw new Error(`cicd: build ${key} succeeded but its artifact ${file} is missing`);
  return done;
}
