import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { githubRetryDelay } from "../../src/github/github-retry-delay.js";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import { startFakeGitHubApi, type RecordedRequest } from "../fixtures/fake-github-api.js";
import { waitUntil } from "../helpers/wait-for.js";

// No nock: the reporter talks real HTTP to a fake GitHub API on 127.0.0.1 that is told to fail.
const newReporter = checkRunReporterFixture();
let api: Awaited<ReturnType<typeof startFakeGitHubApi>>;
beforeAll(async () => {
  api = await startFakeGitHubApi();
});
afterAll(() => api.close());
beforeEach(() => {
  api.requests.length = 0;
  api.checkRuns.clear();
});

const repository = "Codertocat/Hello-World";
const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const checkRunCalls = () => api.requests.filter((r) => r.path.includes("/check-runs"));
const sent = (r: RecordedRequest) => `${r.method} ${String(r.body?.status ?? "")}`.trim();


function setup(options: { maxMs?: number } = {}) {
  // Long enough that no ordinary request times out on a loaded machine (the counts of retries
  // below are exact), short enough that the injected hangs end soon.
  const t = newReporter({ baseUrl: `http://${api.host}/api/v3`, requestTimeoutMs: 2_000, retry: { baseMs: 5, maxMs: options.maxMs ?? 20 } });
  t.service.onChange(({ build }) => t.reporter.report(build));
  const queue = () => t.service.trigger({ target: "hello", ref: "refs/heads/master", sha, trigger: "push", repository, installationId: 1 });
  return { ...t, queue };
}

describe("check runs while GitHub fails", () => {
  it("ends in the build's state after 500, a timeout, a secondary rate limit (403 + retry-after) and a 429, sending the finished state once", async () => {
    const t = setup();
    api.inject(1, { status: 500 }, /check-runs/);
    api.inject(1, { hang: true }, /check-runs/);
    // Older GitHub versions word it without "rate limit"; retry-after alone says what it is.
    api.inject(1, { status: 403, headers: { "retry-after": "1" }, message: "You have triggered an abuse detection mechanism." }, /check-runs/);
    api.inject(1, { status: 429, headers: { "retry-after": "1" }, message: "Too many requests" }, /check-runs/);
    const { build } = await t.queue();
    await waitUntil(() => checkRunCalls().length >= 1, { timeout: 10000 });
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z", commit: sha });
    await waitUntil(() => checkRunCalls().length >= 2, { timeout: 10000 }); // the request that will time out is on its way
    writeFileSync(t.service.logPath(build.key), "all good\n");
    t.service.update(build.key, { status: "succeeded", exitCode: 0, finishedAt: "2026-01-01T10:01:00.000Z" });
    await t.reporter.idle();

    const runs = api.checkRunsOf(build.key);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ name: "cicd/hello", head_sha: sha, status: "completed", conclusion: "success" });
    expect(t.service.get(build.key)!.meta.checkRunId).toBe(runs[0]!.id);
    // The finished state went out once; the in-progress one it superseded was never sent after it.
    const calls = checkRunCalls().map(sent);
    expect(calls.filter((c) => c.endsWith("completed"))).toHaveLength(1);
    expect(calls.slice(calls.findIndex((c) => c.endsWith("completed")))).not.toContain("PATCH in_progress");
    // GitHub has it: the outbox entry is closed.
    expect(t.service.reported.get(build.key)).toBe("succeeded");
    expect(t.service.unreported()).toEqual([]);
    expect(t.logger.lines.filter((l) => l.includes("will retry"))).toHaveLength(4);
    expect(t.logger.lines.join("\n")).not.toContain(api.token);
  });

  it("creates no second check run when GitHub made one but its answer was lost (timeout, 5xx)", async () => {
    const t = setup();
    api.inject(1, { hang: true, afterWork: true }, /^POST .*check-runs$/);
    api.inject(1, { status: 502, afterWork: true }, /^POST .*check-runs$/);
    const first = (await t.queue()).build;
    await t.reporter.idle();
    const other = (await t.service.trigger({ target: "hello", sha, trigger: "push", repository, installationId: 1 })).build;
    await t.reporter.idle();
    for (const build of [first, other]) {
      t.service.update(build.key, { status: "failed", reason: "command 1 failed with exit code 1", commit: sha, finishedAt: "2026-01-01T10:01:00.000Z" });
    }
    await t.reporter.idle();

    for (const build of [first, other]) {
      const runs = api.checkRunsOf(build.key);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: "completed", conclusion: "failure" });
      expect(t.service.get(build.key)!.meta.checkRunId).toBe(runs[0]!.id);
    }
    // Found by listing the commit's check runs of that name, every one of them (not only the newest).
    const lookups = api.requests.filter((r) => r.method === "GET" && r.path === `/repos/${repository}/commits/${sha}/check-runs`);
    expect(lookups).toHaveLength(2);
    expect(new URLSearchParams(lookups[0]!.query).get("check_name")).toBe("cicd/hello");
    expect(new URLSearchParams(lookups[0]!.query).get("filter")).toBe("all");
  });

  it("waits as long as a rate limit's retry-after asks", async () => {
    const t = setup({ maxMs: 10_000 });
    api.inject(1, { status: 403, headers: { "retry-after": "1" }, message: "You have exceeded a secondary rate limit." }, /check-runs/);
    const { build } = await t.queue();
    await t.reporter.idle();
    const [limited, next] = checkRunCalls();
    expect(api.checkRunsOf(build.key)).toEqual([expect.objectContaining({ status: "queued" })]);
    expect(limited && next).toBeTruthy();
    // Only a lower bound: a busy machine may wait longer, never shorter.
    const times = t.logger.lines.filter((l) => l.includes("will retry"));
    expect(times).toEqual([expect.stringMatching(/retryInMs=(1\d{3}|[2-9]\d{3})\b/)]);
  });
});

describe("githubRetryDelay", () => {
  const options = { baseMs: 100, maxMs: 60_000 };
  const failure = (status: number | undefined, headers: Record<string, string> = {}, message = "x") => ({ status, message, response: { headers } });

  it("retries 5xx, network errors and timeouts with back-off", () => {
    for (const error of [failure(500), failure(502), failure(undefined), new Error("The operation was aborted due to timeout")]) {
      const delay = githubRetryDelay(error, 3, options)!;
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it("treats a 403 or 429 with retry-after as a rate limit, whatever its message, and waits as asked", () => {
    expect(githubRetryDelay(failure(403, { "retry-after": "30" }, "You have triggered an abuse detection mechanism."), 0, options)).toBe(30_000);
    expect(githubRetryDelay(failure(429, { "retry-after": "7" }), 0, options)).toBe(7_000);
    expect(githubRetryDelay(failure(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 20) }), 0, options)).toBeGreaterThan(15_000);
    expect(githubRetryDelay(failure(403, { "retry-after": "3600" }), 0, options)).toBe(60_000); // capped
  });

  it("gives up on refusals that retrying cannot change", () => {
    expect(githubRetryDelay(failure(403, {}, "Resource not accessible by integration"), 0, options)).toBeUndefined();
    expect(githubRetryDelay(failure(422, {}, "Validation Failed"), 0, options)).toBeUndefined();
    expect(githubRetryDelay(failure(404, {}, "Not Found"), 0, options)).toBeUndefined();
  });
});
