import { readdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { fsyncDir } from "./atomic-write.js";
import type { ServiceFs } from "./service-fs.js";

/**
 * Removes builds from a target's `builds.json` and deletes their artifacts, under the target's
 * lock: first the records (one atomic write, so a runner never reads a record whose files are
 * going), then the files — those the records named and `alsoFiles` (the names the database
 * kept, for a clean-up a crash interrupted after the records were gone). Keys builds.json does
 * not hold are fine: there is nothing to trim for them. Returns the keys whose records it removed.
 */
export async function removeBuilds(servicefs: ServiceFs, target: string, builds: { key: string; alsoFiles?: string[] }[]): Promise<string[]> {
  if (!builds.length) return [];
  const file = servicefs.builds(target);
  const dir = servicefs.targetDir(target);
  const wanted = new Set(builds.map((b) => b.key));
  return file.locked(async (lock) => {
    const doc = await file.read();
    const removed = doc.builds.filter((b) => wanted.has(b.key));
    if (removed.length) {
      await file.updateUnlocked((d) => {
        d.builds = d.builds.filter((b) => !wanted.has(b.key));
      }, lock);
    }
    // A file a kept record still names is never deleted (two records never share a file, but
    // the database's list of a crashed clean-up is only trusted this far).
    const kept = new Set(doc.builds.filter((b) => !wanted.has(b.key)).flatMap((b) => b.artifacts));
    const names = new Set([...removed.flatMap((b) => b.artifacts), ...builds.flatMap((b) => b.alsoFiles ?? [])]);
    let deleted = 0;
    for (const name of names) {
      if (kept.has(name) || name !== path.basename(name) || name.startsWith(".")) continue;
      await unlink(path.join(dir, name)).then(
        () => void deleted++,
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error;
        },
      );
    }
    // The unlinks are durable before the caller deletes the database rows that name them.
    if (deleted) await fsyncDir(dir);
    return removed.map((b) => b.key);
  });
}

/** Bytes of the regular files directly in `dir` (0 when it does not exist); hidden files count too. */
export async function folderBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    if (entry.isFile()) total += await stat(path.join(dir, entry.name)).then((s) => s.size, () => 0);
    else if (entry.isDirectory()) total += await folderBytes(path.join(dir, entry.name));
  }
  return total;
}
