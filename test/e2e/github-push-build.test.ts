import { createHmac } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, type ExecutorName } from "../../src/executor/index.js";
import type { Build } from "../../src/manager/types.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { requireDocker } from "../helpers/docker.js";
import { ensureImage, projectRoot } from "../helpers/images.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { joinSwarm, type SwarmMembership } from "../helpers/swarm.js";

const hasDocker = await requireDocker();

/**
 * The whole path a user meets: GitHub sends a signed push webhook → cicd queues a build →
 * a builder container builds the commit on the real Docker engine → the check run on the
 * commit goes queued → in_progress → completed/success. GitHub's API is a local fake server.
 * Once per executor that runs containers: on one engine, and as a Swarm service.
 */
describe.skipIf(!hasDocker).each<ExecutorName>(["docker", "swarm"])("push webhook to completed check run (executor %s)", (executor) => {
  let github: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let server: TestServer;
  let swarm: SwarmMembership | undefined;

  beforeAll(async () => {
    if (executor === "swarm") swarm = await joinSwarm();
    await ensureImage("builder");
    github = await startFakeGitHubApi();
    server = await startTestServer(
      testConfig({
        host: "0.0.0.0",
        publicUrl: "http://ci.example.test",
        targets: [
          {
            name: "hello",
            repository: "Codertocat/Hello-World",
            url: `files://${path.join(projectRoot, "examples/hello")}`,
            branches: ["master"],
            commands: ["sh build.sh"],
            artifacts: ["dist/*.mjs"],
          },
        ],
      }),
      {
        executor: createExecutor(executor, { logger: memoryLogger(), instance: `e2e-github-${executor}` }),
        env: { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http" },
      },
    );
  });
  afterAll(async () => {
    await server?.close(0);
    await github?.close();
    await swarm?.leave();
  }, 120_000);

  it("builds the pushed commit and completes its check run with success", async () => {
    const payload = pushPayload("refs/heads/master");
    const body = JSON.stringify(payload);
    const send = (signature: string, delivery: string) =>
      fetch(`${server.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": delivery, "x-hub-signature-256": signature },
        body,
      });

    const forged = await send(`sha256=${createHmac("sha256", "wrong-secret").update(body).digest("hex")}`, "delivery-forged");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    expect(server.manager.list()).toHaveLength(0);

    const signature = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;
    const accepted = await send(signature, "delivery-1");
    expect(accepted.status).toBe(200);
    const redelivered = await send(signature, "delivery-1");
    expect(redelivered.status).toBe(200);

    const builds = server.manager.list({ target: "hello" });
    expect(builds).toHaveLength(1);
    const build = builds[0]!;
    expect(build).toMatchObject({ trigger: "push", sha: payload.after, repository: "Codertocat/Hello-World" });
    const done = await server.manager.waitFor(build.key, (b: Build) => !["queued", "running"].includes(b.status), 120_000);
    expect(done.status).toBe("succeeded");

    // The reporter brings the check run up to date asynchronously.
    const checkRun = () => [...github.checkRuns.values()].find((r) => r.external_id === build.key);
    await expect.poll(() => checkRun()?.status, { timeout: 30_000, interval: 100 }).toBe("completed");
    const run = checkRun();
    expect(run).toMatchObject({ name: "cicd/hello", head_sha: payload.after, external_id: build.key, status: "completed", conclusion: "success" });
    expect(String(run!.details_url)).toContain(build.key);
    const calls = github.requests.filter((r) => r.path.includes("/check-runs")).map((r) => `${r.method} ${String(r.body?.status ?? "")}`);
    expect(calls[0]).toBe("POST queued");
    expect(calls).toContain("PATCH in_progress");
    expect(calls.at(-1)).toMatch(/^PATCH (completed)?$/);
  });
});
