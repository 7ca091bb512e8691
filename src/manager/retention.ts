import { stat, statfs, unlink } from "node:fs/promises";
import path from "node:path";
import type { Config, Target } from "../config/load-config.js";
import { readRunnerState } from "../runner/runner-state.js";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { BuildArtifacts } from "../servicefs/build-artifacts.js";
import type { BuildRecord } from "../servicefs/builds-file.js";
import { folderBytes, removeBuilds } from "../servicefs/remove-builds.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import type { Db } from "../store/open-database.js";
import { RetentionStore, type RetainedBuild } from "../store/retention-store.js";
import type { RunnerStore } from "../store/runner-store.js";
import { isReleaseBuild } from "./publish-build.js";

/** A target's retention, its `keep` over the server's: 0 for `builds` or `days` is no limit. */
export interface KeepPolicy {
  builds: number;
  days: number;
  good: number;
}

/** One build a clean-up removed (or, dry, would remove), and why. */
export interface Removal {
  target: string;
  number: number;
  key: string;
  why: string;
}

/** Bytes a target's data uses on disk (`GET /api/v1/targets`). */
export interface TargetDisk {
  /** Its service file system folder: builds.json and the published artifacts. */
  servicefs: number;
  /** Its builds' logs. */
  logs: number;
  /** Artifacts of its builds kept by key (pull requests). */
  artifacts: number;
  total: number;
  /** When these figures were measured (they are refreshed on the clean-up's schedule). */
  measuredAt: string;
}

export interface RetentionDeps {
  config: Config;
  db: Db;
  servicefs: ServiceFs;
  buildArtifacts: BuildArtifacts;
  runners: RunnerStore;
  logger: Logger;
  now?: () => Date;
}

/** Builds cleaned up per step: each is marked, trimmed, deleted and forgotten before the next. */
const BATCH = 100;
const DAY_MS = 24 * 60 * 60 * 1000;
/** The contract says removed "within a minute"; a run that finds nothing costs a query per target. */
export const RETENTION_EVERY_MS = 30_000;
/** Disk figures are a directory walk: refreshed this often, or at once after a run removed something. */
const USAGE_EVERY_MS = 5 * 60_000;

/** The target's `keep` fields over the server's `keep`. */
export function keepOf(config: Pick<Config, "keep">, target: Pick<Target, "keep">): KeepPolicy {
  return { ...config.keep, ...Object.fromEntries(Object.entries(target.keep ?? {}).filter(([, v]) => v !== undefined)) };
}

/**
 * Retention (`keep`) and the disk report. A target's finished builds past `keep.builds`, or
 * created more than `keep.days` ago, lose their record, log and artifacts — except the newest
 * `keep.good` good builds of builds.json, every build a runner of the target runs or is pinned
 * to, and (never candidates) queued and running builds and builds whose final check run GitHub
 * has not confirmed yet.
 *
 * Crash safety: the database and the service file system never disagree about a build the
 * database still holds unmarked. Each batch goes in this order:
 *  1. its rows are marked (`meta.deleting` = why) in one transaction — the decision is durable;
 *  2. under the target's builds.json lock, their records are removed (one atomic write) and
 *     then their files deleted (the directory fsynced);
 *  3. pull request artifacts kept by key and the logs are deleted;
 *  4. the rows are deleted in one transaction.
 * A crash anywhere leaves the batch's rows marked; every run (and so every start) first
 * finishes marked clean-ups, whose file names the rows still hold. A row never disappears
 * before its files, so nothing is left that no row or record names.
 */
export class Retention {
  private readonly store: RetentionStore;
  private readonly usageByTarget = new Map<string, TargetDisk>();
  private current?: Promise<Removal[]>;
  private timer?: NodeJS.Timeout;
  private usageAt = 0;
  private closed = false;
  private diskWarned = false;
  /** The service file system's disk counts as full past this fraction (the log warns once per crossing). */
  diskFullAt = 0.9;

  constructor(private readonly deps: RetentionDeps) {
    this.store = new RetentionStore(deps.db);
  }

