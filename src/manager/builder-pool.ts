import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { findTarget, type Config, type Target } from "../config/load-config.js";
import type { Executor, ExitInfo, Mount, WorkloadHandle, WorkloadSpec } from "../executor/types.js";
import { newBuildKey } from "../shared/build-key.js";
import { errorMessage } from "../shared/errors.js";
import { mirrorKey } from "../shared/git-url.js";
import { discardLogger, type Logger } from "../shared/logger.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import { hashToken, newToken, type BuilderCallbacks } from "./builder-callbacks.js";
import { sourceMounts } from "./build-request.js";
import { refusesUntrusted } from "./dispatch-build.js";

/** Output a builder wrote before its build was handed to it (start-up lines); capped. */
const EARLY_OUTPUT_LIMIT = 64 * 1024;

/** A started builder workload, waiting for (or serving) one build; a reusable one, one after another. */
export interface PooledBuilder {
  /** The build it serves now (a reused builder's changes with each build). */
  key: string;
  target: string;
  builderId: string;
  token: string;
  handle: WorkloadHandle;
  /**
   * The workload's exit, read once for the builder's whole life (a reused builder serves many
   * builds, and each wait is a request held open at the engine). Rejects when the engine cannot
   * tell it.
   */
  exit: Promise<ExitInfo>;
  /** Started ahead of its build (warm), rather than when the build was dispatched. */
  warm: boolean;
  /**
   * Has the target's caches and git mirror. Untrusted builds (fork pull requests) get builders
   * without them, and with their network cut off from the host and private addresses, so they
   * can neither poison a cache for later builds nor reach the manager or the host's services.
   */
  trusted: boolean;
  /** Sends the output so far, then all further output, to `sink`; resolves when output ends. */
  pipe(sink: (chunk: string) => void): Promise<void>;
  /** True once the workload has exited (a warm builder that died is never handed a build). */
  exited(): boolean;
  /** Builds it may serve in all (the target's `reuse`; 1 for a builder that ends after its build). */
  reuse: number;
  /** Builds handed to it so far. */
  served: number;
}

export interface PoolDeps {
  config: Config;
  executor: Executor;
  callbacks: BuilderCallbacks;
  servicefs: ServiceFs;
  logger: Logger;
  callbackUrl: () => string;
  /** Folder for caches kept between builds (per-target dependency caches). */
  cacheDir: string;
  /** Told each time a build gets its builder: warm (started ahead, a hit) or started now (a miss). Metrics. */
  onAcquire?: (target: string, warm: boolean) => void;
}

/**
 * Starts builder workloads, and starts them ahead of time so a build does not wait for a
 * container to boot. Every builder belongs to one build key from the moment it starts (its
 * `cicd.build` label), and serves that one build only:
 *  - prestart: the next queued builds get their builder while earlier builds still run, so a
 *    freed slot starts work at once;
 *  - reserve: each target that built recently keeps up to `concurrency` builders, each for a key
 *    not yet used; the next triggers of that target take those keys, so the first builds of a
 *    burst all start warm.
 * Builders waiting ahead are capped at twice `concurrency` in all (see `capacity`); a queued
 * build's builder goes before a reserved one, which is given up to make room.
 * A warm builder that died or went stale is simply dropped: dispatch then starts one cold, and
 * the build is never lost.
 */
export class BuilderPool {
  private readonly byKey = new Map<string, PooledBuilder>();
  private readonly starting = new Map<string, Promise<PooledBuilder | undefined>>();
  /** Per target, the reserved keys (oldest first); each has a builder starting or waiting. */
  private readonly reserved = new Map<string, string[]>();
  /** Keys whose builder is being removed: no longer counted as waiting. */
  private readonly discarding = new Set<string>();
  /** Keys whose build is being dispatched: they have their builder; never prestart them again. */
  private readonly taken = new Set<string>();
  private closed = false;
  /** Told when the pool closes, so no builder on its way back holds shutdown up (keepWhen). */
  private readonly onClose = new Set<() => void>();
  /** Container creations in flight (their image is ready): close waits for these. */
  private readonly launching = new Set<Promise<void>>();
  /** Per target, reusable builders between two builds (trusted builds only), each with its idle timer. */
  private readonly idle = new Map<string, { builder: PooledBuilder; timer: NodeJS.Timeout }[]>();
  /** Per target, reusable builders between their build's end and their `ready` again (keepWhen). */
  private readonly returning = new Map<string, Set<Promise<void>>>();

