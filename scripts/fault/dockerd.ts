/**
 * The machine's Docker engine, as scripts/ensure-docker.sh starts it (`nohup dockerd
 * --storage-driver=overlay2 >"${DOCKERD_LOG:-/tmp/cicd-dockerd.log}" 2>&1 &`): found, stopped
 * with SIGTERM and started again the same way. Only an engine started that way is touched; one
 * run by systemd or with other options is someone else's to manage.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { until } from "./fault-run.js";

const run = promisify(execFile);

/** The command line ensure-docker.sh gives dockerd. */
export const DOCKERD_ARGS = ["dockerd", "--storage-driver=overlay2"];
export const dockerdLog = () => process.env.DOCKERD_LOG ?? "/tmp/cicd-dockerd.log";

/**
 * The pid of the dockerd that ensure-docker.sh started, or why it is not one to restart: none
 * running, more than one, or another command line.
 */
export async function ensureDockerdPid(): Promise<number | string> {
  const pids = await run("pidof", ["dockerd"]).then((r) => r.stdout.trim().split(/\s+/).filter(Boolean).map(Number), () => []);
  if (pids.length !== 1) return pids.length ? `more than one dockerd runs (${pids.join(", ")})` : "no dockerd runs";
  const pid = pids[0]!;
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  if (args.join(" ") !== DOCKERD_ARGS.join(" ")) return `dockerd (pid ${pid}) runs as "${args.join(" ")}", not as scripts/ensure-docker.sh starts it`;
  return pid;
}

/** Whether `docker info` answers within 15 s. */
export const dockerAnswers = () => run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 15_000 }).then(() => true, () => false);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to dockerd, then waits (up to `ms`) for it to exit; true once it has. */
export async function stopDockerd(pid: number, ms = 90_000): Promise<boolean> {
  process.kill(pid, "SIGTERM");
  return (await until(() => !alive(pid) || undefined, ms, 100)) === true;
}

/**
 * Starts dockerd as ensure-docker.sh does (nohup, same arguments, output to its log file),
 * detached from this script so it outlives it, and waits (up to `ms`) until `docker info`
 * answers. Returns the new pid, or undefined if the engine did not answer in time.
 */
export async function startDockerd(ms = 90_000): Promise<number | undefined> {
  const fd = openSync(dockerdLog(), "w");
  const child = spawn("nohup", DOCKERD_ARGS, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  const answered = await until(async () => (await dockerAnswers()) || undefined, ms, 500);
  return answered ? child.pid : undefined;
}

/** The last `lines` lines of dockerd's log. */
export function dockerdLogTail(lines = 30): string {
  try {
    return readFileSync(dockerdLog(), "utf8").split("\n").slice(-lines).join("\n");
  } catch (error) {
    return `(no log: ${error instanceof Error ? error.message : String(error)})`;
  }
}
