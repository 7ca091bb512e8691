import { chmodSync, closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

type Listener = (chunk: string) => void;

export interface BuildLogsOptions {
  /** `logLimit` of cicd.yml ("50m"): the most a build's log keeps on disk. Unset: no cap. */
  logLimit?: string;
}

/** Room kept under the limit for the marker line, so head + marker + tail stay within it. */
const MARKER_ROOM = 128;
const COPY_CHUNK = 64 * 1024;

/** One build's log while it is written. */
interface OpenLog {
  /** `<key>.log`, opened for appending. */
  fd: number;
  /** Bytes the head may still take; once 0, output goes to the tail. */
  headLeft: number;
  /** Whether the head ends at a line end (else the marker starts a new line). */
  headEndsLine: boolean;
  tail?: Tail;
}

/**
 * The end of a long log, in two files used in turns (`<key>.log.tail-0`, `-1`): when the one
 * being written is full, the other is emptied and written next. The older half and the current
 * one together always hold the last `half` to `2 × half` bytes, with nothing held in memory.
 */
interface Tail {
  files: [string, string];
  fds: [number, number];
  sizes: [number, number];
  current: 0 | 1;
  /** Every byte that went to the tail, kept or not. */
  written: number;
}

/**
 * Build logs on disk, one file per build, plus live listeners for `?follow=1`. Text arrives
 * already masked. Each write goes straight to the file (in order, before listeners are told),
 * so a large log never sits in memory.
 *
 * With `logLimit`, a log that outgrows it keeps its head (the first half) and its tail (the
 * last quarter to half) with one marker line between, `… 245,678,123 bytes of log left out
 * (logLimit 50m) …`: the head says what the build was, the tail why it ended. The head is
 * written to `<key>.log` as it comes; past it, output goes to the tail files and, at end(),
 * the marker and the tail are appended, so `<key>.log` only ever grows (a reader's position
 * stays valid). Listeners get every chunk as it comes, cap or not.
 *
 * Files are 0600 in a 0700 folder: a log can hold what a build printed about its environment.
 */
export class BuildLogs {
  private readonly open = new Map<string, OpenLog>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly endListeners = new Map<string, Set<() => void>>();
  private readonly limit: number | undefined;

  constructor(
    readonly dir: string,
    private readonly options: BuildLogsOptions = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    this.limit = options.logLimit === undefined ? undefined : parseLogLimit(options.logLimit);
  }

  path(key: string): string {
    return path.join(this.dir, `${key}.log`);
  }

  append(key: string, text: string): void {
    if (!text) return;
    try {
      this.write(this.opened(key), key, Buffer.from(text, "utf8"));
    } catch {
      // A full or failing disk loses log text, never the build; followers still get it below.
    }
    for (const listener of this.listeners.get(key) ?? []) listener(text);
  }

  /** Appends a line written by cicd itself (not the build), marked so readers can tell. */
  note(key: string, line: string): void {
    this.append(key, `[cicd] ${line}\n`);
  }

  /** Closes the build's file (joining a capped log's head and tail) and tells followers the log is complete. */
  async end(key: string): Promise<void> {
    const log = this.open.get(key);
    this.open.delete(key);
    if (log) {
      try {
        if (log.tail) this.join(log, log.tail);
      } catch {
        // As in append: the build's result does not depend on its log.
      } finally {
        closeSync(log.fd);
        if (log.tail) for (const [i, file] of log.tail.files.entries()) closeQuietly(log.tail.fds[i]!, file);
      }
    }
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

  /** The build's open log; a log reopened (a retry, a restart) counts what its file already holds. */
  private opened(key: string): OpenLog {
    let log = this.open.get(key);
    if (!log) {
      const fd = openSync(this.path(key), "a", 0o600);
      const size = fstatSync(fd).size;
      const head = this.limit === undefined ? Infinity : Math.max(0, Math.floor((this.limit - MARKER_ROOM) / 2));
      log = { fd, headLeft: Math.max(0, head - size), headEndsLine: true };
      this.open.set(key, log);
    }
    return log;
  }

  private write(log: OpenLog, key: string, bytes: Buffer): void {
    let rest = bytes;
    if (log.headLeft > 0) {
      let take = Math.min(rest.length, log.headLeft);
      if (take < rest.length) {
        // The head ends at a line end when it can, so the marker sits between whole lines.
        const lineEnd = rest.lastIndexOf(0x0a, take - 1);
        if (lineEnd !== -1) take = lineEnd + 1;
        // Else at a character boundary: never inside a UTF-8 sequence.
        else while (take > 0 && (rest[take]! & 0xc0) === 0x80) take--;
        log.headLeft = 0;
      } else {
        log.headLeft -= take;
      }
      writeAll(log.fd, rest.subarray(0, take));
      log.headEndsLine = take > 0 ? rest[take - 1] === 0x0a : log.headEndsLine;
      rest = rest.subarray(take);
    }
    if (rest.length) this.writeTail((log.tail ??= this.openTail(key)), rest);
  }

  private openTail(key: string): Tail {
    const files: [string, string] = [`${this.path(key)}.tail-0`, `${this.path(key)}.tail-1`];
    return { files, fds: [openSync(files[0], "w+", 0o600), openSync(files[1], "w+", 0o600)], sizes: [0, 0], current: 0, written: 0 };
  }

  private writeTail(tail: Tail, bytes: Buffer): void {
    const half = this.halfSize();
    // A chunk larger than a half keeps only what can survive: its last two halves' worth.
    let rest = bytes.length > 2 * half ? bytes.subarray(bytes.length - 2 * half) : bytes;
    tail.written += bytes.length - rest.length;
    while (rest.length) {
      if (tail.sizes[tail.current] >= half) {
        tail.current = tail.current === 0 ? 1 : 0;
        ftruncateSync(tail.fds[tail.current], 0);
        tail.sizes[tail.current] = 0;
      }
      const piece = rest.subarray(0, half - tail.sizes[tail.current]);
      writeAll(tail.fds[tail.current], piece, tail.sizes[tail.current]);
      tail.sizes[tail.current] += piece.length;
      tail.written += piece.length;
      rest = rest.subarray(piece.length);
    }
  }

  /** Appends the marker and the kept tail (older half, then current), starting at a line start. */
  private join(log: OpenLog, tail: Tail): void {
    const older = tail.current === 0 ? 1 : 0;
    const order = [older, tail.current] as const;
    const skip = firstLineStart(tail.fds[order[0]], tail.sizes[order[0]]);
    const kept = tail.sizes[order[0]] - skip + tail.sizes[order[1]];
    const left = tail.written - kept;
    if (left > 0) {
      const marker = `${log.headEndsLine ? "" : "\n"}… ${left.toLocaleString("en-US")} bytes of log left out (logLimit ${this.options.logLimit}) …\n`;
      writeAll(log.fd, Buffer.from(marker, "utf8"));
    }
    copy(tail.fds[order[0]], skip, tail.sizes[order[0]], log.fd);
    copy(tail.fds[order[1]], 0, tail.sizes[order[1]], log.fd);
  }

  private halfSize(): number {
    return Math.max(1, Math.floor(((this.limit ?? 0) - MARKER_ROOM) / 4));
  }
}

/** "50m", "512k", "1g", "1.5m", "2048" (bytes) → bytes; the schema has checked the form. */
export function parseLogLimit(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(value.trim());
  if (!match) throw new Error(`logLimit: expected a size like 50m, got "${value}"`);
  const factor = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * factor);
}

/**
 * Where the kept tail starts in the older half: after its first line end, so the tail begins
 * with a whole line. Without a line end in reach, after any UTF-8 continuation bytes, so it
 * begins with a whole character. An empty older half (the tail never turned over) skips nothing.
 */
function firstLineStart(fd: number, size: number): number {
  if (size === 0) return 0;
  const buffer = Buffer.alloc(Math.min(COPY_CHUNK, size));
  const read = readSync(fd, buffer, 0, buffer.length, 0);
  const lineEnd = buffer.subarray(0, read).indexOf(0x0a);
  if (lineEnd !== -1) return lineEnd + 1;
  let start = 0;
  while (start < read && (buffer[start]! & 0xc0) === 0x80) start++;
  return start;
}

function copy(from: number, start: number, end: number, to: number): void {
  const buffer = Buffer.alloc(Math.min(COPY_CHUNK, Math.max(1, end - start)));
  for (let position = start; position < end; ) {
    const read = readSync(from, buffer, 0, Math.min(buffer.length, end - position), position);
    if (read === 0) break;
    writeAll(to, buffer.subarray(0, read));
    position += read;
  }
}

function writeAll(fd: number, bytes: Buffer, position?: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done);
  }
}

function closeQuietly(fd: number, file: string): void {
  try {
    closeSync(fd);
  } finally {
    rmSync(file, { force: true });
  }
}
