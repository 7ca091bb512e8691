import { mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { errors } from "../shared/errors.js";

/** Who holds a database: what a second server names when it refuses to start. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  since: string;
  /** `/proc/sys/kernel/random/boot_id` of the holder's kernel ("" where there is none). */
  boot: string;
  /** The holder's pid namespace ("" where unknown): pids mean something only inside one. */
  pidns: string;
  /** The holder's start time in clock ticks after boot (`/proc/<pid>/stat` field 22), "" if unknown. */
  started: string;
}

export interface DatabaseLock {
  /** The lock file, `<database>.lock`. */
  readonly file: string;
  /**
   * Checks every `everyMs` (on a timer that does not keep the process alive) that the database
   * path and the lock file are still the files this server opened, and calls `onLost` once,
   * with a reason fit for an API answer (file names, no absolute paths), when one was deleted
   * or replaced. Call it right after the database is opened: that file is the one it pins.
   * (The identity is taken from the path then, not with `fstat` of SQLite's descriptor, which
   * better-sqlite3 does not expose; opening a descriptor of our own would not do either: closing
   * it would drop SQLite's POSIX locks on the database.)
   */
  watch(onLost: (reason: string) => void, everyMs?: number): void;
  /** Stops the watch and releases the lock (after the database is closed). Idempotent. */
  release(): void;
}

/**
 * Takes the exclusive lock `<database>.lock` for this process, or throws `CONFLICT` naming the
 * holder (pid, host, since) and what to do.
 *
 * Why not proper-lockfile (or `withFileLock`): those judge a lock stale by its age, so after a
 * `kill -9` a restart would wait out the stale period (10 s or more), and two servers that find
 * the same stale lock must break it under a second lock that can itself go stale. A server's
 * lock is held for days and must be taken over at once after a crash. So the exclusion itself
 * is a kernel file lock, which the kernel drops the moment its holder dies, however it dies:
 * the lock file is a tiny SQLite database (better-sqlite3, already ours, does the POSIX locking
 * correctly, including between connections of one process), and the holder keeps a write
 * transaction open on it (`BEGIN IMMEDIATE`: others may still read, no one else may write). Two
 * servers starting at the same moment after a crash race for that one kernel lock: exactly one
 * gets it, the other gets SQLITE_BUSY at once.
 *
 * The holder's pid, host, start time and boot id are written beside it, to `<database>.lock.json`
 * (replaced whole, by rename), so that a refused server can name the holder, and so that a lock
 * the kernel cannot vouch for is respected: a record from another kernel (another host sharing
 * the folder over a network file system, where POSIX locks may not reach) is only taken over
 * when it names this host (the host has rebooted since); otherwise the server refuses and says
 * how to clear it. On the same kernel and pid namespace the record is cross-checked: a holder
 * that still runs (same pid, same process start time from `/proc/<pid>/stat`, so a reused pid is
 * not mistaken for it) while the kernel lock was free means this file system ignores locks, and
 * the server refuses. The record is a file of its own, not a row in the lock file, because
 * publishing a row would mean committing, which ends the very transaction that is the lock: a
 * contender slipping into that gap would find a live holder's record, and both would refuse.
 *
 * The lock file is never deleted: a process that opened it just before the unlink would lock
 * the removed file while the next one locks a new file, and both would run. Nothing else in
 * this process may open it (closing any descriptor of a file drops the process's POSIX locks
 * on it), which is why the watch only `stat`s paths.
 */
export function lockDatabase(database: string): DatabaseLock {
  const file = `${database}.lock`;
  const record = `${database}.lock.json`;
  // Named as the user would type it: relative to the working folder when inside it.
  const relative = path.relative(process.cwd(), database);
  const shown = relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : database;
  mkdirSync(path.dirname(database), { recursive: true });
  const db = new Database(file);
  let held = false;
  try {
    // No waiting for the lock: a held lock means another server, and it will not let go.
    db.pragma("busy_timeout = 0");
    if (!begin(db)) throw inUse(shown, file, readHolderRetrying(record));
    const previous = readHolder(record);
    const refusal = previous && refuseTakeOver(previous, record);
    if (refusal) throw errors.databaseInUse(shown, describe(previous), refusal);
    writeHolder(record, self());
    held = true;
  } finally {
    if (!held) {
      if (db.inTransaction) db.exec("ROLLBACK");
      db.close();
    }
  }

  const pinned = new Map<string, { dev: number; ino: number }>([[file, identity(file)!]]);
  let timer: NodeJS.Timeout | undefined;
  return {
    file,
    watch(onLost, everyMs = 1000) {
      const now = identity(database);
      if (now) pinned.set(database, now);
      clearInterval(timer);
      timer = setInterval(() => {
        for (const [p, id] of pinned) {
          const current = identity(p);
          if (current && current.dev === id.dev && current.ino === id.ino) continue;
          clearInterval(timer);
          const what = p === file ? `The lock file ${path.basename(p)}` : `The database file ${path.basename(p)}`;
          const risk = p === file ? "another server could now open the same database" : "what this server writes no longer reaches that path";
          onLost(`${what} was ${current ? "replaced" : "deleted"} while the server ran (${risk}); it takes no new builds until it is restarted.`);
          return;
        }
      }, everyMs);
      timer.unref();
    },
    release() {
      clearInterval(timer);
      if (!db.open) return;
      // The record goes while the lock is still held, so it can never erase a successor's. A
      // record left behind (a crash) is harmless: the next server finds the kernel lock free.
      rmSync(record, { force: true });
      if (db.inTransaction) db.exec("ROLLBACK");
      db.close();
    },
  };
}

