import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { signInCookie } from "./sign-in.js";

/** `/queue`: the builds waiting, in order, and why each waits. */
describe("the queue page", () => {
  let server: TestServer;
  let cookie = "";
  beforeAll(async () => {
    server = await startTestServer(
      testConfig({ concurrency: 1, warmBuilders: false, targets: [{ name: "app", url: "files:///nowhere", commands: ["sleep 3000"], artifacts: ["artifact.txt"], supersede: false }] }),
      { executor: new FakeExecutor() },
    );
    cookie = await signInCookie(server);
  });
  afterAll(async () => {
    await server?.close(0);
  });

  it("lists the waiting builds in the order they will run, with their place and why they wait", async () => {
    const first = (await server.manager.trigger({ target: "app", trigger: "api", ref: "main" })).build;
    await server.manager.waitFor(first.key, (b: Build) => b.status === "running", 10_000);
    const second = (await server.manager.trigger({ target: "app", trigger: "api", ref: "main" })).build;
    const third = (await server.manager.trigger({ target: "app", trigger: "api", ref: "main" })).build;
    const page = await (await fetch(`${server.url}/queue`, { headers: { cookie, accept: "text/html" } })).text();
    expect(page).toContain("1 of 1 builds running; 2 waiting.");
    const rows = [...page.matchAll(/<tr><td>(\d+)<\/td><td><a href="\/builds\/([^"]+)">[^<]*<\/a><\/td><td>[^<]*<\/td><td>.*?<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1], m[2], m[3]]);
    expect(rows).toEqual([
      ["1", second.key, "waiting for a free slot (1 of 1 builds running)"],
      ["2", third.key, "waiting for a free slot (1 of 1 builds running, 1 ahead of it)"],
    ]);
    for (const b of [first, second, third]) await server.manager.cancel(b.key).catch(() => undefined);
  });
});
