import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const hasDocker = await requireDocker();
const example = path.join(projectRoot, "examples/hello");
const counter = 'n=$(cat /root/.cache/demo/n 2>/dev/null || echo 0); echo "cache had $n"; echo $((n+1)) > /root/.cache/demo/n';
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

function containersOf(key: string): string[] {
  return execFileSync("docker", ["ps", "-a", "-q", "--filter", `label=cicd.build=${key}`], { encoding: "utf8" }).split("\n").filter(Boolean);
}

describe.skipIf(!hasDocker)("builds in builder containers on the real Docker engine", () => {
  let server: TestServer;

  beforeAll(async () => {
    await ensureImage("builder");
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        concurrency: 2,
        targets: [
          { name: "hello", url: `files://${example}`, commands: ["sh build.sh"], artifacts: ["dist/*.mjs"] },
          { name: "slow", url: `files://${example}`, commands: ["sleep 60"], artifacts: ["dist/*.mjs"], timeout: "4s" },
          { name: "cached", url: `files://${example}`, commands: [counter, "sh build.sh"], artifacts: ["dist/*.mjs"], cache: ["/root/.cache/demo"] },
          { name: "other", url: `files://${example}`, commands: [counter, "sh build.sh"], artifacts: ["dist/*.mjs"], cache: ["/root/.cache/demo"] },
          { name: "hog", url: `files://${example}`, commands: ["node -e 'const a=[];for(;;)a.push(Buffer.alloc(1e7,1))'"], artifacts: ["dist/*.mjs"], limits: { memory: "128m" } },
        ],
      }),
      { executor: new DockerExecutor({ logger: memoryLogger(), instance: "docker-builds-test" }) },
    );
  });
  afterAll(async () => {
    await server?.close(0);
  });

  it("builds the example over files:// and publishes a good, versioned artifact", async () => {
    const res = await server.api("/api/v1/builds", { method: "POST", json: { target: "hello" } });
    expect(res.status).toBe(202);
    const { key } = (await res.json()) as Build;
    await server.manager.waitFor(key, (b) => b.status === "running", 60_000);
    expect(containersOf(key)).toHaveLength(1);
    const done = await server.manager.waitFor(key, finished, 120_000);
    expect(done).toMatchObject({ status: "succeeded", exitCode: 0 });
    expect(done.artifacts).toEqual([expect.stringMatching(/^hello-1\.0-\d{8}T\d{9}Z\.mjs$/)]);
    // Where the time went, phase by phase, in the build's record (and so in the API).
    const timings = (await (await server.api(`/api/v1/builds/${key}`)).json() as Build).meta.timings as Record<string, number>;
    expect(Object.keys(timings).sort()).toEqual(["commandsMs", "fetchMs", "handOverMs", "publishMs", "queuedMs", "recordMs", "totalMs"]);
    expect(Object.values(timings).every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    expect(timings.totalMs).toBeGreaterThanOrEqual(timings.fetchMs! + timings.commandsMs! + timings.publishMs!);
    const sfs = path.join(server.config.servicefs, "hello");
    const doc = JSON.parse(readFileSync(path.join(sfs, "builds.json"), "utf8"));
    expect(doc.builds.at(-1)).toMatchObject({ key, status: "good", artifacts: done.artifacts });
    expect(existsSync(path.join(sfs, done.artifacts[0]!))).toBe(true);
    const log = readFileSync(server.manager.logPath(key), "utf8");
    expect(log).toContain("tests passed");
    // The container is removed right after the result is recorded.
    for (let i = 0; i < 100 && containersOf(key).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(containersOf(key)).toEqual([]);
  });

  it("stops a build that runs past its timeout: error, timed out, container removed", async () => {
    const { build } = await server.manager.trigger({ target: "slow", trigger: "api" });
    const done = await server.manager.waitFor(build.key, finished, 120_000);
    expect(done.status).toBe("error");
    expect(done.reason).toContain("timed out after 4.0 s");
    expect(containersOf(build.key)).toEqual([]);
  });

  it("cancels a running build", async () => {
    const { build } = await server.manager.trigger({ target: "slow", trigger: "api" });
    await server.manager.waitFor(build.key, (b) => b.status === "running", 60_000);
    const res = await server.api(`/api/v1/builds/${build.key}/cancel`, { method: "POST" });
    expect(await res.json()).toMatchObject({ status: "cancelled" });
    expect(containersOf(build.key)).toEqual([]);
  });

  it("keeps a target's dependency cache between its builds, and never shares it with another target", async () => {
    const run = async (target: string) => {
      const { build } = await server.manager.trigger({ target, trigger: "api" });
      const done = await server.manager.waitFor(build.key, finished, 120_000);
      expect(done.status).toBe("succeeded");
      return readFileSync(server.manager.logPath(build.key), "utf8");
    };
    expect(await run("cached")).toContain("cache had 0");
    expect(await run("cached")).toContain("cache had 1");
    expect(await run("other")).toContain("cache had 0");
  });

  it("reports a build killed for memory as a failure that says so", async () => {
    const { build } = await server.manager.trigger({ target: "hog", trigger: "api" });
    const done = await server.manager.waitFor(build.key, finished, 120_000);
    expect(done.status).toBe("failed");
    expect(done.reason).toContain("out of memory (limit 128m)");
  });
});
