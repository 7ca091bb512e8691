import { lstat, mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { withFileLock } from "../servicefs/file-lock.js";
import { isCicdError } from "../shared/errors.js";
import { handOver, makeReachable, spawnIdentity, type CommandUser } from "./command-user.js";
import { configValue } from "./git-fetch.js";
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
 * Brings the kept tree to `commit`, every git step run as the tree's user:
 *  1. the repository's state a build could have changed is reset: its config is written anew
 *     (`origin` the source's URL, nothing else), and its index, `info/` (attributes, excludes,
 *     sparse checkout), `refs/replace/` and `modules/` are removed; replace refs are ignored;
 *  2. the index is read from the commit and compared with the files by content (a forged
 *     index or a skip-worktree bit is not trusted), then the commit is checked out: only the
 *     files that differ are written;
 *  3. `git clean -ffdx` removes everything untracked or ignored, and submodule folders (which a
 *     fresh checkout leaves empty) are emptied: a build never sees another build's files.
 * With `fresh`, or with no repository yet, the tree and the repository are emptied first (by
 * the tree's user: the builder never walks what a build could rearrange) and made anew.
 * `objects` is the mirror's object folder; `url` the source without credentials. Says whether
 * the tree was written afresh. Throws KeptTreeProblem when a step fails or HEAD is not `commit`.
 */
export async function updateKeptTree(
  kept: KeptWorkTree,
  o: { commit: string; objects: string; url: string; env: NodeJS.ProcessEnv; fresh: boolean; signal?: AbortSignal },
): Promise<{ fresh: boolean }> {
  const env = { ...o.env, GIT_DIR: kept.gitDir, GIT_WORK_TREE: kept.workTree, GIT_NO_REPLACE_OBJECTS: "1" };
  const as = { cwd: kept.workTree, env, signal: o.signal, identity: spawnIdentity(kept.user) };
  const run = (file: string, ...args: string[]) => runProcess(file, args, as);
  const step = async (file: string, ...args: string[]) => {
    const result = await run(file, ...args);
    if (result.code !== 0) throw new KeptTreeProblem(result.stderr.trim().split("\n").slice(-2).join(" / ") || `${file} ${args[0]} failed`);
    return result.stdout;
  };
  if (kept.user) await makeReachable(path.dirname(kept.workTree));
  const fresh = o.fresh || !(await stat(path.join(kept.gitDir, "HEAD")).catch(() => undefined));
  if (fresh) {
    await ownFolders(kept, o.signal);
    await step("find", kept.workTree, kept.gitDir, "-mindepth", "1", "-delete");
    await step("git", "init", "-q");
  } else {
    await ownFolders(kept, o.signal);
  }
  await step("sh", "-c", RESET, "sh", kept.gitDir, kept.workTree, o.objects, repositoryConfig(o.url));
  await step("git", "read-tree", o.commit);
  // Exit 1 only says that files differ from the commit: the checkout writes those.
  await run("git", "update-index", "-q", "--refresh");
  await step("git", "checkout", "-q", "-f", "--detach", o.commit);
  await step("git", "clean", "-q", "-ffdx");
  const submodules = (await step("git", "ls-files", "--stage", "-z")).split("\0").filter((e) => e.startsWith("160000 ")).map((e) => e.slice(e.indexOf("\t") + 1));
  if (submodules.length) await step("find", ...submodules.map((p) => path.join(kept.workTree, p)), "-mindepth", "1", "-delete");
  const head = (await readFile(path.join(kept.gitDir, "HEAD"), "utf8").catch(() => "")).trim();
  if (head !== o.commit) throw new KeptTreeProblem(`HEAD is ${head || "unreadable"}, not ${o.commit}`);
  return { fresh };
}

/**
 * The tree's two folders exist, are folders and belong to its user. Anything else in their
 * place (a link a build made, a folder of another owner) is removed by the builder: that is an
 * entry of the builder's own folder, which no build can rearrange.
 */
async function ownFolders(kept: KeptWorkTree, signal?: AbortSignal): Promise<void> {
  for (const dir of [kept.workTree, kept.gitDir]) {
    const info = await lstat(dir).catch(() => undefined);
    const theirs = info?.isDirectory() && (!kept.user || info.uid === kept.user.uid);
    if (info && !theirs) await rm(dir, { recursive: true, force: true });
    if (!theirs) {
      await mkdir(dir, { mode: 0o755 });
      await handOver([dir], kept.user, signal);
    }
  }
}

/** Step 1 of updateKeptTree, one process: $1 the repository, $2 the tree, $3 the mirror's objects, $4 the config. */
const RESET = [
  "set -e",
  'rm -rf "$1/index" "$1/info" "$1/refs/replace" "$1/modules"',
  'printf "%s" "$4" > "$1/config"',
  'mkdir -p "$1/objects/info"',
  'printf "%s\\n" "$3" > "$1/objects/info/alternates"',
  'printf "gitdir: %s\\n" "$1" > "$2/.git"',
].join("\n");

/** The whole config of a kept tree's repository: git's defaults and `origin`. */
function repositoryConfig(url: string): string {
  return `[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = false\n[remote "origin"]\n\turl = ${configValue(url)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`;
}
