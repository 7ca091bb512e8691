import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { requireDocker } from "../helpers/docker.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { createRepo, tempDir, type TestRepo } from "../helpers/git-repos.js";
import { ensureImage } from "../helpers/images.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startRemoteEngine, type RemoteEngine } from "../helpers/remote-engine.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const run = promisify(execFile);
const hasDocker = await requireDocker();
const TOKEN = "remote-git-token-0123456789";

/**
 * Builds on a Docker engine of another machine, reached over TCP with TLS (a second dockerd
 * this test starts, with certificates it makes): the source comes over the network, the cache
 * is a volume of that engine, the files come back to the manager. Then the engine is stopped
 * in the middle of a build and started again: the build is tried again and succeeds.
 */
describe.skipIf(!hasDocker)("executor docker on a remote engine over TLS", () => {
  let engine: RemoteEngine;
  let git: GitHttpServer;
  let repo: TestRepo;
  let root: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  const ended = (b: Build) => !["queued", "running"].includes(b.status);
  const readLog = (key: string) => readFileSync(server.manager.logPath(key), "utf8");

  beforeAll(async () => {
    const builder = await ensureImage("builder");
    // No registry here: the remote engine gets the builder image from this one.
    engine = await startRemoteEngine({ images: [builder] });
    root = await tempDir("cicd-remote-e2e-");
    repo = await createRepo({ name: "hello.git", root: root.dir });
    await repo.commit({ "build.sh": "set -eu\nmkdir -p dist /home/cache\necho built-remotely > dist/app.txt\ntouch /home/cache/was-here\n" });
    git = await startGitHttpServer({ root: root.dir, token: TOKEN, host: "0.0.0.0" });
    const url = `http://host.docker.internal:${new URL(git.origin).port}/hello.git`;
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        maxAttempts: 5,
        docker: { host: engine.host, tls: { ca: engine.ca, cert: engine.cert, key: engine.key } },
        targets: [
          { name: "remote-hello", url, token: TOKEN, commands: ["sh build.sh"], artifacts: ["dist/*"], cache: ["/home/cache"] },
          { name: "long", url, token: TOKEN, commands: ["echo started", "sleep 8", "sh build.sh"], artifacts: ["dist/*"], cache: ["/home/cache"] },
        ],
      }),
      { executor: createExecutor("docker", { logger: memoryLogger(), instance: `e2e-remote-${process.pid}`, docker: { host: engine.host, tls: { ca: engine.ca, cert: engine.cert, key: engine.key } } }) },
    );
  }, 600_000);

  afterAll(async () => {
    await server?.close(0);
    await engine?.close();
    await git?.close();
    await root?.cleanup();
  }, 120_000);

  it("builds there, keeps the cache in the engine's own volume, and publishes the files it sent back", async () => {
    const { build } = await server.manager.trigger({ target: "remote-hello", trigger: "api", ref: "main" });
    const done = await server.manager.waitFor(build.key, ended, 180_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    const published = JSON.parse(readFileSync(path.join(server.config.servicefs, "remote-hello", "builds.json"), "utf8")) as { builds: { key: string; artifacts: string[] }[] };
    const files = published.builds.find((b) => b.key === build.key)!.artifacts.map((a) => readFileSync(path.join(server.config.servicefs, "remote-hello", a), "utf8"));
    expect(files).toContain("built-remotely\n");
    // The builder ran on that engine: the cache volume is there, and this engine has none.
    // (A target name of this file's own: the swarm suite, running beside it, makes a volume for its "hello" here.)
    expect((await engine.docker(["volume", "ls", "-q"])).stdout).toContain("cicd-cache-remote-hello-home_cache");
    expect((await run("docker", ["volume", "ls", "-q", "--filter", "name=cicd-cache-remote-hello-home_cache"])).stdout.trim()).toBe("");
  }, 240_000);

  it("the engine stopped in the middle of a build and started again: the build is tried again and succeeds", async () => {
    const { build } = await server.manager.trigger({ target: "long", trigger: "api", ref: "main" });
    await expect.poll(() => readLog(build.key), { timeout: 120_000, interval: 200 }).toMatch(/^\$ sleep 8$/m);
    await engine.stop();
    await expect.poll(() => readLog(build.key), { timeout: 60_000, interval: 250 }).toMatch(/trying again in .* \(attempt 2 of 5\)/).catch((e: unknown) => {
      console.log("LOG", readLog(build.key), server.manager.get(build.key));
      throw e;
    });
    await engine.start();
    const done = await server.manager.waitFor(build.key, ended, 240_000);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    expect(done.attempts).toBeGreaterThanOrEqual(2);
  }, 360_000);
});
