import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { oomEventSeen } from "../docker/oom-event.js";
import { errors } from "../../shared/errors.js";
import type { ExitInfo, WorkloadHandle } from "../types.js";
import { dockerMessage, dockerStatus, ignoring } from "../docker/docker-errors.js";
import { followOutput } from "../docker/output-stream.js";

/** The parts of a Swarm task that say how it is doing. */
export interface TaskView {
  ID: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; Message?: string; ContainerStatus?: { ExitCode?: number; ContainerID?: string } };
  DesiredState?: string;
  NetworksAttachments?: Array<{ Addresses?: string[] }>;
}

/** Task states after which the task never runs again. */
const ENDED = new Set(["complete", "failed", "shutdown", "rejected", "orphaned", "remove"]);
/** How often a waiting handle asks for the task's state (the engine has no wait for tasks). */
const POLL_MS = 250;
/** After the task ended, how long its log stream may still deliver its last lines. */
const LOG_DRAIN_MS = 1_500;

/**
 * A workload running as a Swarm service (one task). Its state, exit code and OOM come from the
 * task's status; the output follows the service's log until the task ended; stopping or
 * destroying removes the service (the task gets SIGTERM, then SIGKILL after the grace).
 */
export class SwarmWorkload implements WorkloadHandle {
  private outputTaken = false;
  private readonly service: Dockerode.Service;
  /** Set by stop(): the task ends because it was asked to, with no exit code to read. */
  private stopped = false;

  constructor(
    private readonly docker: Dockerode,
    readonly id: string,
    /** The service's name. */
    readonly serviceName: string,
    readonly address: string,
  ) {
    this.service = docker.getService(serviceName);
  }

  async output(onChunk: (chunk: string) => void): Promise<void> {
    if (this.outputTaken) throw errors.executorFailed(`The output of workload ${this.id} is already being read.`);
    this.outputTaken = true;
    const abort = new AbortController();
    let stream: Readable;
    try {
      stream = (await this.service.logs({ follow: true, stdout: true, stderr: true, abortSignal: abort.signal } as Dockerode.ContainerLogsOptions)) as unknown as Readable;
    } catch (error) {
      if (dockerStatus(error) === 404) return;
      throw errors.executorFailed(`Cannot read the output of workload ${this.id}: ${dockerMessage(error)}`);
    }
    // A service's log never ends by itself: it ends here once the task did and its last lines are in.
    void this.wait().catch(() => undefined).then(() => setTimeout(() => stream.destroy(), LOG_DRAIN_MS));
    await followOutput(this.docker.modem, stream, false, onChunk);
  }

  async wait(signal?: AbortSignal): Promise<ExitInfo> {
    const cancelled = () => errors.cancelled(`Waiting for workload ${this.id}`);
    for (;;) {
      if (signal?.aborted) throw cancelled();
      let task: TaskView | undefined;
      try {
        task = await firstTask(this.docker, this.serviceName);
      } catch (error) {
        throw errors.executorFailed(`Waiting for workload ${this.id} failed: ${dockerMessage(error)}`);
      }
      // No task any more: the service was removed (stopped, destroyed, or from outside).
      if (!task) return { exitCode: null, oomKilled: false, signal: this.stopped ? "SIGTERM" : null };
      if (ENDED.has(task.Status?.State ?? "")) return { ...exitOf(task), oomKilled: await this.oomKilled(task) };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }

  /**
   * Whether the kernel killed the task for its memory limit. A task's status does not say; its
   * container does, when it ran on the node whose engine this is. On another node: exit 137
   * (SIGKILL) under a memory limit, when the manager did not stop it, is read as out of memory.
   */
  private async oomKilled(task: TaskView): Promise<boolean> {
    if (task.Status?.ContainerStatus?.ExitCode !== 137 || this.stopped) return false;
    const id = task.Status.ContainerStatus.ContainerID;
    const state = id ? await this.docker.getContainer(id).inspect().then((c) => c.State, () => undefined) : undefined;
    if (id && state) return state.OOMKilled || (await oomEventSeen(this.docker, id, state.StartedAt));
    const service = (await this.service.inspect().catch(() => undefined)) as { Spec?: { TaskTemplate?: { Resources?: { Limits?: { MemoryBytes?: number } } } } } | undefined;
    return !!service?.Spec?.TaskTemplate?.Resources?.Limits?.MemoryBytes;
  }

  /** Removes the service: Swarm has no stop that keeps it, and a stopped task is never restarted. */
  async stop(): Promise<void> {
    await this.remove("Stopping");
  }

  async destroy(): Promise<void> {
    await this.remove("Removing");
    // The engine answers before the task's container is gone; "destroyed" means nothing is left.
    for (let i = 0; i < 100; i++) {
      const left = await this.docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${this.serviceName}`] } }).catch(() => []);
      if (left.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async remove(doing: string): Promise<void> {
    this.stopped = true;
    try {
      await ignoring([404], () => this.service.remove());
    } catch (error) {
      throw errors.executorFailed(`${doing} workload ${this.id} failed: ${dockerMessage(error)}`);
    }
  }
}

/**
 * The service's first task, or undefined when it has none (or the service is gone). The first:
 * a workload is one run, so when Swarm replaces its task (the node was drained or left) the
 * workload has ended, however the replacement does; the manager then retries the build itself.
 */
export async function firstTask(docker: Dockerode, serviceName: string): Promise<TaskView | undefined> {
  const tasks = (await docker.listTasks({ filters: { service: [serviceName] } }).catch((error: unknown) => {
    if (dockerStatus(error) === 404) return [];
    throw error;
  })) as TaskView[];
  return tasks.sort((a, b) => (a.CreatedAt ?? "").localeCompare(b.CreatedAt ?? ""))[0];
}

/**
 * How an ended task exited: its container's exit code (none when Swarm rejected it or shut it
 * down before it ran). Out of memory is decided by the handle (the status does not say).
 */
export function exitOf(task: TaskView): ExitInfo {
  const status = task.Status ?? {};
  const exitCode = status.ContainerStatus?.ExitCode ?? (status.State === "complete" ? 0 : null);
  return { exitCode: status.State === "rejected" ? null : exitCode, oomKilled: false, signal: null };
}
