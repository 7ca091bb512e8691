import type { Build, BuildListQuery as BuildFilter, BuildStatus } from "../shared/api/builds.js";
import type Database from "better-sqlite3";
import { newBuildOf, toBuild, type NewBuild, type Row } from "./build-row.js";
import type { Db } from "./open-database.js";
import type { CommandResult } from "../shared/protocol.js";
import type { Outcome } from "../shared/outcome.js";

export type { NewBuild } from "./build-row.js";

/** A build waiting in the queue, as dispatch needs it. */
export interface QueueEntry {
  readonly key: string;
  readonly target: string;
  readonly untrusted: boolean;
}


/** Fields a dispatch or a builder event may change. */
export interface BuildPatch {
  status?: BuildStatus;
  commit?: string | null;
  attempts?: number;
  startedAt?: string | null;
  finishedAt?: string | null;
  exitCode?: number | null;
  reason?: string | null;
  artifacts?: string[];
  sizes?: Record<string, number>;
  commands?: CommandResult[];
  /** Set with the final status: how the build ended (shared/outcome.ts). */
  outcome?: Outcome | null;
}

const columnOf: Record<keyof BuildPatch, keyof Row> = {
  status: "status",
  commit: "commit_sha",
  attempts: "attempts",
  startedAt: "started_at",
  finishedAt: "finished_at",
  exitCode: "exit_code",
  reason: "reason",
  artifacts: "artifacts",
  sizes: "sizes",
  commands: "commands",
  outcome: "outcome",
};

/**
 * How long a webhook's content (TriggerRequest.replayKey) queues nothing again. A captured signed
 * push or pull_request delivery re-sent under new delivery ids is the same bytes, so its
 * signature holds; within this hour it finds the build it queued the first time and queues
 * nothing. A real event with the same content within the hour has nothing new to build either
 * (the same commit of the same ref or pull request); a person who wants it built again re-runs
 * it or uses `/build` or the REST API, which carry no replay key. An hour covers GitHub's own
 * redeliveries and a replay that follows the capture; older replays are beyond what one window
 * can stop without refusing real pushes of a commit that returned to a branch.
 */
export const REPLAY_WINDOW_MS = 60 * 60 * 1000;

/**
 * Builds and the durable queue in SQLite. Every method is one transaction, so a crash between
 * any two calls leaves a consistent state: a build is in the queue table exactly while it waits
 * for a builder to accept it.
 */
export class BuildStore {
  private readonly stmt;
  /** Statements built from a patch's or filter's shape, compiled once per shape. */
  private readonly dynamic = new Map<string, Database.Statement<unknown[]>>();
  /**
   * The front of the queue as last read, kept while no write can have changed it: the manager
   * asks for it on every trigger and dispatch, and a burst only appends behind it.
   */
  private front?: { limit: number; entries: QueueEntry[] };
  /** How many builds the queue holds, kept up to date by this store's writes once counted. */
  private length?: number;
  /** One transaction wrapper for every method: making one per call costs as much as a statement. */
  private readonly transaction: (work: () => unknown) => unknown;

