/**
 * Executors: where builders and runners run, registered by name. `docker` (containers on one
 * engine, local or remote: the default), `swarm` (services on a Docker Swarm), `local` (host
 * processes, for machines without Docker). See types.ts for the contract.
 */
import { DockerExecutor, type DockerExecutorOptions } from "./docker/docker-executor.js";
import { LocalExecutor, type LocalExecutorOptions } from "./local/local-executor.js";
import { SwarmExecutor, type SwarmExecutorOptions } from "./swarm/swarm-executor.js";
import type { Executor } from "./types.js";

export type ExecutorOptions = DockerExecutorOptions & LocalExecutorOptions & SwarmExecutorOptions;

/** Every executor by the name `executor:` of cicd.yml gives it. */
export const executors = {
  docker: (options: ExecutorOptions): Executor => new DockerExecutor(options),
  swarm: (options: ExecutorOptions): Executor => new SwarmExecutor(options),
  local: (options: ExecutorOptions): Executor => new LocalExecutor(options),
} as const;

export type ExecutorName = keyof typeof executors;
export const executorNames = Object.keys(executors) as ExecutorName[];

/**
 * The configured executor. Create it once the database lock is held and before the manager
 * recovers: `local` ends, here, the workloads a previous process of this server left running
 * (recorded in `options.workloadsDir`).
 */
export function createExecutor(name: ExecutorName, options: ExecutorOptions): Executor {
  return executors[name](options);
}

export { DockerExecutor, LocalExecutor, SwarmExecutor };
export type { DockerExecutorOptions, LocalExecutorOptions, SwarmExecutorOptions };
export type * from "./types.js";
