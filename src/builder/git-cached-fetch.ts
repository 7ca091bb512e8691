import { access, appendFile, constants, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { errorMessage, errors, isCicdError } from "../shared/errors.js";
import { configValue, fetchGit, gitEnv, headCommit, lastLines, type GitFetchOptions } from "./git-fetch.js";
import { MirrorProblem, updateMirror } from "./git-mirror.js";
import { KeptTreeProblem, updateKeptTree, type KeptWorkTree } from "./kept-work-tree.js";
import { mirrorFor, withMirrorLock, type GitCache, type Mirror } from "./mirror-location.js";
import { runProcess } from "./run-process.js";

export interface CachedFetchOptions extends GitFetchOptions {
  cache: GitCache;
  /** Update this kept work tree (`dir` is its tree) rather than write every file into an empty `dir`. */
  kept?: KeptWorkTree;
}

/**
 * fetchGit through a bare mirror kept in the git cache: under the mirror's lock, fetch only
 * what the mirror lacks; then make the work tree a repository that borrows the mirror's objects
 * (alternates) and check out the exact commit, with `origin` the real URL. The cache never
 * fails a build: a damaged mirror is rebuilt once, and any other cache problem (folder not
 * writable, lock held too long, a second failure) falls back to the plain fetch, with a note.
 * Problems of the source itself (auth, no such ref) fail as the plain fetch does.
 */
export async function fetchGitCached(o: CachedFetchOptions): Promise<string> {
  const mirror = mirrorFor(o.cache, o.url);
  const unusable = await unusableReason(path.dirname(mirror.gitDir));
  if (unusable) {
    if (o.kept) throw new KeptTreeProblem(`the git cache is not usable (${unusable})`);
    o.log.line(`note: the git cache ${path.dirname(mirror.gitDir)} is not usable (${unusable}); fetching without it`);
    return fetchGit(o);
  }
  const env = await gitEnv(o);
  o.log.line(`fetching ${o.url}${o.ref ? ` ref ${o.ref}` : ""}${o.sha ? ` commit ${o.sha}` : ""} through the git cache`);
  let replace: number | undefined;
  for (;;) {
    let id: number | undefined;
    try {
      const fetched = await withMirrorLock(mirror, (signal) => updateMirror({ ...o, signal, mirror, env, replace }), o.signal);
      id = fetched.id;
      return o.kept ? await updateKept(o, o.kept, mirror, fetched.commit) : await checkout(o, env, mirror, fetched.commit);
    } catch (error) {
      if (o.signal?.aborted) throw errors.sourceFetchFailed(o.url, "the build was cancelled");
      if (isCicdError(error) && error.code === "SOURCE_FETCH_FAILED") throw error;
      const why = o.log.mask(errorMessage(error));
      if (error instanceof MirrorProblem && error.damaged && id !== undefined && replace === undefined) {
        if (!o.kept) await emptyFolder(o.dir);
        o.log.line(`note: the git cache is damaged (${why}); rebuilding it`);
        replace = id;
        continue;
      }
      // The kept tree is the commands' user's: the builder never fetches into it (as root, with
      // the credentials). The build goes on in a fresh tree of its own (run-build.ts).
      if (o.kept) throw error instanceof KeptTreeProblem ? error : new KeptTreeProblem(`the git cache could not be used (${why})`);
      await emptyFolder(o.dir);
      o.log.line(`note: the git cache could not be used (${why}); fetching without it`);
      return fetchGit(o);
    }
  }
}

/** The work tree borrows the mirror's objects: nothing is copied, only the files are written. */
async function checkout(o: CachedFetchOptions, env: NodeJS.ProcessEnv, mirror: Mirror, commit: string): Promise<string> {
  const git = (...args: string[]) => runProcess("git", args, { cwd: o.dir, env, signal: o.signal });
  const step = async (...args: string[]) => {
    const result = await git(...args);
    if (result.code !== 0) throw new MirrorProblem(o.log.mask(lastLines(result.stderr) || `git ${args[0]} failed`), args[0] === "checkout");
    return result.stdout.trim();
  };
  await step("init", "-q", ".");
  await writeFile(path.join(o.dir, ".git", "objects", "info", "alternates"), `${path.resolve(mirror.gitDir, "objects")}\n`);
  // What `git remote add origin URL` writes, without a process of its own (each costs milliseconds).
  await appendFile(path.join(o.dir, ".git", "config"), `[remote "origin"]\n\turl = ${configValue(o.url)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`);
  await step("checkout", "-q", "--detach", commit);
  const head = await headCommit(o.dir).catch(() => step("rev-parse", "HEAD"));
  if (head !== commit || (o.sha && !head.startsWith(o.sha.toLowerCase()))) {
    throw errors.sourceFetchFailed(o.url, `checked out ${head}, not the commit ${o.sha ?? commit} asked for`);
  }
  o.log.line(`checked out ${head}`);
  return head;
}

/**
 * The kept work tree at `commit` (kept-work-tree.ts): updated in place, or written afresh once
 * when that fails (a build damaged it); a second failure is the caller's KeptTreeProblem. Its git runs as the tree's user and without the
 * credentials, which only the mirror's fetch needs.
 */
async function updateKept(o: CachedFetchOptions, kept: KeptWorkTree, mirror: Mirror, commit: string): Promise<string> {
  if (o.sha && !commit.startsWith(o.sha.toLowerCase())) throw errors.sourceFetchFailed(o.url, `the mirror has ${commit}, not the commit ${o.sha} asked for`);
  const env = await gitEnv({ ...o, credentials: undefined });
  const objects = path.resolve(mirror.gitDir, "objects");
  let fresh: boolean;
  try {
    ({ fresh } = await updateKeptTree(kept, { commit, objects, url: o.url, env, fresh: false, signal: o.signal }));
  } catch (error) {
    if (!(error instanceof KeptTreeProblem)) throw error;
    o.log.line(`note: the kept work tree could not be updated (${o.log.mask(error.message)}); writing it afresh`);
    ({ fresh } = await updateKeptTree(kept, { commit, objects, url: o.url, env, fresh: true, signal: o.signal }));
  }
  o.log.line(`checked out ${commit} in ${fresh ? "a fresh" : "the"} kept work tree`);
  return commit;
}

async function unusableReason(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "EACCES" || code === "EROFS" || code === "EPERM" ? "not writable" : errorMessage(error);
  }
}

/** The plain fetch wants an empty folder again. */
async function emptyFolder(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((n) => rm(path.join(dir, n), { recursive: true, force: true })));
}
