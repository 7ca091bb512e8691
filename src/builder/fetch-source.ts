import { cp, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ServiceFs } from "../servicefs/service-fs.js";
import { errors, errorMessage, isCicdError } from "../shared/errors.js";
import type { BuildLog } from "./build-log.js";
import { fetchGitCached } from "./git-cached-fetch.js";
import { fetchGit, tokenCredentials } from "./git-fetch.js";
import { KeptTreeProblem, type KeptWorkTree } from "./kept-work-tree.js";
import type { GitCache } from "./mirror-location.js";
import { baseEnv, runProcess } from "./run-process.js";
import { parseSource, redact } from "./source-url.js";
import { unzip } from "./unzip.js";

export interface FetchSourceOptions {
  url: string;
  ref?: string;
  sha?: string;
  token?: string;
  /** Empty folder the source lands in. */
  workspace: string;
  /** Private folder outside the workspace (git's config). */
  configDir: string;
  /** Root of the service file system, for servicefs:// URLs. */
  servicefs: string;
  /** Keep bare mirrors of git sources here, so a build fetches only new objects. */
  gitCache?: GitCache;
  /** A remote git source updates this kept work tree (`workspace` is its tree) through the git cache. */
  kept?: KeptWorkTree;
  log: BuildLog;
  signal?: AbortSignal;
  /** More environment for git (the target's `env` and CA bundle). */
  env?: Record<string, string>;
}

/**
 * Puts the source named by `url` into the workspace and returns the exact commit (null for a
 * folder or archive). Git repositories — remote, or local ones named by file:// — are fetched
 * with git so the commit is known; local folders are copied; archives (.tar, .tar.gz, .tgz,
 * .zip) are unpacked. Every failure is a CicdError whose message is masked.
 */
export async function fetchSource(o: FetchSourceOptions): Promise<{ commit: string | null }> {
  const source = parseSource(o.url);
  const fail = (why: string) => errors.sourceFetchFailed(redact(o.url), o.log.mask(why));
  const git = (url: string, credentials?: string) => {
    const options = { url, credentials, ref: o.ref, sha: o.sha, dir: o.workspace, configDir: o.configDir, log: o.log, signal: o.signal, env: o.env };
    return o.gitCache ? fetchGitCached({ ...options, cache: o.gitCache, kept: o.kept }) : fetchGit(options);
  };
  // git reads an argument that starts with "-" as an option (--upload-pack runs a command).
  if (o.ref !== undefined && (o.ref.startsWith("-") || o.ref.includes(":") || [...o.ref].some((c) => c <= " " || c === "\x7f"))) {
    throw fail(`"${o.ref.slice(0, 80)}" is not a branch, tag or ref name`);
  }
  try {
    if (source.kind === "git") {
      return { commit: await git(source.url, source.credentials ?? (o.token ? tokenCredentials(o.token) : undefined)) };
    }
    let real: string;
    if (source.kind === "servicefs") {
      real = await new ServiceFs(o.servicefs).resolve(source.rel);
    } else {
      real = source.path;
    }
    const info = await stat(real);
    if (info.isDirectory() && source.kind === "local" && (await isGitRepository(real))) {
      return { commit: await git(pathToFileURL(real).href) };
    }
    if (o.ref || o.sha) o.log.line(`note: ${o.url} is not a git repository; the ref and sha asked for are ignored`);
    if (info.isDirectory()) {
      o.log.line(`copying ${o.url}`);
      await cp(real, o.workspace, { recursive: true, verbatimSymlinks: true, force: true });
    } else if (info.isFile() && archiveKind(real)) {
      o.log.line(`unpacking ${o.url}`);
      await unpack(real, o.workspace, o.signal);
    } else {
      throw fail("expected a folder, a git repository or a .tar, .tar.gz, .tgz or .zip archive");
    }
    return { commit: null };
  } catch (error) {
    // The kept work tree's problem is the caller's to handle (a fresh tree), not the source's.
    if (isCicdError(error) || error instanceof KeptTreeProblem) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === "ENOENT" ? "no such file or folder" : errorMessage(error));
  }
}

/** A work tree (has .git) or a bare repository (HEAD, objects/ and refs/ at its top). */
async function isGitRepository(dir: string): Promise<boolean> {
  const exists = (p: string) => stat(path.join(dir, p)).then(() => true, () => false);
  if (await exists(".git")) return true;
  return (await exists("HEAD")) && (await exists("objects")) && (await exists("refs"));
}

function archiveKind(file: string): "tar" | "zip" | undefined {
  const name = file.toLowerCase();
  if (name.endsWith(".zip")) return "zip";
  return /\.(tar|tgz|tar\.(gz|bz2|xz|zst))$/.test(name) ? "tar" : undefined;
}

async function unpack(file: string, dest: string, signal?: AbortSignal): Promise<void> {
  if (archiveKind(file) === "zip") {
    await unzip(file, dest);
    return;
  }
  // GNU tar detects the compression, refuses `..` members and defers symlinks that point out.
  const result = await runProcess("tar", ["-x", "-f", file, "-C", dest, "--no-same-owner", "--no-same-permissions"], {
    env: { ...baseEnv(), LC_ALL: "C" },
    signal,
  });
  if (result.code !== 0) throw errors.sourceFetchFailed(path.basename(file), `tar could not unpack it: ${result.stderr.trim().split("\n").slice(-3).join(" / ")}`);
}