  constructor(private readonly db: Db) {
    this.transaction = db.transaction((work: () => unknown) => work());
    this.stmt = {
      get: db.prepare<[string], Row>("SELECT * FROM builds WHERE key = ?"),
      byDelivery: db.prepare<[string, string, string], Row>(
        "SELECT * FROM builds WHERE target = ? AND delivery_id = ? AND IFNULL(sha, IFNULL(ref, '')) = ?",
      ),
      byReplay: db.prepare<[string, string, string], Row>(
        "SELECT * FROM builds WHERE replay_key = ? AND created_at >= ? AND target = ? ORDER BY created_at DESC LIMIT 1",
      ),
      nextSeq: db.prepare<[], { seq: number }>("SELECT IFNULL(MAX(seq), 0) + 1 AS seq FROM builds"),
      nextNumber: db.prepare<[string], { last: number }>(
        "INSERT INTO target_numbers (target, last) VALUES (?, 1) ON CONFLICT (target) DO UPDATE SET last = last + 1 RETURNING last",
      ),
      byNumber: db.prepare<[string, number], Row>("SELECT * FROM builds WHERE target = ? AND number = ?"),
      // INDEXED BY: left to itself, SQLite walks builds_by_target to save the sort, which reads
      // every build the target ever had (measured: a third of a webhook's CPU after 2,000 pushes).
      activeByRef: db.prepare<[string, string, string], Row>(
        "SELECT * FROM builds INDEXED BY builds_active_by_ref WHERE target = ? AND ref IN (?, ?) AND status IN ('queued', 'running') ORDER BY seq",
      ),
      activeByPull: db.prepare<[string, number], Row>(
        "SELECT * FROM builds INDEXED BY builds_active_by_pull WHERE target = ? AND pull_request = ? AND status IN ('queued', 'running') ORDER BY seq",
      ),
      insert: db.prepare(
        `INSERT INTO builds (key, seq, number, target, status, ref, sha, trigger, delivery_id, replay_key, created_at, repository,
           installation_id, pull_request, untrusted, meta, log_path)
         VALUES (@key, @seq, @number, @target, 'queued', @ref, @sha, @trigger, @deliveryId, @replayKey, @createdAt, @repository,
           @installationId, @pullRequest, @untrusted, @meta, @logPath)`,
      ),
      back: db.prepare<[], { p: number }>("SELECT IFNULL(MAX(position), 0) + 1 AS p FROM queue"),
      frontPosition: db.prepare<[], { p: number }>("SELECT IFNULL(MIN(position), 1) - 1 AS p FROM queue"),
      enqueue: db.prepare<[string, number]>("INSERT OR REPLACE INTO queue (key, position) VALUES (?, ?)"),
      dequeue: db.prepare<[string]>("DELETE FROM queue WHERE key = ?"),
      queueLength: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM queue"),
      front: db.prepare<[number], { key: string; target: string; untrusted: number }>(
        "SELECT q.key, b.target, b.untrusted FROM queue q JOIN builds b ON b.key = q.key ORDER BY q.position LIMIT ?",
      ),
      setMeta: db.prepare<[string, string]>("UPDATE builds SET meta = ? WHERE key = ?"),
      setBuilder: db.prepare<[string | null, string | null, string]>(
        "UPDATE builds SET builder_id = ?, builder_token_hash = ? WHERE key = ?",
      ),
      running: db.prepare<[], Row>("SELECT * FROM builds INDEXED BY builds_running WHERE status = 'running' ORDER BY seq"),
    };
  }

  /**
   * Inserts a queued build at the back of the queue. With a delivery id already seen for the
   * same target and commit, or a replay key (the event's content) of a build of the same target
   * created within REPLAY_WINDOW_MS before this one, inserts nothing and returns the existing build.
   */
  insertQueued(build: NewBuild): { build: Build; duplicate: boolean } {
    return this.atomically(() => this.insertOne(build));
  }

  /** insertQueued for several builds, in order, in one transaction (all or none). */
  insertQueuedAll(builds: NewBuild[]): { build: Build; duplicate: boolean }[] {
    return this.atomically(() => builds.map((b) => this.insertOne(b)));
  }

  private insertOne(build: NewBuild): { build: Build; duplicate: boolean } {
    // Appended behind a full cached front, the new build cannot change it.
    if (this.front && this.front.entries.length < this.front.limit) this.front = undefined;
    if (build.deliveryId) {
      const existing = this.stmt.byDelivery.get(build.target, build.deliveryId, build.sha ?? build.ref ?? "");
      if (existing) return { build: toBuild(existing), duplicate: true };
    }
    if (build.replayKey) {
      const since = new Date(Date.parse(build.createdAt) - REPLAY_WINDOW_MS).toISOString();
      const existing = this.stmt.byReplay.get(build.replayKey, since, build.target);
      if (existing) return { build: toBuild(existing), duplicate: true };
    }
    const seq = this.stmt.nextSeq.get()!.seq;
    const number = this.stmt.nextNumber.get(build.target)!.last;
    const meta = JSON.stringify(build.meta);
    this.stmt.insert.run({ ...build, replayKey: build.replayKey ?? null, seq, number, untrusted: build.untrusted ? 1 : 0, meta });
    this.stmt.enqueue.run(build.key, this.stmt.back.get()!.p);
    if (this.length !== undefined) this.length++;
    // The row is what was written plus the columns' defaults: no need to read it back.
    return { build: newBuildOf({ ...build, number }, meta), duplicate: false };
  }

  get(key: string): Build | undefined {
    const row = this.stmt.get.get(key);
    return row && toBuild(row);
  }

  /**
   * The queued and running builds of `target` on one branch (`branch` as `main`; refs stored as
   * `main` or `refs/heads/main` both count) or of one pull request, oldest first.
   */
  activeOf(target: string, on: { branch: string } | { pullRequest: number }): Build[] {
    const rows = "branch" in on ? this.stmt.activeByRef.all(target, on.branch, `refs/heads/${on.branch}`) : this.stmt.activeByPull.all(target, on.pullRequest);
    return rows.map(toBuild);
  }

