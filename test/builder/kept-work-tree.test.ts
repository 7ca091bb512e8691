import { spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/builder/build-key.js";
import type { CommandUser } from "../../src/builder/command-user.js";
import { runBuild, type BuildSpec } from "../../src/builder/run-build.js";
import { withFileLock } from "../../src/servicefs/file-lock.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, git, tempDir, type Files, type TestRepo } from "../helpers/git-repos.js";

const TOKEN = "ghs_KeptTreeToken0123456789abcdef";
/** As the manager runs builders: commands as an unprivileged user when the tests run as root. */
const user: CommandUser | undefined = process.getuid?.() === 0 ? { uid: 4321, gid: 4321 } : undefined;

function sources(version: string): Files {
  const files: Files = {
    ".gitignore": "dist/\n*.log\n",
    "build.sh": { content: "#!/bin/sh\nset -e\nmkdir -p dist\ncp version.txt dist/app.txt\n", mode: 0o755 },
    "version.txt": version,
  };
  for (let i = 0; i < 200; i++) files[`src/file-${i}.txt`] = `file ${i}\n`;
  return files;
}

/** What the commands saw: the files at the top and in src/ that are not the repository's, git's status and HEAD. */
const inspect = [
  "./build.sh",
  "ls -A > dist/ls.txt",
  "git status --porcelain --ignored=matching > dist/status.txt",
  "git rev-parse HEAD > dist/head.txt",
  "git remote get-url origin > dist/origin.txt",
];
/** What a build leaves behind: an untracked file and folder, an ignored file, a changed tracked file. */
const litter = ["echo junk > untracked.txt", "mkdir -p stray && echo junk > stray/f", "echo junk > debug.log", "echo tampered > src/file-1.txt"];

describe("workspace: incremental — the kept work tree", () => {
  let root: { dir: string; cleanup(): Promise<void> };
  let repo: TestRepo;
  let server: GitHttpServer;
  let url: string;
  let first: string;
  let kept: string;

  async function build(commands: string[], spec: Partial<BuildSpec> = {}) {
    const dir = path.join(root.dir, "builds");
    const outcome = await runBuild(
      { key: newBuildKey(), target: "app", url, token: TOKEN, commands: [...inspect, ...commands], artifacts: ["dist/*"], ...spec },
      {
        servicefs: path.join(dir, "servicefs"), workdir: path.join(dir, "work"), logDir: path.join(dir, "logs"),
        gitCache: { mirrorDir: path.join(root.dir, "mirror") }, keptWorkspace: kept, user, out: () => undefined,
      },
    );
    const log = await readFile(outcome.logFile!, "utf8");
    const published = async (stem: string) => {
      const name = outcome.artifacts.find((a) => a.startsWith(stem));
      return name ? (await readFile(path.join(dir, "servicefs", "app", name), "utf8")).trim() : undefined;
    };
    return { ...outcome, log, ls: await published("ls"), status: await published("status"), head: await published("head"), origin: await published("origin"), app: await published("app") };
  }
  const tree = () => path.join(kept, "tree");

  beforeAll(async () => {
    root = await tempDir("cicd-kept-tree-");
    await chmod(root.dir, 0o755);
    await mkdir(path.join(root.dir, "served"));
    repo = await createRepo({ name: "app.git", root: path.join(root.dir, "served") });
    first = await repo.commit(sources("v1"), "v1");
    server = await startGitHttpServer({ root: path.join(root.dir, "served"), token: TOKEN });
    url = server.repoUrl("app.git");
    kept = path.join(root.dir, "kept");
    await mkdir(kept);
    // Made first, as a builder's are: the log folder (0700) would otherwise make its parent too.
    await mkdir(path.join(root.dir, "builds", "work"), { recursive: true });
  });
  afterAll(async () => {
    await server?.close();
    await root?.cleanup();
  });

  it("updates the last build's tree in place: only changed files are written, nothing of the last build is left", async () => {
    const one = await build(litter);
    expect(one.reason).toBeUndefined();
    expect(one.head).toBe(first);
    expect(one.log).toContain(`checked out ${first} in a fresh kept work tree`);
    const untouched = (await stat(path.join(tree(), "src", "file-2.txt"))).ino;
    if (user) expect((await stat(path.join(tree(), "src", "file-2.txt"))).uid).toBe(user.uid);

    const second = await repo.commit({ "version.txt": "v2" }, "v2");
    const two = await build([]);
    expect(two.reason).toBeUndefined();
    expect(two.commit).toBe(second);
    expect(two.head).toBe(second);
    expect(two.app).toBe("v2");
    expect(two.origin).toBe(url);
    expect(two.log).toContain(`checked out ${second} in the kept work tree`);
    // Untracked, ignored and changed files of the first build are gone (dist/ is this build's own).
    expect(two.ls!.split("\n").sort()).toEqual([".git", ".gitignore", "build.sh", "dist", "src", "version.txt"]);
    expect(two.status).toBe("!! dist/");
    // A file that did not change between the commits was not written again.
    expect((await stat(path.join(tree(), "src", "file-2.txt"))).ino).toBe(untouched);
    // The token is nowhere in the tree or its repository.
    expect(spawnSync("grep", ["-rl", TOKEN, kept], { encoding: "utf8" }).stdout).toBe("");
  });

  it("writes a damaged tree afresh, and the build goes on", async () => {
    await build([]);
    await writeFile(path.join(kept, "git", "HEAD"), "garbage\n");
    const again = await build([]);
    expect(again.reason).toBeUndefined();
    expect(again.head).toBe(await git(repo.work, "rev-parse", "main"));
    expect(again.log).toContain("the kept work tree could not be updated");
    expect(again.log).toContain("in a fresh kept work tree");
  });

  it("a build that finds the tree in use by another build of the target checks out a fresh tree of its own", async () => {
    await build([]);
    const headBefore = await git(tree(), "-c", "safe.directory=*", "rev-parse", "HEAD");
    const third = await repo.commit({ "version.txt": "v3" }, "v3");
    const other = await withFileLock(path.join(kept, ".lock"), () => build(["echo mine > untracked.txt"]));
    expect(other.reason, other.log).toBeUndefined();
    expect(other.head).toBe(third);
    expect(other.log).toContain("another build of this target is using the kept work tree");
    // The kept tree was not touched by it.
    expect(await git(tree(), "-c", "safe.directory=*", "rev-parse", "HEAD")).toBe(headBefore);
    await expect(stat(path.join(tree(), "untracked.txt"))).rejects.toThrow();
  });

  it("resets what a build changed in the tree's repository: a planted filter, attributes, a skip-worktree file", async () => {
    // Where whoever runs the filter can write.
    const open = path.join(root.dir, "open");
    await mkdir(open, { recursive: true });
    await chmod(open, 0o777);
    const marker = path.join(open, "filter-ran");
    const plant = [
      `git config filter.evil.smudge "sh -c 'id -u > ${marker}; cat'"`,
      'mkdir -p "$(git rev-parse --git-dir)/info" && echo "*.txt filter=evil" > "$(git rev-parse --git-dir)/info/attributes"',
      "git update-index --skip-worktree src/file-3.txt && echo changed-and-hidden > src/file-3.txt",
    ];
    expect((await build(plant)).reason).toBeUndefined();
    await repo.commit({ "version.txt": "v5" }, "v5");
    const next = await build(["cat src/file-3.txt > dist/file-3.txt"]);
    expect(next.reason).toBeUndefined();
    expect(next.app).toBe("v5");
    expect(next.log).toContain("in the kept work tree");
    expect(next.status).toBe("!! dist/");
    expect((await readFile(path.join(tree(), "src", "file-3.txt"), "utf8"))).toBe("file 3\n");
    await expect(stat(marker)).rejects.toThrow();
  });

  it.runIf(user)("goes on in a fresh tree of its own when the kept one cannot be used, and never writes into it as the builder", async () => {
    await build([]);
    // Something the commands' user cannot remove, and a repository that forces a fresh write.
    const stuck = path.join(tree(), "stuck");
    await mkdir(stuck);
    await writeFile(path.join(stuck, "file"), "root's\n");
    await writeFile(path.join(kept, "git", "HEAD"), "garbage\n");
    const again = await build([]);
    expect(again.reason, again.log).toBeUndefined();
    expect(again.head).toBe(await git(repo.work, "rev-parse", "main"));
    expect(again.log).toContain("the kept work tree could not be used");
    expect(again.log).toContain("this build checks out a fresh tree");
    expect(await readFile(path.join(stuck, "file"), "utf8")).toBe("root's\n");
    await rm(stuck, { recursive: true, force: true });
  });
});
