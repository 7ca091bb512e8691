import { spawn } from "node:child_process";
import path from "node:path";
import { errorMessage, errors } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { packageRoot } from "../project-root.js";
import type { Executor, FoundWorkload, WorkloadHandle, WorkloadSpec } from "../types.js";
import { LocalWorkload } from "./local-workload.js";
import { rewriteEnv, rewritePath } from "./rewrite-paths.js";

export interface LocalExecutorOptions {
  logger: Logger;
  /** Folder of the cicd package (default: found from this file). */
  projectRoot?: string;
  /**
   * How to start the cicd CLI; the role and its arguments follow. Default: this Node.js with
   * <package root>/bin/cicd.js. Tests may use the container bundle (docker/build/cicd.mjs).
   */
  cliCommand?: string[];
}

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
 * Processes do not outlive the manager in any useful way: `find` lists nothing, `attach`
 * finds nothing, and `close` stops what is still running. POSIX only (process groups).
 */
export class LocalExecutor implements Executor {
  readonly kind = "local";
  readonly managerHost = "127.0.0.1";
  private readonly log: Logger;
  private readonly cliCommand: string[];
  private readonly running = new Set<LocalWorkload>();
  private warned = false;

  constructor(options: LocalExecutorOptions) {
    this.log = options.logger.child("local");
    const root = options.projectRoot ?? packageRoot();
    this.cliCommand = options.cliCommand ?? [process.execPath, path.join(root, "bin", "cicd.js")];
    if (!this.cliCommand.length) throw errors.invalidArgument("cliCommand", "a non-empty command", this.cliCommand);
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
      env: { ...base, ...rewriteEnv(spec.env, spec.mounts) },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stop() reaches everything the workload started.
      detached: true,
    });
    const workload = new LocalWorkload(spec.id, child);
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
