import { EventEmitter } from "node:events";
import path from "node:path";
import type { Readable } from "node:stream";
import { findTarget, type Config } from "../config/load-config.js";
import type { Executor } from "../executor/types.js";
import { newBuildKey } from "../shared/build-key.js";
import { errors } from "../shared/errors.js";
import { endedAs } from "../shared/outcome.js";
import { branchOf, supersededBy, type SupersedeMode } from "./supersede.js";
import type { Logger } from "../shared/logger.js";
import type { BuilderEvent } from "../shared/protocol.js";
import { ServiceFs } from "../servicefs/service-fs.js";
import { BuildArtifacts } from "../servicefs/build-artifacts.js";
import type { BuildPatch, BuildStore, NewBuild } from "../store/build-store.js";
import { newBuildFor } from "../store/build-row.js";
import { CheckOutbox } from "../store/check-outbox.js";
import type { Db } from "../store/open-database.js";
import { ArtifactInbox, type ReceivedFile } from "./artifact-inbox.js";
import { BuilderCallbacks } from "./builder-callbacks.js";
import { BuildLogs } from "./build-logs.js";
import { DispatchSlots, type SlotWork } from "./dispatch-slots.js";
import { GroupCommit } from "./group-commit.js";
import { BuilderPool } from "./builder-pool.js";
import { recover } from "./recover.js";
import { dispatchBuild, resumeBuild, type BuildControl, type DispatchDeps, type StopReason } from "./dispatch-build.js";
import {
  FINAL_STATUSES,
  type Build,
  type BuildEvent,
  type BuildFilter,
  type BuildService,
  type BuildStatus,
  type CloneTokenProvider,
  type TriggerRequest,
} from "./types.js";

export interface ManagerOptions {
  config: Config;
  store: BuildStore;
  /** The database under `store`: the check-run outbox works on it (store/check-outbox.ts). */
  db: Db;
  executor: Executor;
  logger: Logger;
  /**
   * The server's data folder: build logs in `logs/`, caches kept between builds in `cache/`,
   * builders' uploads waiting in `incoming/`, and artifacts of builds that are not published to
   * builds.json (pull requests) kept by key in `artifacts/`.
   */
  dataDir: string;
  /** URL builders POST their events to; known once the HTTP server listens. */
  callbackUrl: () => string;
  cloneToken?: CloneTokenProvider;
  /** Why the server cannot take new builds now (e.g. its database file was replaced), or undefined. */
  available?: () => string | undefined;
}

interface Running {
  controller: AbortController;
  reason?: StopReason;
}

/**
 * The build service over the durable queue in SQLite. Every change is written to the store
 * before it is acted on, so a restart finds the same queue. The queue stays there: when a slot
 * is free, the next build is read from its front (dispatch-slots.ts), so memory and start time
 * do not grow with its length. Dispatch of one build is in dispatch-build.ts; this class owns
 * ordering, cancel, timeouts and shutdown.
 */
export class Manager implements BuildService {
  readonly callbacks = new BuilderCallbacks();
  readonly logs: BuildLogs;
  readonly servicefs: ServiceFs;
  /** Artifacts of builds kept by key, outside builds.json (pull requests). */
  readonly buildArtifacts: BuildArtifacts;
  private readonly inbox: ArtifactInbox;
  private readonly slots: DispatchSlots;
  private readonly events = new EventEmitter();
  /** Builds holding a slot (being dispatched, running, or re-attached after a restart). */
  private readonly running = new Map<string, Running>();
  /** Queued builds waiting out a retry's delay: the front of the queue skips them until then. */
  private readonly delayed = new Set<string>();
  private readonly deps: DispatchDeps;
  private readonly pool: BuilderPool;
  private readonly cleanups = new Set<Promise<void>>();
  /** Triggers that arrive together are written to SQLite in one transaction. */
  private readonly inserts: GroupCommit<NewBuild, { build: Build; duplicate: boolean }>;
  private readonly outbox: CheckOutbox;
  private stopping = false;
  /** False until the builds of the last run are recovered (see unknownBuilder). */
  private recovered = false;

