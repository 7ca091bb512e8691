import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
// Mounting a small tmpfs takes root; CI runs as root, so there this never skips.
const root = process.getuid?.() === 0;

/**
 * The service file system fails under a good build: it is full, or read-only. The build ends
 * as an error that says which, in the operator's words and without the server's paths, and
 * builds.json keeps every build it had.
 */
describe.skipIf(!root)("a service file system that is full or read-only", () => {
  let server: TestServer;
  let servicefs = "";
  const builds = () => JSON.parse(readFileSync(path.join(servicefs, "hello", "builds.json"), "utf8")) as { builds: { key: string }[] };

  beforeAll(async () => {
    const config = testConfig({ targets: [{ name: "hello", url: "files:///nowhere", commands: ["echo ok"], artifacts: ["artifact.txt"] }] });
    servicefs = config.servicefs;
    mkdirSync(servicefs, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", servicefs]);
    server = await startTestServer(config, { executor: new FakeExecutor() });
  });
  afterAll(async () => {
    await server?.close(0);
    if (servicefs) execFileSync("umount", [servicefs]);
  });

  it("fails a build clearly when the disk is full, and keeps builds.json whole", async () => {
    const first = await server.manager.trigger({ target: "hello", trigger: "api" });
    expect((await server.manager.waitFor(first.build.key, finished, 10_000)).status).toBe("succeeded");
    const before = readFileSync(path.join(servicefs, "hello", "builds.json"), "utf8");
    // Fill what is left of the 256 KiB.
    try {
      writeFileSync(path.join(servicefs, "filler"), Buffer.alloc(512 * 1024));
    } catch {
      // ENOSPC once full: that is the point.
    }
    const second = await server.manager.trigger({ target: "hello", trigger: "api" });
    const done = await server.manager.waitFor(second.build.key, finished, 10_000);
    expect(done.status).toBe("error");
    expect(done.reason).toContain("the service file system is full");
    expect(done.reason).not.toContain(servicefs);
    expect(readFileSync(path.join(servicefs, "hello", "builds.json"), "utf8")).toBe(before);
    expect(builds().builds.map((b) => b.key)).toEqual([first.build.key]);
    execFileSync("rm", ["-f", path.join(servicefs, "filler")]);
  });

  it("fails a build clearly when the service file system is read-only", async () => {
    const before = readFileSync(path.join(servicefs, "hello", "builds.json"), "utf8");
    execFileSync("mount", ["-o", "remount,ro", servicefs]);
    try {
      const { build } = await server.manager.trigger({ target: "hello", trigger: "api" });
      const done = await server.manager.waitFor(build.key, finished, 10_000);
      expect(done.status).toBe("error");
      expect(done.reason).toContain("read-only");
      expect(readFileSync(path.join(servicefs, "hello", "builds.json"), "utf8")).toBe(before);
    } finally {
      execFileSync("mount", ["-o", "remount,rw", servicefs]);
    }
    // Writable again: the next build publishes.
    const { build } = await server.manager.trigger({ target: "hello", trigger: "api" });
    expect((await server.manager.waitFor(build.key, finished, 10_000)).status).toBe("succeeded");
  });
});
