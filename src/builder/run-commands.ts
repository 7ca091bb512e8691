import { spawn } from "node:child_process";
import { formatDuration } from "../shared/duration.js";
import { errors, type CicdError } from "../shared/errors.js";
import type { CommandResult } from "../shared/protocol.js";
import type { BuildLog } from "./build-log.js";
import { spawnIdentity, type CommandUser } from "./command-user.js";

export interface CommandsOutcome {
  results: CommandResult[];
  /** Set when a command failed: COMMAND_FAILED with the index, exit code and signal. */
  error?: CicdError;
  failedCommand?: number;
}

export interface RunCommandsOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: BuildLog;
  signal?: AbortSignal;
  /** Run the commands as this user (the builder runs as root); default: the builder's own. */
  user?: CommandUser;
}

/** How long a command's pipes may stay open after it exited (held by a background child). */
const PIPE_GRACE_MS = 1000;
const KILL_GRACE_MS = 5000;

/**
 * Runs each command with `sh -c` in `cwd`, in order, stopping at the first that fails. Output
 * streams live through the build log (masked). Each command runs in its own process group so
 * an abort stops it with everything it started; background processes a command leaves running
 * are ended by `killLeftovers` once the build is over.
 */
export async function runCommands(commands: string[], options: RunCommandsOptions): Promise<CommandsOutcome & { killLeftovers(): void }> {
  const groups: number[] = [];
  const killLeftovers = () => groups.forEach((pid) => killGroup(pid, "SIGKILL"));
  const results: CommandResult[] = [];
  for (const [index, command] of commands.entries()) {
    options.log.line(`$ ${command}`);
    const result = await runOne(command, options, groups);
    results.push(result);
    const took = formatDuration(result.durationMs);
    if (result.exitCode === 0) {
      options.log.line(`--> command ${index + 1} of ${commands.length} passed in ${took}`);
      continue;
    }
    const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
    options.log.line(`--> command ${index + 1} of ${commands.length} failed (${how}) after ${took}`);
    return { results, error: errors.commandFailed(index, options.log.mask(command), result.exitCode, result.signal), failedCommand: index, killLeftovers };
  }
  return { results, killLeftovers };
}

function runOne(command: string, options: RunCommandsOptions, groups: number[]): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (options.signal?.aborted) {
      resolve({ command, exitCode: null, signal: "SIGTERM", durationMs: 0 });
      return;
    }
    const child = spawn("sh", ["-c", command], { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true, ...spawnIdentity(options.user) });
    if (child.pid) groups.push(child.pid);
    const streams = [child.stdout, child.stderr].map((pipe) => {
      const log = options.log.stream();
      pipe.setEncoding("utf8");
      pipe.on("data", (chunk: string) => log.write(chunk));
      return { pipe, log, closed: new Promise<void>((r) => pipe.once("close", () => r())) };
    });
    const onAbort = () => {
      if (!child.pid) return;
      killGroup(child.pid, "SIGTERM");
      setTimeout(() => killGroup(child.pid!, "SIGKILL"), KILL_GRACE_MS).unref();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let finished = false;
    const finish = async (exitCode: number | null, signal: string | null) => {
      if (finished) return;
      finished = true;
      options.signal?.removeEventListener("abort", onAbort);
      const grace = new Promise<void>((r) => setTimeout(r, PIPE_GRACE_MS).unref());
      await Promise.race([Promise.all(streams.map((s) => s.closed)), grace]);
      for (const s of streams) {
        s.pipe.destroy();
        s.log.end();
      }
      resolve({ command, exitCode, signal, durationMs: Date.now() - started });
    };
    child.once("error", (error) => {
      options.log.line(`could not start sh: ${error.message}`);
      void finish(127, null);
    });
    child.once("exit", (code, signal) => void finish(code, signal));
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