  constructor(private readonly options: ManagerOptions) {
    this.events.setMaxListeners(0);
    this.logs = new BuildLogs(path.join(options.dataDir, "logs"), { logLimit: options.config.logLimit });
    this.servicefs = new ServiceFs(options.config.servicefs);
    this.buildArtifacts = new BuildArtifacts(path.join(options.dataDir, "artifacts"));
    this.inbox = new ArtifactInbox(path.join(options.dataDir, "incoming"));
    this.slots = new DispatchSlots(options.config.concurrency, () => this.nextQueued());
    this.inserts = new GroupCommit((builds) => options.store.insertQueuedAll(builds));
    this.outbox = new CheckOutbox(options.db);
    this.pool = new BuilderPool({ ...options, callbacks: this.callbacks, servicefs: this.servicefs, cacheDir: path.join(options.dataDir, "cache") });
    this.deps = {
      pool: this.pool,
      afterBuild: (work) => {
        this.cleanups.add(work);
        void work.catch((error: unknown) => options.logger.warn("clean-up after a build failed", { error: String(error) })).finally(() => this.cleanups.delete(work));
      },
      ...options,
      callbacks: this.callbacks,
      logs: this.logs,
      servicefs: this.servicefs,
      inbox: this.inbox,
      buildArtifacts: this.buildArtifacts,
      change: (key, patch, how) => this.change(key, patch, how),
      retry: (key, patch, delayMs) => {
        this.change(key, patch, "requeue-back");
        this.delayed.add(key);
        setTimeout(() => {
          this.delayed.delete(key);
          this.slots.fill();
        }, delayMs).unref();
      },
      // Its own slot is still held: the key is taken again once that slot frees.
      requeueFront: (key) => void this.change(key, {}, "requeue-front"),
    };
  }

  /** Recovers builds interrupted by a restart, rebuilds the queue from SQLite, starts work. */
  async start(): Promise<void> {
    const resumed = await recover({ ...this.deps, maxAttempts: this.options.config.maxAttempts, requeue: (key, patch) => this.change(key, patch, "requeue-back") });
    for (const r of resumed) {
      const work = this.take(r.build.key, (control) => resumeBuild(this.deps, r.build, r.handle, r.builderId, control));
      // Never started (shut down first): it holds no slot, and the next start re-attaches it.
      this.slots.first(work, () => this.running.delete(r.build.key));
    }
    this.recovered = true;
    this.slots.start();
    this.warmUp();
  }

  /**
   * A builder unknown to the callbacks is refused for good (401), except while the builds of
   * the last run are being recovered: the server listens before that ends, and a builder that
   * outlived the restart may call before it is re-attached. It gets 503 then, and tries again.
   */
  private unknownBuilder(): Error {
    return this.recovered ? errors.unauthorized() : errors.unavailable("The server has just restarted and is recovering its builds; try again shortly.");
  }

  /** Throws (401, or 503 while recovering) unless `token` is that builder's. */
  assertBuilder(builderId: string, token: string): void {
    if (!this.callbacks.knows(builderId, token)) throw this.unknownBuilder();
  }

  async trigger(request: TriggerRequest): Promise<{ build: Build; duplicate: boolean }> {
    if (this.stopping) throw errors.conflict("The server is shutting down and takes no new builds; try again shortly.");
    const unavailable = this.options.available?.();
    if (unavailable) throw errors.unavailable(unavailable);
    const target = findTarget(this.options.config, request.target);
    if (!target) throw errors.notFound("target", request.target);
    const reserved = this.options.config.warmBuilders ? this.pool.takeReservedKey(target.name) : undefined;
    const key = reserved ?? newBuildKey();
    const result = await this.inserts.add(newBuildFor({ ...request, target: target.name }, { key, logPath: this.logs.path(key), createdAt: new Date().toISOString(), repository: target.repository }));
    // A batch-mate committed in the same transaction may already have superseded this build:
    // then its `cancelled` was told, and its `queued` must not come after it.
    const current = result.duplicate ? undefined : this.options.store.get(result.build.key);
    if (current && current.status !== "queued") return { build: current, duplicate: false };
    if (!result.duplicate) {
      this.emit(result.build, null);
      this.supersedeOlder(result.build, target.supersede);
      this.slots.fill();
      if (this.options.config.warmBuilders) this.pool.reserve(target);
    } else if (reserved) {
      void this.pool.discard(reserved);
    }
    this.warmUp();
    return result;
  }

  get(key: string): Build | undefined {
    return this.options.store.get(key);
  }

