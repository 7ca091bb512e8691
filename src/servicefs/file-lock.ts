import { hostname } from "node:os";
import { open, readFile, stat, unlink } from "node:fs/promises";
import { errors } from "../shared/errors.js";

export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /**
   * A lock older than this whose owner cannot be checked (another host or container) is taken
   * over (default 60 s; metadata updates take milliseconds).
   */
  staleMs?: number;
}

/**
 * Runs `fn` while holding an exclusive lock file shared by every process on the same file
 * system (builders and runners in containers included). The lock is created with O_EXCL, so
 * exactly one process wins; a lock left by a dead process on this host, or an old one from
 * elsewhere, is broken.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const started = Date.now();
  const owner = `${hostname()} ${process.pid} ${Date.now()}`;
  let wait = 2;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx", 0o644);
      await handle.writeFile(owner);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await isStale(lockPath, staleMs)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() - started > timeoutMs) throw errors.lockTimeout(lockPath, timeoutMs);
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
    wait = Math.min(wait * 2, 50);
  }
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours (it may have been broken as stale).
    const current = await readFile(lockPath, "utf8").catch(() => "");
    if (current === owner) await unlink(lockPath).catch(() => undefined);
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  const [content, info] = await Promise.all([readFile(lockPath, "utf8").catch(() => ""), stat(lockPath).catch(() => undefined)]);
  if (!info) return false; // gone already: just retry
  const [host, pidText] = content.split(" ");
  const pid = Number(pidText);
  if (host === hostname() && Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
  }
  // Empty content means a writer is between open and write: only stale if old.
  return Date.now() - info.mtimeMs > staleMs;
}
