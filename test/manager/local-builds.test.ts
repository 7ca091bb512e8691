import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../../src/shared/logger.js";
import { projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

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
        ],
      }),
      { executor: new LocalExecutor({ logger: executorLog, cliCommand: [process.execPath, path.join(projectRoot, "docker/build/cicd.mjs")] }) },
    );
  });
  afterAll(() => server?.close(0));

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
});