  constructor(private readonly deps: PoolDeps) {}

  /** A key reserved for the next build of `target` (its builder is already warm), or undefined. */
  takeReservedKey(target: string): string | undefined {
    const keys = this.reserved.get(target) ?? [];
    for (let key = keys.shift(); key !== undefined; key = keys.shift()) {
      if (!this.byKey.get(key)?.exited()) return key;
      void this.discard(key);
    }
    return undefined;
  }

  /** Keeps up to `concurrency` warm builders, under fresh keys, for the next triggers of `target`. */
  reserve(target: Target, idleMs = 10 * 60_000): void {
    // Builders that serve several builds wait between builds themselves (keep()).
    if (this.reusable(target, true)) return;
    const keys = this.reserved.get(target.name) ?? [];
    this.reserved.set(target.name, keys);
    while (!this.closed && keys.length < this.deps.config.concurrency && this.waiting() < this.capacity) {
      const key = newBuildKey();
      keys.push(key);
      void this.startFor(key, target, true, true);
      // A target that stopped building does not keep containers forever.
      setTimeout(() => {
        const at = keys.indexOf(key);
        if (at < 0) return;
        keys.splice(at, 1);
        void this.discard(key);
      }, idleMs).unref();
    }
  }

  /** Starts builders for these queued builds (front of the queue first) if they have none. */
  prestart(builds: { key: string; target: string; untrusted: boolean }[]): void {
    for (const b of builds) {
      if (this.closed || this.byKey.has(b.key) || this.starting.has(b.key) || this.taken.has(b.key)) continue;
      const target = findTarget(this.deps.config, b.target);
      // A build that dispatch will refuse (untrusted, not isolated) gets no builder, nor does one
      // whose builder comes back from its last build (reuse): neither may give up a reserved one.
      if (!target || this.reusable(target, !b.untrusted)) continue;
      if (b.untrusted && refusesUntrusted(this.deps.config, this.deps.executor)) continue;
      if (this.waiting() >= this.capacity && !this.giveUpReserved()) return;
      void this.startFor(b.key, target, true, !b.untrusted);
    }
  }

  /** Removes the newest reserved builder to make room for a queued build's; false if none. */
  private giveUpReserved(): boolean {
    for (const keys of this.reserved.values()) {
      const key = keys.pop();
      if (key !== undefined) {
        void this.discard(key);
        return true;
      }
    }
    return false;
  }

  /**
   * The builder for build `key`: the warm one when there is a live one, otherwise a new one
   * started now. Throws when the workload cannot start.
   */
  async acquire(key: string, target: Target, trusted: boolean): Promise<PooledBuilder> {
    this.taken.add(key);
    const reused = trusted ? await this.takeIdleOrReturning(target.name) : undefined;
    if (reused) {
      // A builder started ahead for this key is not needed.
      if (this.byKey.has(key) || this.starting.has(key)) void this.discardAhead(key);
      reused.key = key;
      reused.served++;
      // Started before this build: if it turns out gone, dispatch starts a fresh one (stale).
      reused.warm = true;
      this.deps.callbacks.rebind(reused.builderId, key);
      this.deps.onAcquire?.(target.name, true);
      return reused;
    }
    const pending = this.starting.get(key);
    const warm = this.byKey.get(key) ?? (pending ? await pending : undefined);
    this.byKey.delete(key);
    if (warm && !warm.exited() && warm.trusted === trusted) {
      this.deps.onAcquire?.(target.name, true);
      return warm;
    }
    if (warm) await this.destroy(warm);
    this.deps.onAcquire?.(target.name, false);
    const cold = await this.start(key, target, false, trusted);
    this.byKey.delete(key);
    return cold;
  }

