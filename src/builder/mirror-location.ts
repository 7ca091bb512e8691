import { createHash } from "node:crypto";
import { utimes } from "node:fs/promises";
import path from "node:path";
import { withFileLock } from "../servicefs/file-lock.js";
import { errors } from "../shared/errors.js";

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

/** A repository's identity for the cache: no credentials, scheme and host in lower case, no trailing slash. */
export function normalizeGitUrl(url: string): string {
  const text = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text.replace(/\/+$/, "");
  try {
    const u = new URL(text);
    if (/^https?:$/.test(u.protocol)) {
      u.username = "";
      u.password = "";
    }
    u.hash = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    return text.replace(/\/+$/, "");
  }
}

/** `sha256(normalized URL)`, first 16 hex digits: the mirror's name under `--git-cache`. */
export function mirrorKey(url: string): string {
  return createHash("sha256").update(normalizeGitUrl(url)).digest("hex").slice(0, 16);
}

export function mirrorFor(cache: GitCache, url: string): Mirror {
  if ("mirrorDir" in cache) return { gitDir: path.join(cache.mirrorDir, "mirror.git"), lockFile: path.join(cache.mirrorDir, "mirror.lock") };
  const key = mirrorKey(url);
  return { gitDir: path.join(cache.dir, `${key}.git`), lockFile: path.join(cache.dir, `${key}.lock`) };
}

/**
 * Runs `fn` holding the mirror's lock. Across containers a lock is judged stale by its age, so
 * the holder touches it while a long (first) fetch runs. An abort stops the wait at once.
 */
export async function withMirrorLock<T>(mirror: Mirror, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const run = withFileLock(mirror.lockFile, async () => {
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
  }, { timeoutMs: LOCK_WAIT_MS, staleMs: 60_000 });
  if (!signal) return run;
  run.catch(() => undefined);
  return Promise.race([
    run,
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(errors.cancelled("The fetch"));
      signal.addEventListener("abort", () => reject(errors.cancelled("The fetch")), { once: true });
    }),
  ]);
}