  /**
   * One clean-up: first those a crash interrupted, then each configured target's. With `dryRun`,
   * returns what it would remove and changes nothing. Runs one at a time: a call while one runs
   * gets that run's answer (a dry call waits for it, then looks again).
   */
  async run(options: { dryRun?: boolean } = {}): Promise<Removal[]> {
    while (this.current) {
      const running = this.current;
      if (!options.dryRun) return running;
      await running.catch(() => undefined);
    }
    if (options.dryRun) return this.plan(true);
    const run = this.plan(false).finally(() => {
      this.current = undefined;
    });
    this.current = run;
    return run;
  }

  /** Runs now (soon after start, to finish interrupted clean-ups) and every `everyMs`, on timers that keep nothing alive. */
  start(everyMs = RETENTION_EVERY_MS, firstMs = 1000): void {
    const tick = async () => {
      await this.tick();
      if (this.closed) return;
      this.timer = setTimeout(() => void tick(), everyMs);
      this.timer.unref();
    };
    this.timer = setTimeout(() => void tick(), firstMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a run in progress (call before the database closes). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }

  /** The target's disk use as last measured, or undefined before the first measurement. */
  usage(target: string): TargetDisk | undefined {
    return this.usageByTarget.get(target);
  }

  /** One scheduled step: clean up, measure when due, check the disk. Logs what fails; never throws. */
  async tick(): Promise<void> {
    if (this.closed) return;
    try {
      const removed = await this.run();
      if (removed.length) this.deps.logger.info(`removed ${removed.length} build(s) past their targets' keep`, { builds: removed.length });
      const now = Date.now();
      if (removed.length || now - this.usageAt >= USAGE_EVERY_MS) await this.measure();
      await this.checkDisk();
    } catch (error) {
      // The database closed under a run (the server stops): the next start finishes the marked rows.
      if (this.closed || !this.deps.db.open) return;
      this.deps.logger.warn("build clean-up failed; it is tried again on the next run", { error: errorMessage(error) });
    }
  }

  /** Measures every configured target's disk use now. */
  async measure(): Promise<void> {
    this.usageAt = Date.now();
    for (const target of this.deps.config.targets) {
      const servicefs = await folderBytes(this.deps.servicefs.targetDir(target.name));
      let logs = 0;
      let artifacts = 0;
      for (const build of this.store.logsOf(target.name)) {
        if (build.logPath) logs += await fileBytes(build.logPath);
        artifacts += await folderBytes(path.join(this.deps.buildArtifacts.root, build.key));
      }
      this.usageByTarget.set(target.name, { servicefs, logs, artifacts, total: servicefs + logs + artifacts, measuredAt: new Date(this.usageAt).toISOString() });
    }
  }

  /** Warns once when the service file system's disk goes past `diskFullAt`, and once when it is back under. */
  async checkDisk(): Promise<void> {
    const fs = await statfs(this.deps.config.servicefs).catch(() => statfs(path.dirname(this.deps.config.servicefs))).catch(() => undefined);
    if (!fs || fs.blocks === 0) return;
    // As df counts it: blocks reserved for root are neither used nor available.
    const used = fs.blocks - fs.bfree;
    const fraction = used / (used + fs.bavail);
    const percent = Math.round(fraction * 100);
    if (fraction > this.diskFullAt && !this.diskWarned) {
      this.diskWarned = true;
      this.deps.logger.warn(`the service file system's disk is ${percent}% full; lower keep (builds, days) or free space before builds fail to publish`, { percent });
    } else if (fraction <= this.diskFullAt && this.diskWarned) {
      this.diskWarned = false;
      this.deps.logger.info(`the service file system's disk is back to ${percent}% full`, { percent });
    }
  }

  private async plan(dry: boolean): Promise<Removal[]> {
    const removals: Removal[] = [];
    const marked = this.store.marked();
    for (const [target, builds] of groupBy(marked, (b) => b.target)) {
      await this.forTarget(target, async () => {
        if (!dry) await this.finish(target, builds);
        removals.push(...builds.map((b) => removal(b, b.deleting ?? "clean-up interrupted")));
      });
    }
    const now = (this.deps.now?.() ?? new Date()).getTime();
    for (const target of this.deps.config.targets) {
      const keep = keepOf(this.deps.config, target);
      if (keep.builds === 0 && keep.days === 0) continue;
      const createdBefore = keep.days === 0 ? "" : new Date(now - keep.days * DAY_MS).toISOString();
      const candidates = this.store.candidates(target.name, { builds: keep.builds, createdBefore });
      if (!candidates.length) continue;
      await this.forTarget(target.name, async () => {
        const spared = await this.spared(target, keep);
        const chosen = candidates
          .filter((b) => !spared.has(b.key))
          .map((b) => removal(b, createdBefore && b.createdAt < createdBefore ? `older than keep.days (${keep.days})` : `past keep.builds (${keep.builds})`));
        // Oldest first, so an interrupted run has removed the oldest.
        chosen.reverse();
        if (dry) return void removals.push(...chosen);
        const byKey = new Map(candidates.map((b) => [b.key, b]));
        for (let i = 0; i < chosen.length; i += BATCH) {
          const batch = chosen.slice(i, i + BATCH);
          this.store.mark(batch);
          await this.finish(target.name, batch.map((r) => byKey.get(r.key)!));
          removals.push(...batch);
        }
      });
    }
    return removals;
  }

  /**
   * One target's part of a run: a target whose clean-up fails (builds.json corrupt, a file the
   * server may not delete) is logged and left for the next run; the other targets go on. The
   * database closing under it (the server stops) ends the whole run.
   */
  private async forTarget(target: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (this.closed || !this.deps.db.open) throw error;
      this.deps.logger.warn("build clean-up of a target failed; it is tried again on the next run", { target, error: errorMessage(error) });
    }
  }

