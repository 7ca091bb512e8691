import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import type { ProgramOutput } from "./program-output.js";

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  runtimeMs: number;
  /** Set when the shell could not be started at all. */
  error?: string;
}

const POLL_MS = 100;

/**
 * One build running as `sh -c COMMAND` in its own process group, so a signal reaches the
 * whole tree (the shell, and the program it started if it did not exec). Stopping waits
 * until every process of the group is gone, not just the shell, then the grace ends in SIGKILL.
 */
export class BuildProcess {
  readonly pid: number | undefined;
  readonly startedAt = Date.now();
  /** The shell's exit; resolves once, never rejects. */
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private done = false;
  private readonly killOnExit = () => this.signal("SIGKILL");

  /** With `output`, the program's stdout and stderr pass through it (kept, last lines remembered). */
  constructor(command: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; output?: ProgramOutput } = {}) {
    this.child = spawn("sh", ["-c", command], {
      detached: true,
      stdio: ["ignore", options.output ? "pipe" : "inherit", options.output ? "pipe" : "inherit"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    if (options.output && this.child.stdout && this.child.stderr) {
      options.output.follow(this.child.stdout, process.stdout);
      options.output.follow(this.child.stderr, process.stderr);
    }
    this.pid = this.child.pid;
    // If the runner itself dies, take the build with it rather than leave an orphan behind.
    process.on("exit", this.killOnExit);
    this.exited = new Promise((resolve) => {
      const finish = (exit: Omit<ProcessExit, "runtimeMs">) => {
        if (this.done) return;
        this.done = true;
        process.off("exit", this.killOnExit);
        resolve({ ...exit, runtimeMs: Date.now() - this.startedAt });
      };
      this.child.once("error", (error) => finish({ exitCode: 127, signal: null, error: error.message }));
      this.child.once("exit", (exitCode, signal) => finish({ exitCode, signal }));
    });
  }

  /** Sends `sig` to the whole process group (quietly ignores a group that is gone). */
  signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // ESRCH: nothing left to signal.
    }
  }

  /** True while any live (non-zombie) process of the group remains. */
  groupAlive(): boolean {
    return this.pid !== undefined && processGroupAlive(this.pid);
  }

  /**
   * Sends `sig` (SIGTERM by default) to the group, waits up to `graceMs` for the shell and every
   * other process of the group to end, then SIGKILLs what is left. Resolves with the shell's exit.
   */
  async stop(graceMs: number, sig: NodeJS.Signals = "SIGTERM"): Promise<ProcessExit> {
    this.signal(sig);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (!this.done || this.groupAlive())) {
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
    }
    if (!this.done || this.groupAlive()) this.signal("SIGKILL");
    return this.exited;
  }
}

/**
 * Whether process group `pgid` still has a live member. On Linux /proc tells zombies apart:
 * a process orphaned to a PID 1 that does not reap it (node in a container) stays a zombie, and
 * `kill(-pgid, 0)` would count it as alive forever. Elsewhere kill(0) is the best we have.
 */
function processGroupAlive(pgid: number): boolean {
  let entries: string[] | undefined;
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    entries = undefined;
  }
  if (entries) {
    for (const pid of entries) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // exited while we looked
      }
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so cut at the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** "exited with code 3" or "was killed by SIGKILL" (or why the shell did not start). */
export function describeExit(exit: Pick<ProcessExit, "exitCode" | "signal" | "error">): string {
  if (exit.error) return `could not start (${exit.error})`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  // A shell reports a child killed by signal N as 128 + N; say which, it is often SIGKILL (OOM).
  const signal = exit.exitCode !== null && exit.exitCode > 128 ? signalName(exit.exitCode - 128) : undefined;
  return `exited with code ${exit.exitCode}${signal ? ` (128 + ${signal})` : ""}`;
}

function signalName(n: number): string | undefined {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
}
