import { execFile } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { unzip } from "../../src/builder/unzip.js";
import { writeZip } from "./zip-fixture.js";

const run = promisify(execFile);

describe("unzip", () => {
  let dir: string;
  let dest: string;
  let n = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "cicd-unzip-"));
  });
  beforeEach(async () => {
    dest = path.join(dir, `dest-${++n}`);
    await mkdir(dest);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("unpacks a ZIP64 archive made by zip -fz, keeping the x bit and an inner symlink", async () => {
    const src = path.join(dir, "zip64-src");
    await mkdir(path.join(src, "lib"), { recursive: true });
    await writeFile(path.join(src, "build.sh"), "#!/bin/sh\necho built\n", { mode: 0o755 });
    await writeFile(path.join(src, "lib", "notes.txt"), "y".repeat(5000));
    await symlink("lib", path.join(src, "link-to-lib"));
    const archive = path.join(dir, "zip64.zip");
    await run("zip", ["-q", "-fz", "-y", "-r", archive, "."], { cwd: src });
    // It really is ZIP64: the end record points to a ZIP64 end of central directory.
    expect((await readFile(archive)).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);

    expect(await unzip(archive, dest)).toBe(4);
    expect((await stat(path.join(dest, "build.sh"))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(dest, "link-to-lib", "notes.txt"), "utf8")).toBe("y".repeat(5000));
    expect(await readlink(path.join(dest, "link-to-lib"))).toBe("lib");
  });

  it.each([
    ["an absolute name", "/tmp/cicd-unzip-absolute.txt"],
    ["a name that climbs out", "lib/../../escaped.txt"],
    ["a name that climbs out with backslashes", "..\\escaped.txt"],
  ])("refuses %s with UNSAFE_PATH, writing nothing outside", async (_what, name) => {
    const archive = path.join(dir, `unsafe-${n}.zip`);
    await writeZip(archive, [{ name, content: "out" }]);
    await expect(unzip(archive, dest)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await expect(lstat(path.join(dir, "escaped.txt"))).rejects.toThrow();
    await expect(lstat("/tmp/cicd-unzip-absolute.txt")).rejects.toThrow();
  });

  it("refuses a symlink pointing outside, and writing through one", async () => {
    const out = path.join(dir, `link-out-${n}.zip`);
    await writeZip(out, [{ name: "up", content: "../..", mode: 0o120777 }]);
    await expect(unzip(out, dest)).rejects.toMatchObject({ code: "UNSAFE_PATH", message: expect.stringContaining("symlink pointing outside") });
    const through = path.join(dir, `through-${n}.zip`);
    await writeZip(through, [
      { name: "etc", content: "/etc", mode: 0o120777 },
      { name: "etc/evil", content: "x" },
    ]);
    await expect(unzip(through, dest)).rejects.toMatchObject({ code: "UNSAFE_PATH" });
    await expect(lstat("/etc/evil")).rejects.toThrow();
  });

  it("refuses an archive that claims more unpacked bytes than allowed, before writing anything", async () => {
    const archive = path.join(dir, "bomb.zip");
    // Three entries that each claim 4 GiB: 12 GiB, over the default 8 GiB.
    await writeZip(archive, [1, 2, 3].map((i) => ({ name: `part-${i}`, content: "0", declaredSize: 0xfffffff0 })));
    await expect(unzip(archive, dest)).rejects.toMatchObject({ code: "SOURCE_FETCH_FAILED", message: expect.stringContaining("more than the 8589934592 allowed") });
    expect(await readdir(dest)).toEqual([]);
  });

  it("refuses an archive with more entries than allowed, before writing anything", async () => {
    const archive = path.join(dir, "many.zip");
    await writeZip(archive, Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, content: "x" })));
    await expect(unzip(archive, dest, { maxEntries: 5, maxBytes: 1024 })).rejects.toMatchObject({
      code: "SOURCE_FETCH_FAILED",
      message: expect.stringContaining("6 entries, more than the 5 allowed"),
    });
    expect(await readdir(dest)).toEqual([]);
    await expect(unzip(archive, dest, { maxEntries: 6, maxBytes: 1024 })).resolves.toBe(6);
  });

  it("stops an entry that inflates to more than it declared", async () => {
    const archive = path.join(dir, "liar.zip");
    await writeZip(archive, [{ name: "small.txt", content: "z".repeat(1_000_000), declaredSize: 10 }]);
    await expect(unzip(archive, dest)).rejects.toMatchObject({ code: "SOURCE_FETCH_FAILED", message: expect.stringContaining("small.txt could not be inflated") });
    expect((await stat(path.join(dest, "small.txt")).catch(() => ({ size: 0 }))).size).toBeLessThan(1_000_000);
  });
});
