import { utimes } from "node:fs/promises";
import path from "node:path";
import { withFileLock } from "../servicefs/file-lock.js";
import { errors } from "../shared/errors.js";
import { mirrorKey } from "../shared/git-url.js";

/**
 * Where a builder keeps bare mirrors of the repositories it fetches, so a build fetches only
 * the objects the mirror lacks.
 *  - `{ dir }` (`--git-cache DIR`): one mirror per repository, `DIR/<key>.git` (see mirrorKey).
 *  - `{ mirrorDir }` (`--git-mirror DIR`): DIR belongs to the one repository this builder builds;
 *    the manager mounts only that folder, so a build cannot reach another repository's mirror.
 */
export type GitCache = { dir: string } | { mirrorDir: string };

export interface Mirror {
  /** The bare repository. */
  gitDir: string;
  /** Lock file beside it: whoever changes the mirror holds it (builders share the cache). */
  lockFile: string;
}

/** How long a builder waits for another one's fetch into the same mirror before going without. */
const LOCK_WAIT_MS = 10 * 60_000;

export function mirrorFor(cache: GitCache, url: string): Mirror {
  if ("mirrorDir" in cache) return { gitDir: path.join(cache.mirrorDir, "mirror.git"), lockFile: path.join(cache.mirrorDir, "mirror.lock") };
  const key = mirrorKey(url);
  return { gitDir: path.join(cache.dir, `${key}.git`), lockFile: path.join(cache.dir, `${key}.lock`) };
}

/**
 * Runs `fn` holding the mirror's lock. Across containers a lock is judged stale by its age, so
 * the holder touches it while a long (first) fetch runs. An abort stops the wait for the lock.
 */
export async function withMirrorLock<T>(mirror: Mirror, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withFileLock(mirror.lockFile, async () => {
    const beat = setInterval(() => {
      const now = new Date();
      void utimes(mirror.lockFile, now, now).catch(() => undefined);
    }, 10_000);
    try {
      if (signal?.aborted) throw errors.cancelled("The fetch");
      return await fn();
    } finally {
      clearInterval(beat);
    }
  }, { timeoutMs: LOCK_WAIT_MS, staleMs: 60_000, signal });
}

