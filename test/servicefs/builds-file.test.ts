import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUILDS_FILE, BuildsFile, ServiceFs, writeFileAtomic, type BuildRecord } from "../../src/servicefs/index.js";

let dir: string;
let file: BuildsFile;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cicd-builds-"));
  file = new BuildsFile(dir, "hello");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const build = (key: string, status: "good" | "bad" = "good"): BuildRecord => ({
  key,
  status,
  createdAt: "2026-11-26T22:05:01.123Z",
  commit: `sha-${key}`,
  ref: "refs/heads/main",
  artifacts: [`${key}.jar`],
});

describe("BuildsFile", () => {
  it("reads a missing file as an empty list of the target", async () => {
    expect(await file.read()).toEqual({ target: "hello", builds: [] });
    expect(await file.newestGood()).toBeUndefined();
  });

  it("appends oldest first; the newest good build is the last good entry", async () => {
    await file.append(build("one"));
    await file.append(build("two"));
    await file.append(build("three", "bad"));
    const onDisk = JSON.parse(await readFile(path.join(dir, BUILDS_FILE), "utf8"));
    expect(onDisk.target).toBe("hello");
    expect(onDisk.builds.map((b: BuildRecord) => b.key)).toEqual(["one", "two", "three"]);
    expect((await file.newestGood())?.key).toBe("two");
    expect((await file.goodNewestFirst()).map((b) => b.key)).toEqual(["two", "one"]);
  });

  it("marks a build bad with why, and the next older good one becomes the newest good", async () => {
    await file.append(build("one"));
    await file.append(build("two"));
    expect(await file.markBad("two", { exitCode: 3, signal: null, reason: "exited with code 3" })).toBe(true);
    const two = (await file.read()).builds[1]!;
    expect(two).toMatchObject({ key: "two", status: "bad", exitCode: 3, signal: null, reason: "exited with code 3" });
    expect(Date.parse(two.markedBadAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect((await file.newestGood())?.key).toBe("one");
  });

  it("answers false for an unknown key and changes nothing", async () => {
    await file.append(build("one"));
    const before = await readFile(file.file, "utf8");
    expect(await file.markBad("nope")).toBe(false);
    expect(JSON.parse(await readFile(file.file, "utf8"))).toEqual(JSON.parse(before));
  });

  it.each([
    ["not JSON", '{"target": "hello", "builds": ['],
    ["the wrong shape", '{"target": "hello", "builds": {}}'],
    ["a build without status", '{"target": "hello", "builds": [{"key": "a", "artifacts": []}]}'],
    ["a status other than good or bad", '{"target": "hello", "builds": [{"key": "a", "status": "ok", "artifacts": []}]}'],
  ])("never overwrites a builds.json holding %s", async (_what, text) => {
    await writeFile(file.file, text);
    for (const change of [() => file.append(build("new")), () => file.markBad("a"), () => file.read()]) {
      await expect(change()).rejects.toMatchObject({ code: "METADATA_CORRUPT", message: expect.stringContaining(file.file) });
    }
    expect(await readFile(file.file, "utf8")).toBe(text);
  });

  it.each([
    ["a folder", async (f: string) => mkdir(f), /it is a folder, not a file/],
    ["a symlink to itself", async (f: string) => symlink(path.basename(f), f), /symbolic link that loops/],
    ["a symlink to a missing file", async (f: string) => symlink("gone.json", f), /symbolic link to a missing file/],
    ["a file inside a file", async (f: string) => writeFile(path.dirname(f), "x"), /a part of its path is a file/],
  ])("says what is wrong when builds.json is %s, and changes nothing", async (_what, make, why) => {
    if (_what === "a file inside a file") await rm(dir, { recursive: true });
    await make(file.file);
    const before = await snapshot(dir);
    for (const change of [() => file.read(), () => file.append(build("new")), () => file.markBad("a")]) {
      const error = await change().then(() => undefined, (e: unknown) => e as Error);
      expect(error).toMatchObject({ code: "METADATA_CORRUPT", message: expect.stringMatching(why) });
      // The errno text (EISDIR: illegal operation on a directory…) names a syscall, not the fix.
      expect(error!.message).not.toMatch(/\bE[A-Z]{3,}\b|illegal operation/);
    }
    expect(await snapshot(dir)).toEqual(before);
  });

  it.each([
    ["not JSON", '{"target": "hello", "builds": ['],
    ["a folder", undefined],
  ])("a publish into a target whose builds.json is %s fails clearly and leaves it as it was", async (_what, text) => {
    const root = await mkdtemp(path.join(tmpdir(), "cicd-sfs-"));
    try {
      const fs = new ServiceFs(root);
      const target = fs.builds("hello").file;
      await mkdir(path.dirname(target), { recursive: true });
      if (text === undefined) await mkdir(target);
      else await writeFile(target, text);
      const before = await snapshot(path.dirname(target));
      const source = path.join(dir, "app.jar");
      await writeFile(source, "jar");
      await expect(fs.publish("hello", { key: "k", commit: null, ref: null, files: [source] })).rejects.toMatchObject({ code: "METADATA_CORRUPT", message: expect.stringContaining("It was left untouched") });
      // Same file, same content, and no artifact that no record names.
      expect(await snapshot(path.dirname(target))).toEqual(before);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("loses no update when many changes run at once in one process", async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => file.append(build(`b${i}`))));
    await Promise.all(Array.from({ length: 20 }, (_, i) => file.markBad(`b${i * 2}`, { exitCode: 1 })));
    const doc = await file.read();
    expect(doc.builds).toHaveLength(40);
    expect(new Set(doc.builds.map((b) => b.key)).size).toBe(40);
    expect(doc.builds.filter((b) => b.status === "bad").map((b) => b.key).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `b${i * 2}`).sort(),
    );
    // No temp file or lock is left behind.
    expect(await readdir(dir)).toEqual([BUILDS_FILE]);
  });
});

/** Every entry of a folder (or the file itself) with its kind and content, to compare before and after. */
async function snapshot(where: string): Promise<Record<string, string>> {
  const info = await lstat(where).catch(() => undefined);
  if (!info) return {};
  if (info.isFile()) return { ".": await readFile(where, "utf8") };
  if (!info.isDirectory()) return { ".": "other" };
  const out: Record<string, string> = {};
  for (const name of (await readdir(where)).sort()) {
    const p = path.join(where, name);
    const s = await lstat(p);
    out[name] = s.isSymbolicLink() ? `link:${await readlink(p)}` : s.isDirectory() ? "dir" : `file:${await readFile(p, "utf8")}`;
  }
  return out;
}

describe("writeFileAtomic", () => {
  it("lets a reader see the old or the new content, never a mix", async () => {
    const target = path.join(dir, "doc.json");
    const big = (n: number) => JSON.stringify({ n, pad: "x".repeat(512 * 1024) });
    await writeFileAtomic(target, big(0));
    let writing = true;
    const reads: number[] = [];
    const reader = (async () => {
      while (writing) {
        reads.push(JSON.parse(await readFile(target, "utf8")).n as number); // throws on a torn read
      }
    })();
    for (let n = 1; n <= 30; n++) await writeFileAtomic(target, big(n));
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    expect(JSON.parse(await readFile(target, "utf8")).n).toBe(30);
    expect(await readdir(dir)).toEqual(["doc.json"]);
  });
});
