import { open } from "node:fs/promises";
import type { Response } from "express";

export interface FollowSource {
  path: string;
  /** True once the build is over and its log file is complete. */
  finished(): boolean;
  /** Calls `wake` whenever new output may be on disk; returns an unsubscribe function. */
  subscribe(wake: () => void): () => void;
}

/**
 * Streams a log file to `res` and keeps streaming what is appended until the build ends. Reads
 * the file in bounded chunks, so memory stays flat however large the log grows.
 */
export async function followLog(source: FollowSource, res: Response, follow: boolean): Promise<void> {
  let position = 0;
  const watch = watchSource(source, res);
  try {
    for (;;) {
      const done = source.finished();
      position = await copyFrom(source.path, position, res);
      if (!follow || done || watch.closed()) break;
      await watch.next();
    }
  } finally {
    watch.stop();
    if (!watch.closed()) res.end();
  }
}

/**
 * What both followers wait on: new output (the source's wake-up, or half a second at most) or
 * the client going away. `stop` unsubscribes.
 */
function watchSource(source: FollowSource, res: Response): { next(): Promise<void>; closed(): boolean; stop(): void } {
  let wake: () => void = () => undefined;
  let closed = false;
  const unsubscribe = source.subscribe(() => wake());
  res.on("close", () => {
    closed = true;
    wake();
  });
  return {
    next: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 500).unref();
      }),
    closed: () => closed,
    stop: unsubscribe,
  };
}

async function copyFrom(path: string, start: number, res: Response): Promise<number> {
  const handle = await open(path, "r").catch(() => undefined);
  if (!handle) return start;
  const buffer = Buffer.alloc(64 * 1024);
  let position = start;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return position;
      position += bytesRead;
      if (!res.write(Buffer.from(buffer.subarray(0, bytesRead)))) await drained(res);
    }
  } finally {
    await handle.close();
  }
}

/** A line longer than this is sent in pieces of this size, each its own numbered line. */
const MAX_LINE = 64 * 1024;
/** A quiet stream still sends a comment this often, so proxies keep it open. */
const KEEP_ALIVE_MS = 15_000;

export interface LogEventsOptions {
  /** `Last-Event-ID`: lines up to and including this number are not sent again. */
  after: number;
  /** The build as it ended, sent as `event: end` once the log is complete. */
  ended: () => unknown;
  keepAliveMs?: number;
}

/**
 * Streams a build's log as Server-Sent Events: one event per line, `id` = its line number from
 * 1, then `event: end` with the build when it has ended, then the response ends. Lines come
 * from the log file, which holds masked text only, read in bounded chunks (a 50 MB log is never
 * held in memory) and then as it grows; a reconnect with `Last-Event-ID: N` resumes at line N+1
 * (the lines before are counted, not sent). Line numbers are the file's own, so they are the
 * same on every read: a line of over 64 KiB is cut into 64 KiB pieces at the same places each
 * time. A trailing `\r` is dropped; a `\r` inside a line (progress output) starts a new
 * `data:` field, which EventSource joins with `\n`.
 */
export async function followLogEvents(source: FollowSource, res: Response, options: LogEventsOptions): Promise<void> {
  const reader = new LineReader(options.after, res);
  const watch = watchSource(source, res);
  const keepAlive = setInterval(() => {
    if (!watch.closed()) res.write(": keep-alive\n\n");
  }, options.keepAliveMs ?? KEEP_ALIVE_MS);
  keepAlive.unref();
  try {
    res.write(": log\n\n");
    for (;;) {
      const done = source.finished();
      await reader.readFrom(source.path);
      if (watch.closed()) return;
      if (done) {
        await reader.flushPartial();
        res.write(`event: end\ndata: ${JSON.stringify(options.ended())}\n\n`);
        return;
      }
      await watch.next();
    }
  } finally {
    clearInterval(keepAlive);
    watch.stop();
    if (!watch.closed()) res.end();
  }
}

/** Cuts the log file into numbered lines and writes each past `after` as an event. */
class LineReader {
  private position = 0;
  private line = 0;
  private partial: Buffer[] = [];
  private partialLength = 0;

  constructor(
    private readonly after: number,
    private readonly res: Response,
  ) {}

  async readFrom(path: string): Promise<void> {
    const handle = await open(path, "r").catch(() => undefined);
    if (!handle) return;
    const buffer = Buffer.alloc(64 * 1024);
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.position);
        if (bytesRead === 0) return;
        this.position += bytesRead;
        await this.take(buffer.subarray(0, bytesRead));
        if (this.res.destroyed) return;
      }
    } finally {
      await handle.close();
    }
  }

  /** The last line, when the log does not end with a line end. */
  async flushPartial(): Promise<void> {
    if (this.partialLength > 0) await this.emit(this.takePartial());
  }

  private async take(chunk: Buffer): Promise<void> {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      const stop = end === -1 ? chunk.length : end;
      // A long line is cut by its count of bytes since it began, so the pieces are the same on every read.
      while (this.partialLength + (stop - start) > MAX_LINE) {
        let take = MAX_LINE - this.partialLength;
        // Never inside a UTF-8 sequence.
        while (take > 0 && (chunk[start + take]! & 0xc0) === 0x80) take--;
        if (take === 0 && this.partialLength === 0) take = MAX_LINE;
        this.push(chunk.subarray(start, start + take));
        await this.emit(this.takePartial());
        start += take;
      }
      this.push(chunk.subarray(start, stop));
      if (end === -1) return;
      await this.emit(this.takePartial());
      start = end + 1;
    }
  }

  private push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    // Copied: the read buffer is reused for the next chunk.
    this.partial.push(Buffer.from(bytes));
    this.partialLength += bytes.length;
  }

  private takePartial(): Buffer {
    const whole = Buffer.concat(this.partial, this.partialLength);
    this.partial = [];
    this.partialLength = 0;
    return whole;
  }

  private async emit(bytes: Buffer): Promise<void> {
    this.line += 1;
    if (this.line <= this.after) return;
    const text = bytes.toString("utf8").replace(/\r$/, "");
    const data = text.split("\r").map((part) => `data: ${part}\n`).join("");
    if (!this.res.write(`id: ${this.line}\n${data}\n`)) await drained(this.res);
  }
}

/** Until the client has taken what was written (or has gone); both listeners removed after, so a long log adds none. */
function drained(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
