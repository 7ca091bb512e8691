import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const hasDocker = await requireDocker();
/** The example project, copied: a `go-ahead` file in it lets the build past its wait. */
const source = mkdtempSync(path.join(tmpdir(), "cicd-faults-src-"));
cpSync(path.join(projectRoot, "examples/hello"), source, { recursive: true });
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

function containerOf(key: string): string | undefined {
  return execFileSync("docker", ["ps", "-q", "--filter", `label=cicd.build=${key}`], { encoding: "utf8" }).split("\n").find(Boolean);
}

/**
 * The engine, not the build, fails: a builder container stopped or killed by someone else (an
 * engine restart stops every container; a drained node kills its tasks). The attempt ends as
 * an interruption, never as the build's own failure, and the build is tried again.
 */
describe.skipIf(!hasDocker)("builder containers that die under a build", () => {
  let server: TestServer;

  beforeAll(async () => {
    await ensureImage("builder");
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        warmBuilders: false,
        maxAttempts: 2,
        targets: [
          // An attempt waits for the test to stop it, unless the source has the go-ahead file.
          { name: "flaky", url: `files://${source}`, commands: ["test -f go-ahead || sleep 30", "sh build.sh"], artifacts: ["dist/*.mjs"] },
        ],
      }),
      { executor: new DockerExecutor({ logger: memoryLogger(), instance: "docker-faults-test" }) },
    );
  }, 240_000);
  afterAll(async () => {
    await server?.close(0);
  });

  const stopFromOutside = async (key: string, how: "stop" | "kill", before?: string) => {
    await expect.poll(() => containerOf(key), { timeout: 20_000 }).toBeTruthy();
    const id = containerOf(key)!;
    expect(id).not.toBe(before);
    // Not execFileSync: the manager runs in this process and must answer the builder meanwhile.
    await promisify(execFile)("docker", [how, ...(how === "stop" ? ["-t", "5"] : []), id]);
    return id;
  };

  it("tries a build again when its container is stopped from outside, and the retry succeeds", async () => {
    const { build } = await server.manager.trigger({ target: "flaky", trigger: "api" });
    await server.manager.waitFor(build.key, (b) => b.status === "running", 60_000);
    const first = await stopFromOutside(build.key, "stop");
    const requeued = await server.manager.waitFor(build.key, (b) => b.attempts === 1 && b.status === "queued", 30_000);
    expect(requeued.reason).toMatch(/stopped from outside.*retrying \(attempt 2 of 2\)/);
    writeFileSync(path.join(source, "go-ahead"), "");
    try {
      const done = await server.manager.waitFor(build.key, finished, 90_000);
      expect(done).toMatchObject({ status: "succeeded", attempts: 2 });
      expect(containerOf(build.key)).not.toBe(first);
    } finally {
      execFileSync("rm", ["-f", path.join(source, "go-ahead")]);
    }
  }, 180_000);

  it("ends a build as an error, not a failure of its commands, once every attempt was killed", async () => {
    const { build } = await server.manager.trigger({ target: "flaky", trigger: "api" });
    await server.manager.waitFor(build.key, (b) => b.status === "running", 60_000);
    const first = await stopFromOutside(build.key, "kill");
    const requeued = await server.manager.waitFor(build.key, (b) => b.attempts === 1 && b.status === "queued", 30_000);
    expect(requeued.reason).toMatch(/exited \(code 137\) without reporting a result.*retrying/);
    await server.manager.waitFor(build.key, (b) => b.attempts === 2 && b.status === "running", 60_000);
    await stopFromOutside(build.key, "kill", first);
    const done = await server.manager.waitFor(build.key, finished, 60_000);
    expect(done.status).toBe("error");
    expect(done.reason).toContain("gave up after 2 attempts");
  }, 180_000);
});
