import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { findTarget, type Config, type Target } from "../config/load-config.js";
import type { Executor, WorkloadHandle } from "../executor/types.js";
import { readRunnerState } from "../runner/runner-state.js";
import { errorMessage, errors } from "../shared/errors.js";
import { discardLogger, type Logger } from "../shared/logger.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import type { RunnerView } from "../shared/api/runners.js";
import type { RunnerRecord, RunnerStore } from "../store/runner-store.js";

/** A runner as the API shows it: the record, whether it runs, and the runner's own state. */
/** Beside a runner's state file: its programs' output (bounded by the runner). */
const OUTPUT_FILE = "output.log";

export interface RunnersDeps {
  config: Config;
  store: RunnerStore;
  executor: Executor;
  servicefs: ServiceFs;
  logger: Logger;
  /** Folder for runner state files (one sub-folder per runner). */
  stateDir: string;
}

/**
 * Runners started by the manager: one workload per runner running `cicd runner` on the
 * target's servicefs folder. They outlive a manager restart (containers keep running and are
 * found again by id); their state file tells what they are doing.
 */
export class Runners {
  private readonly handles = new Map<string, WorkloadHandle>();
  /** Per target: the last deploy or auto-deploy, so two never interleave stop and start. */
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: RunnersDeps) {}

  /** Re-attaches to runners that were running before a restart. */
  async start(): Promise<void> {
    for (const record of this.deps.store.list()) {
      if (record.state !== "running") continue;
      const handle = await this.deps.executor.attach(record.id).catch(() => undefined);
      if (handle) this.follow(record.id, handle);
      else this.deps.store.finish(record.id, "exited", null);
    }
  }

  /**
   * Starts a runner for the target. With `pin`, it starts with that build (see `cicd runner
   * --pin`); without, with the newest good build.
   */
  async create(targetName: string, options: { pin?: string } = {}): Promise<RunnerView> {
    const target = this.target(targetName);
    const run = this.runOf(target);
    const id = randomBytes(8).toString("hex");
    const stateDir = path.join(this.deps.stateDir, id);
    mkdirSync(stateDir, { recursive: true });
    const stateFile = path.join(stateDir, "state.json");
    const targetDir = this.deps.servicefs.targetDir(target.name);
    mkdirSync(targetDir, { recursive: true });
    const image = run.image ?? "cicd-runner";
    // The executor logs the image build (start, steps, time) itself.
    await this.deps.executor.prepareImage(image, discardLogger());
    const watch = run.watch || run.autoDeploy;
    const handle = await this.deps.executor.start({
      id,
      role: "runner",
      target: target.name,
      image,
      args: [
        "--dir", targetDir,
        "--command", run.command,
        "--state-file", stateFile,
        "--output", path.join(stateDir, OUTPUT_FILE),
        ...(watch ? ["--watch", "--wait"] : []),
        ...(options.pin !== undefined ? ["--pin", options.pin] : []),
        ...(run.probationMs !== undefined ? ["--probation", `${run.probationMs}ms`] : []),
      ],
      env: {},
      mounts: [
        { host: targetDir, container: targetDir },
        { host: stateDir, container: stateDir },
      ],
      limits: { ...this.deps.config.limits, ...target.limits },
      placement: target.placement,
      ports: run.ports,
    });
    this.deps.store.insert({ id, target: target.name, state: "running", createdAt: new Date().toISOString(), stoppedAt: null, exitCode: null, stateFile });
    this.follow(id, handle);
    return this.view(this.deps.store.get(id)!);
  }

  /**
   * Where the runner keeps its programs' output (`GET /runners/:id/log`), and whether it still
   * runs (a follower stops when it does not). NOT_FOUND for an unknown runner.
   */
  output(id: string): { path: string; running: () => boolean } {
    const record = this.deps.store.get(id);
    if (!record) throw errors.notFound("runner", id);
    return { path: path.join(path.dirname(record.stateFile), OUTPUT_FILE), running: () => this.deps.store.get(id)?.state === "running" };
  }

  async get(id: string): Promise<RunnerView> {
    const record = this.deps.store.get(id);
    if (!record) throw errors.notFound("runner", id);
    return this.view(record);
  }

  async list(target?: string): Promise<RunnerView[]> {
    return Promise.all(this.deps.store.list(target).map((r) => this.view(r)));
  }

  /** Stops the runner (its build gets SIGTERM and a grace period) and removes the workload. */
  async remove(id: string): Promise<RunnerView> {
    const record = this.deps.store.get(id);
    if (!record) throw errors.notFound("runner", id);
    const handle = this.handles.get(id) ?? (await this.deps.executor.attach(id).catch(() => undefined));
    // Stop following first: the exit this causes is a requested stop, not the runner ending.
    this.handles.delete(id);
    if (handle) {
      await handle.stop(15_000).catch(() => undefined);
      const exit = await handle.wait(AbortSignal.timeout(20_000)).catch(() => undefined);
      this.deps.store.finish(id, "stopped", exit?.exitCode ?? null);
      await handle.destroy().catch(() => undefined);
    } else {
      this.deps.store.finish(id, "stopped", null);
    }
    return this.view(this.deps.store.get(id)!);
  }

  /**
   * Starts or moves the target's runner to `buildKey`: the build must be good in builds.json
   * (else UNPROCESSABLE, 422, and nothing is stopped); the target's running runners are stopped
   * like `remove`, then one runner starts pinned to the build. Deploys of one target run one
   * after the other.
   */
  async deploy(targetName: string, buildKey: string): Promise<RunnerView & { replaced: string[] }> {
    const target = this.target(targetName);
    this.runOf(target);
    return this.turn(target.name, async () => {
      const doc = await this.deps.servicefs.builds(target.name).read();
      const record = doc.builds.find((b) => b.key === buildKey);
      if (!record) throw errors.unprocessable(`Build ${buildKey} is not in the builds of target "${target.name}" (builds.json); only published good builds can be deployed.`, { build: buildKey });
      if (record.status !== "good") {
        const why = record.reason ? ` (${record.reason})` : "";
        throw errors.unprocessable(`Build ${buildKey} of target "${target.name}" is marked ${record.status}${why}; only good builds can be deployed.`, { build: buildKey });
      }
      const replaced = this.deps.store.list(target.name).filter((r) => r.state === "running").map((r) => r.id);
      for (const id of replaced) await this.remove(id);
      this.deps.logger.info("deploying", { target: target.name, build: buildKey, replaced });
      return { ...(await this.create(target.name, { pin: buildKey })), replaced };
    });
  }

  /** After a good build: a target with autoDeploy gets a runner if it has none (a running one moves by itself). */
  async deployed(targetName: string): Promise<void> {
    const target = findTarget(this.deps.config, targetName);
    if (!target?.run?.autoDeploy) return;
    await this.turn(target.name, async () => {
      if (this.deps.store.list(target.name).some((r) => r.state === "running")) return;
      await this.create(target.name);
    }).catch((error: unknown) => this.deps.logger.error("auto-deploy failed", { target: target.name, error: errorMessage(error) }));
  }

  /** Stops following (the workloads keep running; the next start re-attaches). */
  close(): void {
    this.handles.clear();
  }

  private follow(id: string, handle: WorkloadHandle): void {
    this.handles.set(id, handle);
    handle.wait().then(
      (exit) => {
        if (this.handles.get(id) !== handle) return;
        this.handles.delete(id);
        this.deps.store.finish(id, "exited", exit.exitCode);
        this.deps.logger.info("runner exited", { id, exitCode: exit.exitCode });
      },
      () => undefined,
    );
  }

  private runOf(target: Target): NonNullable<Target["run"]> {
    if (!target.run) throw errors.unprocessable(`Target "${target.name}" has no run command; add run: { command: "… {file}" } to it in cicd.yml.`);
    return target.run;
  }

  /** Runs `work` after the target's previous turn has settled. */
  private turn<T>(target: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(target) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const settled = next.catch(() => undefined);
    this.turns.set(target, settled);
    void settled.then(() => {
      if (this.turns.get(target) === settled) this.turns.delete(target);
    });
    return next;
  }

  private target(name: string): Target {
    const target = findTarget(this.deps.config, name);
    if (!target) throw errors.notFound("target", name);
    return target;
  }

  private async view(record: RunnerRecord): Promise<RunnerView> {
    const state = await readRunnerState(record.stateFile).catch(() => undefined);
    const { stateFile: _hidden, ...rest } = record;
    return {
      ...rest,
      running: record.state === "running",
      build: state?.current?.key ?? null,
      restarts: state?.current?.restarts ?? 0,
      lastExit: state?.lastExit ?? null,
      phase: state?.phase ?? null,
      decisions: state?.decisions ?? [],
      tried: state?.tried ?? [],
      pinned: state?.pin ?? null,
    };
  }
}
