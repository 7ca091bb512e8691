import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { killProcessTree, processStartTime } from "../../src/shared/exit-with-parent.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
// Written by the build's commands, which run under an unprivileged uid when the tests run as root.
const shared = mkdtempSync(path.join(os.tmpdir(), "cicd-local-builds-"));
chmodSync(shared, 0o777);
const pidFile = path.join(shared, "pid");

describe("the local executor (builders as host processes)", () => {
  let server: TestServer;
  const executorLog = memoryLogger();
  beforeAll(async () => {
    execFileSync(process.execPath, ["scripts/bundle.js"], { cwd: projectRoot });
    server = await startTestServer(
      testConfig({
        executor: "local",
        concurrency: 2,
        targets: [
          { name: "hello", url: `files://${path.join(projectRoot, "examples/hello")}`, commands: ["sh build.sh"], artifacts: ["dist/*.mjs"] },
          { name: "broken", url: `files://${path.join(projectRoot, "examples/hello")}`, commands: ["sh build.sh", "echo about to fail; exit 7"], artifacts: ["dist/*.mjs"] },
          // Deaf to SIGTERM (so is its sleep: ignored signals are inherited), in a process group of its own.
          { name: "stubborn", url: `files://${path.join(projectRoot, "examples/hello")}`, commands: [`trap '' TERM; echo $$ > ${pidFile}; sleep 300`], artifacts: ["dist/*.mjs"] },
        ],
      }),
      { executor: new LocalExecutor({ logger: executorLog, cliCommand: [process.execPath, path.join(projectRoot, "docker/build/cicd.mjs")] }) },
    );
  });
  afterAll(async () => {
    await server?.close(0);
    rmSync(shared, { recursive: true, force: true });
  });

  it("builds two targets at once and records success and failure", async () => {
    const [ok, bad] = await Promise.all(["hello", "broken"].map((target) => server.manager.trigger({ target, trigger: "api" })));
    const [okDone, badDone] = await Promise.all([ok!, bad!].map((r) => server.manager.waitFor(r.build.key, finished, 60_000)));
    expect(okDone).toMatchObject({ status: "succeeded", exitCode: 0 });
    expect(okDone!.artifacts[0]).toMatch(/^hello-1\.0-\d{8}T\d{9}Z\.mjs$/);
    expect(badDone).toMatchObject({ status: "failed", exitCode: 7 });
    expect(badDone!.reason).toContain("Command 2 failed (exit code 7)");
    expect(readFileSync(server.manager.logPath(badDone!.key), "utf8")).toContain("about to fail");
    const published = JSON.parse(readFileSync(path.join(server.config.servicefs, "hello/builds.json"), "utf8"));
    expect(published.builds.map((b: { key: string }) => b.key)).toEqual([okDone!.key]);
    expect(executorLog.lines.filter((l) => l.includes("NOT isolated"))).toHaveLength(1);
  });

  it("a cancelled build leaves none of its commands running, even those deaf to SIGTERM", async () => {
    const { build } = await server.manager.trigger({ target: "stubborn", trigger: "api" });
    await expect.poll(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", { timeout: 30_000, interval: 100 }).toBe(true);
    const sh = Number(readFileSync(pidFile, "utf8").trim());
    const start = processStartTime(sh);
    expect(start).toBeDefined();
    try {
      await server.manager.cancel(build.key);
      expect(await server.manager.waitFor(build.key, finished, 60_000)).toMatchObject({ status: "cancelled" });
      // The builder is gone once the build has ended; its command must be too.
      await expect.poll(() => processStartTime(sh) !== start, { timeout: 30_000, interval: 100 }).toBe(true);
    } finally {
      if (processStartTime(sh) === start) killProcessTree(sh);
    }
  });
});
