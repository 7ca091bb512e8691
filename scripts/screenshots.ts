/**
 * Screenshots of the dashboard for the README (docs/screenshots/*.png): a real server in this
 * process (the fake executor's builders, a temporary data folder), a few builds and a runner,
 * then each page in Debian's chromium at 1100×720, light colour scheme.
 *
 *   npx tsx scripts/screenshots.ts [OUT_DIR]
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import type { Build } from "../src/manager/types.js";
import { FakeExecutor } from "../test/helpers/fake-executor.js";
import { startTestServer, testConfig } from "../test/helpers/server.js";

const out = path.resolve(process.argv[2] ?? "docs/screenshots");
mkdirSync(out, { recursive: true });
const executor = new FakeExecutor();
const server = await startTestServer(
  testConfig({
    targets: [
      { name: "web", url: "files:///nowhere", commands: ["echo \u001b[1mnpm ci\u001b[0m", "echo added 312 packages in 4s", "echo \u001b[32m✓\u001b[0m 128 tests passed", "echo \u001b[33mwarning\u001b[0m: bundle is 1.2 MB"], artifacts: ["artifact.txt"], run: { command: "node {file}" } },
      { name: "api", url: "files:///nowhere", commands: ["echo compiling", "echo \u001b[31merror\u001b[0m: tests failed", "exit 1"], artifacts: ["artifact.txt"] },
      { name: "worker", url: "files:///nowhere", commands: ["echo fetching", "sleep 600000"], artifacts: ["artifact.txt"] },
    ],
  }),
  { executor },
);
const until = async (key: string, done: (b: Build) => boolean) => {
  for (;;) {
    const build = (await (await server.api(`/api/v1/builds/${key}`)).json()) as Build;
    if (done(build)) return build;
    await new Promise((r) => setTimeout(r, 50));
  }
};
const trigger = async (target: string, ref: string) => (await (await server.api("/api/v1/builds", { method: "POST", json: { target, ref } })).json()) as Build;
try {
  for (const [target, ref] of [["web", "main"], ["web", "refs/heads/feature/login"], ["api", "main"], ["web", "main"]] as const) {
    const b = await trigger(target, ref);
    await until(b.key, (x) => x.finishedAt !== null);
  }
  const running = await trigger("worker", "main");
  await until(running.key, (b) => b.status === "running");
  await server.api("/api/v1/targets/web/runners", { method: "POST", json: {} });

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: "light" });
  const shot = async (name: string) => {
    await page.waitForLoadState("networkidle").catch(() => undefined);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    console.log(`${name}.png`);
  };
  await page.goto(`${server.url}/login`);
  await shot("login");
  await page.getByLabel("API token").fill(server.apiToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${server.url}/`);
  await shot("targets");
  await page.goto(`${server.url}/builds`);
  await shot("builds");
  const web = ((await (await server.api("/api/v1/builds?target=web")).json()) as { builds: Build[] }).builds[0]!;
  await page.goto(`${server.url}/builds/${web.key}`);
  await page.getByRole("log").getByText("bundle is").waitFor();
  await shot("build");
  await page.goto(`${server.url}/runners`);
  await shot("runners");
  await browser.close();
} finally {
  await server.close(0);
}
