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
 * Runs `fn` holding the mirror's lock. Across containers a lock is judged stale by its age;
 * withFileLock keeps it fresh while a long (first) fetch runs, every 10 s. `fn` gets a signal
 * that aborts when the build is cancelled or the lock is found taken (then the fetch must stop:
 * another builder writes the mirror). An abort stops the wait for the lock.
 */
export async function withMirrorLock<T>(mirror: Mirror, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withFileLock(
    mirror.lockFile,
    async (lock) => {
      if (signal?.aborted) throw errors.cancelled("The fetch");
      return await fn(signal ? AbortSignal.any([signal, lock.signal]) : lock.signal);
    },
    { timeoutMs: LOCK_WAIT_MS, staleMs: 60_000, refreshMs: 10_000, signal },
  );
}
