import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, stat, unlink, utimes } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";

/** What a download must match; each check is made only when known. */
export interface Expected {
  size?: number;
  sha256?: string;
}

/** Temp files of downloads in progress start with this (artifact names never start with "."). */
const PARTIAL = ".download-";
/** A partial download older than this is a leftover of a runner that died mid-download. */
const STALE_PARTIAL_MS = 60 * 60 * 1000;
/** A body that sends nothing for this long is given up (the API is then unreachable, not the artifact bad). */
const IDLE_MS = 60_000;

/**
 * The local copies of a target's artifacts for `cicd runner --api` (`--cache-dir`). A copy appears
 * only whole and checked: written to a hidden temp file, its size (and SHA-256 when one is
 * known) checked, fsynced, then renamed to the artifact's name. The copies last used are kept
 * (`keep`, default 3): a fallback to the previous good build then needs no download, even while
 * the API is unreachable. "Used" is the file's mtime, touched whenever a copy is handed out.
 */
export class ArtifactCache {
  constructor(
    readonly dir: string,
    readonly keep = 3,
  ) {}

  /** The copy of `name` if there is one of `size` bytes (any size when unknown), marked used. */
  async get(name: string, size?: number): Promise<string | undefined> {
    const file = this.fileOf(name);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || (size !== undefined && info.size !== size)) return undefined;
    await this.touch(file);
    return file;
  }

  /**
   * Stores `body` as `name`: whole and checked, or not at all. Throws UNPROCESSABLE
   * (artifactMismatch) when what arrived does not match `expected`; an error of `body` itself
   * (the connection broke) passes through. `stalled` is called when the body sends nothing for a
   * minute (it should abort the body).
   */
  async put(name: string, body: AsyncIterable<Uint8Array>, expected: Expected, stalled?: () => void): Promise<string> {
    const file = this.fileOf(name);
    await mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `${PARTIAL}${randomBytes(6).toString("hex")}`);
    // Executable, as the service file system's copy usually is: `--command "{file} --port 80"`
    // must work the same with --api as with --dir.
    const handle = await open(tmp, "w", 0o755);
    const hash = createHash("sha256");
    let size = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      if (stalled) idle = setTimeout(stalled, IDLE_MS);
    };
    try {
      arm();
      for await (const chunk of body) {
        arm();
        hash.update(chunk);
        size += chunk.byteLength;
        await handle.write(chunk);
      }
      clearTimeout(idle);
      if (expected.size !== undefined && size !== expected.size) throw errors.artifactMismatch(name, `has ${size} bytes; its build's record says ${expected.size}`);
      const sha256 = hash.digest("hex");
      if (expected.sha256 !== undefined && sha256 !== expected.sha256) throw errors.artifactMismatch(name, `has SHA-256 ${sha256}; the server said ${expected.sha256}`);
      // On disk before it has its name: after a power loss a copy is whole or absent, never short.
      await handle.sync();
      await handle.close();
      await rename(tmp, file);
      return file;
    } catch (error) {
      clearTimeout(idle);
      await handle.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Removes all but the `keep` copies last used (never `current`), and partial downloads
   * older than an hour (a runner that died mid-download; a younger one may be another runner's
   * download in progress). Returns the names removed. Best effort: a file that will not go is left.
   */
  async prune(current?: string): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    const now = Date.now();
    const copies: { name: string; used: number }[] = [];
    const removed: string[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const file = path.join(this.dir, entry.name);
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      if (entry.name.startsWith(PARTIAL)) {
        if (now - info.mtimeMs > STALE_PARTIAL_MS && (await unlink(file).then(() => true, () => false))) removed.push(entry.name);
      } else if (!entry.name.startsWith(".")) {
        copies.push({ name: entry.name, used: info.mtimeMs });
      }
    }
    copies.sort((a, b) => b.used - a.used);
    for (const { name } of copies.slice(this.keep)) {
      if (path.join(this.dir, name) === current) continue;
      if (await unlink(path.join(this.dir, name)).then(() => true, () => false)) removed.push(name);
    }
    return removed;
  }

  /**
   * The cache's path for artifact `name`. Names come from the server's builds.json: only a
   * plain file name is accepted, as in the service file system (artifactFileIn), so none can
   * write outside the cache or over a partial download.
   */
  fileOf(name: string): string {
    if (!name || name !== path.basename(name) || name.startsWith(".") || name.includes("\\") || name.includes("\0")) {
      throw errors.unsafePath("artifact", name, "expected a file name from builds.json");
    }
    return path.join(this.dir, name);
  }

  private async touch(file: string): Promise<void> {
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
  }
}
