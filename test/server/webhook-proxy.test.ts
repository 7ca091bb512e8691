import { createHmac } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { testPrivateKey, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { waitForValue } from "../helpers/wait-for.js";

/**
 * WEBHOOK_PROXY_URL, as Probot apps use it in development: a Smee channel (here a small server
 * on 127.0.0.1 that speaks Smee's event stream) relays GitHub's deliveries, and the server
 * forwards each to its own webhook endpoint, where it is verified like any other.
 */
describe("webhooks through a Smee channel (WEBHOOK_PROXY_URL)", () => {
  let channel: Server;
  let listeners: ServerResponse[] = [];
  let github: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  let server: TestServer;

  beforeAll(async () => {
    channel = createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("event: ready\ndata: {}\n\n");
      listeners.push(res);
    });
    await new Promise<void>((resolve) => channel.listen(0, "127.0.0.1", resolve));
    github = await startFakeGitHubApi();
    server = await startTestServer(
      testConfig({ targets: [{ name: "hello", repository: "Codertocat/Hello-World", url: "https://github.com/Codertocat/Hello-World.git", branches: ["master"], commands: ["echo hi"], artifacts: ["*.txt"] }] }),
      {
        executor: new FakeExecutor(),
        env: { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET, GHE_HOST: github.host, GHE_PROTOCOL: "http", WEBHOOK_PROXY_URL: `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel` },
      },
    );
  });
  afterAll(async () => {
    await server?.close(0);
    for (const l of listeners) l.end();
    listeners = [];
    channel?.close();
    await github?.close();
  });

  it("builds a push GitHub sent to the channel, and drops one whose signature is wrong", async () => {
    await waitForValue(() => listeners.length, (n) => n > 0, { what: "the server to listen to the channel", timeout: 10_000 });
    const relay = (payload: object, secret: string, id: string) => {
      const body = JSON.stringify(payload);
      const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      const event = { "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": signature, "content-type": "application/json", body: payload, timestamp: Date.now() };
      for (const l of listeners) l.write(`data: ${JSON.stringify(event)}\n\n`);
    };
    const good = pushPayload("refs/heads/master");
    relay(pushPayload("refs/heads/master"), "not-the-secret-0123456789", "forged-1");
    relay(good, WEBHOOK_SECRET, "relayed-1");
    const builds = await waitForValue(
      async () => ((await (await server.api("/api/v1/builds?target=hello")).json()) as { builds: Build[] }).builds,
      (b) => b.length > 0,
      { what: "the relayed push to queue a build", timeout: 10_000 },
    );
    expect(builds.map((b) => b.sha)).toEqual([good.after]);
  });
});