  /**
   * Builders started ahead of time and not yet handed a build (nor being removed). One still
   * being created counts even when it is no longer wanted: its creation costs the engine as
   * much either way, and without it a burst of pushes that supersede each other started a
   * builder for every push (each discarded at once, each still created).
   */
  private waiting(): number {
    let n = this.starting.size;
    for (const key of this.byKey.keys()) if (!this.taken.has(key) && !this.starting.has(key) && !this.discarding.has(key)) n++;
    return n;
  }

  /**
   * How many builders may wait ahead: twice `concurrency`. One builder ahead per slot was not
   * enough in a burst (a slot freed faster than a container boots, measured: 20 builds in 8.7 s
   * against 7.0 s with two); four per slot gave no more; and on two cores, twenty containers
   * booting at once for a burst of twenty would slow every build down.
   */
  get capacity(): number {
    return 2 * this.deps.config.concurrency;
  }

  /** The build's dispatch is over (its builder was destroyed by the caller). */
  release(key: string): void {
    this.taken.delete(key);
  }

  /** Removes the builder kept for `key` (its build was cancelled, or it went stale). */
  async discard(key: string): Promise<void> {
    this.discarding.add(key);
    try {
      const pending = this.starting.get(key);
      const entry = this.byKey.get(key) ?? (pending ? await pending : undefined);
      this.byKey.delete(key);
      if (entry) await this.destroy(entry);
    } finally {
      this.discarding.delete(key);
    }
  }

  /**
   * A reusable builder whose build succeeded and who said `ready` again: kept for the target's
   * next build while it may serve more (`reuse`), for up to `idleMs`; otherwise removed.
   */
  private async keep(builder: PooledBuilder, idleMs = 60_000): Promise<void> {
    if (this.closed || builder.served >= builder.reuse || builder.exited()) return this.destroy(builder);
    const list = this.idle.get(builder.target) ?? [];
    this.idle.set(builder.target, list);
    const timer = setTimeout(() => {
      const at = list.findIndex((e) => e.builder === builder);
      if (at >= 0) void this.destroy(list.splice(at, 1)[0]!.builder);
    }, idleMs);
    timer.unref();
    list.push({ builder, timer });
  }

  /**
   * Keeps `builder` (keep()) once `ready` says it may serve again, or removes it. Until then it
   * counts as on its way back: the target's next build waits for it (acquire) rather than start
   * a container of its own.
   */
  async keepWhen(builder: PooledBuilder, ready: Promise<boolean>): Promise<void> {
    const settle = (ok: boolean) => (ok && !this.closed ? this.keep(builder) : this.destroy(builder));
    // Not a race with one promise pending until close: each call would leave a reaction on it
    // (and the builder with it) for the server's whole life.
    let closed!: () => void;
    const whenClosed = new Promise<false>((resolve) => (closed = () => resolve(false)));
    this.onClose.add(closed);
    const back = Promise.race([ready, whenClosed])
      .finally(() => this.onClose.delete(closed))
      .then(settle, () => this.destroy(builder));
    // One that has served its last build is not waited for: the next build starts its own.
    if (builder.served >= builder.reuse) return back;
    const set = this.returning.get(builder.target) ?? new Set<Promise<void>>();
    this.returning.set(builder.target, set);
    set.add(back);
    try {
      await back;
    } finally {
      set.delete(back);
    }
  }

