import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import Dockerode from "dockerode";
import { oomEventSeen } from "../../src/executor/docker/oom-event.js";
import { withFileLock } from "../../src/servicefs/file-lock.js";

const run = promisify(execFile);
const projectRoot = path.resolve(import.meta.dirname, "../..");
const LOCK = path.join(projectRoot, "node_modules", ".cicd-swarm.lock");
const STATE = path.join(projectRoot, "node_modules", ".cicd-swarm.json");

/** Who uses the swarm the tests made, kept in STATE (only while the lock is held). */
interface SwarmState {
  /** True when a test initialised the swarm, so the last holder leaves it. */
  initialised: boolean;
  /** Whether docker_gwbridge existed before the init (else leaving removes it too). */
  gwbridgeExisted: boolean;
  /** "pid token" of every joinSwarm() not yet left. */
  holders: string[];
}

export interface SwarmMembership {
  /** The node was already a swarm member when joinSwarm() was called. */
  alreadyActive: boolean;
  /**
   * Ends this membership. The last one out runs `docker swarm leave --force`, and only when a
   * joinSwarm() initialised the swarm; a swarm that was there before is left alone. Idempotent.
   */
  leave(): Promise<void>;
}

/**
 * Makes the main engine a single-node swarm manager (`docker swarm init --advertise-addr
 * 127.0.0.1`) unless it is one already. Safe across parallel test files: the callers are
 * counted in node_modules/.cicd-swarm.json under a lock, and holders whose process died are
 * dropped, so a crashed test run does not keep the swarm forever.
 */
export async function joinSwarm(): Promise<SwarmMembership> {
  const token = `${process.pid} ${randomBytes(6).toString("hex")}`;
  const alreadyActive = await withSwarmState(async (state) => {
    const active = (await nodeState()) === "active";
    if (!active) {
      const gwbridgeExisted = await networkExists("docker_gwbridge");
      await run("docker", ["swarm", "init", "--advertise-addr", "127.0.0.1"], { timeout: 120_000 });
      // (Holders still listed had their swarm left under them by someone else: they stay counted.)
      if (!state.initialised) state.gwbridgeExisted = gwbridgeExisted;
      state.initialised = true;
    }
    // Active with no live holders but initialised by a test whose process died: adopted, so
    // the last one out leaves it. Active and not initialised by a test: never left.
    state.holders.push(token);
    return active;
  });
  let left = false;
  return {
    alreadyActive,
    leave: async () => {
      if (left) return;
      left = true;
      await withSwarmState(async (state) => {
        state.holders = state.holders.filter((holder) => holder !== token);
        if (state.holders.length > 0 || !state.initialised) return;
        if ((await nodeState()) !== "inactive") {
          await run("docker", ["swarm", "leave", "--force"], { timeout: 120_000 });
        }
        if (!state.gwbridgeExisted) await run("docker", ["network", "rm", "docker_gwbridge"]).catch(() => undefined);
        state.initialised = false;
      });
    },
  };
}

/** The engine's Swarm.LocalNodeState: inactive, pending, active, error or locked. */
export async function nodeState(): Promise<string> {
  const { stdout } = await run("docker", ["info", "--format", "{{.Swarm.LocalNodeState}}"], { timeout: 30_000 });
  return stdout.trim();
}

async function withSwarmState<T>(fn: (state: SwarmState) => Promise<T>): Promise<T> {
  return withFileLock(
    LOCK,
    async () => {
      const state = await readState();
      state.holders = state.holders.filter((holder) => alive(Number(holder.split(" ")[0])));
      const result = await fn(state);
      if (state.holders.length === 0 && !state.initialised) {
        await unlink(STATE).catch(() => undefined);
      } else {
        const temporary = `${STATE}.${process.pid}.tmp`;
        await writeFile(temporary, JSON.stringify(state));
        await rename(temporary, STATE);
      }
      return result;
    },
    { timeoutMs: 300_000, staleMs: 300_000 },
  );
}

