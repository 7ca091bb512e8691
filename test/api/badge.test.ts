import { afterEach, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { badgeSvg } from "../../src/api/badge-routes.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

/** A server with a target that passes (app), one that fails (bad) and one that runs until cancelled (slow). */
async function server(more: Record<string, unknown> = {}) {
  const s = await startTestServer(testConfig({ targets: [{ name: "app", url: "files:///nowhere", commands: ["echo fine"], artifacts: ["artifact.txt"] }, { name: "bad", url: "files:///nowhere", commands: ["exit 2"], artifacts: ["artifact.txt"] }, { name: "slow", url: "files:///nowhere", commands: ["sleep 60000"], artifacts: ["artifact.txt"] }], ...more }), { executor: new FakeExecutor() });
  servers.push(s);
  return s;
}

const badge = (s: TestServer, path: string, headers: Record<string, string> = {}) => fetch(`${s.url}${path}`, { headers });

describe("GET /badge/:target.svg", () => {
  it("says passing, failing, running or unknown for the newest build of the branch, without sign-in, with cache headers for GitHub's image proxy", async () => {
    const s = await server();
    const run = async (target: string, ref: string) => {
      const { build } = await s.manager.trigger({ target, trigger: "api", ref });
      return build.key;
    };
    expect(await (await badge(s, "/badge/app.svg?branch=main")).text()).toContain(">unknown<");

    await s.manager.waitFor(await run("app", "main"), finished, 15_000);
    await s.manager.waitFor(await run("bad", "main"), finished, 15_000);
    const slow = await run("slow", "main");
    await s.manager.waitFor(slow, (b) => b.status === "running", 15_000);

    const res = await badge(s, "/badge/app.svg?branch=main");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache, max-age=0");
    const etag = res.headers.get("etag");
    expect(etag).toMatch(/^"[\w-]+"$/);
    const svg = await res.text();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain(">passing<");
    expect(svg).not.toMatch(/@font-face|<script|href=/);
    expect(await (await badge(s, "/badge/bad.svg?branch=main")).text()).toContain(">failing<");
    expect(await (await badge(s, "/badge/slow.svg?branch=main")).text()).toContain(">running<");
    await s.manager.cancel(slow);
    // A cancelled build says nothing about the code: the badge looks past it.
    expect(await (await badge(s, "/badge/slow.svg?branch=main")).text()).toContain(">unknown<");
    // Another branch has no build; no branch named: the newest build of any branch.
    expect(await (await badge(s, "/badge/app.svg?branch=develop")).text()).toContain(">unknown<");
    expect(await (await badge(s, "/badge/bad.svg")).text()).toContain(">failing<");

    // Nothing changed: the proxy's revalidation gets 304.
    expect((await badge(s, "/badge/app.svg?branch=main", { "if-none-match": etag! })).status).toBe(304);
    expect((await badge(s, "/badge/app.svg?branch=main", { "if-none-match": '"other"' })).status).toBe(200);
  });

  it("answers 404 for an unknown target, and for every target with badges: false", async () => {
    const s = await server();
    expect((await badge(s, "/badge/nope.svg")).status).toBe(404);
    expect((await badge(s, "/badge/app.png")).status).toBe(404);
    const off = await server({ badges: false });
    expect((await badge(off, "/badge/app.svg?branch=main")).status).toBe(404);
  });

  it("escapes the label it draws", () => {
    const svg = badgeSvg(`a<b>&"c'`, "passing");
    expect(svg).toContain("a&lt;b&gt;&amp;&quot;c&apos;");
    expect(svg).not.toContain("a<b>");
  });
});
