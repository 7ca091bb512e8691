import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/builder/build-key.js";
import type { GitCache } from "../../src/builder/mirror-location.js";
import { parseBuilderOptions } from "../../src/builder/options.js";
import { runBuild, type BuildSpec } from "../../src/builder/run-build.js";
import { gitMirrorMount } from "../../src/manager/builder-pool.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage } from "../helpers/images.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, git, tempDir, type Files, type TestRepo } from "../helpers/git-repos.js";

const TOKEN = "ghs_CacheToken0123456789abcdef";
const hasDocker = await requireDocker();

/** 150 source files, so a repository's first fetch arrives as a pack and later ones show apart. */
function sources(version: string): Files {
  const files: Files = { "build.sh": { content: "#!/bin/sh\nset -e\nmkdir -p dist\ncp version.txt dist/app-1.0.jar\n", mode: 0o755 } };
  for (let i = 0; i < 150; i++) files[`src/file-${i}.txt`] = `file ${i}\n`.repeat(20);
  files["version.txt"] = version;
  return files;
}

/** What a user checks in a build: its commit, and the workspace's HEAD and origin as the commands saw them. */
const inspect = ["./build.sh", "git rev-parse HEAD > dist/head.txt", "git remote get-url origin > dist/origin.txt"];

describe("git cache: builds fetch through a bare mirror per repository", () => {
  let root: { dir: string; cleanup(): Promise<void> };
  let repo: TestRepo;
  let server: GitHttpServer;
  let url: string;
  let first: string;

  async function build(cache: GitCache | undefined, spec: Partial<BuildSpec> = {}) {
    const dir = path.join(root.dir, "builds");
    let console = "";
    const outcome = await runBuild(
      { key: newBuildKey(), target: "app", url, token: TOKEN, commands: inspect, artifacts: ["dist/*"], ...spec },
      { servicefs: path.join(dir, "servicefs"), workdir: path.join(dir, "work"), logDir: path.join(dir, "logs"), gitCache: cache, out: (t) => void (console += t) },
    );
    const log = await readFile(outcome.logFile!, "utf8");
    const published = async (stem: string) => {
      const name = outcome.artifacts.find((a) => a.startsWith(stem));
      return name ? (await readFile(path.join(dir, "servicefs", "app", name), "utf8")).trim() : undefined;
    };
    return { ...outcome, log, console, head: await published("head"), origin: await published("origin"), jar: await published("app") };
  }

  /** The mirror's name by the documented rule: sha256 of the URL without credentials, 16 hex digits. */
  const mirrorOf = (cacheDir: string, of = url) => path.join(cacheDir, `${createHash("sha256").update(of).digest("hex").slice(0, 16)}.git`);
  const objects = async (gitDir: string) => {
    const lines = (await git(root.dir, "--git-dir", gitDir, "count-objects", "-v")).split("\n");
    const value = (name: string) => Number(lines.find((l) => l.startsWith(`${name}:`))!.split(":")[1]);
    return { loose: value("count"), packed: value("in-pack") };
  };
  const newCache = async (name: string) => {
    const dir = path.join(root.dir, name);
    await mkdir(dir);
    return dir;
  };

  beforeAll(async () => {
    root = await tempDir("cicd-git-cache-");
    await mkdir(path.join(root.dir, "served"));
    repo = await createRepo({ name: "app.git", root: path.join(root.dir, "served") });
    first = await repo.commit(sources("v1"), "v1");
    server = await startGitHttpServer({ root: path.join(root.dir, "served"), token: TOKEN });
    url = server.repoUrl("app.git");
  });
  afterAll(async () => {
    await server?.close();
    await root?.cleanup();
  });

  it("a second build reuses the mirror, fetches only the new commit's objects and checks out that exact commit", async () => {
    const cache = await newCache("reuse");
    const one = await build({ dir: cache });
    expect(one.reason).toBeUndefined();
    expect(one.commit).toBe(first);
    expect(one.log).toContain("through the git cache");
    const mirror = mirrorOf(cache);
    const before = await objects(mirror);
    expect(before.packed).toBeGreaterThan(150);

    const second = await repo.commit({ "version.txt": "v2" }, "v2");
    const two = await build({ dir: cache });
    expect(two.reason).toBeUndefined();
    expect(two.commit).toBe(second);
    expect(two.head).toBe(second);
    expect(two.jar).toBe("v2");
    // The workspace's origin is the real repository, not the mirror.
    expect(two.origin).toBe(url);
    // Only the new commit, its tree and the changed file travelled: the pack is unchanged.
    const after = await objects(mirror);
    expect(after.packed).toBe(before.packed);
    expect(after.loose - before.loose).toBeGreaterThan(0);
    expect(after.loose - before.loose).toBeLessThanOrEqual(3);
    expect(await git(root.dir, "--git-dir", mirror, "cat-file", "-t", second)).toBe("commit");

    // An older commit by sha, and a branch, come from the same mirror.
    const old = await build({ dir: cache }, { sha: first, ref: "main" });
    expect([old.commit, old.head, old.jar]).toEqual([first, first, "v1"]);
    const feature = await repo.commit({ "version.txt": "feature" }, "feature", "feature");
    await git(repo.work, "checkout", "-q", "main");
    const onBranch = await build({ dir: cache }, { ref: "feature" });
    expect([onBranch.commit, onBranch.jar]).toEqual([feature, "feature"]);
    expect(await readdir(cache)).toEqual([path.basename(mirror)]);
  });

  it("keeps the token out of the mirror, its config and every log, and still asks the server every time", async () => {
    const cache = await newCache("token");
    const withCredentials = url.replace("http://", `http://x-access-token:${TOKEN}@`);
    const results = [await build({ dir: cache }), await build({ dir: cache }, { url: withCredentials, token: undefined })];
    for (const r of results) {
      expect(r.reason).toBeUndefined();
      for (const text of [r.log, r.console]) expect(text).not.toContain(TOKEN);
    }
    // Both URLs name the same repository, so they share one mirror.
    expect(await readdir(cache)).toEqual([path.basename(mirrorOf(cache))]);
    const mirror = mirrorOf(cache);
    expect(await git(root.dir, "--git-dir", mirror, "config", "--get", "remote.origin.url")).toBe(url);
    const secretForms = [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString("base64")];
    for (const file of await filesUnder(cache)) {
      const content = await readFile(file, "latin1");
      for (const s of secretForms) expect(content.includes(s), file).toBe(false);
      expect(content.toLowerCase().includes("authorization"), file).toBe(false);
    }
    // The mirror has the commit, yet a build without the token is refused: the cache is no way around auth.
    const refused = await build({ dir: cache }, { token: undefined, sha: first });
    expect(refused.ok).toBe(false);
    expect(refused.reason).toContain("authentication required");
  });

  it("lets concurrent builds share one cache: both succeed with their own commits", async () => {
    const cache = await newCache("concurrent");
    const main = await git(repo.work, "rev-parse", "main");
    const feature = await git(repo.work, "rev-parse", "feature");
    const [a, b, c] = await Promise.all([build({ dir: cache }), build({ dir: cache }, { ref: "feature" }), build({ dir: cache }, { sha: first })]);
    expect([a.reason, b.reason, c.reason]).toEqual([undefined, undefined, undefined]);
    expect([a.commit, a.head, b.commit, b.head, c.commit, c.head]).toEqual([main, main, feature, feature, first, first]);
    await git(root.dir, "--git-dir", mirrorOf(cache), "fsck", "--no-progress");
    expect((await readdir(cache)).filter((n) => n.endsWith(".lock"))).toEqual([]);
  });

  it("rebuilds a damaged mirror instead of failing the build", async () => {
    const cache = await newCache("damaged");
    expect((await build({ dir: cache })).ok).toBe(true);
    const mirror = mirrorOf(cache);
    // A damaged file the fetch does not read (the commit is there): the checkout finds it.
    const third = await repo.commit({ "version.txt": "v3" }, "v3");
    expect((await build({ dir: cache })).commit).toBe(third);
    const blob = await git(repo.work, "rev-parse", `${third}:version.txt`);
    const looseBlob = path.join(mirror, "objects", blob.slice(0, 2), blob.slice(2));
    await chmod(looseBlob, 0o644);
    await writeFile(looseBlob, "not zlib data");
    const atSha = await build({ dir: cache }, { sha: third, ref: "main" });
    expect(atSha.reason).toBeUndefined();
    expect([atSha.head, atSha.jar]).toEqual([third, "v3"]);
    expect(atSha.log).toContain("the git cache is damaged");
    await git(root.dir, "--git-dir", mirror, "fsck", "--no-progress");

    // Damaged pack data: refs and index look fine, reading the files fails.
    const packDir = path.join(mirror, "objects", "pack");
    const pack = (await readdir(packDir)).find((n) => n.endsWith(".pack"))!;
    const size = (await stat(path.join(packDir, pack))).size;
    await chmod(path.join(packDir, pack), 0o644);
    const handle = await open(path.join(packDir, pack), "r+");
    await handle.write(Buffer.alloc(size - 200, 0x5a), 100);
    await handle.close();
    const main = await git(repo.work, "rev-parse", "main");
    const repaired = await build({ dir: cache });
    expect(repaired.reason).toBeUndefined();
    expect([repaired.commit, repaired.head]).toEqual([main, main]);
    expect(repaired.log).toContain("the git cache is damaged");
    await git(root.dir, "--git-dir", mirror, "fsck", "--no-progress");

    // Not a repository at all any more.
    await rm(path.join(mirror, "objects"), { recursive: true, force: true });
    await writeFile(path.join(mirror, "HEAD"), "garbage\n");
    const rebuilt = await build({ dir: cache });
    expect(rebuilt.reason).toBeUndefined();
    expect(rebuilt.commit).toBe(main);
    expect(rebuilt.log).toContain("rebuilding it");
    await git(root.dir, "--git-dir", mirror, "fsck", "--no-progress");
  });

  it("falls back to all branches and tags when an old server refuses a commit by sha", async () => {
    const oldServer = await startGitHttpServer({ root: path.join(root.dir, "served"), token: TOKEN, protocolV0: true });
    try {
      const cache = await newCache("protocol-v0");
      const result = await build({ dir: cache }, { url: oldServer.repoUrl("app.git"), sha: first });
      expect(result.reason).toBeUndefined();
      expect([result.commit, result.head, result.jar]).toEqual([first, first, "v1"]);
      expect(result.log).toContain("the server refused a fetch of the commit by sha");
      const missing = await build({ dir: cache }, { url: oldServer.repoUrl("app.git"), sha: "0123456789abcdef0123456789abcdef01234567" });
      expect(missing.reason).toContain("commit 0123456789abcdef0123456789abcdef01234567 was not found in the repository");
    } finally {
      await oldServer.close();
    }
  });

  it("builds without the cache, saying so, when the cache folder cannot be written", async () => {
    const blocker = path.join(root.dir, "a-file");
    await writeFile(blocker, "not a folder");
    const result = await build({ dir: path.join(blocker, "cache") });
    expect(result.reason).toBeUndefined();
    expect(result.commit).toBe(await git(repo.work, "rev-parse", "main"));
    expect(result.log).toMatch(/note: the git cache .* is not usable .*; fetching without it/);
    if (process.getuid?.() !== 0) {
      const readOnly = await newCache("read-only");
      await chmod(readOnly, 0o555);
      const denied = await build({ dir: readOnly });
      expect(denied.ok).toBe(true);
      expect(denied.log).toContain("is not usable (not writable)");
      await chmod(readOnly, 0o755);
    }
  });

  it("--git-mirror keeps one repository's mirror in the folder it is given, for local repositories too", async () => {
    const folder = await newCache("one-repo");
    const overHttp = await build({ mirrorDir: folder });
    expect(overHttp.ok).toBe(true);
    expect((await readdir(folder)).sort()).toEqual(["mirror.git"]);
    const local = await build({ mirrorDir: path.join(root.dir, "local-mirror") }, { url: `file://${repo.bare}`, token: undefined, ref: "feature" });
    expect(local.reason).toBeUndefined();
    expect(local.head).toBe(await git(repo.work, "rev-parse", "feature"));
    expect(local.origin).toBe(`file://${repo.bare}`);
    expect(await git(root.dir, "--git-dir", path.join(root.dir, "local-mirror", "mirror.git"), "cat-file", "-t", local.commit!)).toBe("commit");
  });

  it("refuses a ref that git would read as an option, with or without the cache, and runs nothing", async () => {
    const marker = path.join(root.dir, "option-ran");
    const ref = `--upload-pack=touch ${marker};git-upload-pack`;
    for (const cache of [undefined, { dir: await newCache("option") }]) {
      const result = await build(cache, { url: `file://${repo.bare}`, token: undefined, ref });
      expect(result.ok).toBe(false);
      expect(result.reason).toContain("is not a branch, tag or ref name");
      await expect(stat(marker)).rejects.toThrow();
    }
  });

  it("reads --git-cache and --git-mirror from flags or CICD_GIT_CACHE / CICD_GIT_MIRROR; the mirror wins", () => {
    const base = ["--servicefs", "/srv/fs"];
    expect(parseBuilderOptions(base, {}).gitCache).toBeUndefined();
    expect(parseBuilderOptions([...base, "--git-cache", "/var/cache/git"], {}).gitCache).toEqual({ dir: "/var/cache/git" });
    expect(parseBuilderOptions(base, { CICD_GIT_CACHE: "/c" }).gitCache).toEqual({ dir: "/c" });
    expect(parseBuilderOptions(base, { CICD_GIT_MIRROR: "/m/abc" }).gitCache).toEqual({ mirrorDir: "/m/abc" });
    expect(parseBuilderOptions([...base, "--git-cache", "/c", "--git-mirror", "/m/abc"], {}).gitCache).toEqual({ mirrorDir: "/m/abc" });
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe("git cache: the manager's side", () => {
  it("gives each target and git repository its own mirror folder, whatever credentials its URL carries, and none to other sources", async () => {
    const { dir, cleanup } = await tempDir("cicd-git-mounts-");
    try {
      const mount = (url: string, name = "app") => gitMirrorMount(dir, { name, url });
      const https = mount("https://github.com/acme/hello.git")!;
      expect(https.container).toBe(https.host);
      expect(path.dirname(https.host)).toBe(path.join(dir, "git", "app"));
      expect((await stat(https.host)).isDirectory()).toBe(true);
      expect(mount("https://x-access-token:secret@github.com/acme/hello.git")!.host).toBe(https.host);
      // Another target of the same repository never shares the mirror.
      expect(mount("https://github.com/acme/hello.git", "other")!.host).not.toBe(https.host);
      const others = ["ssh://git@github.com/acme/hello.git", "git@github.com:acme/other.git", "https://github.com/acme/other.git"];
      const hosts = others.map((u) => mount(u)?.host);
      expect(new Set([https.host, ...hosts]).size).toBe(4);
      expect(hosts.every((h) => h && !h.includes("secret"))).toBe(true);
      // A file:// repository is on this machine already: no mirror of it.
      for (const url of ["file:///srv/repos/hello.git", "files:///srv/src", "servicefs://sources/app"]) expect(mount(url)).toBeUndefined();
    } finally {
      await cleanup();
    }
  });
});

describe.skipIf(!hasDocker)("git cache: in the builder container, as the manager runs it (--git-mirror)", () => {
  const run = promisify(execFile);
  let repo: TestRepo;
  let tmp: { dir: string; cleanup(): Promise<void> };
  let image: string;
  const names: string[] = [];

  beforeAll(async () => {
    image = await ensureImage("builder");
    tmp = await tempDir("cicd-git-mirror-image-");
    await chmod(tmp.dir, 0o755);
    repo = await createRepo({ name: "app.git" });
    await repo.commit(sources("v1"), "v1");
    await chmod(repo.dir, 0o755);
  });
  afterAll(async () => {
    for (const name of names) await run("docker", ["rm", "-f", name]).catch(() => undefined);
    await repo?.cleanup();
    await tmp?.cleanup();
  });

  async function buildInContainer(mirrorDir: string, servicefs: string) {
    const name = `cicd-test-git-mirror-${process.pid}-${names.length}`;
    names.push(name);
    try {
      const { stdout } = await run("docker", [
        "run", "--rm", "--name", name, "--network", "none", "--label", "cicd.role=builder", "--label", "cicd.target=app",
        "-v", `${repo.bare}:/src/app.git:ro`, "-v", `${servicefs}:/servicefs`, "-v", `${mirrorDir}:${mirrorDir}`,
        image, "builder", "--url", "file:///src/app.git", "--command", "./build.sh", "--artifact", "dist/*.jar",
        "--servicefs", "/servicefs", "--target", "app", "--run-on-startup", "--git-mirror", mirrorDir,
      ], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
      return stdout;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`the builder container failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  }

  it("a second container build fetches only the new commit into the mounted mirror", async () => {
    const mirrorDir = path.join(tmp.dir, "mirror");
    const servicefs = path.join(tmp.dir, "servicefs");
    await mkdir(mirrorDir);
    await mkdir(servicefs);
    const first = await buildInContainer(mirrorDir, servicefs);
    expect(first).toContain("through the git cache");
    const gitDir = path.join(mirrorDir, "mirror.git");
    const count = async () => Number((await git(tmp.dir, "--git-dir", gitDir, "count-objects", "-v")).split("\n").find((l) => l.startsWith("count:"))!.split(":")[1]);
    const loose = await count();

    const second = await repo.commit({ "version.txt": "v2" }, "v2");
    const out = await buildInContainer(mirrorDir, servicefs);
    expect(out).toContain(`checked out ${second}`);
    expect(out).not.toContain("note: the git cache");
    const doc = JSON.parse(await readFile(path.join(servicefs, "app", "builds.json"), "utf8")) as { builds: { commit: string; artifacts: string[] }[] };
    expect(doc.builds.at(-1)!.commit).toBe(second);
    expect(await readFile(path.join(servicefs, "app", doc.builds.at(-1)!.artifacts[0]!), "utf8")).toBe("v2");
    expect((await count()) - loose).toBeLessThanOrEqual(3);
    expect(await git(tmp.dir, "--git-dir", gitDir, "config", "--get", "remote.origin.url")).toBe("file:///src/app.git");
  });
});