/** Starts the write transaction that is the lock; false when another connection holds it. */
function begin(db: Database.Database): boolean {
  try {
    db.exec("BEGIN IMMEDIATE");
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_BUSY") return false;
    throw error;
  }
}

/** The holder's record, or undefined when there is none (or it is unreadable). */
function readHolder(record: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(record, "utf8")) as LockHolder;
    return typeof holder.pid === "number" ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Publishes this holder's record whole: readers see the old record or the new one, never a part. */
function writeHolder(record: string, holder: LockHolder): void {
  const draft = `${record}.${process.pid}.tmp`;
  writeFileSync(draft, JSON.stringify(holder) + "\n", { mode: 0o644 });
  renameSync(draft, record);
}

/**
 * The holder's record as a refused server reads it. A holder that has just taken the lock may
 * not have written its record yet: the file then holds none or that of a crashed holder. Read
 * again briefly (up to 3 s, for a holder paused on a loaded machine) until it names a live
 * process.
 */
function readHolderRetrying(record: string): LockHolder | undefined {
  let holder: LockHolder | undefined;
  for (let i = 0; i < 150 && !((holder = readHolder(record)) && !knownGone(holder)); i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  return holder;
}

/** A record of a process on this kernel and in this pid namespace that no longer runs. */
function knownGone(holder: LockHolder): boolean {
  const me = self();
  return holder.boot === me.boot && holder.pidns === me.pidns && !running(holder.pid, holder.started);
}

function inUse(database: string, file: string, holder: LockHolder | undefined) {
  return errors.databaseInUse(
    database,
    holder ? describe(holder) : `its lock file ${file} is locked`,
    "stop it first, or give this one its own database",
  );
}

/**
 * Why a record left in a lock whose kernel lock was free must still be respected, or
 * undefined when it may be taken over.
 */
function refuseTakeOver(holder: LockHolder, file: string): string | undefined {
  const me = self();
  if (holder.boot !== me.boot) {
    if (holder.host === me.host) return undefined; // this host rebooted since: its holder is gone
    return `it was taken on another host, which this one cannot check. If no cicd server runs there any more, delete ${file} and start again`;
  }
  if (holder.pidns === me.pidns && holder.pid !== process.pid && running(holder.pid, holder.started)) {
    return "that process still runs although the file's lock was free: this file system seems to ignore file locks. Stop it first, or keep the database on a local disk";
  }
  return undefined;
}

function describe(holder: LockHolder): string {
  return `pid ${holder.pid} on host ${holder.host}, since ${holder.since}`;
}

let mine: LockHolder | undefined;
function self(): LockHolder {
  mine ??= {
    pid: process.pid,
    host: hostname(),
    since: "",
    boot: readText("/proc/sys/kernel/random/boot_id"),
    pidns: readLink("/proc/self/ns/pid"),
    started: startTime(process.pid) ?? "",
  };
  return { ...mine, since: new Date().toISOString() };
}

/** Whether `pid` runs and is the process that started at `started` (not a reused pid). */
function running(pid: number, started: string): boolean {
  const now = startTime(pid);
  if (now !== undefined) return started === "" || now === started;
  if (existsProc()) return false;
  try {
    process.kill(pid, 0);
    return true; // without /proc, a live pid is all we can know
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of `/proc/<pid>/stat` (after the command name, which may hold spaces and parentheses). */
function startTime(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

function existsProc(): boolean {
  return readText("/proc/self/stat") !== "";
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function readLink(link: string): string {
  try {
    return readlinkSync(link);
  } catch {
    return "";
  }
}

function identity(file: string): { dev: number; ino: number } | undefined {
  try {
    const s = statSync(file);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}
