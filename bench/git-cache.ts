// The git cache against a fresh fetch, on a generated repository with thousands of commits,
// served over git smart HTTP on 127.0.0.1 and fetched with the builder's own code.
// Alone: `npx tsx bench/git-cache.ts` (BENCH_GIT_COMMITS, BENCH_GIT_FILES, BENCH_GIT_RUNS).
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { BuildLog } from "../src/builder/build-log.js";
import { fetchGitCached } from "../src/builder/git-cached-fetch.js";
import { fetchGit } from "../src/builder/git-fetch.js";
import { startGitHttpServer } from "../test/helpers/git-http-server.js";
import { git } from "../test/helpers/git-repos.js";
import { envInt, median, verdict } from "./stats.js";

const int = envInt;

/** A generated repository: how many files, and how many lines each commit rewrites in a file. */
export interface RepoShape {
  name: string;
  /** Names the shape in the `bench:` lines, e.g. `git[large-tree]`. */
  label: string;
  commits: number;
  files: number;
  linesPerChange: number;
}

/**
 * Two shapes with the same number of commits (BENCH_GIT_COMMITS, default 5,000): a large work
 * tree with a light history (BENCH_GIT_FILES files, default 3,000, each commit changing one
 * line in each of 3 files), where writing the files is most of any checkout; and a small tree
 * with a heavy history (200 files, each commit rewriting 40 lines in each of 3), as in a
 * mature project, where fetching the history is most of a fresh clone.
 */
export async function benchGitCache(): Promise<string[]> {
  const commits = Math.max(int("BENCH_GIT_COMMITS", 5000), 2);
  const shapes: RepoShape[] = [
    { name: "large tree, light history", label: "git[large-tree]", commits, files: int("BENCH_GIT_FILES", 3000), linesPerChange: 1 },
    { name: "small tree, heavy history", label: "git[heavy-history]", commits, files: 200, linesPerChange: 40 },
  ];
  const lines: string[] = [];
  for (const shape of shapes) lines.push(...(await benchShape(shape)));
  return lines;
}

/**
 * Returns one line per figure, e.g.
 * `bench: git checkout fresh=1.23s cached=0.11s ratio=0.09 (5000 commits, …)`.
 * Each round pushes one new commit, then measures, with the builder's own code, into an empty
 * workspace: fresh (no cache: shallow fetch of the commit + checkout) and cached (warm mirror:
 * fetch the new commit into it + checkout), and incremental (the same, into the kept work tree
 * of the last round, `workspace: incremental`); and for reference a plain full `git clone`, and
 * writing the work tree alone (`git checkout` from local objects: what no fetch can save).
 * Medians over the rounds; bytes are what the server sent, counted by a proxy in front of it.
 */
