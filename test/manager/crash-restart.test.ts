import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CicdClient } from "../../src/client/index.js";
import type { Build } from "../../src/manager/types.js";
import { testTarget, writeConfigFile } from "../helpers/config-file.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { freePort } from "../helpers/free-port.js";
import { spawnServer, type ServerProcess } from "../helpers/server-process.js";

const hasDocker = await requireDocker();
const started: ServerProcess[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

/** A cicd.yml in a fresh folder: one target building examples/hello with `commands`, on a free port. */
async function writeConfig(prefix: string, commands: string[], extra: Record<string, unknown> = {}) {
  const port = await freePort();
  const { dir, file: config } = writeConfigFile(
    { port, concurrency: 1, ...extra, targets: [testTarget("hello", { url: `files://${path.join(projectRoot, "examples/hello")}`, commands, artifacts: ["dist/*.mjs"] })] },
    { prefix },
  );
  return { dir, port, config };
}

describe.skipIf(!hasDocker)("the server killed with SIGKILL mid-queue", () => {
  it("finishes every queued build exactly once after a restart", async () => {
    await ensureImage("builder");
    const { dir, port, config } = await writeConfig("cicd-crash-", ["sh build.sh", "sleep 3"]);
    const env: NodeJS.ProcessEnv = { CICD_API_TOKEN: "crash-test-token" };
    const first = await spawnServer(config, env);
    started.push(first);
    const client = new CicdClient({ baseUrl: `http://127.0.0.1:${port}`, token: env.CICD_API_TOKEN! });
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) keys.push((await client.triggerBuild("hello")).key);
    // Wait until the first build runs, then kill the server without warning.
    for (let i = 0; i < 600 && (await client.getBuild(keys[0]!)).status !== "running"; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await client.getBuild(keys[0]!)).status).toBe("running");
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await spawnServer(config, env);
    started.push(second);
    const done: Build[] = [];
    for (const key of keys) done.push(await client.waitForBuild(key, { intervalMs: 200, timeoutMs: 240_000 }));
    expect(done.map((b) => b.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    const doc = JSON.parse(readFileSync(path.join(dir, "data/servicefs/hello/builds.json"), "utf8")) as { builds: { key: string }[] };
    expect(doc.builds.map((b) => b.key).sort()).toEqual([...keys].sort());
    // The build that ran during the kill was followed to its end, not started again.
    expect(second.output()).toContain("re-attached to running build");
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 400_000);
});

describe.skipIf(!hasDocker)("SIGTERM", () => {
  it("lets the running build finish, keeps the queue, and the next start runs what was queued", async () => {
    await ensureImage("builder");
    const { port, config } = await writeConfig("cicd-sigterm-", ["sleep 2", "sh build.sh"], { shutdownGrace: "60s" });
    const env: NodeJS.ProcessEnv = { CICD_API_TOKEN: "sigterm-test-token" };
    const client = new CicdClient({ baseUrl: `http://127.0.0.1:${port}`, token: env.CICD_API_TOKEN! });
    const first = await spawnServer(config, env);
    started.push(first);
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) keys.push((await client.triggerBuild("hello")).key);
    for (let i = 0; i < 600 && (await client.getBuild(keys[0]!)).status !== "running"; i++) await new Promise((r) => setTimeout(r, 50));
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("finishing running builds");

    const second = await spawnServer(config, env);
    started.push(second);
    expect((await client.getBuild(keys[0]!)).status).toBe("succeeded");
    const rest = [];
    for (const key of keys.slice(1)) rest.push(await client.waitForBuild(key, { intervalMs: 200, timeoutMs: 120_000 }));
    expect(rest.map((b) => b.status)).toEqual(["succeeded", "succeeded"]);
    expect(rest.every((b) => b.attempts === 1)).toBe(true);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 300_000);
});
