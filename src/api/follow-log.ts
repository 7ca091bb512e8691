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
  let wake: () => void = () => undefined;
  const unsubscribe = source.subscribe(() => wake());
  let closed = false;
  res.on("close", () => {
    closed = true;
    wake();
  });
  try {
    for (;;) {
      const done = source.finished();
      position = await copyFrom(source.path, position, res);
      if (!follow || done || closed) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 500).unref();
      });
    }
  } finally {
    unsubscribe();
    if (!closed) res.end();
  }
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
      if (!res.write(Buffer.from(buffer.subarray(0, bytesRead)))) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
    }
  } finally {
    await handle.close();
  }
}
