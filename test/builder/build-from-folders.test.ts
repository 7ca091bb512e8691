import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { access, readdir, readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newBuildKey } from "../../src/builder/build-key.js";
import { runBuild } from "../../src/builder/run-build.js";
import { tempDir, writeFiles } from "../helpers/git-repos.js";
import { createBench, jarScript, type Bench } from "./harness.js";
import { writeZip } from "./zip-fixture.js";

const run = promisify(execFile);

describe("builds from folders and archives (files:// and servicefs://)", () => {
  let bench: Bench;
  let outside: { dir: string; cleanup(): Promise<void> };

  beforeAll(async () => {
    bench = await createBench();
    outside = await tempDir("cicd-outside-");
    await writeFiles(outside.dir, { "project/build.sh": jarScript("plain"), "project/src/Main.java": "class Main {}" });
    const sources = path.join(bench.servicefs, "sources");
    await writeFiles(sources, { "hello/build.sh": jarScript("from-servicefs"), "hello/README": "hi" });
    await run("tar", ["-czf", path.join(sources, "hello.tar.gz"), "-C", path.join(sources, "hello"), "."]);
    await writeZip(path.join(sources, "hello.zip"), [
      { name: "build.sh", content: jarScript("from-zip").content, mode: 0o100755 },
      { name: "lib/" },
      { name: "lib/notes.txt", content: "x".repeat(5000) },
      { name: "empty.txt", content: "", store: true },
      { name: "link-to-lib", content: "lib", mode: 0o120777 },
    ]);
    await writeZip(path.join(sources, "climb.zip"), [{ name: "../escaped.txt", content: "out" }]);
    await writeZip(path.join(sources, "link-out.zip"), [
      { name: "etc", content: "/etc", mode: 0o120777 },
      { name: "etc/evil", content: "x" },
    ]);
    await symlink(outside.dir, path.join(bench.servicefs, "sources", "escape"));
  });
  afterAll(async () => {
    await outside.cleanup();
    await bench.cleanup();
  });

  it("copies a plain folder given as files://, builds it, and leaves the folder untouched", async () => {
    const project = path.join(outside.dir, "project");
    const result = await bench.build({ url: `files://${project}`, commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.reason).toBeUndefined();
    expect(result.commit).toBeNull();
    expect((await bench.builds()).builds.at(-1)).toMatchObject({ key: result.key, commit: null, status: "good" });
    expect(await readFile(path.join(bench.servicefs, "hello", result.artifacts[0]!), "utf8")).toBe("plain");
    expect(await readdir(project)).toEqual(["build.sh", "src"]);
  });

  it("tells the outcome, already published, before it removes the workspace", async () => {
    const project = path.join(outside.dir, "project");
    const seen: { ok: boolean; published: boolean; workspaces: string[] }[] = [];
    const outcome = await runBuild(
      { key: newBuildKey(), target: "early", url: `files://${project}`, commands: ["./build.sh"], artifacts: ["dist/*.jar"] },
      {
        servicefs: bench.servicefs,
        workdir: bench.workdir,
        logDir: bench.logDir,
        out: () => undefined,
        onOutcome: (o) => {
          const published = existsSync(path.join(bench.servicefs, "early", o.artifacts[0] ?? "none"));
          seen.push({ ok: o.ok, published, workspaces: readdirSync(bench.workdir).filter((n) => n.startsWith("cicd-")) });
        },
      },
    );
    expect(seen).toEqual([{ ok: true, published: true, workspaces: [expect.stringContaining(outcome.key)] }]);
    expect(await bench.leftovers()).toEqual([]);
  });

  it("builds a folder inside the service file system (servicefs://)", async () => {
    const result = await bench.build({ url: "servicefs://sources/hello", ref: "main", commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.reason).toBeUndefined();
    expect(result.log).toContain("not a git repository; the ref and sha asked for are ignored");
    expect(await readFile(path.join(bench.servicefs, "hello", result.artifacts[0]!), "utf8")).toBe("from-servicefs");
  });

  it("unpacks a .tar.gz from the service file system, keeping the x bit of scripts", async () => {
    const result = await bench.build({ url: "servicefs://sources/hello.tar.gz", commands: ["./build.sh"], artifacts: ["dist/*.jar"] });
    expect(result.reason).toBeUndefined();
    expect(await readFile(path.join(bench.servicefs, "hello", result.artifacts[0]!), "utf8")).toBe("from-servicefs");
  });

  it("unpacks a .zip (deflated, stored, empty, folders, an inner symlink, the x bit)", async () => {
    const result = await bench.build({
      url: "servicefs:///sources/hello.zip",
      commands: ["./build.sh", "test -x build.sh && test -s link-to-lib/notes.txt && test -f empty.txt && wc -c < lib/notes.txt"],
      artifacts: ["dist/*.jar"],
    });
    expect(result.reason).toBeUndefined();
    expect(result.log).toContain("5000");
    expect(await readFile(path.join(bench.servicefs, "hello", result.artifacts[0]!), "utf8")).toBe("from-zip");
  });

  it("refuses archives and paths that reach outside, writing nothing there", async () => {
    const climb = await bench.build({ url: "servicefs://sources/climb.zip" });
    expect(climb.error?.code).toBe("UNSAFE_PATH");
    const linkOut = await bench.build({ url: "servicefs://sources/link-out.zip" });
    expect(linkOut.error?.code).toBe("UNSAFE_PATH");
    await expect(access("/etc/evil")).rejects.toThrow();
    const up = await bench.build({ url: "servicefs://../outside" });
    expect(up.error?.code).toBe("UNSAFE_PATH");
    const viaLink = await bench.build({ url: "servicefs://sources/escape/project" });
    expect(viaLink.error?.code).toBe("UNSAFE_PATH");
    expect(viaLink.reason).toContain("resolves outside");
    expect(await bench.leftovers()).toEqual([]);
  });

  it("says what is wrong with a missing path, a file that is no archive and a broken zip", async () => {
    await writeFiles(path.join(bench.servicefs, "sources"), { "notes.txt": "hello", "broken.zip": "PK not really" });
    const missing = await bench.build({ url: "servicefs://sources/nothing-here" });
    expect(missing.reason).toContain("no such file or folder");
    const plain = await bench.build({ url: "servicefs://sources/notes.txt" });
    expect(plain.reason).toContain("expected a folder, a git repository or a .tar, .tar.gz, .tgz or .zip archive");
    const broken = await bench.build({ url: "servicefs://sources/broken.zip" });
    expect(broken.error?.code).toBe("SOURCE_FETCH_FAILED");
    expect(broken.reason).toContain("not a usable .zip archive");
    const bogus = await bench.build({ url: "ftp://example.invalid/x" });
    expect(bogus.error?.code).toBe("INVALID_ARGUMENT");
  });
});