async function benchShape(shape: RepoShape): Promise<string[]> {
  const runs = Math.max(int("BENCH_GIT_RUNS", 7), 5);
  const root = await mkdtemp(path.join(tmpdir(), "cicd-bench-git-"));
  const served = path.join(root, "served");
  const server = await startGitHttpServer({ root: served });
  const proxy = await countingProxy(new URL(server.origin));
  try {
    const repo = new GeneratedRepo(path.join(served, "project.git"), shape.files, shape.linesPerChange);
    await repo.create(shape.commits);
    const url = `${proxy.origin}/project.git`;
    const cache = { dir: path.join(root, "git-cache") };
    let n = 0;
    /** One build's fetch into a new empty workspace: seconds and bytes received. */
    const measure = async (useCache: boolean) => {
      const dir = path.join(root, `build-${++n}`);
      await mkdir(path.join(dir, "workspace"), { recursive: true });
      const log = await BuildLog.open(path.join(root, "logs"), `run${n}`, [], () => undefined);
      const head = await git(repo.bare, "rev-parse", "main");
      const o = { url, ref: "main", sha: head, dir: path.join(dir, "workspace"), configDir: dir, log };
      const before = proxy.bytes();
      const started = performance.now();
      const commit = await (useCache ? fetchGitCached({ ...o, cache }) : fetchGit(o));
      const sample = { seconds: (performance.now() - started) / 1000, bytes: proxy.bytes() - before };
      await log.close();
      if (commit !== head) throw new Error(`checked out ${commit}, expected ${head}`);
      await rm(dir, { recursive: true, force: true });
      return sample;
    };
    /** The same build's fetch with `workspace: incremental`: the kept tree updated in place. */
    const kept = { workTree: path.join(root, "kept", "tree"), gitDir: path.join(root, "kept", "git") };
    await mkdir(kept.workTree, { recursive: true });
    const measureKept = async () => {
      const log = await BuildLog.open(path.join(root, "logs"), `kept${++n}`, [], () => undefined);
      const head = await git(repo.bare, "rev-parse", "main");
      const configDir = path.join(root, `kept-config-${n}`);
      await mkdir(configDir);
      const started = performance.now();
      const commit = await fetchGitCached({ url, ref: "main", sha: head, dir: kept.workTree, configDir, log, cache, kept });
      const seconds = (performance.now() - started) / 1000;
      await log.close();
      if (commit !== head) throw new Error(`kept tree at ${commit}, expected ${head}`);
      return seconds;
    };
    const clock = async (fn: () => Promise<unknown>) => {
      const started = performance.now();
      await fn();
      return (performance.now() - started) / 1000;
    };

    await measure(true); // fills the mirror: the first build of a repository pays once
    await measureKept(); // writes the kept tree: its first build pays once
    const fresh: { seconds: number; bytes: number }[] = [];
    const warm: typeof fresh = [];
    const incremental: number[] = [];
    for (let i = 0; i < runs; i++) {
      await repo.commitMore(1);
      fresh.push(await measure(false));
      warm.push(await measure(true));
      incremental.push(await measureKept());
    }
    const clone: number[] = [];
    const cloneBytes: number[] = [];
    const tree: number[] = [];
    for (let i = 0; i < runs; i++) {
      const into = path.join(root, `clone-${i}`);
      const before = proxy.bytes();
      clone.push(await clock(() => git(root, "clone", "-q", url, into)));
      cloneBytes.push(proxy.bytes() - before);
      await git(into, "read-tree", "--empty");
      await rm(path.join(into, "src"), { recursive: true, force: true });
      tree.push(await clock(() => git(into, "checkout", "-q", "-f", "HEAD")));
      await rm(into, { recursive: true, force: true });
    }
    // The same two fetches across a network link (bytes matter there, not on loopback).
    const link: Link = { bitsPerSecond: int("BENCH_GIT_LINK_MBIT", 20) * 1e6, latencyMs: int("BENCH_GIT_LINK_MS", 40) };
    const far = await countingProxy(new URL(server.origin), link);
    const overLink: { fresh: number[]; cached: number[] } = { fresh: [], cached: [] };
    try {
      const farCache = { dir: path.join(root, "git-cache-far") };
      const farMeasure = async (useCache: boolean) => {
        const dir = path.join(root, `far-${++n}`);
        await mkdir(path.join(dir, "workspace"), { recursive: true });
        const log = await BuildLog.open(path.join(root, "logs"), `far${n}`, [], () => undefined);
        const head = await git(repo.bare, "rev-parse", "main");
        const o = { url: `${far.origin}/project.git`, ref: "main", sha: head, dir: path.join(dir, "workspace"), configDir: dir, log };
        const seconds = await clock(() => (useCache ? fetchGitCached({ ...o, cache: farCache }) : fetchGit(o)));
        await log.close();
        await rm(dir, { recursive: true, force: true });
        return seconds;
      };
      await farMeasure(true); // the mirror's first fill, paid once
      for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
        await repo.commitMore(1);
        overLink.fresh.push(await farMeasure(false));
        overLink.cached.push(await farMeasure(true));
      }
    } finally {
      await far.close();
    }
    const s = (x: number) => `${x.toFixed(2)}s`;
    const mb = (x: number) => (x < 1e5 ? `${(x / 1e3).toFixed(1)}kB` : `${(x / 1e6).toFixed(2)}MB`);
    const [f, c, k, t, inc] = [median(fresh.map((x) => x.seconds)), median(warm.map((x) => x.seconds)), median(clone), median(tree), median(incremental)];
    const about = `(${shape.name}: ${shape.commits} commits, ${shape.files} files, ${((await repo.treeBytes()) / 1e6).toFixed(1)} MB work tree, median of ${runs})`;
    const label = shape.label;
    return [
      `bench: ${label} checkout fresh=${s(f)} cached=${s(c)} ratio=${(c / f).toFixed(2)} ${about}`,
      `bench: ${label} clone (full history)=${s(k)} cached/clone=${(c / k).toFixed(2)} ${verdict(c / k <= 0.2, "≤ 0.20")}; writing the work tree alone=${s(t)}`,
      `bench: ${label} incremental (workspace: incremental)=${s(inc)} incremental/clone=${(inc / k).toFixed(2)} ${verdict(inc / k <= 0.2, "≤ 0.20")} incremental/fresh=${(inc / f).toFixed(2)}`,
      `bench: ${label} bytes from the server fresh=${mb(median(fresh.map((x) => x.bytes)))} cached=${mb(median(warm.map((x) => x.bytes)))} clone=${mb(median(cloneBytes))}`,
      linkLine(label, link, median(overLink.fresh), median(overLink.cached), shape.linesPerChange > 1),
    ];
  } finally {
    await proxy.close();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** The fetch across the link: cached against the plain shallow fetch a build makes without the cache. */
function linkLine(label: string, link: Link, fresh: number, cached: number, judged: boolean): string {
  const where = `over a ${link.bitsPerSecond / 1e6} Mbit/s, ${link.latencyMs} ms link`;
  const ratio = cached / fresh;
  return `bench: ${label} ${where} fresh=${fresh.toFixed(2)}s cached=${cached.toFixed(2)}s ratio=${ratio.toFixed(2)}${judged ? ` ${verdict(ratio <= 0.5, "≤ 0.50")}` : ""}`;
}

/** A network link: its bandwidth each way and its one-way delay. */
export interface Link {
  bitsPerSecond: number;
  latencyMs: number;
}

/**
 * A TCP proxy in front of the git server that counts the bytes the server sends. With `link`,
 * every chunk, each way, waits for its turn on a line of that bandwidth and then the link's
 * delay: a server across a real network, not on loopback.
 */
async function countingProxy(target: URL, link?: Link): Promise<{ origin: string; bytes(): number; close(): Promise<void> }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    upstream.on("data", (chunk: Buffer) => (received += chunk.length));
    if (link) {
      shaped(client, upstream, link);
      shaped(upstream, client, link);
    } else {
      client.pipe(upstream).pipe(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Forwards `from` to `to` as over `link`: each chunk leaves once the line has carried it and
 * the delay has passed. One queue and one timer per direction, so chunks can never overtake
 * each other (timers rounded to the millisecond would).
 */
function shaped(from: Socket, to: Socket, link: Link): void {
  let lineFreeAt = 0;
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    timer = undefined;
    while (queue.length && queue[0]!.at <= Date.now()) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else if (to.writable) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(pump, Math.max(1, queue[0]!.at - Date.now()));
  };
  const push = (chunk: Buffer | null) => {
    if (chunk) lineFreeAt = Math.max(Date.now(), lineFreeAt) + (chunk.length * 8 * 1000) / link.bitsPerSecond;
    queue.push({ at: Math.max(Date.now(), lineFreeAt) + link.latencyMs, chunk });
    timer ??= setTimeout(pump, Math.max(1, queue[0]!.at - Date.now()));
  };
  from.on("data", (chunk: Buffer) => push(chunk));
  from.once("end", () => push(null));
}

/**
 * A repository written with `git fast-import` (thousands of commits in seconds): a tree of
 * source-like files, and commits that each change a few of them.
 */
export class GeneratedRepo {
  private readonly contents: string[][] = [];
  private seed = 42;
  private time = 1_700_000_000;

  /** `linesPerChange`: lines each commit rewrites in each file it changes. */
  constructor(readonly bare: string, private readonly fileCount: number, private readonly linesPerChange = 1) {}

  async create(commits: number): Promise<void> {
    await mkdir(path.dirname(this.bare), { recursive: true });
    await git(path.dirname(this.bare), "init", "-q", "--bare", "--initial-branch=main", this.bare);
    for (let i = 0; i < this.fileCount; i++) this.contents.push(Array.from({ length: 40 + this.random(80) }, () => this.line()));
    const all = Array.from({ length: this.fileCount }, (_, i) => i);
    // Within one stream fast-import continues the branch; a later stream must name its parent.
    await this.import([this.commit(all, "initial import", "new"), ...Array.from({ length: commits - 1 }, () => this.commit(this.pick(3), "change", "same"))]);
    await git(this.bare, "repack", "-a", "-d", "-q");
  }

  async commitMore(count: number): Promise<void> {
    await this.import(Array.from({ length: count }, (_, i) => this.commit(this.pick(3), "one more change", i === 0 ? "stored" : "same")));
  }

  async treeBytes(): Promise<number> {
    return this.contents.reduce((sum, lines) => sum + lines.join("\n").length + 1, 0);
  }

  /** `parent`: none (new), the one this stream made last (same), or the branch as stored (stored). */
  private commit(changed: number[], message: string, parent: "new" | "same" | "stored"): string {
    for (const i of parent === "new" ? [] : changed) {
      const lines = this.contents[i]!;
      for (let n = 0; n < this.linesPerChange; n++) lines[this.random(lines.length)] = this.line();
      if (this.random(3) === 0) lines.push(this.line());
    }
    this.time += 60;
    const parts = [`commit refs/heads/main\ncommitter bench <bench@cicd.invalid> ${this.time} +0000\n${data(message)}`];
    if (parent === "stored") parts.push("from refs/heads/main^0\n");
    for (const i of changed) parts.push(`M 100644 inline ${this.path(i)}\n${data(`${this.contents[i]!.join("\n")}\n`)}`);
    return `${parts.join("")}\n`;
  }

  private async import(stream: string[]): Promise<void> {
    const child = spawn("git", ["fast-import", "--quiet"], { cwd: this.bare, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const done = new Promise<number | null>((resolve) => child.once("close", resolve));
    for (const chunk of stream) if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once("drain", r));
    child.stdin.end();
    const code = await done;
    if (code !== 0) throw new Error(`git fast-import failed: ${stderr.trim()}`);
  }

  private path(i: number): string {
    return `src/module${Math.floor(i / 100)}/Part${i}.java`;
  }

  private pick(count: number): number[] {
    return [...new Set(Array.from({ length: count }, () => this.random(this.fileCount)))];
  }

  /** Source-like lines over a project's vocabulary: they compress about as well as real code. */
  private line(): string {
    const w = () => this.vocabulary[this.random(this.vocabulary.length)]!;
    const shapes = [
      () => `    final ${w()} ${w()} = ${w()}.${w()}(${w()}, ${this.random(1000)});`,
      () => `    if (${w()}.${w()}() != null) { ${w()}.${w()}("${w()} ${w()} ${this.random(100000)}"); }`,
      () => `    private static ${w()} ${w()}(${w()} ${w()}) throws ${w()}Exception {`,
      () => `    // ${w()} ${w()} ${w()} ${w()} ${w()} ${w()}`,
    ];
    return shapes[this.random(shapes.length)]!();
  }

  private readonly vocabulary = Array.from({ length: 3000 }, () =>
    Array.from({ length: 3 + this.random(9) }, (_, i) => String.fromCharCode((i === 0 ? 97 : this.random(2) ? 65 : 97) + this.random(26))).join(""),
  );

  /** A small deterministic generator, so every run measures the same repository. */
  private random(below: number): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed % below;
  }
}

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchGitCache()) process.stdout.write(`${line}\n`);
}
