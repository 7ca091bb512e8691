import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { BUILDS_FILE } from "../servicefs/index.js";

/**
 * Tells subscribers when `builds.json` in `dir` may have changed. fs.watch is fast but misses
 * events on bind mounts and network file systems, so a poll of the file's identity (inode,
 * mtime, size) runs beside it. Subscribers re-read the file themselves; a spurious call is fine.
 */
export class BuildsWatcher {
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private signature = "";
  private closed = false;

  constructor(
    readonly dir: string,
    pollMs = 1000,
  ) {
    this.startWatch();
    void this.poll();
    this.timer = setInterval(() => void this.poll(), Math.max(10, pollMs));
  }

  /** Calls `listener` on every possible change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    this.listeners.clear();
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private startWatch(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name === null || name === BUILDS_FILE) this.emit();
      });
      this.watcher.on("error", () => {
        // The folder went away or the platform gave up: the poll carries on alone.
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined; // folder missing for now; retried from poll()
    }
  }

  private async poll(): Promise<void> {
    const info = await stat(path.join(this.dir, BUILDS_FILE)).catch(() => undefined);
    if (this.closed) return;
    if (!this.watcher) this.startWatch();
    const signature = info ? `${info.ino}:${info.mtimeMs}:${info.size}` : "";
    if (signature !== this.signature) {
      this.signature = signature;
      this.emit();
    }
  }
}
