import type { Logger } from "../shared/logger.js";

/** Which cicd part a container or process runs. */
export type Role = "builder" | "runner";

/** A host folder made visible to the workload at `container` (the local executor maps it back). */
export interface Mount {
  host: string;
  container: string;
  readOnly?: boolean;
  /**
   * The folder's name for executors whose workloads do not share the manager's disk: they keep
   * a volume of this name per node instead of `host` (caches, git mirrors: best effort).
   */
  volume?: string;
}

export interface Limits {
  /** e.g. "512m", "2g". Swap is not allowed beyond it. */
  memory?: string;
  cpus?: number;
  pids?: number;
}

/**
 * What to run, in a form every executor understands: the cicd CLI part and its arguments.
 * Paths in `args` and `env` are container paths; an executor without containers rewrites any
 * value that starts with a mount's `container` path to the mount's `host` path.
 */
export interface WorkloadSpec {
  /** Unique id chosen by the manager (builder id or runner id); names the container. */
  id: string;
  role: Role;
  target: string;
  /** Build key, when the workload is for one build (label `cicd.build`). */
  buildKey?: string;
  image: string;
  args: string[];
  env: Record<string, string>;
  mounts: Mount[];
  limits?: Limits;
  /** Swarm constraints of the target (`placement`); executors that place nothing ignore them. */
  placement?: string[];
  /** Published ports, docker style "8080:8080" (runners only). */
  ports?: string[];
  /** Port the workload listens on inside (builders), so the manager can reach it. */
  listenPort?: number;
  /**
   * Linux capabilities the workload keeps; every other one is dropped. Unset: the engine's
   * defaults. Executors without containers ignore it.
   */
  capabilities?: string[];
  /**
   * Overrides the image's entry point (tests, custom images). Docker only; the default runs the
   * container bundle, `node /opt/cicd/cicd.mjs`, with `[role, ...args]`.
   */
  entrypoint?: string[];
}

export interface ExitInfo {
  exitCode: number | null;
  /** The kernel killed it for using more memory than its limit. */
  oomKilled: boolean;
  signal?: string | null;
}

/** A running workload. */
export interface WorkloadHandle {
  readonly id: string;
  /** Host name or IP the manager reaches the workload at (container IP, or 127.0.0.1). */
  readonly address: string;
  /**
   * Streams the workload's output (stdout and stderr, demultiplexed, as text chunks) until it
   * exits. May be called once; chunks are not masked here.
   */
  output(onChunk: (chunk: string) => void): Promise<void>;
  /**
   * Resolves when the workload exits. Abort `signal` to stop waiting: the promise then rejects
   * with a CANCELLED CicdError and the workload keeps running.
   */
  wait(signal?: AbortSignal): Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`. Safe to call on an exited workload. */
  stop(graceMs?: number): Promise<void>;
  /** Removes everything of the workload. Idempotent; safe after a failed start. */
  destroy(): Promise<void>;
}

/** A workload found by its labels (after a manager restart). */
export interface FoundWorkload {
  id: string;
  role: Role;
  target: string;
  buildKey?: string;
  running: boolean;
}

/**
 * Runs builders and runners. Contract, in call order:
 *  0. `check()` once at start: asks the engine (if any) whether it answers; rejects with an
 *     EXECUTOR_FAILED error naming the engine's address when it does not.
 *  1. `prepareImage(image)` before the first `start` with that image (builds it from docker/
 *     when missing; progress goes to `log`). Idempotent and cheap when the image exists.
 *  2. `start(spec)` creates and starts the workload; on failure nothing is left behind.
 *  3. `handle.output`, `handle.wait`, `handle.stop` in any order; `handle.destroy` last, any
 *     number of times. Exit code and OOM are read before removal (no auto-remove).
 * `find` lists workloads this manager started (by label), running or not; `attach` returns a
 * handle to one of them; `sweep` removes exited ones that no build claims.
 *
 * Executors register by name (executor/index.ts); the manager never asks which one it has. What
 * differs between them, it reads from the properties below.
 */
export interface Executor {
  /** The name `executor:` of cicd.yml gives it (`docker`, `swarm`, `local`). */
  readonly name: string;
  /**
   * Workloads are isolated from the host and from each other (containers): their own users,
   * file system, network namespace and limits. False for host processes, which see the host
   * as the manager's user does — so untrusted builds run there only when the config allows it.
   */
  readonly isolated: boolean;
  /**
   * Workloads keep running when the manager stops (containers), so a restarted manager finds
   * and re-attaches them, and a shutdown leaves running builds to it. False for host processes,
   * which end with their manager.
   */
  readonly outlivesManager: boolean;
  /**
   * Workloads see the manager's folders through `spec.mounts` (one machine). False when they
   * may run on another machine (a remote engine, a swarm node): then caches and git mirrors are
   * the executor's own per-node volumes (`Mount.volume`), and sources on the manager's disk
   * (`file://`, `servicefs:`) cannot be built.
   */
  readonly sharesDisk: boolean;
  /**
   * The manager can open connections to `handle.address` (the builder's endpoint). False when
   * workloads sit on networks the manager does not reach (swarm overlay networks on other
   * nodes): a builder then fetches its build request from the manager instead.
   */
  readonly reachesWorkloads: boolean;
  /** Says the executor can work (its engine answers), and what it runs on, for the start-up log. */
  check(): Promise<string>;
  prepareImage(image: string, log: Logger): Promise<void>;
  start(spec: WorkloadSpec): Promise<WorkloadHandle>;
  find(): Promise<FoundWorkload[]>;
  attach(id: string): Promise<WorkloadHandle | undefined>;
  /** Host address workloads use to reach the manager (docker: host gateway name; local: 127.0.0.1; swarm: the callback host). */
  readonly managerHost: string;
  close(): Promise<void>;
}
