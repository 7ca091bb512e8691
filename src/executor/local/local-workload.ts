import type { ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { errors } from "../../shared/errors.js";
import type { ExitInfo, WorkloadHandle } from "../types.js";

/**
 * A workload running as a host process, leader of its own process group, so that stopping it
 * also stops what it started (build commands run through `sh -c`).
 */
export class LocalWorkload implements WorkloadHandle {
  readonly address = "127.0.0.1";
  private readonly exited: Promise<ExitInfo>;
  private exit: ExitInfo | undefined;
  private readonly closed: Promise<void>;
  /** Output that arrived before `output()` was called: nothing is lost in between. */
  private pending: string[] | undefined = [];
  private onChunk: ((chunk: string) => void) | undefined;

  constructor(
    readonly id: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        // Like a container: when the workload ends, whatever it left running ends too. Only
        // now, while stragglers still hold the group id; later the id could be someone else's.
        this.signalGroup("SIGKILL");
        this.exit = { exitCode: code, oomKilled: false, signal };
        resolve(this.exit);
      });
    });
    this.closed = new Promise((resolve) => child.once("close", () => resolve()));
    for (const stream of [child.stdout, child.stderr]) {
      const decoder = new StringDecoder("utf8");
      stream?.on("data", (data: Buffer) => this.emit(decoder.write(data)));
      stream?.on("end", () => this.emit(decoder.end()));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async output(onChunk: (chunk: string) => void): Promise<void> {
    if (this.onChunk) throw errors.executorFailed(`The output of workload ${this.id} is already being read.`);
    this.onChunk = onChunk;
    for (const chunk of this.pending ?? []) onChunk(chunk);
    this.pending = undefined;
    await this.closed;
  }

  wait(signal?: AbortSignal): Promise<ExitInfo> {
    if (!signal) return this.exited;
    const cancelled = () => errors.cancelled(`Waiting for workload ${this.id}`);
    if (signal.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(cancelled());
      signal.addEventListener("abort", onAbort, { once: true });
      void this.exited.then((info) => {
        signal.removeEventListener("abort", onAbort);
        resolve(info);
      });
    });
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.exit) return;
    this.signalGroup("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace">((resolve) => (timer = setTimeout(resolve, graceMs, "grace")));
    const first = await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (first === "grace") {
      this.signalGroup("SIGKILL");
      await this.exited;
    }
  }

  /** Kills the group at once; nothing else of a process remains to remove. */
  async destroy(): Promise<void> {
    if (!this.exit) this.signalGroup("SIGKILL");
    await this.exited;
  }

  private emit(text: string): void {
    if (!text) return;
    if (this.onChunk) this.onChunk(text);
    else this.pending?.push(text);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // ESRCH: the whole group is already gone.
    }
  }
}
