import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushPayload } from "../fixtures/webhook-payloads.js";
import { sendWebhook } from "../fixtures/webhook-server.js";
import { testEnv } from "../fixtures/github-app-fixture.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/** Issue 15, point 6: a webhook with a bad signature is one line in the server's log, not two. */

let server: TestServer;
beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
  server = await startTestServer(testConfig({ executor: "local", targets: [] }), { executor: new FakeExecutor(), env: { ...testEnv } });
});
afterAll(async () => {
  await server?.close();
  nock.enableNetConnect();
});

describe("a webhook with a bad signature", () => {
  it("is refused with 400 and logged once", async () => {
    const before = server.logLines.length;
    const res = await sendWebhook(server.url, "push", pushPayload(), "not-the-webhook-secret");
    expect(res.status).toBe(400);
    const lines = server.logLines.slice(before).filter((l) => /signature/i.test(l));
    expect(lines, server.logLines.slice(before).join("\n")).toHaveLength(1);
  });
});