  /** An idle builder of `target`, or one on its way back (waited for up to `waitMs`), or undefined. */
  private async takeIdleOrReturning(target: string, waitMs = 5_000): Promise<PooledBuilder | undefined> {
    const idle = this.takeIdle(target);
    if (idle) return idle;
    const back = [...(this.returning.get(target) ?? [])];
    if (!back.length) return undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.any(back).catch(() => undefined), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    return this.takeIdle(target);
  }

  /** A live idle builder of `target`, taken out of the idle list; dead ones found are removed. */
  private takeIdle(target: string): PooledBuilder | undefined {
    const list = this.idle.get(target) ?? [];
    for (let entry = list.shift(); entry; entry = list.shift()) {
      clearTimeout(entry.timer);
      if (!entry.builder.exited()) return entry.builder;
      void this.destroy(entry.builder);
    }
    return undefined;
  }

  /** Removes the builder started ahead for `key` (its build got a reused one instead). */
  private async discardAhead(key: string): Promise<void> {
    const pending = this.starting.get(key);
    const entry = this.byKey.get(key) ?? (pending ? await pending : undefined);
    if (entry && this.byKey.get(key) === entry) this.byKey.delete(key);
    if (entry) await this.destroy(entry);
  }

  /** Removes every builder still waiting for a build. */
  async close(): Promise<void> {
    this.closed = true;
    for (const tell of this.onClose) tell();
    this.reserved.clear();
    const idle = [...this.idle.values()].flat();
    this.idle.clear();
    for (const { timer } of idle) clearTimeout(timer);
    // startFor removes each builder still starting as soon as it has started. Those whose
    // container is being created are waited for, so none is left running when the process exits
    // next; those still waiting for their image are not (an image build or a hung engine must
    // not hold up shutdown): they never create one.
    await Promise.all([
      ...idle.map(({ builder }) => this.destroy(builder)),
      ...[...this.byKey.values()].filter((e) => !this.taken.has(e.key)).map((e) => this.discard(e.key)),
      ...this.launching,
      // Builders on their way back are removed as soon as they are back (keepWhen, closed).
      ...[...this.returning.values()].flatMap((set) => [...set]),
    ]);
  }

  async destroy(entry: PooledBuilder): Promise<void> {
    this.deps.callbacks.unregister(entry.builderId);
    await entry.handle.destroy().catch((error: unknown) => this.deps.logger.warn("could not remove builder", { key: entry.key, error: errorMessage(error) }));
  }

  private startFor(key: string, target: Target, warm: boolean, trusted: boolean): Promise<PooledBuilder | undefined> {
    const started = this.deps.executor
      // The executor logs the image build (start, steps, time) itself.
      .prepareImage(target.image, discardLogger())
      .then(() => {
        // Closed while the image was being made: no container is created at all.
        if (this.closed) return undefined;
        const launch = this.start(key, target, warm, trusted).then(async (entry) => {
          if (!this.closed) return entry;
          await this.destroy(entry);
          return undefined;
        });
        const settled = launch.then(() => undefined, () => undefined);
        this.launching.add(settled);
        void settled.finally(() => this.launching.delete(settled));
        return launch;
      })
      .catch((error: unknown) => {
        this.deps.logger.warn("could not start a warm builder; the build will start one itself", { target: target.name, error: errorMessage(error) });
        return undefined;
      })
      .finally(() => this.starting.delete(key));
    this.starting.set(key, started);
    return started;
  }

