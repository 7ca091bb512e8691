import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { vi } from "vitest";
import { BuildRunner, type BuildRunnerOptions } from "../../src/runner/index.js";
import { ServiceFs, type BuildRecord, type BuildsDocument } from "../../src/servicefs/index.js";
import { memoryLogger } from "../helpers/memory-logger.js";

/** A service file system with one target, plus a folder where build scripts leave markers. */
export interface Target {
  work: string;
  fs: ServiceFs;
  name: string;
  /** The target folder a runner gets as --dir. */
  dir: string;
  markers: string;
  cleanup(): Promise<void>;
}

export async function makeTarget(prefix = "cicd-runner-"): Promise<Target> {
  const work = await mkdtemp(path.join(tmpdir(), prefix));
  const fs = new ServiceFs(path.join(work, "servicefs"));
  const markers = path.join(work, "markers");
  await mkdir(markers);
  const dir = fs.targetDir("app");
  await mkdir(dir, { recursive: true });
  return { work, fs, name: "app", dir, markers, cleanup: () => rm(work, { recursive: true, force: true }) };
}

/**
 * Publishes a good build whose artifact is a shell script `body` (run as `sh {file}`).
 * Scripts see $MARKERS (the markers folder) and $CICD_BUILD_KEY.
 */
export async function publishScript(t: Target, key: string, body: string, file = "app.sh"): Promise<BuildRecord> {
  const source = path.join(t.work, "sources", key, file);
  await mkdir(path.dirname(source), { recursive: true });
  await writeFile(source, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return t.fs.publish(t.name, { key, commit: `sha-${key}`, ref: "refs/heads/main", files: [source] });
}

export async function readBuilds(t: Target): Promise<BuildsDocument> {
  return JSON.parse(await readFile(path.join(t.dir, "builds.json"), "utf8")) as BuildsDocument;
}

export function statusOf(doc: BuildsDocument): Record<string, string> {
  return Object.fromEntries(doc.builds.map((b) => [b.key, b.status]));
}

export async function readMarker(t: Target, name: string): Promise<string | undefined> {
  return readFile(path.join(t.markers, name), "utf8").catch(() => undefined);
}

/** Fast back-off and polling so crash loops and watching take milliseconds in tests. */
export const fast: Partial<BuildRunnerOptions> = { backoffBaseMs: 50, backoffMaxMs: 400, pollMs: 100, graceMs: 3000 };

/** A BuildRunner in this process (builds are real `sh` processes), logging to memory. */
export function inProcessRunner(t: Target, options: Partial<BuildRunnerOptions> = {}) {
  const logger = memoryLogger();
  const runner = new BuildRunner({
    dir: t.dir,
    command: "sh {file}",
    env: { ...process.env, MARKERS: t.markers },
    logger,
    ...fast,
    ...options,
  });
  return { runner, logger, messages: () => runner.snapshot.decisions.map((d) => d.message) };
}

/** Polls `check` (vi.waitFor) until it returns a truthy value, and returns that value. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (!value) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      return value as NonNullable<T>;
    },
    { timeout: timeoutMs, interval: 25 },
  );
}

const cli = path.join(import.meta.dirname, "fixtures", "runner-cli.ts");

/** `cicd runner ARGS` as a separate process (node --import tsx), with its stderr collected. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exit, stderr: () => stderr };
}
