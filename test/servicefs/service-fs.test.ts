import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUILDS_FILE, ServiceFs } from "../../src/servicefs/index.js";
import { isCicdError } from "../../src/shared/errors.js";

let work: string;
let root: string;
let fs: ServiceFs;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "cicd-servicefs-"));
  root = path.join(work, "servicefs");
  fs = new ServiceFs(root);
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function source(name: string, content: string): Promise<string> {
  const file = path.join(work, "src", name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isCicdError(error), `expected a CicdError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error;
}

describe("ServiceFs.publish", () => {
  it("copies the files under timestamped names and appends a good record in the contract format", async () => {
    const now = new Date("2026-11-26T22:05:01.123Z");
    const jar = await source("app-1.0.jar", "jar bytes");
    const record = await fs.publish("hello", { key: "k1", commit: "abc123", ref: "refs/heads/main", files: [jar], now });

    const dir = path.join(root, "hello");
    expect(await readFile(path.join(dir, "app-1.0-20261126T220501123Z.jar"), "utf8")).toBe("jar bytes");
    const doc = JSON.parse(await readFile(path.join(dir, BUILDS_FILE), "utf8"));
    expect(doc).toEqual({
      target: "hello",
      builds: [
        {
          key: "k1",
          status: "good",
          createdAt: "2026-11-26T22:05:01.123Z",
          commit: "abc123",
          ref: "refs/heads/main",
          artifacts: ["app-1.0-20261126T220501123Z.jar"],
          sizes: { "app-1.0-20261126T220501123Z.jar": 9 },
        },
      ],
    });
    expect(record).toEqual(doc.builds[0]);
    // Nothing half-written or staged is left beside the artifacts.
    expect((await readdir(dir)).sort()).toEqual(["app-1.0-20261126T220501123Z.jar", BUILDS_FILE]);
  });

  it("never gives two builds published in the same millisecond the same file name", async () => {
    const now = new Date("2026-11-26T22:05:01.123Z");
    const first = await fs.publish("hello", { key: "a", commit: null, ref: null, files: [await source("a/app.jar", "first")], now });
    const second = await fs.publish("hello", { key: "b", commit: null, ref: null, files: [await source("b/app.jar", "second")], now });
    expect(first.artifacts).toEqual(["app-20261126T220501123Z.jar"]);
    expect(second.artifacts).toEqual(["app-20261126T220501124Z.jar"]);
    const dir = path.join(root, "hello");
    expect(await readFile(path.join(dir, first.artifacts[0]!), "utf8")).toBe("first");
    expect(await readFile(path.join(dir, second.artifacts[0]!), "utf8")).toBe("second");
    expect((await fs.builds("hello").read()).builds.map((b) => b.key)).toEqual(["a", "b"]);
  });

  it("publishes every file of a build, .tar.gz and extensionless ones included", async () => {
    const now = new Date("2026-01-02T03:04:05.006Z");
    const files = [await source("site.tar.gz", "tgz"), await source("server", "bin")];
    const record = await fs.publish("web", { key: "k", commit: null, ref: null, files, now });
    expect(record.artifacts).toEqual(["site-20260102T030405006Z.tar.gz", "server-20260102T030405006Z"]);
  });

  it("keeps extra fields but never lets them override the record's own", async () => {
    const record = await fs.publish("hello", {
      key: "k", commit: null, ref: null, files: [await source("a.jar", "x")], extra: { trigger: "push", status: "bad", key: "other" },
    });
    expect(record).toMatchObject({ key: "k", status: "good", trigger: "push" });
  });

  it("refuses to publish into a corrupt builds.json and leaves it and the folder as they were", async () => {
    const dir = path.join(root, "hello");
    await mkdir(dir, { recursive: true });
    const corrupt = '{"target": "hello", "builds": [ {"key": "old", "status": "go';
    await writeFile(path.join(dir, BUILDS_FILE), corrupt);
    const error = await expectCode(fs.publish("hello", { key: "k", commit: null, ref: null, files: [await source("a.jar", "x")] }), "METADATA_CORRUPT");
    expect(error.message).toContain(path.join(dir, BUILDS_FILE));
    expect(await readFile(path.join(dir, BUILDS_FILE), "utf8")).toBe(corrupt);
    expect(await readdir(dir)).toEqual([BUILDS_FILE]);
  });

  it("publishes nothing when a produced file is missing", async () => {
    const good = await source("a.jar", "x");
    await expect(fs.publish("hello", { key: "k", commit: null, ref: null, files: [good, path.join(work, "nope.jar")] })).rejects.toThrow(/ENOENT/);
    const dir = path.join(root, "hello");
    expect(await readdir(dir)).toEqual([]);
    expect((await fs.builds("hello").read()).builds).toEqual([]);
  });
});

describe("ServiceFs paths", () => {
  it("accepts only target names of the contract", async () => {
    expect(fs.targetDir("hello.world_2-x")).toBe(path.join(root, "hello.world_2-x"));
    for (const bad of ["../etc", "..", "/abs", "Hello", "", "a/b", "-x", "a..b"]) {
      expect(() => fs.targetDir(bad), bad).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    }
    await expectCode(fs.publish("../escape", { key: "k", commit: null, ref: null, files: [] }), "INVALID_ARGUMENT");
  });

  it("resolves artifacts inside the target folder only", async () => {
    const record = await fs.publish("hello", { key: "k", commit: null, ref: null, files: [await source("app.jar", "x")] });
    const name = record.artifacts[0]!;
    expect(await fs.artifactPath("hello", name)).toBe(path.join(await realRoot(), "hello", name));
    await writeFile(path.join(work, "secret.txt"), "secret");
    await symlink(path.join(work, "secret.txt"), path.join(root, "hello", "link.jar"));
    for (const bad of ["../../secret.txt", "/etc/passwd", "sub/app.jar", ".builds.lock", "link.jar", "a\0b"]) {
      await expectCode(fs.artifactPath("hello", bad), "UNSAFE_PATH");
    }
  });

  it("resolves servicefs:// paths inside the root, refusing .., absolute paths and symlinks out", async () => {
    await fs.publish("hello", { key: "k", commit: null, ref: null, files: [await source("app.jar", "x")] });
    expect(await fs.resolve("hello")).toBe(path.join(await realRoot(), "hello"));
    await symlink(work, path.join(root, "out"));
    for (const bad of ["../secret", "/etc", "hello/../../x", "out"]) await expectCode(fs.resolve(bad), "UNSAFE_PATH");
  });
});

async function realRoot(): Promise<string> {
  const { realpath } = await import("node:fs/promises");
  return realpath(root);
}