  private async start(key: string, target: Target, warm: boolean, trusted: boolean): Promise<PooledBuilder> {
    const builderId = randomBytes(8).toString("hex");
    const token = newToken();
    this.deps.callbacks.register(builderId, hashToken(token), key);
    let handle: WorkloadHandle;
    try {
      handle = await this.deps.executor.start(this.spec(key, target, builderId, token, trusted));
    } catch (error) {
      this.deps.callbacks.unregister(builderId);
      throw error;
    }
    let early = "";
    let sink: ((chunk: string) => void) | undefined;
    let ended = false;
    const output = handle.output((chunk) => {
      if (sink) sink(chunk);
      else if (early.length < EARLY_OUTPUT_LIMIT) early += chunk;
    })
      // A log stream that fails (engine hiccup) only ends the output; the exit decides the build.
      .catch((error: unknown) => this.deps.logger.warn("builder output ended with an error", { key, error: errorMessage(error) }))
      .finally(() => (ended = true));
    let gone = false;
    const exit = handle.wait();
    void exit.then(
      () => {
        gone = true;
        if (this.byKey.get(key)?.handle === handle) {
          this.byKey.delete(key);
          void this.destroy(entry);
        }
      },
      () => undefined,
    );
    const entry: PooledBuilder = {
      reuse: this.reusable(target, trusted) ? target.reuse : 1,
      served: 1,
      key,
      target: target.name,
      builderId,
      token,
      handle,
      exit,
      warm,
      trusted,
      exited: () => gone || ended,
      pipe: (to) => {
        sink = to;
        if (early) to(early);
        early = "";
        return output;
      },
    };
    this.byKey.set(key, entry);
    return entry;
  }

  /**
   * Whether builders of `target` serve several builds (`reuse` above 1): trusted builds only.
   * On every executor: a builder the manager cannot reach fetches each of its builds in turn.
   */
  private reusable(target: Target, trusted: boolean): boolean {
    return trusted && target.reuse > 1;
  }

  /**
   * The builder's workload. It never mounts the service file system (it sends a good build's
   * files to the manager, which publishes them), runs the commands as an unprivileged user, and
   * keeps only the capabilities it needs to hand the workspace over and switch to that user.
   */
  private spec(key: string, target: Target, builderId: string, token: string, trusted: boolean): WorkloadSpec {
    const { executor, config, cacheDir } = this.deps;
    const user = commandUser(target, trusted, executor.isolated);
    // The mirror is the builder's: only when the commands run as another user can they not write it.
    const mirror = trusted && user !== undefined ? gitMirrorMount(cacheDir, target) : undefined;
    const caches = trusted ? cacheMounts(cacheDir, target) : [];
    // Only where the mirror is (the kept tree borrows its objects and is never fetched into),
    // and only in isolated workloads: host processes of every target share one user.
    const kept = mirror && executor.isolated && target.workspace === "incremental" ? keptWorkTreeMount(cacheDir, target) : undefined;
    const servicefsSource = /^servicefs:/.test(target.url);
    return {
      id: builderId,
      role: "builder",
      target: target.name,
      buildKey: key,
      image: target.image,
      args: [
        ...(this.reusable(target, trusted) ? ["--max-builds", String(target.reuse)] : ["--once"]), "--publish-to", "manager",
        "--port", executor.isolated ? "8080" : "0", "--host", executor.isolated ? "0.0.0.0" : "127.0.0.1",
        ...(servicefsSource ? ["--servicefs", config.servicefs] : []),
        ...(mirror ? ["--git-mirror", mirror.container] : []),
        ...(kept ? ["--keep-workspace", kept.container] : []),
        ...(user ? ["--user", user] : []),
        ...caches.flatMap((c) => ["--cache-dir", c.container]),
        ...(!trusted && executor.isolated ? ["--isolate-network", ...hostAddresses().flatMap((a) => ["--deny-net", a])] : []),
        ...(executor.reachesWorkloads ? [] : ["--fetch-build"]),
      ],
      env: { CICD_BUILDER_ID: builderId, CICD_MANAGER_URL: this.deps.callbackUrl(), CICD_MANAGER_TOKEN: token },
      mounts: [...sourceMounts(target.url, config.servicefs), ...caches, ...(mirror ? [mirror] : []), ...(kept ? [kept] : [])],
      limits: { ...config.limits, ...target.limits },
      placement: target.placement,
      listenPort: 8080,
      capabilities: [...BUILDER_CAPABILITIES, ...(!trusted ? ["NET_ADMIN"] : [])],
    };
  }
}

