import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A file's content, or content plus mode (e.g. 0o755 for a script). */
export type FileSpec = string | { content: string; mode: number };
export type Files = Record<string, FileSpec>;

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "cicd test",
  GIT_AUTHOR_EMAIL: "test@cicd.invalid",
  GIT_COMMITTER_NAME: "cicd test",
  GIT_COMMITTER_EMAIL: "test@cicd.invalid",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd, env: gitEnv });
  return stdout.trim();
}

/** Writes `files` (paths relative to `dir`), making folders as needed. */
export async function writeFiles(dir: string, files: Files): Promise<void> {
  for (const [name, spec] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    const { content, mode } = typeof spec === "string" ? { content: spec, mode: 0o644 } : spec;
    await writeFile(file, content);
    await chmod(file, mode);
  }
}

/** A temp folder, removed by the returned cleanup. */
export async function tempDir(prefix = "cicd-test-"): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface TestRepo {
  /** Folder holding both repositories. */
  dir: string;
  /** The bare repository (what builders fetch from); its HEAD is `main`. */
  bare: string;
  /** A work tree whose `origin` is the bare repository. */
  work: string;
  /** Commits `files` on `branch` (default main) and pushes; returns the new commit sha. */
  commit(files: Files, message?: string, branch?: string): Promise<string>;
  /** Creates an annotated tag on `commit` and pushes it. */
  tag(name: string, commit: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A bare repository with a work tree beside it, in a temp folder. `name` is the bare
 * repository's folder name (e.g. "hello.git"), so it can sit under a git HTTP server's root.
 */
export async function createRepo(options: { name?: string; files?: Files; root?: string } = {}): Promise<TestRepo> {
  const { dir, cleanup } = options.root ? { dir: options.root, cleanup: async () => {} } : await tempDir("cicd-repo-");
  const bare = path.join(dir, options.name ?? "repo.git");
  const work = path.join(dir, `${path.basename(bare, ".git")}-work`);
  await git(dir, "init", "-q", "--bare", "--initial-branch=main", bare);
  await git(dir, "init", "-q", "--initial-branch=main", work);
  await git(work, "remote", "add", "origin", bare);
  const repo: TestRepo = {
    dir,
    bare,
    work,
    async commit(files, message = "change", branch = "main") {
      const current = await git(work, "rev-parse", "--abbrev-ref", "HEAD").catch(() => "main");
      if (current !== branch) await git(work, "checkout", "-q", "-B", branch);
      await writeFiles(work, files);
      await git(work, "add", "-A");
      await git(work, "commit", "-q", "--allow-empty", "-m", message);
      await git(work, "push", "-q", "origin", `HEAD:refs/heads/${branch}`);
      return git(work, "rev-parse", "HEAD");
    },
    async tag(name, commit) {
      await git(work, "tag", "-a", "-m", name, name, commit);
      await git(work, "push", "-q", "origin", `refs/tags/${name}`);
    },
    async cleanup() {
      if (options.root) {
        await rm(bare, { recursive: true, force: true });
        await rm(work, { recursive: true, force: true });
      } else await cleanup();
    },
  };
  if (options.files) await repo.commit(options.files, "initial");
  return repo;
}
