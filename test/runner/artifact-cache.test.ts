import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArtifactCache } from "../../src/runner/artifact-cache.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cicd-artifact-cache-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

const sha256Of = async (text: string) => (await import("node:crypto")).createHash("sha256").update(text).digest("hex");

describe("ArtifactCache", () => {
  it("stores a download whole and checked, executable, and hands it out again only at the right size", async () => {
    const cache = new ArtifactCache(path.join(dir, "cache"));
    const file = await cache.put("app-1.jar", chunks("hello ", "world"), { size: 11, sha256: await sha256Of("hello world") });
    expect(file).toBe(path.join(dir, "cache", "app-1.jar"));
    expect(await readFile(file, "utf8")).toBe("hello world");
    expect((await stat(file)).mode & 0o100).toBe(0o100);
    expect(await cache.get("app-1.jar", 11)).toBe(file);
    expect(await cache.get("app-1.jar")).toBe(file);
    expect(await cache.get("app-1.jar", 12)).toBeUndefined();
    expect(await cache.get("app-2.jar")).toBeUndefined();
  });

  it("leaves nothing behind when the size or checksum does not match, or the body breaks off", async () => {
    const cache = new ArtifactCache(dir);
    await expect(cache.put("a.jar", chunks("short"), { size: 10 })).rejects.toMatchObject({ code: "UNPROCESSABLE", message: "The downloaded artifact a.jar has 5 bytes; its build's record says 10." });
    await expect(cache.put("a.jar", chunks("data"), { sha256: "0".repeat(64) })).rejects.toMatchObject({ code: "UNPROCESSABLE" });
    async function* broken(): AsyncIterable<Uint8Array> {
      yield Buffer.from("part");
      throw new Error("connection reset");
    }
    await expect(cache.put("a.jar", broken(), {})).rejects.toThrow("connection reset");
    expect(await readdir(dir)).toEqual([]);
  });

  it("refuses names that would leave the cache or hide among partial downloads", async () => {
    const cache = new ArtifactCache(dir);
    for (const name of ["../x.jar", "sub/x.jar", ".download-x", "", "a\\\\b"]) {
      await expect(cache.put(name, chunks("x"), {}), name).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it("prunes all but the copies last used, never the current one, and stale partial downloads", async () => {
    const cache = new ArtifactCache(dir, 2);
    const old = (seconds: number) => new Date(Date.now() - seconds * 1000);
    for (const [i, name] of ["a", "b", "c", "d"].entries()) {
      await writeFile(path.join(dir, name), name);
      await utimes(path.join(dir, name), old(100 - i), old(100 - i)); // a oldest … d newest
    }
    await writeFile(path.join(dir, ".download-stale"), "x");
    await utimes(path.join(dir, ".download-stale"), old(7200), old(7200));
    await writeFile(path.join(dir, ".download-busy"), "x"); // another runner's, in progress
    await cache.get("a"); // used just now: newest
    const removed = await cache.prune(path.join(dir, "b"));
    expect(removed.sort()).toEqual([".download-stale", "c"]);
    expect((await readdir(dir)).sort()).toEqual([".download-busy", "a", "b", "d"]);
  });
});