/**
 * What a builder container keeps of Linux's capabilities: enough to give the workspace to the
 * commands' user (CHOWN, FOWNER), to read and remove what they wrote (DAC_OVERRIDE), to switch
 * to that user (SETUID, SETGID) and to stop what they started (KILL). The commands lose all of
 * them when they switch. NET_ADMIN is added for untrusted builds, whose builder sets the
 * network rules of its own container before the build.
 */
export const BUILDER_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"];

/** Unprivileged users: a container's conventional first user, and the host's `nobody`. */
const CONTAINER_USER = "1000:1000";
const HOST_NOBODY = "65534:65534";

/**
 * The user a build's commands run as (`--user`), or undefined for the builder's own. In a
 * container: the target's `user`, by default 1000:1000; `root` keeps the builder's (trusted
 * builds only — an untrusted build never runs as root). As host processes (local executor):
 * when the server runs as root, `nobody` (or the target's non-root `user`), since root commands
 * could read the server's own secrets; otherwise the server's user, the only one it can use.
 */
export function commandUser(target: Pick<Target, "user">, trusted: boolean, isolated: boolean): string | undefined {
  const wanted = target.user === "root" || target.user === "0" ? (trusted ? "root" : undefined) : target.user;
  if (isolated) return wanted === "root" ? undefined : (wanted ?? CONTAINER_USER);
  if (process.getuid?.() !== 0) return undefined;
  return wanted === undefined || wanted === "root" ? HOST_NOBODY : wanted;
}

/** This machine's own addresses: an untrusted build's commands may reach none of them. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flat().filter((a) => !!a && a.family === "IPv4" && !a.internal).map((a) => `${a!.address}/32`);
}

/**
 * A target's dependency caches (`cache: ["/root/.m2"]`): one host folder per target and path,
 * kept between builds of that target and never shared with another target.
 */
export function cacheMounts(cacheDir: string, target: Target): Mount[] {
  return target.cache.map((container) => {
    const host = path.join(cacheDir, "targets", target.name, container.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]+/g, "_"));
    mkdirSync(host, { recursive: true });
    return { host, container, volume: volumeName("cicd-cache", target.name, path.basename(host)) };
  });
}

/** A per-node volume's name for executors without the manager's disk: [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
function volumeName(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_.-]+/g, "_")).join("-");
}

/**
 * The git mirror folder of a target's repository (remote git URLs only: https, ssh, git,
 * scp-like). One host folder per target and repository (`<cache>/git/<target>/<mirrorKey>`,
 * the key a hash of the normalized URL without credentials), mounted at the same path: a
 * builder reaches only its own target's mirror, so even a build that could write a mirror
 * could not reach another target's builds through it. The builder gets it as `--git-mirror`.
 */
export function gitMirrorMount(cacheDir: string, target: Pick<Target, "name" | "url">): Mount | undefined {
  const text = target.url.trim();
  // Remote repositories only: a file:// repository is already on this machine, and a mirror of it
  // would cost more processes than it saves.
  if (!/^(https?|ssh|git):\/\/|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/i.test(text)) return undefined;
  const key = mirrorKey(text);
  const host = path.join(cacheDir, "git", target.name, key);
  mkdirSync(host, { recursive: true });
  return { host, container: host, volume: volumeName("cicd-git", target.name, key) };
}

/**
 * The folder of a target's kept work tree (`workspace: incremental`; builder/kept-work-tree.ts):
 * `<cache>/workspaces/<target>/<mirrorKey>`, mounted at the same path, one per target and
 * repository like the mirror.
 */
export function keptWorkTreeMount(cacheDir: string, target: Pick<Target, "name" | "url">): Mount {
  const key = mirrorKey(target.url.trim());
  const host = path.join(cacheDir, "workspaces", target.name, key);
  mkdirSync(host, { recursive: true });
  return { host, container: host, volume: volumeName("cicd-workspace", target.name, key) };
}
