import { lstat, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import { writeFileAtomic } from "./atomic-write.js";
import { withFileLock, type HeldLock, type LockOptions } from "./file-lock.js";

/** One build in `builds.json` (the contract's fields first; the rest is informative). */
export interface BuildRecord {
  key: string;
  status: "good" | "bad";
  createdAt: string;
  commit: string | null;
  ref: string | null;
  artifacts: string[];
  /** Size in bytes of each artifact, by file name. */
  sizes?: Record<string, number>;
  durationMs?: number;
  /** Set when a runner marked the build bad. */
  markedBadAt?: string;
  exitCode?: number | null;
  signal?: string | null;
  reason?: string;
  [extra: string]: unknown;
}

export interface BuildsDocument {
  target: string;
  builds: BuildRecord[];
}

export const BUILDS_FILE = "builds.json";
const LOCK_FILE = ".builds.lock";

/**
 * `builds.json` of one target folder. Oldest first; "newest" is the last entry. Every change is
 * a read-modify-write under a cross-process lock with an atomic replace, so a builder appending
 * and a runner marking a build bad at the same moment both land. A file that does not parse is
 * never overwritten: the change fails with METADATA_CORRUPT.
 */
export class BuildsFile {
  readonly file: string;
  constructor(
    readonly dir: string,
    readonly target: string,
    private readonly lockOptions: LockOptions = {},
  ) {
    this.file = path.join(dir, BUILDS_FILE);
  }

  /** The current document (empty when the file does not exist yet). */
  async read(): Promise<BuildsDocument> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A dangling symlink reads as ENOENT too, but an update would replace the link itself.
      if (code === "ENOENT" && !(await lstat(this.file).then(() => true, () => false))) return { target: this.target, builds: [] };
      throw errors.metadataCorrupt(this.file, unreadable(code));
    }
    return parseBuilds(this.file, text);
  }

  /** Applies `change` to the document under the lock and writes it back atomically. */
  async update<T>(change: (doc: BuildsDocument) => T): Promise<T> {
    return this.locked((lock) => this.updateUnlocked(change, lock));
  }

  /**
   * The body of update() for a caller that already holds the lock (see locked()). With `lock`,
   * the write is refused (LOCK_LOST) if the lock was lost meanwhile, before the file changes.
   */
  async updateUnlocked<T>(change: (doc: BuildsDocument) => T, lock?: HeldLock): Promise<T> {
    const doc = await this.read();
    const result = change(doc);
    await writeFileAtomic(this.file, `${JSON.stringify(doc, null, 2)}\n`, lock && (() => lock.assertHeld()));
    return result;
  }

  /** Runs `fn` under the same lock without writing (for publishing files by name). */
  async locked<T>(fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      // The target's folder is a file: say so as read() would, not "EEXIST: mkdir <path>".
      throw error.code === "EEXIST" || error.code === "ENOTDIR" ? errors.metadataCorrupt(this.file, unreadable("ENOTDIR")) : error;
    });
    return withFileLock(path.join(this.dir, LOCK_FILE), fn, this.lockOptions);
  }

  async append(record: BuildRecord): Promise<void> {
    await this.update((doc) => {
      doc.builds.push(record);
    });
  }

  /** Marks `key` bad with why; returns false when no such build exists. */
  async markBad(key: string, info: { exitCode?: number | null; signal?: string | null; reason?: string } = {}): Promise<boolean> {
    return this.update((doc) => {
      const build = doc.builds.find((b) => b.key === key);
      if (!build) return false;
      build.status = "bad";
      build.markedBadAt = new Date().toISOString();
      if (info.exitCode !== undefined) build.exitCode = info.exitCode;
      if (info.signal !== undefined) build.signal = info.signal;
      if (info.reason !== undefined) build.reason = info.reason;
      return true;
    });
  }

  /** Good builds, newest first. */
  async goodNewestFirst(): Promise<BuildRecord[]> {
    const doc = await this.read();
    return doc.builds.filter((b) => b.status === "good").reverse();
  }

  async newestGood(): Promise<BuildRecord | undefined> {
    return (await this.goodNewestFirst())[0];
  }
}

/**
 * Why builds.json could not be read, in the target's terms: the raw errno text (EISDIR, EACCES …)
 * names a system call and a path, not what the user has to fix.
 */
function unreadable(code: string | undefined): string {
  switch (code) {
    case "EISDIR":
      return "it is a folder, not a file";
    case "EACCES":
    case "EPERM":
      return "the server may not read it (permission denied)";
    case "ELOOP":
      return "it is a symbolic link that loops";
    case "ENOENT":
      return "it is a symbolic link to a missing file";
    case "ENOTDIR":
      return "a part of its path is a file, not a folder";
    default:
      return `it could not be read (${code ?? "unknown error"})`;
  }
}

function parseBuilds(file: string, text: string): BuildsDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw errors.metadataCorrupt(file, `not JSON (${(error as Error).message})`);
  }
  const d = doc as Partial<BuildsDocument>;
  if (!d || typeof d !== "object" || typeof d.target !== "string" || !Array.isArray(d.builds)) {
    throw errors.metadataCorrupt(file, "expected {\"target\": NAME, \"builds\": [...]}");
  }
  for (const b of d.builds) {
    if (!b || typeof b.key !== "string" || (b.status !== "good" && b.status !== "bad") || !Array.isArray(b.artifacts)) {
      throw errors.metadataCorrupt(file, "every build needs key, status good|bad and artifacts");
    }
  }
  return d as BuildsDocument;
}