  /** The builds waiting in the queue, in the order they will run (at most `limit`). */
  queued(limit = 500): Build[] {
    return this.options.store.queueFront(limit).map((e) => this.get(e.key)).filter((b): b is Build => b !== undefined);
  }

  /** The build of `target` with this number, or undefined. */
  byNumber(target: string, number: number): Build | undefined {
    return this.options.store.byNumber(target, number);
  }

  list(filter?: BuildFilter): Build[] {
    return this.options.store.list(filter);
  }

  async cancel(key: string): Promise<Build> {
    const build = this.get(key);
    if (!build) throw errors.notFound("build", key);
    if (FINAL_STATUSES.includes(build.status)) throw errors.conflict(`Build ${key} already finished (${build.status}); nothing to cancel.`, { status: build.status });
    const running = this.running.get(key);
    if (running) {
      running.reason = "cancelled";
      running.controller.abort();
      await this.waitFor(key, (b) => FINAL_STATUSES.includes(b.status), 30_000);
      return this.get(key)!;
    }
    void this.pool.discard(key);
    return this.change(key, { ...endedAs("cancelled"), reason: "cancelled before it started" }, "dequeue");
  }

  setMeta(key: string, patch: Record<string, unknown>): void {
    this.options.store.setMeta(key, patch);
  }

  markReported(key: string, status: BuildStatus): void {
    this.outbox.markReported(key, status);
  }

  unreported(): Build[] {
    return this.outbox.unreported();
  }

  logPath(key: string): string {
    return this.logs.path(key);
  }

  onChange(listener: (event: BuildEvent) => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }

  onLog(key: string, listener: (chunk: string) => void, onEnd?: () => void): () => void {
    return this.logs.onLog(key, listener, onEnd);
  }

  /**
   * A builder broadcast arrived over HTTP. Throws UNAUTHORIZED when the token is not that
   * builder's (UNAVAILABLE while recovering, see unknownBuilder).
   */
  receiveBuilderEvent(token: string, event: BuilderEvent): void {
    // Status changes come from dispatch (dispatch-build.ts), which waits for these events.
    if (!this.callbacks.receive(token, event)) throw this.unknownBuilder();
  }

  /**
   * A builder sends one artifact of its build (`PUT /internal/builders/:id/artifacts/:index`).
   * Throws UNAUTHORIZED when the token is not that builder's (UNAVAILABLE while recovering);
   * UNPROCESSABLE when the body does not match its checksum.
   */
  async receiveArtifact(token: string, builderId: string, upload: { index: number; name: string; sha256: string; size?: number }, body: Readable): Promise<ReceivedFile> {
    const key = this.callbacks.keyOf(builderId, token);
    if (!key) throw this.unknownBuilder();
    return this.inbox.receive(key, upload.index, upload.name, upload.sha256, body, upload.size);
  }

