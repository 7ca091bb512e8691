import type { ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { errors } from "../../shared/errors.js";
import { descendantsOf, killProcessTree, listProcesses, processInfo, type ProcessInfo } from "../../shared/exit-with-parent.js";
import type { ExitInfo, WorkloadHandle } from "../types.js";

/**
 * A workload running as a host process, leader of its own process group. Stopping it also
 * stops what it started, as a container would: build commands run through `sh -c` in process
 * groups (and sessions) of their own, so a kill reaches the whole process tree, read while the
 * workload still lives (see killProcessTree), not just the workload's group.
 */
export class LocalWorkload implements WorkloadHandle {
  readonly address = "127.0.0.1";
  private readonly exited: Promise<ExitInfo>;
  private exit: ExitInfo | undefined;
  private readonly closed: Promise<void>;
  /** Output that arrived before `output()` was called: nothing is lost in between. */
  private pending: string[] | undefined = [];
  private onChunk: ((chunk: string) => void) | undefined;
  /**
   * Leaders of the process groups the workload had started when it was asked to stop: it may
   * exit on SIGTERM before its commands do, and once it is gone they can no longer be found.
   */
  private groupsAtStop: ProcessInfo[] = [];

  /** `onExit` runs once the process and what it left running have been ended. */
  constructor(
    readonly id: string,
    private readonly child: ChildProcess,
    onExit: () => void = () => undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        // Like a container: when the workload ends, whatever it left running ends too. Only
        // now, while stragglers still hold the group id; later the id could be someone else's.
        this.signalGroup("SIGKILL");
        this.endGroupsAtStop();
        this.exit = { exitCode: code, oomKilled: false, signal };
        onExit();
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
    this.rememberGroups();
    this.signalGroup("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace">((resolve) => (timer = setTimeout(resolve, graceMs, "grace")));
    const first = await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (first === "grace") {
      this.killTree();
      await this.exited;
    }
  }

  /** Kills the process tree at once; nothing else of a process remains to remove. */
  async destroy(): Promise<void> {
    if (!this.exit) this.killTree();
    await this.exited;
  }

  private emit(text: string): void {
    if (!text) return;
    if (this.onChunk) this.onChunk(text);
    else this.pending?.push(text);
  }

  private killTree(): void {
    if (this.child.pid === undefined || this.exit) return;
    killProcessTree(this.child.pid);
  }

  private rememberGroups(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const processes = listProcesses();
    const groups = new Set(descendantsOf(pid, processes).map((p) => p.pgid));
    groups.delete(pid);
    this.groupsAtStop = [...groups].flatMap((pgid) => processes.filter((p) => p.pid === pgid));
  }

  /** SIGKILLs the remembered groups whose leader is still the same process (or gone: members only then). */
  private endGroupsAtStop(): void {
    for (const leader of this.groupsAtStop) {
      const now = processInfo(leader.pid);
      if (now && now.start !== leader.start) continue; // The id is someone else's now.
      try {
        process.kill(-leader.pgid, "SIGKILL");
      } catch {
        // The whole group is already gone.
      }
    }
    this.groupsAtStop = [];
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
