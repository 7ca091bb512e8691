import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../servicefs/index.js";
import { errors } from "../shared/errors.js";

/** What the runner is doing right now. */
export type RunnerPhase = "starting" | "running" | "backoff" | "waiting" | "stopping" | "exited";

export type DecisionKind =
  | "pin"
  | "start"
  | "exit"
  | "mark-bad"
  | "fall-back"
  | "switch"
  | "restart"
  | "skip"
  | "no-good-build"
  | "wait"
  | "stop"
  | "shutdown"
  | "error";

/** One thing the runner decided, as logged to stderr. */
export interface RunnerDecision {
  at: string;
  kind: DecisionKind;
  message: string;
  build?: string;
}

/**
 * The runner's state file (`--state-file`), replaced atomically on every decision, so a reader
 * (the manager's `GET /api/v1/runners/:id`) always sees a whole document. Holds no command line:
 * a run command may carry secrets.
 */
export interface RunnerState {
  /** Process id of the runner itself. */
  pid: number;
  dir: string;
  /** The build the runner was pinned to (`--pin`), if any. */
  pin: string | null;
  phase: RunnerPhase;
  startedAt: string;
  updatedAt: string;
  /** The build being run (or waited on during back-off). */
  current: {
    key: string;
    artifact: string;
    file: string;
    /** Process id of the build's shell; null between runs. */
    pid: number | null;
    startedAt: string;
    /** Restarts after crashes past probation. */
    restarts: number;
  } | null;
  lastExit: { key: string; exitCode: number | null; signal: string | null; at: string; runtimeMs: number } | null;
  /** Builds that failed while this runner ran them, in order. */
  tried: string[];
  /** The newest decisions last; at most MAX_DECISIONS. */
  decisions: RunnerDecision[];
  /** The runner's own exit code once `phase` is `exited`. */
  exitCode: number | null;
  /** Why the runner stopped with an error. */
  error: string | null;
}

export const MAX_DECISIONS = 200;

/** Reads a runner's state file; undefined when it does not exist (yet). */
export async function readRunnerState(file: string): Promise<RunnerState | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as RunnerState;
  } catch (error) {
    throw errors.unprocessable(`${file} is not a runner state file: ${(error as Error).message}`, { file });
  }
}

/**
 * Writes snapshots one after the other: a newer snapshot requested while one is being written
 * replaces any still waiting, so the file ends at the latest state without piling up writes.
 */
export class RunnerStateWriter {
  private pending: string | undefined;
  private writing: Promise<void> = Promise.resolve();
  private active = false;

  constructor(
    readonly file: string | undefined,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  write(state: RunnerState): void {
    if (!this.file) return;
    this.pending = `${JSON.stringify(state, null, 2)}\n`;
    if (!this.active) this.writing = this.drain();
  }

  /** Resolves when everything requested so far is on disk. */
  async flush(): Promise<void> {
    await this.writing;
  }

  private async drain(): Promise<void> {
    this.active = true;
    try {
      while (this.pending !== undefined) {
        const text = this.pending;
        this.pending = undefined;
        await mkdir(path.dirname(this.file!), { recursive: true })
          .then(() => writeFileAtomic(this.file!, text))
          .catch(this.onError);
      }
    } finally {
      this.active = false;
    }
  }
}
