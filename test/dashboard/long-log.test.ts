import { writeFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import { browserAvailable, launchBrowser } from "./browser.js";

/**
 * A long log does not freeze the build page: 60,000 lines reach it in frames, and it keeps the
 * newest 10,000 with a note pointing at the raw download. (A missing browser in CI fails
 * dashboard.test.ts already.)
 */
describe.skipIf(!browserAvailable())("a long build log on the dashboard", () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer(testConfig({ targets: [{ name: "chatty", url: "files:///nowhere", commands: ["echo hi"], artifacts: ["artifact.txt"] }] }), { executor: new FakeExecutor() });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close(0);
  });

  it("shows the newest 10,000 of 60,000 lines and says where the rest is", async () => {
    const { build } = await server.manager.trigger({ target: "chatty", trigger: "api" });
    await server.manager.waitFor(build.key, (b: Build) => b.status === "succeeded", 10_000);
    writeFileSync(server.manager.logPath(build.key), Array.from({ length: 60_000 }, (_, i) => `\u001b[32mline ${i + 1}\u001b[0m of a long log`).join("\n") + "\n");
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel("API token").fill(server.apiToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/`);
    await page.goto(`${server.url}/builds/${build.key}`);
    await page.locator("#L60000").waitFor({ timeout: 60_000 });
    const lines = await page.locator("[role=log] .line:not(.note)").count();
    expect(lines).toBe(10_000);
    expect(await page.locator("[role=log] .note").textContent()).toBe("50000 earlier lines are not shown here; download the raw log to read them.");
    // The page still answers (a frozen one would hang here until the test's time-out).
    expect(await page.locator("[role=log] .line").count()).toBe(10_001);
  }, 120_000);
});
