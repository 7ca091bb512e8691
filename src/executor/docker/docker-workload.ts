import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Docker from "dockerode";
import { errors } from "../../shared/errors.js";
import type { ExitInfo, WorkloadHandle } from "../types.js";
import { dockerMessage, dockerStatus, ignoring } from "./docker-errors.js";

/** A workload running as a Docker container (started by us, or re-attached after a restart). */
export class DockerWorkload implements WorkloadHandle {
  private outputTaken = false;

  constructor(
    private readonly docker: Docker,
    readonly id: string,
    /** Docker's container id. */
    readonly containerId: string,
    readonly address: string,
  ) {}

  private get container(): Docker.Container {
    return this.docker.getContainer(this.containerId);
  }

  async output(onChunk: (chunk: string) => void): Promise<void> {
    if (this.outputTaken) throw errors.executorFailed(`The output of workload ${this.id} is already being read.`);
    this.outputTaken = true;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.container.logs({ follow: true, stdout: true, stderr: true });
    } catch (error) {
      throw errors.executorFailed(`Cannot read the output of workload ${this.id}: ${dockerMessage(error)}`);
    }
    // One decoder per stream: a UTF-8 character split across two frames still decodes.
    const sink = () => {
      const decoder = new StringDecoder("utf8");
      return new Writable({
        write(chunk: Buffer, _encoding, done) {
          const text = decoder.write(chunk);
          if (text) onChunk(text);
          done();
        },
      });
    };
    await new Promise<void>((resolve) => {
      this.docker.modem.demuxStream(stream, sink(), sink());
      // A log stream cut short (the container was removed) ends the output too.
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
  }

  async wait(signal?: AbortSignal): Promise<ExitInfo> {
    const cancelled = () => errors.cancelled(`Waiting for workload ${this.id}`);
    if (signal?.aborted) throw cancelled();
    let status: { StatusCode?: number } | undefined;
    try {
      // A per-call abort signal: a global client timeout would cut long builds short.
      status = await this.container.wait(signal ? { abortSignal: signal } : {});
    } catch (error) {
      if (signal?.aborted) throw cancelled();
      throw errors.executorFailed(`Waiting for workload ${this.id} failed: ${dockerMessage(error)}`);
    }
    try {
      const { State } = await this.container.inspect();
      return { exitCode: State.ExitCode, oomKilled: State.OOMKilled, signal: null };
    } catch {
      // Removed in between: the wait answer still has the exit code.
      return { exitCode: status?.StatusCode ?? null, oomKilled: false, signal: null };
    }
  }

  async stop(graceMs = 10_000): Promise<void> {
    try {
      // 304: already stopped; 404: already removed.
      await ignoring([304, 404], () => this.container.stop({ t: Math.ceil(graceMs / 1000) }));
    } catch (error) {
      throw errors.executorFailed(`Stopping workload ${this.id} failed: ${dockerMessage(error)}`);
    }
  }

  async destroy(): Promise<void> {
    try {
      await ignoring([404], () => this.container.remove({ force: true, v: true }));
    } catch (error) {
      // 409 "removal already in progress": a concurrent destroy is doing our work.
      if (!/already in progress/i.test(dockerMessage(error))) {
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
