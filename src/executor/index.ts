/**
 * Executors: where builders and runners run. `docker` (containers, the default) or `local`
 * (host processes, for machines without Docker). See types.ts for the contract.
 */
import { DockerExecutor, type DockerExecutorOptions } from "./docker/docker-executor.js";
import { LocalExecutor, type LocalExecutorOptions } from "./local/local-executor.js";
import type { Executor } from "./types.js";

export type ExecutorOptions = DockerExecutorOptions & LocalExecutorOptions;

/**
 * The configured executor. Create it once the database lock is held and before the manager
 * recovers: `local` ends, here, the workloads a previous process of this server left running
 * (recorded in `options.workloadsDir`).
 */
export function createExecutor(kind: "docker" | "local", options: ExecutorOptions): Executor {
  return kind === "docker" ? new DockerExecutor(options) : new LocalExecutor(options);
}

export { DockerExecutor, LocalExecutor };
export type { DockerExecutorOptions, LocalExecutorOptions };
export type * from "./types.js";
