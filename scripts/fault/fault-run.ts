/**
 * What the fault-injection scripts share: a seeded random source (so a run can be repeated with
 * its printed seed), bounded waiting, the `cicd.instance` label of a server's own containers,
 * and a cleanup list that undoes only what the run started (its server processes by pid, its
 * containers by its own instance label, its temp folders).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { compileCli } from "../../bench/server-process.js";
import { projectRoot } from "../../test/helpers/images.js";
import { spawnServer, type ServerProcess } from "../../test/helpers/server-process.js";

const run = promisify(execFile);

/** mulberry32: small, fast and good enough to pick moments and commits from a printed seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 40 hex digits from `random`: a commit id no other push of the run has. */
export function randomSha(random: () => number): string {
  let sha = "";
  while (sha.length < 40) sha += Math.floor(random() * 16).toString(16);
  return sha;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or `fallback` after `ms`; the timer is cleared either way (it never holds the script open). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it returns something truthy; undefined after `ms`. */
export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms: number, everyMs = 200): Promise<T | undefined> {
  for (const end = Date.now() + ms; ; await sleep(everyMs)) {
    const value = await Promise.resolve(check()).catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) return undefined;
  }
}

/** The `cicd.instance` label the server gives its containers (src/server/start-server.ts). */
export function instanceOf(database: string): string {
  return createHash("sha256").update(path.resolve(database)).digest("hex").slice(0, 12);
}

/** Ids of the containers (running or not) of one server instance. */
export async function containersOf(instance: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-a", "-q", "--filter", `label=cicd.instance=${instance}`], { timeout: 30_000 });
  return stdout.split("\n").filter(Boolean);
}

/** Ids of running containers that are not this instance's (someone else's Docker work). */
export async function othersRunning(instance: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "--format", '{{.ID}} {{.Label "cicd.instance"}}'], { timeout: 30_000 });
  return stdout.split("\n").filter(Boolean).filter((line) => line.split(" ")[1] !== instance).map((line) => line.split(" ")[0]!);
}

/** Milliseconds as seconds with one decimal. */
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** `{a: 2, b: 1}` as "a: 2, b: 1", keys sorted. */
export function counts(values: (string | number | null | undefined)[]): string {
  const by = new Map<string, number>();
  for (const v of values) by.set(String(v ?? "none"), (by.get(String(v ?? "none")) ?? 0) + 1);
  return [...by].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true })).map(([k, n]) => `${k}: ${n}`).join(", ") || "none";
}

/**
 * Everything one run started, undone in reverse order, each step even if another fails: server
 * processes (SIGKILL by pid, then their exit awaited), containers carrying the run's instance
 * label, temp folders. Runs once, also on SIGINT/SIGTERM of the script.
 */
export class FaultCleanup {
  private readonly steps: { what: string; undo: () => Promise<void> | void }[] = [];
  private done: Promise<void> | undefined;

  constructor() {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        console.error(`\n${signal}: cleaning up`);
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  add(what: string, undo: () => Promise<void> | void): void {
    this.steps.push({ what, undo });
  }

  server(server: ServerProcess): void {
    this.add(`stop server pid ${server.child.pid}`, async () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) return;
      server.child.kill("SIGKILL");
      await within(server.exited, 10_000, undefined);
    });
  }

  containers(instance: string): void {
    this.add(`remove containers of instance ${instance}`, async () => {
      const ids = await containersOf(instance);
      if (ids.length) await run("docker", ["rm", "-f", "-v", ...ids], { timeout: 120_000 });
    });
  }

  dir(dir: string): void {
    this.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  }

  run(): Promise<void> {
    this.done ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.undo();
        } catch (error) {
          console.error(`cleanup failed: ${step.what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.done;
  }
}

/**
 * The cicd CLI compiled from src/ as it is now (bench/server-process.ts `compileCli`: one .js
 * file per module, run with plain node), into node_modules/.cache so node_modules resolve and
 * the server finds the package's docker/ folder as from dist/. A snapshot: the servers of one
 * run are the same code however src/ changes meanwhile (others edit it while a run lasts).
 */
export async function snapshotCli(cleanup: FaultCleanup, name: string): Promise<string[]> {
  const dir = path.join(projectRoot, "node_modules", ".cache", `cicd-${name}-${process.pid}`);
  cleanup.dir(dir);
  return compileCli(path.join(dir, "cicd.mjs"));
}

/**
 * Starts `cicd server --config FILE` from `cli` (see snapshotCli), bounded and traceable:
 * `onSpawn` learns the child at once (so cleanup can kill it by pid even if it never listens),
 * and a server that does not say "listening on" within `ms` is killed.
 */
export function startServer(cli: string[], configFile: string, env: NodeJS.ProcessEnv, onSpawn: (server: ServerProcess) => void, ms = 60_000): Promise<ServerProcess> {
  return spawnServer(configFile, env, { cli, onSpawn, timeoutMs: ms });
}

/** The build key (`cicd.build` label) of each container of one server instance, running or not. */
export async function containerBuildKeys(instance: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-a", "--filter", `label=cicd.instance=${instance}`, "--format", '{{.Label "cicd.build"}}'], { timeout: 30_000 });
  return stdout.split("\n").filter(Boolean);
}
