import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { withFileLock } from "../servicefs/file-lock.js";
import { isCicdError } from "../shared/errors.js";
import { handOver, makeReachable, spawnIdentity, type CommandUser } from "./command-user.js";
import { runProcess } from "./run-process.js";

/**
 * A target's work tree kept between its builds (`workspace: incremental`; the builder's
 * `--keep-workspace DIR`, a folder the manager keeps per target and repository):
 *  - `DIR/tree`: the files, where the commands run; `DIR/tree/.git` is a file naming the
 *    repository, so `git` works in the commands as in a fresh clone;
 *  - `DIR/git`: the repository, which borrows its objects from the target's git mirror;
 *  - `DIR/.lock`: held by the build using them; DIR itself is the builder's, so the commands can
 *    neither remove the lock nor replace the folders.
 * Everything in the tree and its repository belongs to the commands' user, and only that user
 * ever runs git on them: a build that rewrote the repository's config (a filter, an ssh
 * command) changes nothing that runs as the builder, which holds the tokens. The tree is never
 * fetched into with credentials; its objects come from the mirror, which only the builder writes.
 */
export interface KeptWorkTree {
  workTree: string;
  gitDir: string;
  /** The commands' user (undefined: the builder's own), who owns the tree and runs its git. */
  user?: CommandUser;
}

/**
 * Runs `fn` with the kept work tree held for this build, or with undefined and a note for the
 * log when another build of the target holds it (two builds at once: this one checks out a
 * fresh tree rather than wait). A builder killed while it held the tree leaves a lock that is
 * taken over once it is a minute old.
 */
export async function withKeptWorkTree<T>(dir: string, user: CommandUser | undefined, fn: (kept: KeptWorkTree | undefined, note?: string) => Promise<T>): Promise<T> {
  let entered = false;
  try {
    return await withFileLock(
      path.join(dir, ".lock"),
      () => {
        entered = true;
        return fn({ workTree: path.join(dir, "tree"), gitDir: path.join(dir, "git"), user });
      },
      { timeoutMs: 0, staleMs: 60_000, refreshMs: 10_000 },
    );
  } catch (error) {
    if (entered || !isCicdError(error, "LOCK_TIMEOUT")) throw error;
    return fn(undefined, "note: another build of this target is using the kept work tree; this one checks out a fresh tree");
  }
}

/** Why updating the kept tree failed; the caller writes it afresh once, then goes without it. */
export class KeptTreeProblem extends Error {}

/**
 * Brings the kept tree to `commit` with git as the tree's user: checkout of the commit over
 * what is there (only the files that differ are written), then `git clean -ffdx` (everything
 * untracked or ignored goes: a build never sees another build's files). With `fresh`, or with no
 * repository yet, the tree is first emptied and its repository made anew. `objects` is the
 * mirror's object folder; `url` the source without credentials (the tree's `origin`). Throws KeptTreeProblem when git fails or HEAD is not `commit` after.
 */
export async function updateKeptTree(
  kept: KeptWorkTree,
  o: { commit: string; objects: string; url: string; env: NodeJS.ProcessEnv; fresh: boolean; signal?: AbortSignal },
): Promise<{ fresh: boolean }> {
  const env = { ...o.env, GIT_DIR: kept.gitDir, GIT_WORK_TREE: kept.workTree };
  const as = { cwd: kept.workTree, env, signal: o.signal, identity: spawnIdentity(kept.user) };
  const step = async (file: string, ...args: string[]) => {
    const result = await runProcess(file, args, as);
    if (result.code !== 0) throw new KeptTreeProblem(result.stderr.trim().split("\n").slice(-2).join(" / ") || `${file} ${args[0]} failed`);
    return result.stdout.trim();
  };
  if (kept.user) await makeReachable(kept.workTree);
  const fresh = o.fresh || !(await stat(path.join(kept.gitDir, "HEAD")).catch(() => undefined));
  if (fresh) {
    // rm does not follow symbolic links: whatever a build left there, only these two go.
    await rm(kept.workTree, { recursive: true, force: true });
    await rm(kept.gitDir, { recursive: true, force: true });
    await mkdir(kept.workTree, { mode: 0o755 });
    await mkdir(kept.gitDir, { mode: 0o755 });
    await handOver([kept.workTree, kept.gitDir], kept.user, o.signal);
    await step("git", "init", "-q");
    await step("git", "remote", "add", "origin", o.url);
  }
  // Written by the tree's user (a build may have made these paths links to elsewhere); the
  // mirror's folder can change when it was rebuilt, so every time.
  await step("sh", "-c", 'printf "%s\\n" "$1" > "$2/objects/info/alternates" && printf "gitdir: %s\\n" "$2" > "$3/.git"', "sh", o.objects, kept.gitDir, kept.workTree);
  await step("git", "checkout", "-q", "-f", "--detach", o.commit);
  await step("git", "clean", "-q", "-ffdx");
  const head = await step("git", "rev-parse", "HEAD");
  if (head !== o.commit) throw new KeptTreeProblem(`HEAD is ${head}, not ${o.commit}`);
  return { fresh };
}
