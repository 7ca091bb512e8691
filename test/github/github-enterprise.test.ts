import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";
import { WEBHOOK_SECRET, testConfig, testEnv } from "../fixtures/github-app-fixture.js";
import { sendWebhook, startWebhookServer } from "../fixtures/webhook-server.js";
import { pushPayload } from "../fixtures/webhook-payloads.js";

// No nock here: the app talks real HTTP to a fake GitHub Enterprise API on 127.0.0.1.
describe("GitHub Enterprise (GHE_HOST, GHE_PROTOCOL=http) against a local fake API", () => {
  let api: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  beforeAll(async () => {
    api = await startFakeGitHubApi();
  });
  afterAll(() => api.close());

  it("reports a pushed build's check run through its whole life and hands out clone tokens", async () => {
    const config = testConfig({
      targets: [{ name: "hello", repository: "Codertocat/Hello-World", url: `http://${api.host}/Codertocat/Hello-World.git`, commands: ["make"], artifacts: ["out/*"] }],
    });
    const s = await startWebhookServer(config, { ...testEnv, GHE_HOST: api.host, GHE_PROTOCOL: "http" });
    try {
      api.failNext(1, 502, /check-runs/); // GitHub has a bad moment right when the build is queued
      const res = await sendWebhook(s.url, "push", pushPayload(), WEBHOOK_SECRET);
      expect(res.status).toBe(200);
      const [build] = s.service.all();
      await s.github.idle();
      s.service.update(build!.key, { status: "running", startedAt: new Date().toISOString(), commit: build!.sha });
      await s.github.idle();
      s.service.update(build!.key, { status: "error", outcome: "timed_out", reason: "timed out after 30m", finishedAt: new Date().toISOString() });
      await s.github.idle();

      const run = api.checkRuns.get(s.service.get(build!.key)!.meta.checkRunId as number);
      expect(run).toMatchObject({ name: "cicd/hello", head_sha: build!.sha, external_id: build!.key, status: "completed", conclusion: "timed_out" });
      const calls = api.requests.map((r) => `${r.method} ${r.path}`);
      expect(calls.filter((c) => c.includes("check-runs"))).toEqual([
        "POST /repos/Codertocat/Hello-World/check-runs", // 502
        `GET /repos/Codertocat/Hello-World/commits/${build!.sha}/check-runs`, // did the 502 create one all the same?
        "POST /repos/Codertocat/Hello-World/check-runs",
        "PATCH /repos/Codertocat/Hello-World/check-runs/1",
        "PATCH /repos/Codertocat/Hello-World/check-runs/1",
      ]);
      expect(api.requests.find((r) => r.path.includes("check-runs") && r.method === "PATCH")!.authorization).toBe(`token ${api.token}`);

      await expect(s.github.cloneToken(s.service.get(build!.key)!)).resolves.toBe(api.token);
      const tokenRequest = api.requests.filter((r) => r.path.endsWith("/access_tokens")).at(-1)!;
      expect(tokenRequest.body).toEqual({ repositories: ["Hello-World"], permissions: { contents: "read" } });
      expect(s.logger.lines.join("\n")).not.toContain(api.token);
    } finally {
      await s.close();
    }
  });
});