  /**
   * The builds of `target` kept whatever the limits say: the newest `good` good builds of
   * builds.json, and each build a runner of the target runs or is pinned to (read from its state
   * file; a runner that has not yet chosen will take the newest good build, so that one too).
   */
  private async spared(target: Target, keep: KeepPolicy): Promise<Set<string>> {
    const records = (await this.deps.servicefs.builds(target.name).read()).builds;
    const good = records.filter((b) => b.status === "good");
    const spared = new Set<string>(keep.good > 0 ? good.slice(-keep.good).map((b) => b.key) : []);
    for (const runner of this.deps.runners.list(target.name)) {
      if (runner.state !== "running") continue;
      const state = await readRunnerState(runner.stateFile).catch(() => undefined);
      if (state?.current?.key) spared.add(state.current.key);
      if (state?.pin) spared.add(state.pin);
      if (!state?.current && !state?.pin) addNewest(spared, good);
    }
    return spared;
  }

  /** Steps 2–4 of a marked batch of one target (see the class). */
  private async finish(target: string, builds: RetainedBuild[]): Promise<void> {
    const published = builds.filter((b) => isReleaseBuild(b));
    await removeBuilds(this.deps.servicefs, target, published.map((b) => ({ key: b.key, alsoFiles: b.artifacts })));
    for (const b of builds) {
      if (!isReleaseBuild(b)) await this.deps.buildArtifacts.remove(b.key);
      if (b.logPath) await Promise.all([b.logPath, `${b.logPath}.tail-0`, `${b.logPath}.tail-1`].map(unlinkIfThere));
    }
    this.store.remove(builds.map((b) => b.key));
  }
}

function removal(b: RetainedBuild, why: string): Removal {
  return { target: b.target, number: b.number, key: b.key, why };
}

function addNewest(spared: Set<string>, good: BuildRecord[]): void {
  const newest = good.at(-1);
  if (newest) spared.add(newest.key);
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

async function fileBytes(file: string): Promise<number> {
  return stat(file).then((s) => s.size, () => 0);
}

async function unlinkIfThere(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
