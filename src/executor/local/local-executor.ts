import { spawn } from "node:child_process";
import path from "node:path";
import { errorMessage, errors } from "../../shared/errors.js";
import { processStartTime } from "../../shared/exit-with-parent.js";
import type { Logger } from "../../shared/logger.js";
import { packageRoot } from "../project-root.js";
import type { Executor, FoundWorkload, WorkloadHandle, WorkloadSpec } from "../types.js";
import { LocalWorkload } from "./local-workload.js";
import { rewriteEnv, rewritePath } from "./rewrite-paths.js";
import { WorkloadRegistry } from "./workload-registry.js";

export interface LocalExecutorOptions {
  logger: Logger;
  /** Folder of the cicd package (default: found from this file). */
  projectRoot?: string;
  /**
   * How to start the cicd CLI; the role and its arguments follow. Default: this Node.js with
   * <package root>/bin/cicd.js. Tests may use the container bundle (docker/build/cicd.mjs).
   */
  cliCommand?: string[];
  /**
   * Folder of the workload registry (`<data>/workloads`): every process started is recorded
   * there, and those a previous manager process left running are ended when the executor is
   * created. Without it nothing is recorded (tests that need no restart).
   */
  workloadsDir?: string;
  /** This manager's instance (a hash of its database path): whose records are whose. */
  instance?: string;
}

/**
 * Set in every workload's environment: the manager's pid. The builder and the runner end
 * themselves and what they started when that process goes away (shared/exit-with-parent.ts).
 */
export const parentPidVariable = "CICD_PARENT_PID";

/**
 * Variables a workload inherits from the manager. Nothing else: the manager's environment holds
 * its own secrets (API token, GitHub App key), and builds run code from pull requests.
 */
const inherited = [
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
  "TMPDIR", "TMP", "TEMP", "SystemRoot", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
  "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
];

/**
 * Runs workloads as host processes, for machines without Docker. Nothing is isolated: builds
 * see the host, and limits and read-only mounts are not enforced (a warning says so once).
 * Container paths in arguments and env values are mapped to the mounts' host paths.
 *
 * A workload never outlives its manager: a host process cannot be re-attached after a restart
 * (its output went to pipes of the process that died), so `find` lists nothing, `attach` finds
 * nothing and `close` stops what still runs. After a `kill -9` of the manager, each workload
 * ends itself within about a second (it watches its parent: `CICD_PARENT_PID`), and the next
 * manager ends whatever is still recorded in the workload registry before it recovers any
 * build, so an interrupted build is queued again only once its first attempt is gone. This
 * holds for runners too: the runners service marks a runner it cannot re-attach as exited.
 * Stopping a workload ends its whole process tree (build commands run in groups of their own).
 * POSIX only (process groups); the process tree is read from /proc on Linux.
 */
export class LocalExecutor implements Executor {
  readonly name = "local";
  readonly isolated = false;
  readonly outlivesManager = false;
  readonly sharesDisk = true;
  readonly reachesWorkloads = true;
  readonly managerHost = "127.0.0.1";
  private readonly log: Logger;

  /** Host processes need no engine. */
  async check(): Promise<string> {
    return "host processes";
  }
  private readonly cliCommand: string[];
  private readonly running = new Set<LocalWorkload>();
  private readonly registry: WorkloadRegistry | undefined;
  private warned = false;

  constructor(options: LocalExecutorOptions) {
    this.log = options.logger.child("local");
    const root = options.projectRoot ?? packageRoot();
    this.cliCommand = options.cliCommand ?? [process.execPath, path.join(root, "bin", "cicd.js")];
    if (!this.cliCommand.length) throw errors.invalidArgument("cliCommand", "a non-empty command", this.cliCommand);
    if (options.workloadsDir) {
      this.registry = new WorkloadRegistry(options.workloadsDir, options.instance ?? "local", this.log);
      // Here, before the manager exists: recovery must not queue a build again while its
      // first attempt still runs, and nothing of the previous process may idle on.
      this.registry.sweep();
    }
  }

  /** No images: workloads run the cicd CLI on the host. */
  async prepareImage(_image: string, _log: Logger): Promise<void> {}

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    if (!this.warned) {
      this.warned = true;
      this.log.warn(
        "executor local: builds run as host processes, NOT isolated (they see this machine's files and network); memory, CPU and process limits and read-only mounts are not enforced. Use the docker executor for untrusted code.",
      );
    }
    const base = Object.fromEntries(inherited.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
    const [command, ...prefix] = this.cliCommand as [string, ...string[]];
    const args = [...prefix, spec.role, ...spec.args.map((arg) => rewritePath(arg, spec.mounts))];
    const child = spawn(command, args, {
      env: { ...base, ...rewriteEnv(spec.env, spec.mounts), [parentPidVariable]: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stop() reaches everything the workload started.
      detached: true,
    });
    try {
      this.record(spec, child.pid);
    } catch (error) {
      child.once("error", () => undefined);
      throw error;
    }
    const workload = new LocalWorkload(spec.id, child, () => this.registry?.remove(spec.id));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (error) =>
        reject(errors.executorFailed(`Could not start the ${spec.role} process (${command}): ${errorMessage(error)}`)),
      );
    });
    // Later errors (a failed kill) must not crash the manager.
    child.on("error", (error) => this.log.warn("workload process error", { id: spec.id, error: errorMessage(error) }));
    this.running.add(workload);
    void workload.wait().then(() => this.running.delete(workload));
    this.log.debug("started", { id: spec.id, role: spec.role, pid: workload.pid });
    return workload;
  }

  /**
   * Writes the workload's record in the same turn as the spawn: the new process is still
   * booting Node.js, so it is recorded before it can take a build. A workload that cannot be
   * recorded could outlive a crash unseen, so it is ended and the start fails.
   */
  private record(spec: WorkloadSpec, pid: number | undefined): void {
    if (!this.registry || pid === undefined) return;
    const start = processStartTime(pid);
    try {
      // No /proc (not Linux): the start time is unknown, and 0 never matches a live process.
      this.registry.add({ id: spec.id, role: spec.role, target: spec.target, buildKey: spec.buildKey, pid, pgid: pid, start: start ?? 0 });
    } catch (error) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      throw errors.executorFailed(`Could not record the ${spec.role} process in the workload registry: ${errorMessage(error)}`);
    }
  }

  async find(): Promise<FoundWorkload[]> {
    return [];
  }

  async attach(_id: string): Promise<WorkloadHandle | undefined> {
    return undefined;
  }

  /** Stops every workload still running: after the manager is gone nothing could reach them. */
  async close(): Promise<void> {
    await Promise.all([...this.running].map((w) => w.stop(5_000)));
  }
}
