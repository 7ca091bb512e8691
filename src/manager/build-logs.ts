import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";

type Listener = (chunk: string) => void;

/**
 * Build logs on disk, one file per build, plus live listeners for `?follow=1`. Text arrives
 * already masked. Writes stream straight to the file, so a large log never sits in memory.
 */
export class BuildLogs {
  private readonly open = new Map<string, WriteStream>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly endListeners = new Map<string, Set<() => void>>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(key: string): string {
    return path.join(this.dir, `${key}.log`);
  }

  append(key: string, text: string): void {
    if (!text) return;
    let stream = this.open.get(key);
    if (!stream) {
      stream = createWriteStream(this.path(key), { flags: "a" });
      stream.on("error", () => undefined);
      this.open.set(key, stream);
    }
    stream.write(text);
    for (const listener of this.listeners.get(key) ?? []) listener(text);
  }

  /** Appends a line written by cicd itself (not the build), marked so readers can tell. */
  note(key: string, line: string): void {
    this.append(key, `[cicd] ${line}\n`);
  }

  /** Closes the build's file and tells followers the log is complete. */
  async end(key: string): Promise<void> {
    const stream = this.open.get(key);
    this.open.delete(key);
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
    for (const listener of this.endListeners.get(key) ?? []) listener();
    this.listeners.delete(key);
    this.endListeners.delete(key);
  }

  onLog(key: string, listener: Listener, onEnd?: () => void): () => void {
    const set = this.listeners.get(key) ?? new Set();
    set.add(listener);
    this.listeners.set(key, set);
    const ends = this.endListeners.get(key) ?? new Set();
    if (onEnd) ends.add(onEnd);
    this.endListeners.set(key, ends);
    return () => {
      set.delete(listener);
      if (onEnd) ends.delete(onEnd);
      // A follower of a finished build subscribes after end(), which then never clears its
      // entries; drop them here, unless end() cleared them and a newer follower owns the key.
      if (set.size === 0 && this.listeners.get(key) === set) this.listeners.delete(key);
      if (ends.size === 0 && this.endListeners.get(key) === ends) this.endListeners.delete(key);
    };
  }
}
