import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { errors } from "../shared/errors.js";
import type { BuildLog } from "./build-log.js";
import { baseEnv, runProcess, type ProcessResult } from "./run-process.js";

export interface GitFetchOptions {
  /** Remote URL without credentials (stored as `origin`). */
  url: string;
  /** `user:password` for HTTP(S) remotes, sent as a Basic Authorization header. */
  credentials?: string;
  ref?: string;
  sha?: string;
  /** Empty folder that becomes the work tree. */
  dir: string;
  /** A private folder outside the work tree for git's global config. */
  configDir: string;
  log: BuildLog;
  signal?: AbortSignal;
  /** More environment for git: the target's `env` (proxies) and its CA bundle. */
  env?: Record<string, string>;
}

/** The Authorization header value git sends for a token (GitHub's convention). */
export function basicHeader(credentials: string): string {
  return `Basic ${Buffer.from(credentials).toString("base64")}`;
}

export function tokenCredentials(token: string): string {
  return `x-access-token:${token}`;
}

/**
 * Fetches one commit into `dir` and checks it out: `git init` + shallow `git fetch` of the sha
 * or ref (or the remote HEAD), falling back to a full fetch when the server refuses a sha.
 * Credentials travel only in the environment (`http.<origin>.extraHeader`), never in argv or
 * .git/config. Returns the exact commit checked out.
 */
