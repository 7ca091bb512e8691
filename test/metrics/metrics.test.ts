import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { ServiceFs } from "../../src/servicefs/index.js";
import { testEnv, WEBHOOK_SECRET } from "../fixtures/github-app-fixture.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
const target = (name: string, commands: string[]) => ({ name, url: "files:///nowhere", commands, artifacts: ["artifact.txt"] });

/** A Prometheus exposition's samples: `name{labels}` → value (HELP and TYPE lines skipped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples(await res.text());
}

describe("GET /metrics", () => {
  it("counts real builds by target and status, their duration, queue wait, warm hits and misses, runner fallbacks and process metrics", async () => {
    const server = await startTestServer(testConfig({ concurrency: 1, targets: [target("ok", ["echo fine"]), target("broken", ["exit 3"])] }), { executor: new FakeExecutor() });
    servers.push(server);
    const keys: string[] = [];
    for (const name of ["ok", "ok", "broken"]) keys.push((await server.manager.trigger({ target: name, trigger: "api" })).build.key);
    for (const key of keys) await server.manager.waitFor(key, finished, 15_000);

    const m = await scrape(server);
    expect(m.get('cicd_builds_total{target="ok",status="succeeded"}')).toBe(2);
    expect(m.get('cicd_builds_total{target="broken",status="failed"}')).toBe(1);
    expect(m.get('cicd_build_duration_seconds_count{target="ok",status="succeeded"}')).toBe(2);
    expect(m.get('cicd_build_duration_seconds_bucket{le="+Inf",target="broken",status="failed"}')).toBe(1);
    expect(m.get("cicd_queue_wait_seconds_count")).toBe(3);
    expect(m.get("cicd_builds_queued")).toBe(0);
    expect(m.get("cicd_builds_running")).toBe(0);
    const hits = (t: string) => (m.get(`cicd_warm_builder_hits_total{target="${t}"}`) ?? 0) + (m.get(`cicd_warm_builder_misses_total{target="${t}"}`) ?? 0);
    expect(hits("ok") + hits("broken")).toBe(3);
    expect(m.get("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(m.has("nodejs_heap_size_used_bytes")).toBe(true);

    // A runner marks the newest good build bad in builds.json: a fallback.
    const sfs = new ServiceFs(server.config.servicefs);
    expect(await sfs.builds("ok").markBad(keys[1]!, { exitCode: 1, signal: null, reason: "exited with code 1" })).toBe(true);
    await expect.poll(async () => (await scrape(server)).get('cicd_runner_fallbacks_total{target="ok"}'), { timeout: 10_000, interval: 100 }).toBe(1);
  });

  it("counts webhook deliveries by verified event and the status answered; an unverified one never names its event", async () => {
    const server = await startTestServer(testConfig({ targets: [target("ok", ["echo fine"])] }), { executor: new FakeExecutor(), env: testEnv });
    servers.push(server);
    const post = (event: string, body: string, signature: string) =>
      fetch(`${server.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": `d-${Math.random()}`, "x-hub-signature-256": signature },
        body,
      });
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const signed = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;
    expect((await post("ping", body, signed)).status).toBe(200);
    expect((await post("ping", body, signed)).status).toBe(200);
    expect((await post("made_up_event", body, `sha256=${"0".repeat(64)}`)).status).toBe(400);

    const m = await scrape(server);
    expect(m.get('cicd_webhooks_total{event="ping",result="200"}')).toBe(2);
    expect(m.get('cicd_webhooks_total{event="unverified",result="400"}')).toBe(1);
    expect([...m.keys()].some((k) => k.includes("made_up_event"))).toBe(false);
  });

  it("asks for metrics.token when it is set (401 without it), and keeps the API token out of it", async () => {
    const server = await startTestServer(testConfig({ metrics: { token: "metrics-token-0123456789" }, targets: [target("ok", ["echo fine"])] }), { executor: new FakeExecutor() });
    servers.push(server);
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "UNAUTHORIZED" });
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.apiToken}` } })).status).toBe(401);
    const m = await scrape(server, { authorization: "Bearer metrics-token-0123456789" });
    expect(m.get("cicd_builds_queued")).toBe(0);
  });
});