async function readState(): Promise<SwarmState> {
  try {
    const parsed = JSON.parse(await readFile(STATE, "utf8")) as Partial<SwarmState>;
    return {
      initialised: parsed.initialised === true,
      gwbridgeExisted: parsed.gwbridgeExisted !== false,
      holders: Array.isArray(parsed.holders) ? parsed.holders.filter((h): h is string => typeof h === "string") : [],
    };
  } catch {
    return { initialised: false, gwbridgeExisted: true, holders: [] };
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function networkExists(name: string): Promise<boolean> {
  return run("docker", ["network", "inspect", name, "--format", "{{.Id}}"]).then(
    () => true,
    () => false,
  );
}

/** A swarm task's Status as `docker inspect <task>` shows it (the fields the tests read). */
export interface SwarmTaskStatus {
  /** new, pending, assigned, accepted, preparing, ready, starting, running, complete, failed, shutdown, rejected, orphaned, remove */
  State: string;
  Message?: string;
  /** e.g. "task: non-zero exit (3)", "No such image: x" */
  Err?: string;
  ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
}

export interface SwarmJobResult {
  service: string;
  taskId: string;
  status: SwarmTaskStatus;
  /** From the task's container on this node: State.OOMKilled (the task status has no such field). */
  oomKilled: boolean;
  logs: string;
}

const FINAL_STATES = new Set(["complete", "failed", "shutdown", "rejected", "orphaned", "remove"]);

/**
 * Runs `command` once as a swarm job (`--mode replicated-job --restart-condition none`) from a
 * local image, waits for its task to end, and returns the task's status, whether its container
 * was OOM-killed and its logs; the service is removed afterwards.
 * `--no-resolve-image` keeps the CLI from asking a registry for the digest; an image given by
 * ID (sha256:...) also spares the node its pull attempt.
 */
export async function runSwarmJob(options: {
  image: string;
  command: string[];
  /** More `docker service create` flags, e.g. ["--limit-memory", "64m"]. */
  flags?: string[];
  name?: string;
  timeoutMs?: number;
}): Promise<SwarmJobResult> {
  const service = options.name ?? `cicd-test-job-${randomBytes(4).toString("hex")}`;
  await run(
    "docker",
    ["service", "create", "--detach", "--quiet", "--mode", "replicated-job", "--restart-condition", "none", "--no-resolve-image",
      "--name", service, ...(options.flags ?? []), options.image, ...options.command],
    { timeout: 60_000 },
  );
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    for (;;) {
      const { stdout } = await run("docker", ["service", "ps", "--quiet", "--no-trunc", service]);
      const taskId = stdout.trim().split("\n")[0] ?? "";
      if (taskId) {
        const inspected = await run("docker", ["inspect", "--format", "{{json .Status}}", taskId]);
        const status = JSON.parse(inspected.stdout) as SwarmTaskStatus;
        if (FINAL_STATES.has(status.State)) {
          const containerId = status.ContainerStatus?.ContainerID ?? "";
          const oomKilled = containerId ? await containerOomKilled(containerId) : false;
          const logs = await run("docker", ["service", "logs", "--raw", "--no-task-ids", service]).then(
            (r) => r.stdout + r.stderr,
            () => "",
          );
          return { service, taskId, status, oomKilled, logs };
        }
      }
      if (Date.now() > deadline) throw new Error(`swarm job ${service} did not finish in time; its tasks:\n${(await run("docker", ["service", "ps", "--no-trunc", service])).stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await run("docker", ["service", "rm", service]).catch(() => undefined);
  }
}

/**
 * Whether the engine says the container was killed for its memory limit: its state, or (when
 * containerd's OOM event came after the exit, and the state missed it) the engine's `oom` event
 * for it, read as the executors read it.
 */
async function containerOomKilled(containerId: string): Promise<boolean> {
  const docker = new Dockerode();
  const state = await docker.getContainer(containerId).inspect().then((c) => c.State, () => undefined);
  return !!state?.OOMKilled || (await oomEventSeen(docker, containerId, state?.StartedAt));
}