export async function fetchGit(o: GitFetchOptions): Promise<string> {
  const env = await gitEnv(o);
  const git = (...args: string[]) => runProcess("git", args, { cwd: o.dir, env, signal: o.signal });
  const fail = (why: string) => errors.sourceFetchFailed(o.url, o.log.mask(why));
  const branch = o.sha ? undefined : o.ref === undefined ? null : cloneableName(o.ref);
  if (branch !== undefined) {
    // A branch, tag or the default branch: one `git clone` does what init + remote + fetch +
    // checkout do below, a few process starts cheaper (they count in a 0.3 s build).
    o.log.line(`fetching ${o.url}${o.ref ? ` ref ${o.ref}` : ""}`);
    const cloned = await git("clone", "-q", "--depth", "1", "--no-tags", ...(branch ? ["--branch", branch] : []), "--", o.url, ".");
    if (cloned.code !== 0) throw fail(explain(cloned.stderr, o));
    const commit = await headCommit(o.dir).catch(async () => {
      const head = await git("rev-parse", "--verify", "-q", "HEAD");
      if (head.code !== 0) throw fail("the repository has no default branch (its HEAD points nowhere); ask for a ref");
      return head.stdout.trim();
    });
    o.log.line(`checked out ${commit}`);
    return commit;
  }
  await must(git("init", "-q", "."), fail);
  await must(git("remote", "add", "origin", o.url), fail);

  const want = o.sha ?? o.ref ?? "HEAD";
  o.log.line(`fetching ${o.url}${o.ref ? ` ref ${o.ref}` : ""}${o.sha ? ` commit ${o.sha}` : ""}`);
  const shallow = await git("fetch", "--depth", "1", "--no-tags", "origin", want);
  if (shallow.code === 0) {
    await must(git("checkout", "-q", "--detach", "FETCH_HEAD"), fail);
  } else if (o.sha && !isAuthProblem(shallow.stderr)) {
    // Servers without uploadpack.allowReachableSHA1InWant refuse a sha; fetch everything instead.
    o.log.line("the server refused a shallow fetch of the commit; fetching all branches and tags");
    await must(git("fetch", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"), fail);
    const found = await git("rev-parse", "--verify", "-q", `${o.sha}^{commit}`);
    if (found.code !== 0) throw fail(`commit ${o.sha} was not found in the repository`);
    await must(git("checkout", "-q", "--detach", found.stdout.trim()), fail);
  } else {
    throw fail(explain(shallow.stderr, o));
  }
  const head = await must(git("rev-parse", "HEAD"), fail);
  const commit = head.stdout.trim();
  if (o.sha && !commit.startsWith(o.sha.toLowerCase())) throw fail(`checked out ${commit}, not the commit ${o.sha} asked for`);
  o.log.line(`checked out ${commit}`);
  return commit;
}

/**
 * The name `git clone --branch` takes for a ref: `main`, `refs/heads/main` → `main`,
 * `refs/tags/v1` → `v1`; undefined for other refs (pull request heads), which need a fetch.
 */
function cloneableName(ref: string): string | undefined {
  const m = /^refs\/(?:heads|tags)\/(.+)$/.exec(ref);
  if (m) return m[1];
  return ref.startsWith("refs/") || ref === "HEAD" ? undefined : ref;
}

/** The commit HEAD points at, read from .git without starting a process. */
export async function headCommit(dir: string): Promise<string> {
  const head = (await readFile(path.join(dir, ".git", "HEAD"), "utf8")).trim();
  const m = /^ref: (.+)$/.exec(head);
  const sha = m ? (await readFile(path.join(dir, ".git", m[1]!), "utf8")).trim() : head;
  if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new Error("HEAD is not a plain commit");
  return sha;
}

/**
 * A value as git's config file reads it: quoted, with backslashes, quotes, newlines and tabs
 * escaped (what `git config` itself writes).
 */
export function configValue(value: string): string {
  const escapes: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\b": "\\b" };
  return `"${value.replace(/[\\"\n\t\b]/g, (c) => escapes[c]!)}"`;
}

/** The environment every git call of a build runs with; credentials travel only here. */
export async function gitEnv(o: Pick<GitFetchOptions, "url" | "credentials" | "configDir" | "log" | "env">): Promise<NodeJS.ProcessEnv> {
  // Our own global config: the user's ~/.gitconfig cannot change a build, and a repository
  // mounted from the host (other owner) is not refused as "dubious ownership".
  const configFile = path.join(o.configDir, "gitconfig");
  await writeFile(configFile, "[safe]\n\tdirectory = *\n[advice]\n\tdetachedHead = false\n[init]\n\tdefaultBranch = main\n");
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    ...o.env,
    LANG: "C",
    LC_ALL: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_GLOBAL: configFile,
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
  };
  // Settings in the environment outrank every config file, the repository's own included: a
  // mirror or work tree a build wrote to can never make the builder's git run a hook or a
  // file-system monitor (both run programs).
  const settings: [string, string][] = [["core.hooksPath", "/dev/null"], ["core.fsmonitor", "false"]];
  if (o.credentials && /^https?:/i.test(o.url)) {
    // Scoped to the remote's origin so a redirect elsewhere does not carry the header.
    settings.push([`http.${new URL(o.url).origin}/.extraHeader`, `Authorization: ${basicHeader(o.credentials)}`]);
  } else if (o.credentials) {
    o.log.line("note: the token is used for https URLs only; this URL authenticates with ssh keys");
  }
  env.GIT_CONFIG_COUNT = String(settings.length);
  settings.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

async function must(pending: Promise<ProcessResult>, fail: (why: string) => Error): Promise<ProcessResult> {
  const result = await pending;
  if (result.code !== 0) throw fail(lastLines(result.stderr) || `git exited with code ${result.code}`);
  return result;
}

/** git's words when an HTTP(S) server wants (other) credentials. */
const HTTP_AUTH_FAILED = /could not read (Username|Password)|terminal prompts disabled|Authentication failed|HTTP 40[13]|error: 40[13]/i;

export function isAuthProblem(stderr: string): boolean {
  return HTTP_AUTH_FAILED.test(stderr) || /Permission denied \(publickey|Host key verification failed/i.test(stderr);
}

/** Turns git's last words into a message that says what to do. */
export function explain(stderr: string, o: Pick<GitFetchOptions, "ref" | "sha" | "credentials">): string {
  const authFailed = HTTP_AUTH_FAILED.test(stderr);
  // With a token sent, git asks for a user name only after the server refused the token.
  if (authFailed && !o.credentials) return "authentication required: the repository is private; set the target's token";
  if (authFailed) return "authentication failed: the server refused the token; check the target's token and its access to the repository";
  if (/Permission denied \(publickey/i.test(stderr)) return "ssh authentication failed: the server accepts none of the builder's ssh keys";
  if (/Host key verification failed/i.test(stderr)) return "ssh host key verification failed for the server";
  if (REF_NOT_FOUND.test(stderr)) {
    return o.ref || o.sha
      ? `the ref ${o.ref ?? o.sha} was not found in the repository`
      : "the repository has no default branch (its HEAD points nowhere); ask for a ref";
  }
  if (REPO_NOT_FOUND.test(stderr)) {
    return `repository not found${o.credentials ? "" : " (if it is private, set the target's token)"}`;
  }
  return lastLines(stderr) || "git fetch failed";
}

const REF_NOT_FOUND = /couldn't find remote ref|Remote branch .* not found/i;
const REPO_NOT_FOUND = /Repository not found|does not appear to be a git repository|HTTP 404|error: 404/i;

/** A problem of the source itself (access, no such repository or ref), not of how it was fetched. */
export function isSourceProblem(stderr: string): boolean {
  return isAuthProblem(stderr) || REF_NOT_FOUND.test(stderr) || REPO_NOT_FOUND.test(stderr);
}

export function lastLines(text: string): string {
  return text.trim().split(/\r?\n/).filter(Boolean).slice(-4).join(" / ");
}