  /** Resolves when the build satisfies `done` (or rejects after `timeoutMs`). */
  waitFor(key: string, done: (build: Build) => boolean, timeoutMs = 600_000): Promise<Build> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const build = this.get(key);
        if (build && done(build)) {
          cleanup();
          resolve(build);
        }
      };
      const off = this.onChange((e) => e.build.key === key && check());
      const timer = setTimeout(() => (cleanup(), reject(errors.timedOut(`waiting for build ${key}`, timeoutMs))), timeoutMs);
      const cleanup = () => (off(), clearTimeout(timer));
      check();
    });
  }

  /**
   * Stops taking work and lets running builds finish for up to `graceMs`; then interrupts them
   * without changing their status, so the next start re-attaches or retries them. The queue
   * stays in SQLite either way.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    // Triggers already accepted are written now, before the caller closes the database.
    this.inserts.flush();
    this.slots.pause();
    const pool = this.pool.close();
    const idle = Promise.all([...this.running.keys()].map((key) => this.waitFor(key, (b) => FINAL_STATUSES.includes(b.status), graceMs).catch(() => undefined)));
    await Promise.race([idle, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.interruptAll();
    await Promise.race([Promise.allSettled([pool, ...this.cleanups]), new Promise((r) => setTimeout(r, Math.max(graceMs, 5_000)).unref())]);
  }

  /** Second signal: stop at once. */
  interruptAll(): void {
    for (const r of this.running.values()) {
      r.reason ??= "shutdown";
      r.controller.abort();
    }
  }

  /** Builds waiting (not yet taken by a slot) and builds holding a slot. */
  get stats(): { queued: number; running: number } {
    const store = this.options.store;
    // A build being dispatched is still in the queue until its builder accepts it.
    let taken = 0;
    for (const key of this.running.keys()) if (store.get(key)?.status === "queued") taken++;
    return { queued: Math.max(0, store.queueLength() - taken), running: this.running.size };
  }

  /**
   * A newer trigger of a branch or pull request cancels the builds it makes pointless (see
   * supersede.ts): queued ones at once, running ones (`supersede: running`) through their
   * dispatch, which ends them as it ends a cancelled build. Each says which build took its place.
   */
  private supersedeOlder(newer: Build, mode: SupersedeMode): void {
    const branch = branchOf(newer.ref);
    const on = newer.pullRequest !== null ? { pullRequest: newer.pullRequest } : branch !== undefined ? { branch } : undefined;
    if (!on || mode === false) return;
    const { queued, running } = supersededBy(newer, this.options.store.activeOf(newer.target, on), mode);
    const reason = `superseded by ${newer.key}`;
    for (const key of queued) {
      // Still queued in the store but already being dispatched: its dispatch ends it.
      if (this.running.has(key)) {
        running.push(key);
        continue;
      }
      void this.pool.discard(key);
      // One commit for both: a burst of pushes to one branch supersedes at the rate they come.
      this.change(key, { ...endedAs("superseded"), reason }, "dequeue", { supersededBy: newer.key });
    }
    for (const key of running) {
      const entry = this.running.get(key);
      if (!entry) continue;
      this.options.store.setMeta(key, { supersededBy: newer.key });
      entry.reason = "superseded";
      entry.controller.abort();
    }
  }

  /** Builders for the next builds in the queue start now, while earlier builds still run. */
  private warmUp(): void {
    if (!this.options.config.warmBuilders || this.stopping) return;
    this.pool.prestart(this.options.store.queueFront(this.pool.capacity + this.running.size));
  }

  /**
   * The first build of the queue that no slot holds and that waits out no retry delay, taken
   * (see take()); undefined when there is none. Those skipped are at most the builds holding a
   * slot plus those delayed, so that many more entries of the front always suffice.
   */
  private nextQueued(): SlotWork | undefined {
    if (this.stopping) return undefined;
    const front = this.options.store.queueFront(this.running.size + this.delayed.size + 1);
    const entry = front.find((e) => !this.running.has(e.key) && !this.delayed.has(e.key));
    return entry && this.take(entry.key, (control) => dispatchBuild(this.deps, entry.key, control));
  }

  /** Marks `key` as holding a slot now, and returns the work that runs it under its timeout. */
  private take(key: string, work: (control: BuildControl) => Promise<void>): SlotWork {
    const entry: Running = { controller: new AbortController() };
    this.running.set(key, entry);
    return async () => {
      const control: BuildControl = { signal: entry.controller.signal, reason: () => entry.reason };
      const build = this.get(key);
      const target = build && findTarget(this.options.config, build.target);
      this.warmUp();
      const timer = setTimeout(() => {
        entry.reason ??= "timeout";
        entry.controller.abort();
      }, target?.timeoutMs ?? 30 * 60_000);
      timer.unref();
      try {
        await work(control);
      } catch (error) {
        this.options.logger.error("build work failed", { key, error: String(error) });
      } finally {
        clearTimeout(timer);
        this.running.delete(key);
      }
    };
  }

  private change(key: string, patch: BuildPatch, how: "update" | "dequeue" | "requeue-front" | "requeue-back" = "update", meta?: Record<string, unknown>): Build {
    const store = this.options.store;
    const previous = store.get(key)?.status ?? null;
    const build =
      how === "dequeue" ? store.dequeue(key, patch, meta)
      : how === "requeue-front" ? store.requeue(key, "front", patch)
      : how === "requeue-back" ? store.requeue(key, "back", patch)
      : store.update(key, patch);
    if (build.status !== previous || FINAL_STATUSES.includes(build.status)) this.emit(build, previous);
    return build;
  }

  private emit(build: Build, previous: BuildStatus | null): void {
    this.options.logger.info(`build ${build.status}`, { key: build.key, target: build.target, reason: build.reason ?? undefined });
    this.events.emit("change", { build, previous } satisfies BuildEvent);
  }
}
