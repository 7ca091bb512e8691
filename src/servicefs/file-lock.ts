import { readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { link, open, readdir, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";

export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /**
   * A lock older than this whose owner cannot be checked (another host or container) is taken
   * over (default 60 s; metadata updates take milliseconds).
   */
  staleMs?: number;
  /** How often the holder touches the lock and checks it is still its own (default staleMs / 4). */
  refreshMs?: number;
  /** Stops waiting for the lock (CANCELLED); a lock already taken is unaffected. */
  signal?: AbortSignal;
}

/** What the work done under the lock can ask of it. */
export interface HeldLock {
  /** Aborted once the lock is found removed or taken by another process (compromised). */
  readonly signal: AbortSignal;
  /**
   * Throws LOCK_LOST unless the lock file is still this holder's, and refreshes it: call it
   * right before a write that must not race (e.g. the rename that commits builds.json).
   */
  assertHeld(): Promise<void>;
}

/** The ending of an owner's draft (see create()); a holder killed before removing it leaves one. */
const DRAFT = ".new";

/**
 * Runs `fn` while holding an exclusive lock file shared by every process on the same file
 * system (builders and runners in containers included). The lock is created with O_EXCL, so
 * exactly one process wins; a lock left by a dead process on this host, or an old one from
 * elsewhere, is broken.
 *
 * While `fn` runs the lock keeps itself fresh: every `refreshMs` it checks the file still holds
 * this holder's token and touches it, so processes that can only judge it by age (other hosts,
 * other containers) never find a live lock stale, however long `fn` takes. A lock found removed
 * or taken is compromised: `lock.signal` aborts, `lock.assertHeld()` throws, and withFileLock
 * throws LOCK_LOST even if `fn` succeeded, so a holder never believes a write it made without
 * the lock was safe. (proper-lockfile does the refresh too, but judges every lock by age only,
 * so a dead holder blocks others for the whole stale time, and two waiters breaking one stale
 * lock can both get in: the breaking below happens under a second lock.)
 */
export async function withFileLock<T>(lockPath: string, fn: (lock: HeldLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const started = Date.now();
  // The random part tells apart two holders of one process that started in the same millisecond.
  const tag = Math.random().toString(36).slice(2, 10);
  const owner = `${processSpace()} ${process.pid} ${Date.now()} ${tag}`;
  const draft = `${lockPath}.${process.pid}-${tag}${DRAFT}`;
  let wait = 2;
  for (;;) {
    if (options.signal?.aborted) throw errors.cancelled(`Waiting for the lock ${lockPath}`);
    if (await create(lockPath, draft, owner)) break;
    if (await isStale(lockPath, staleMs)) {
      await breakStaleLock(lockPath, staleMs);
      continue;
    }
    if (Date.now() - started > timeoutMs) throw errors.lockTimeout(lockPath, timeoutMs);
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
    wait = Math.min(wait * 2, 50);
  }
  const held = new Heartbeat(lockPath, owner, staleMs, options.refreshMs ?? staleMs / 4);
  try {
    const result = await fn(held);
    if (held.signal.aborted) throw errors.lockLost(lockPath);
    return result;
  } finally {
    held.stop();
    // Only remove the lock if it is still ours (it may have been broken as stale).
    const current = await readFile(lockPath, "utf8").catch(() => "");
    if (current === owner) await unlink(lockPath).catch(() => undefined);
  }
}

/**
 * Creates the lock file with the owner already in it, or returns false when it exists. The
 * owner is written to a file of its own first and that file hard-linked to the lock's name
 * (link fails when the name exists, exactly like O_EXCL, also over NFS): a lock file is never
 * seen empty. Created empty and then filled, a holder killed between the two would leave a lock
 * naming no one, which only its age can break (staleMs, a minute) and every builder, runner
 * and `cicd gc` would wait on it.
 */
async function create(lockPath: string, draft: string, owner: string): Promise<boolean> {
  await writeFile(draft, owner, { mode: 0o644, flag: "wx" });
  try {
    await link(draft, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Over NFS a link whose reply was lost is retried and answered EEXIST: it is ours if the
    // draft now has two names.
    if (code === "EEXIST") return (await stat(draft).catch(() => undefined))?.nlink === 2;
    // A file system without hard links (some FUSE and SMB mounts): O_EXCL, with the old window.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") return createExclusive(lockPath, owner);
    throw error;
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/** create() where hard links are not supported: made empty with O_EXCL, then filled. */
async function createExclusive(lockPath: string, owner: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(owner);
  } finally {
    await handle.close();
  }
  return true;
}

/** Keeps a held lock fresh and notices when it stops being this holder's. */
class Heartbeat implements HeldLock {
  private readonly lost = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private lastRefresh = Date.now();

  constructor(
    private readonly lockPath: string,
    private readonly owner: string,
    private readonly staleMs: number,
    refreshMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), refreshMs);
    // A holder's work keeps the process alive, not its lock's timer.
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.lost.signal;
  }

  async assertHeld(): Promise<void> {
    if (!(await this.refresh(true))) throw errors.lockLost(this.lockPath);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Whether the lock is still ours; touches it when it is. A strict check (before a write)
   * throws when the lock cannot be read; the timer's keeps going until others could call it stale.
   */
  private async refresh(strict = false): Promise<boolean> {
    if (this.lost.signal.aborted) return false;
    try {
      if ((await readFile(this.lockPath, "utf8")) !== this.owner) return this.lose();
      const now = new Date();
      await utimes(this.lockPath, now, now);
      this.lastRefresh = Date.now();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return this.lose();
      if (strict) throw error;
      // Not refreshed for longer than others wait before calling it stale: it may be taken.
      if (Date.now() - this.lastRefresh > this.staleMs) return this.lose();
      return true;
    }
  }

  private lose(): false {
    this.lost.abort(errors.lockLost(this.lockPath));
    this.stop();
    return false;
  }
}

/**
 * Where a pid means something: the host name plus the pid namespace, so two containers that
 * share a host name (or the host and a container) never judge each other's pids.
 */
let space: string | undefined;
function processSpace(): string {
  if (space !== undefined) return space;
  let ns = "";
  try {
    ns = readlinkSync("/proc/self/ns/pid").replace(/[^0-9]/g, "");
  } catch {
    // No /proc (not Linux): the host name alone.
  }
  space = ns ? `${hostname()}/${ns}` : hostname();
  return space;
}

/**
 * Removes a stale lock. Two waiters may both find the same lock stale; if each simply unlinked
 * it, the slower one could remove the lock the faster one has just taken, and both would run.
 * So breaking happens under a second lock, and staleness is checked again while holding it.
 */
async function breakStaleLock(lockPath: string, staleMs: number): Promise<void> {
  const breaker = `${lockPath}.break`;
  let handle;
  try {
    handle = await open(breaker, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // Someone else is breaking it. A breaker left by a process that died in these few lines
    // is removed once it is clearly old.
    const info = await stat(breaker).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 10_000) await unlink(breaker).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5));
    return;
  }
  try {
    await handle.close();
    if (await isStale(lockPath, staleMs)) {
      await unlink(lockPath).catch(() => undefined);
      await removeDeadDrafts(lockPath, staleMs);
    }
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

/** Removes the drafts (see create()) of holders that died taking the lock, judged as locks are. */
async function removeDeadDrafts(lockPath: string, staleMs: number): Promise<void> {
  const prefix = `${path.basename(lockPath)}.`;
  const names = await readdir(path.dirname(lockPath)).catch(() => []);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(DRAFT)) continue;
    const draft = path.join(path.dirname(lockPath), name);
    if (await isStale(draft, staleMs)) await unlink(draft).catch(() => undefined);
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  const [content, info] = await Promise.all([readFile(lockPath, "utf8").catch(() => ""), stat(lockPath).catch(() => undefined)]);
  if (!info) return false; // gone already: just retry
  const [host, pidText] = content.split(" ");
  const pid = Number(pidText);
  if (host === processSpace() && Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
  }
  // Another host or container (or no readable owner): only stale if old.
  return Date.now() - info.mtimeMs > staleMs;
}
