import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { signInCookie } from "./sign-in.js";

/** A build's notification deliveries are on its page (hosts only: URLs often carry tokens). */
describe("the build page's notifications", () => {
  let server: TestServer;
  let cookie = "";
  beforeAll(async () => {
    server = await startTestServer(testConfig({ targets: [{ name: "app", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] }), { executor: new FakeExecutor() });
    cookie = await signInCookie(server);
  });
  afterAll(async () => {
    await server?.close(0);
  });

  it("lists each delivery with its host, event, outcome and tries", async () => {
    expect(cookie).toMatch(/^cicd_session=/);
    const { build } = await server.manager.trigger({ target: "app", trigger: "api" });
    await server.manager.waitFor(build.key, (b: Build) => b.status === "succeeded", 10_000);
    server.manager.setMeta(build.key, {
      notifications: [
        { host: "hooks.slack.com", event: "succeeded", status: "delivered", attempts: 2, httpStatus: 200, at: "2026-12-07T03:00:00.000Z" },
        { host: "ci-events.acme.test", event: "succeeded", status: "failed", attempts: 5, error: "ECONNREFUSED", at: "2026-12-07T03:02:00.000Z" },
      ],
    });
    const page = await (await fetch(`${server.url}/builds/${build.key}`, { headers: { cookie, accept: "text/html" } })).text();
    expect(page).toContain("<h2 id=\"notify-title\">Notifications</h2>");
    expect(page).toMatch(/succeeded to <code>hooks\.slack\.com<\/code>: delivered \(HTTP 200\), 2 tries/);
    expect(page).toMatch(/succeeded to <code>ci-events\.acme\.test<\/code>: failed \(ECONNREFUSED\), 5 tries/);
  });
});
