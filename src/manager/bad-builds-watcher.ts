import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { BUILDS_FILE, type BuildRecord } from "../servicefs/builds-file.js";
import type { ServiceFs } from "../servicefs/service-fs.js";
import { errorMessage } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import type { BuildService, MarkedBadEvent, MarkedBadMeta } from "./types.js";

export interface BadBuildsWatcherOptions {
  service: Pick<BuildService, "get" | "setMeta">;
  servicefs: ServiceFs;
  /** Target names whose builds.json to watch. */
  targets: string[];
  logger: Logger;
  /** Poll interval beside fs.watch (default 2 s). */
  pollMs?: number;
  /**
   * On the first look at a target, builds marked bad within this long are reported if no earlier
   * run reported them (a runner may have marked one while the manager was down); older ones
   * are taken as known. Default 24 h.
   */
  catchUpMs?: number;
}

interface Watched {
  target: string;
  file: string;
  fsWatcher?: FSWatcher;
  /** inode:mtime:size of builds.json at the last read; "" when it did not exist. */
  signature: string | undefined;
  statuses: Map<string, BuildRecord["status"]>;
  first: boolean;
  scanning?: Promise<void>;
  again: boolean;
  lastError: string;
  debounce?: NodeJS.Timeout;
}

/**
 * Notices builds that runners mark bad: watches each target's builds.json (fs.watch, plus a poll
 * of the file's identity for bind mounts and network file systems where fs.watch misses events)
 * and, for a build the store knows, records `meta.markedBad` and tells the listeners once. The
 * file is read only when it changed, so the steady cost is one stat per target and poll.
 */
export class BadBuildsWatcher {
  private readonly listeners = new Set<(event: MarkedBadEvent) => void>();
  private readonly watched: Watched[];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: BadBuildsWatcherOptions) {
    this.watched = options.targets.map((target) => {
      const file = path.join(options.servicefs.targetDir(target), BUILDS_FILE);
      return { target, file, signature: undefined, statuses: new Map(), first: true, again: false, lastError: "" };
    });
  }

  /** Takes the first look at every target, then keeps watching until close(). */
  async start(): Promise<void> {
    await this.scanAll();
    if (this.closed) return;
    this.timer = setInterval(() => void this.scanAll(), Math.max(10, this.options.pollMs ?? 2000));
    this.timer.unref();
  }

  onMarkedBad(listener: (event: MarkedBadEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Looks at every target now (the poll does this too); resolves when done. */
  async scanAll(): Promise<void> {
    await Promise.all(this.watched.map((w) => this.scan(w)));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const w of this.watched) {
      clearTimeout(w.debounce);
      w.fsWatcher?.close();
    }
    this.listeners.clear();
  }

  /** One scan per target at a time; a request during a scan runs one more after it. */
  private scan(w: Watched): Promise<void> {
    if (w.scanning) {
      w.again = true;
      return w.scanning;
    }
    w.scanning = (async () => {
      try {
        do {
          w.again = false;
          await this.look(w);
        } while (w.again && !this.closed);
      } finally {
        w.scanning = undefined;
      }
    })();
    return w.scanning;
  }

  private async look(w: Watched): Promise<void> {
    if (this.closed) return;
    if (!w.fsWatcher) this.startWatch(w);
    const info = await stat(w.file).catch(() => undefined);
    const signature = info ? `${info.ino}:${info.mtimeMs}:${info.size}` : "";
    if (signature === w.signature) return;
    let records: BuildRecord[];
    try {
      records = (await this.options.servicefs.builds(w.target).read()).builds;
      w.lastError = "";
    } catch (error) {
      // Say so once per distinct problem; the next change of the file is read again.
      const message = errorMessage(error);
      if (message !== w.lastError) this.options.logger.warn("cannot read builds.json to look for builds marked bad", { target: w.target, error: message });
      w.lastError = message;
      w.signature = signature;
      return;
    }
    w.signature = signature;
    const first = w.first;
    w.first = false;
    const since = Date.now() - (this.options.catchUpMs ?? 24 * 3_600_000);
    const seen = new Map<string, BuildRecord["status"]>();
    for (const record of records) {
      seen.set(record.key, record.status);
      if (record.status !== "bad" || w.statuses.get(record.key) === "bad") continue;
      if (first && !(Date.parse(record.markedBadAt ?? "") >= since)) continue;
      this.report(record);
    }
    w.statuses = seen;
  }

  private report(record: BuildRecord): void {
    const build = this.options.service.get(record.key);
    if (!build || this.closed) return;
    const known = build.meta.markedBad as Partial<MarkedBadMeta> | undefined;
    if (record.markedBadAt && known?.at === record.markedBadAt) return; // reported before a restart
    const markedBad: MarkedBadMeta = {
      at: record.markedBadAt ?? new Date().toISOString(),
      reason: record.reason ?? null,
      exitCode: typeof record.exitCode === "number" ? record.exitCode : null,
      signal: record.signal ?? null,
    };
    try {
      this.options.service.setMeta(record.key, { markedBad });
    } catch (error) {
      this.options.logger.warn("could not record that a build was marked bad", { build: record.key, error: errorMessage(error) });
    }
    this.options.logger.info("a runner marked a build bad", { build: record.key, target: build.target, reason: markedBad.reason ?? undefined });
    const event: MarkedBadEvent = { build: this.options.service.get(record.key) ?? { ...build, meta: { ...build.meta, markedBad } }, record };
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.error("a marked-bad listener failed", { build: record.key, error: errorMessage(error) });
      }
    }
  }

  private startWatch(w: Watched): void {
    try {
      w.fsWatcher = watch(path.dirname(w.file), { persistent: false }, (_event, name) => {
        if (name !== null && name !== BUILDS_FILE) return;
        // An atomic replace fires several events; one scan after they settle is enough.
        clearTimeout(w.debounce);
        w.debounce = setTimeout(() => void this.scan(w), 50);
      });
      w.fsWatcher.on("error", () => {
        w.fsWatcher?.close();
        w.fsWatcher = undefined; // retried on the next poll
      });
    } catch {
      w.fsWatcher = undefined; // the target folder does not exist yet; retried on the next poll
    }
  }
}