  /** The build of `target` with this number (numbers count a target's builds from 1). */
  byNumber(target: string, number: number): Build | undefined {
    const row = this.stmt.byNumber.get(target, number);
    return row && toBuild(row);
  }

  /** Newest first. */
  list(filter: BuildFilter = {}): Build[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.target) {
      where.push("target = ?");
      args.push(filter.target);
    }
    if (filter.status) {
      where.push("status = ?");
      args.push(filter.status);
    }
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const sql = `SELECT * FROM builds ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ${limit}`;
    return (this.prepared(sql).all(...args) as Row[]).map(toBuild);
  }

  /**
   * How many builds wait in the queue. Counted once, then kept by this store's writes (the one
   * writer of its database): the server's health and metrics ask for it all the time, and a
   * count of 100,000 entries costs milliseconds.
   */
  queueLength(): number {
    this.length ??= this.stmt.queueLength.get()!.n;
    return this.length;
  }

  /** The first `limit` builds of the queue, front first. */
  queueFront(limit: number): QueueEntry[] {
    const cached = this.front;
    // A cached front shorter than its limit is the whole queue.
    if (cached && (limit <= cached.limit || cached.entries.length < cached.limit)) return cached.entries.slice(0, limit);
    const entries = this.stmt.front.all(limit).map((r) => Object.freeze({ key: r.key, target: r.target, untrusted: r.untrusted === 1 }));
    this.front = { limit, entries };
    return entries.slice();
  }

  /** Builds that are running (for recovery after a restart), oldest first; the queue is not read. */
  running(): Build[] {
    return this.stmt.running.all().map(toBuild);
  }

  /** Puts a build back at the front (busy builder) or the back (retry) of the queue as `queued`. */
  requeue(key: string, where: "front" | "back", patch: BuildPatch = {}): Build {
    this.front = undefined;
    // Already in the queue or not: counted again when next asked.
    this.length = undefined;
    return this.atomically(() => {
      this.patchRow(key, { ...patch, status: "queued" });
      this.stmt.enqueue.run(key, (where === "front" ? this.stmt.frontPosition : this.stmt.back).get()!.p);
      return this.get(key)!;
    });
  }

  /** Takes the build out of the queue and patches it; `meta` is merged into its meta in the same commit. */
  dequeue(key: string, patch: BuildPatch = {}, meta?: Record<string, unknown>): Build {
    this.front = undefined;
    return this.atomically(() => {
      if (this.stmt.dequeue.run(key).changes && this.length !== undefined) this.length--;
      if (meta) this.mergeMeta(key, meta);
      this.patchRow(key, patch);
      return this.get(key)!;
    });
  }

  update(key: string, patch: BuildPatch): Build {
    this.patchRow(key, patch);
    return this.get(key)!;
  }

  setMeta(key: string, patch: Record<string, unknown>): void {
    this.atomically(() => this.mergeMeta(key, patch));
  }

  private mergeMeta(key: string, patch: Record<string, unknown>): void {
    const row = this.stmt.get.get(key);
    if (row) this.stmt.setMeta.run(JSON.stringify({ ...JSON.parse(row.meta), ...patch }), key);
  }

  /** Records which builder serves the build and the hash of its callback token. */
  setBuilder(key: string, builderId: string | null, tokenHash: string | null): void {
    this.stmt.setBuilder.run(builderId, tokenHash, key);
  }

  builderOf(key: string): { builderId: string | null; tokenHash: string | null } {
    const row = this.stmt.get.get(key);
    return { builderId: row?.builder_id ?? null, tokenHash: row?.builder_token_hash ?? null };
  }

  private patchRow(key: string, patch: BuildPatch): void {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [keyof BuildPatch, unknown][];
    if (!entries.length) return;
    const sets = entries.map(([k]) => `${columnOf[k]} = ?`).join(", ");
    const values = entries.map(([, v]) => (v !== null && typeof v === "object" ? JSON.stringify(v) : (v as string | number | null)));
    this.prepared(`UPDATE builds SET ${sets} WHERE key = ?`).run(...values, key);
  }

  private atomically<T>(work: () => T): T {
    try {
      return this.transaction(work) as T;
    } catch (error) {
      // Rolled back: what was kept of the queue may not hold any more.
      this.front = undefined;
      this.length = undefined;
      throw error;
    }
  }

  private prepared(sql: string): Database.Statement<unknown[]> {
    let statement = this.dynamic.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[]>(sql);
      this.dynamic.set(sql, statement);
    }
    return statement;
  }
}
