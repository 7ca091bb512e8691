import { createHash } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import { normalizeGitUrl } from "../shared/git-url.js";
import type { BuildLog } from "./build-log.js";
import { explain, isAuthProblem, isSourceProblem, lastLines } from "./git-fetch.js";
import type { Mirror } from "./mirror-location.js";
import { runProcess } from "./run-process.js";

/** A problem of the cache, never of the source: the build goes on without the cache. */
export class MirrorProblem extends Error {
  /** The mirror itself is damaged (rebuild it), rather than unreachable or busy. */
  constructor(message: string, readonly damaged: boolean) {
    super(message);
  }
}

/** Refs kept under refs/cicd/ (one per ref built); older ones are dropped and git collects them. */
const MAX_KEPT_REFS = 100;

export interface MirrorFetch {
  mirror: Mirror;
  /** The remote, without credentials (the mirror's `origin`). */
  url: string;
  credentials?: string;
  ref?: string;
  sha?: string;
  env: NodeJS.ProcessEnv;
  log: BuildLog;
  signal?: AbortSignal;
  /** Delete the mirror first if it is still the one with this inode (a checkout from it failed). */
  replace?: number;
}

/**
 * Call under the mirror's lock. Makes the mirror (again, if it is unusable), fetches the wanted
 * sha or ref into it and returns the exact commit plus the mirror's inode. Throws a
 * SOURCE_FETCH_FAILED CicdError for a problem of the source (auth, no such ref or commit) and a
 * MirrorProblem for a problem of the cache.
 */
export async function updateMirror(f: MirrorFetch): Promise<{ commit: string; id: number }> {
  if (f.replace !== undefined && (await stat(f.mirror.gitDir).catch(() => undefined))?.ino === f.replace) {
    await rm(f.mirror.gitDir, { recursive: true, force: true });
  }
  await ensureMirror(f);
  const keep = `refs/cicd/${createHash("sha256").update(f.ref ?? "").digest("hex").slice(0, 16)}`;
  // A ref built before is only moved: the count of kept refs changes only with a new one (a
  // packed ref reads as new, which costs one needless count).
  const known = !!(await stat(path.join(f.mirror.gitDir, keep)).catch(() => undefined));
  let commit: string;
  try {
    commit = await fetchInto(f, keep);
  } catch (error) {
    if (!(error instanceof MirrorProblem) || !error.damaged) throw error;
    f.log.line(`note: the git cache is damaged (${error.message}); rebuilding it`);
    await rm(f.mirror.gitDir, { recursive: true, force: true });
    await ensureMirror(f);
    commit = await fetchInto(f, keep);
  }
  if (!known) await dropOldRefs(f);
  return { commit, id: (await stat(f.mirror.gitDir)).ino };
}

function gitIn(f: MirrorFetch) {
  return (...args: string[]) => runProcess("git", ["--git-dir", f.mirror.gitDir, ...args], { env: f.env, signal: f.signal });
}

/** A bare repository whose origin is this URL, or a new one in its place. */
async function ensureMirror(f: MirrorFetch): Promise<void> {
  const git = gitIn(f);
  if (await stat(f.mirror.gitDir).catch(() => undefined)) {
    const origin = await git("config", "--get", "remote.origin.url");
    if (origin.code === 0 && normalizeGitUrl(origin.stdout.trim()) === normalizeGitUrl(f.url)) return;
    const why = origin.code === 0 ? "it held another repository" : "it is not a git repository";
    f.log.line(`note: the git cache could not be used (${why}); rebuilding it`);
    await rm(f.mirror.gitDir, { recursive: true, force: true });
  }
  const init = await runProcess("git", ["init", "-q", "--bare", f.mirror.gitDir], { env: f.env, signal: f.signal });
  if (init.code !== 0) throw new MirrorProblem(f.log.mask(lastLines(init.stderr)), false);
  // The remote's URL carries no credentials; they travel in the environment on each fetch.
  for (const [key, value] of [["remote.origin.url", f.url], ["gc.autoDetach", "false"]] as const) {
    const set = await git("config", key, value);
    if (set.code !== 0) throw new MirrorProblem(f.log.mask(lastLines(set.stderr)), false);
  }
}

/** Fetches what the build wants into `keep`, a ref of its own (so git keeps it), and resolves the commit. */
async function fetchInto(f: MirrorFetch, keep: string): Promise<string> {
  const git = gitIn(f);
  const fullSha = f.sha && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(f.sha) ? f.sha : undefined;
  if (fullSha && (await git("cat-file", "-e", `${fullSha}^{commit}`)).code === 0) {
    // git would not even connect for a commit it has; the server must still say this build may
    // read the repository (and that it still exists).
    const asked = await git("ls-remote", "origin", "HEAD");
    if (asked.code !== 0) throw classify(asked.stderr, f);
    await git("update-ref", keep, fullSha);
    return fullSha;
  }
  let fetched = await git("fetch", "--no-tags", "--no-write-fetch-head", "origin", `+${f.sha ?? f.ref ?? "HEAD"}:${keep}`);
  const refused = fetched.code !== 0 && !!f.sha && !isAuthProblem(fetched.stderr);
  if (refused) {
    // Servers without uploadpack.allowReachableSHA1InWant refuse a sha (and a short sha is never
    // a ref): take every branch and tag, pruned so the mirror stays the size of the repository.
    f.log.line("the server refused a fetch of the commit by sha; fetching all branches and tags into the git cache");
    fetched = await git("fetch", "--prune", "--no-tags", "--no-write-fetch-head", "origin", "+refs/heads/*:refs/cicd/all/heads/*", "+refs/tags/*:refs/cicd/all/tags/*");
  }
  if (fetched.code !== 0) throw classify(fetched.stderr, f);
  // A full sha fetched is that commit (the checkout checks it is one): no process to ask.
  if (fullSha && !refused) return fullSha;
  const found = await git("rev-parse", "--verify", "-q", `${f.sha ?? keep}^{commit}`);
  if (found.code !== 0 && f.sha) throw errors.sourceFetchFailed(f.url, `commit ${f.sha} was not found in the repository`);
  if (found.code !== 0) throw new MirrorProblem(`the fetched ${f.ref ?? "HEAD"} is not in the mirror`, true);
  const commit = found.stdout.trim();
  if (refused) await git("update-ref", keep, commit);
  return commit;
}

/** A source problem (say what to do, as a plain fetch would) or a cache problem. */
function classify(stderr: string, f: MirrorFetch): Error {
  if (isSourceProblem(stderr)) {
    return errors.sourceFetchFailed(f.url, f.log.mask(explain(stderr, f)));
  }
  return new MirrorProblem(f.log.mask(lastLines(stderr) || "git fetch failed"), isDamage(stderr));
}

/** Network trouble says nothing about the mirror; anything else unexplained is taken as damage. */
function isDamage(stderr: string): boolean {
  return !/Could not resolve|Connection (refused|reset|timed out|closed)|Failed to connect|timed out|unable to access|RPC failed|Empty reply|SSL|TLS|ssh: connect|Could not read from remote/i.test(stderr);
}

/** Keeps the newest MAX_KEPT_REFS refs of built refs; what only the others reached, git collects. */
async function dropOldRefs(f: MirrorFetch): Promise<void> {
  const git = gitIn(f);
  const listed = await git("for-each-ref", "--sort=-committerdate", "--format=%(refname)", "refs/cicd/");
  const refs = listed.stdout.split("\n").filter((r) => /^refs\/cicd\/[0-9a-f]{16}$/.test(r));
  for (const ref of refs.slice(MAX_KEPT_REFS)) await git("update-ref", "-d", ref);
}
