import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { examplePayload, pushPayload, type Payload } from "../fixtures/webhook-payloads.js";
import { sendWebhook } from "../fixtures/webhook-server.js";

/**
 * Issue 10, point 8: a captured signed webhook re-sent under new delivery ids. The real server
 * (real SQLite, real HTTP, the manager's group commit) with the GitHub App on; GitHub's API is a
 * local fake, builders are in-process fakes.
 */
describe("replayed webhooks", () => {
  let github: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let server: TestServer;

  beforeAll(async () => {
    github = await startFakeGitHubApi();
    server = await startTestServer(
      testConfig({
        targets: [{ name: "hello", repository: "Codertocat/Hello-World", url: "https://github.com/Codertocat/Hello-World.git", branches: ["master"], commands: ["echo hi"], artifacts: ["*.txt"] }],
      }),
      { executor: new FakeExecutor(), env: { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http" } },
    );
  });
  afterAll(async () => {
    await server?.close(0);
    await github?.close();
  });

  const builds = async (): Promise<Build[]> => ((await (await server.api("/api/v1/builds?target=hello")).json()) as { builds: Build[] }).builds;
  /** Sends the very same signed body under `times` new delivery ids, at once and one after another. */
  async function replay(name: string, payload: Payload, times: number): Promise<void> {
    const answers = await Promise.all(Array.from({ length: times }, () => sendWebhook(server.url, name, payload, WEBHOOK_SECRET)));
    for (let i = 0; i < times; i++) answers.push(await sendWebhook(server.url, name, payload, WEBHOOK_SECRET));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
  }

  it("queues one build for a push however often it is re-sent, and a person can still ask again", async () => {
    const payload = pushPayload("refs/heads/master");
    await replay("push", payload, 5);
    const pushed = (await builds()).filter((b) => b.trigger === "push");
    expect(pushed.map((b) => b.sha)).toEqual([payload.after]);
    // The REST trigger carries no replay key: the same commit builds again on purpose.
    const again = await server.api("/api/v1/builds", { method: "POST", json: { target: "hello", ref: "refs/heads/master", sha: payload.after } });
    expect(again.status).toBe(202);
    expect((await builds()).filter((b) => b.sha === payload.after)).toHaveLength(2);
  });

  it("queues one build for a pull request head however often (and as whichever action) it is re-sent", async () => {
    const opened = examplePayload("pull_request", "opened");
    await replay("pull_request", opened, 3);
    const reopened = structuredClone(opened);
    reopened.action = "reopened";
    await replay("pull_request", reopened, 2);
    expect((await builds()).filter((b) => b.trigger === "pull_request").map((b) => [b.sha, b.pullRequest])).toEqual([[opened.pull_request.head.sha, 2]]);
  });
});
