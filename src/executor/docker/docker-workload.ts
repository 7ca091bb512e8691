import type { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { errors } from "../../shared/errors.js";
import type { ExitInfo, WorkloadHandle } from "../types.js";
import { dockerMessage, dockerStatus, ignoring, isRemovalInProgress } from "./docker-errors.js";
import { oomEventSeen } from "./oom-event.js";
import { followOutput } from "./output-stream.js";

/** A workload running as a Docker container (started by us, or re-attached after a restart). */
export class DockerWorkload implements WorkloadHandle {
  private outputTaken = false;
  /** Stopped or removed by us: a SIGKILL (137) is then ours, never the kernel's OOM killer. */
  private stopping = false;
  private readonly container: Dockerode.Container;

  constructor(
    private readonly docker: Dockerode,
    readonly id: string,
    /** Docker's container id. */
    readonly containerId: string,
    readonly address: string,
    /** Whether the container has a TTY; unknown for a re-attached one (the engine is asked). */
    private readonly tty?: boolean,
  ) {
    this.container = docker.getContainer(containerId);
  }

  async output(onChunk: (chunk: string) => void): Promise<void> {
    if (this.outputTaken) throw errors.executorFailed(`The output of workload ${this.id} is already being read.`);
    this.outputTaken = true;
    let stream: Readable;
    let tty: boolean;
    try {
      tty = this.tty ?? Boolean((await this.container.inspect()).Config.Tty);
      stream = (await this.container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
    } catch (error) {
      // Removed (404), or being removed (409), before its output was asked for: like a stream
      // cut short by the removal, there is nothing more to read.
      const status = dockerStatus(error);
      if (status === 404 || status === 409) return;
      throw errors.executorFailed(`Cannot read the output of workload ${this.id}: ${dockerMessage(error)}`);
    }
    await followOutput(this.docker.modem, stream, tty, onChunk);
  }

  async wait(signal?: AbortSignal): Promise<ExitInfo> {
    const cancelled = () => errors.cancelled(`Waiting for workload ${this.id}`);
    if (signal?.aborted) throw cancelled();
    let status: { StatusCode?: number } | undefined;
    try {
      // A per-call abort signal: a client-wide timeout would cut long builds short.
      status = (await this.container.wait({ condition: "not-running", abortSignal: signal })) as { StatusCode?: number };
    } catch (error) {
      if (signal?.aborted) throw cancelled();
      throw errors.executorFailed(`Waiting for workload ${this.id} failed: ${dockerMessage(error)}`);
    }
    try {
      const { State } = await this.container.inspect();
      const oomKilled = State.OOMKilled || (State.ExitCode === 137 && !this.stopping && (await oomEventSeen(this.docker, this.containerId, State.StartedAt)));
      return { exitCode: State.ExitCode, oomKilled, signal: null };
    } catch {
      // Removed in between: the wait answer still has the exit code.
      return { exitCode: status?.StatusCode ?? null, oomKilled: false, signal: null };
    }
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    try {
      // 304: already stopped; 404: already removed.
      await ignoring([304, 404], () => this.container.stop({ t: Math.ceil(graceMs / 1000) }));
    } catch (error) {
      throw errors.executorFailed(`Stopping workload ${this.id} failed: ${dockerMessage(error)}`);
    }
  }

  async destroy(): Promise<void> {
    this.stopping = true;
    try {
      await ignoring([404], () => this.container.remove({ force: true, v: true }));
    } catch (error) {
      // A concurrent destroy is doing our work.
      if (!isRemovalInProgress(error)) {
        throw errors.executorFailed(`Removing workload ${this.id} failed: ${dockerMessage(error)}`);
      }
    }
    // The engine can answer before the removal is complete ("Removal In Progress"); wait until
    // the container is really gone, so "destroyed" means nothing is left.
    for (let i = 0; i < 100; i++) {
      const gone = await this.container.inspect().then(() => false, (error: unknown) => dockerStatus(error) === 404);
      if (gone) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
