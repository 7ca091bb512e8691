import { afterEach, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

/**
 * The first build of a builder image can take minutes. A build waiting for it is still the
 * user's to cancel, and a newer push still supersedes it at once: neither waits for the image.
 */
describe("a build waiting for its image", () => {
  async function start() {
    const executor = new FakeExecutor();
    let ready!: () => void;
    executor.imageReady = new Promise<void>((resolve) => (ready = resolve));
    const server = await startTestServer(
      testConfig({ concurrency: 1, warmBuilders: false, targets: [{ name: "app", url: "files:///nowhere", commands: ["echo built"], artifacts: ["artifact.txt"], supersede: "running" }] }),
      { executor },
    );
    servers.push(server);
    return { server, ready };
  }

  it("is cancelled at once, and the image is still made for the next build", async () => {
    const { server, ready } = await start();
    const { build } = await server.manager.trigger({ target: "app", trigger: "api" });
    await expect.poll(() => server.manager.list({ target: "app" })[0]?.attempts, { timeout: 5_000, interval: 20 }).toBe(1);
    const started = Date.now();
    expect((await server.manager.cancel(build.key)).status).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(2_000);
    ready();
    const next = await server.manager.trigger({ target: "app", trigger: "api" });
    expect((await server.manager.waitFor(next.build.key, finished, 10_000)).status).toBe("succeeded");
  });

  it("is superseded at once by a newer push of its branch", async () => {
    const { server, ready } = await start();
    const first = await server.manager.trigger({ target: "app", trigger: "push", ref: "refs/heads/main", sha: "a".repeat(40) });
    await expect.poll(() => server.manager.get(first.build.key)?.attempts, { timeout: 5_000, interval: 20 }).toBe(1);
    const second = await server.manager.trigger({ target: "app", trigger: "push", ref: "refs/heads/main", sha: "b".repeat(40) });
    expect(await server.manager.waitFor(first.build.key, finished, 2_000)).toMatchObject({ status: "cancelled", outcome: "superseded" });
    ready();
    expect((await server.manager.waitFor(second.build.key, finished, 10_000)).status).toBe("succeeded");
  });
});
