import { writeFileSync } from "node:fs";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { OUTPUT_LIMIT, conclusionOf } from "../../src/github/check-run-state.js";
import type { Build } from "../../src/manager/types.js";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import type { FakeBuildService } from "../fixtures/fake-build-service.js";
import { API, INSTALLATION_TOKEN, nockInstallationToken } from "../fixtures/github-app-fixture.js";
import { useNock } from "../fixtures/handler-harness.js";
import { waitUntil } from "../helpers/wait-for.js";

useNock();

const newReporter = checkRunReporterFixture();


const repo = "/repos/Codertocat/Hello-World";
const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function setup(options: { subscribe?: boolean; publicUrl?: string; maxTracked?: number } = {}) {
  const { service, logger, reporter } = newReporter({ publicUrl: options.publicUrl ?? "https://ci.example.com", maxTracked: options.maxTracked });
  if (options.subscribe !== false) service.onChange(({ build }) => reporter.report(build));
  const queue = (fields: Partial<Parameters<FakeBuildService["trigger"]>[0]> = {}) =>
    service.trigger({ target: "hello", ref: "refs/heads/master", sha, trigger: "push", repository: "Codertocat/Hello-World", installationId: 1, ...fields });
  return { service, logger, reporter, queue };
}

function nockCreate(bodies: Body[], reply: [number, Body?] = [201, { id: 42, html_url: "https://github.com/Codertocat/Hello-World/runs/42" }]) {
  return nock(API).post(`${repo}/check-runs`, (b) => (bodies.push(b), true)).reply(reply[0], reply[1] ?? { message: "Server Error" });
}
/** GitHub's list of the commit's check runs, asked before creating one that may exist already (a create that failed with 5xx). */
function nockLookup(runs: Body[] = []) {
  return nock(API).get(`${repo}/commits/${sha}/check-runs`).query(true).reply(200, { total_count: runs.length, check_runs: runs });
}
function nockUpdate(id: number, bodies: Body[], status = 200) {
  return nock(API).patch(`${repo}/check-runs/${id}`, (b) => (bodies.push(b), true)).reply(status, status < 300 ? { id } : { message: "Server Error" });
}

const finished = (b: Partial<Build>): Partial<Build> => ({
  startedAt: "2026-01-01T10:00:00.000Z", finishedAt: "2026-01-01T10:01:05.000Z", commit: sha, ...b,
});

describe("check run reporting", () => {
  it("follows a build: queued → in_progress → completed with summary, log, details link and a Rebuild button", async () => {
    const t = setup();
    const created: Body[] = [];
    const updated: Body[] = [];
    nockInstallationToken();
    nockCreate(created);
    const { build } = await t.queue();
    await t.reporter.idle();
    expect(created).toEqual([
      expect.objectContaining({
        name: "cicd/hello", head_sha: sha, external_id: build.key, status: "queued",
        details_url: `https://ci.example.com/api/v1/builds/${build.key}/log`,
      }),
    ]);
    expect(t.service.get(build.key)!.meta).toMatchObject({ checkRunId: 42, checkRunUrl: "https://github.com/Codertocat/Hello-World/runs/42" });

    nockUpdate(42, updated);
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z", commit: sha });
    await t.reporter.idle();
    expect(updated[0]).toMatchObject({ status: "in_progress", started_at: "2026-01-01T10:00:00.000Z" });

    writeFileSync(t.service.logPath(build.key), "$ make\ncompiling\nall good\n");
    nockUpdate(42, updated);
    t.service.update(build.key, finished({
      status: "succeeded", exitCode: 0, artifacts: ["app-1.0-20260101T100105000Z.jar"], sizes: { "app-1.0-20260101T100105000Z.jar": 1_572_864 },
      commands: [{ command: "make", exitCode: 0, durationMs: 60_000 }, { command: "make test | tee out", exitCode: 0, durationMs: 4000 }],
    }));
    await t.reporter.idle();
    const done = updated[1]!;
    expect(done).toMatchObject({
      status: "completed", conclusion: "success", completed_at: "2026-01-01T10:01:05.000Z",
      actions: [{ label: "Rebuild", identifier: "rebuild", description: "Build this commit again" }],
      details_url: `https://ci.example.com/api/v1/builds/${build.key}/log`,
    });
    expect(done.output.title).toBe("Build succeeded in 1 min 5 s");
    expect(done.output.summary).toContain("| 1 | <code>make</code> | 0 | 1 min 0 s |");
    expect(done.output.summary).toContain("| 2 | <code>make test &#124; tee out</code> | 0 | 4.0 s |");
    expect(done.output.summary).toContain("`app-1.0-20260101T100105000Z.jar` (1.5 MB)");
    expect(done.output.text).toBe("```text\n$ make\ncompiling\nall good\n```");
    expect(t.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
  });

  it("maps how a build ended to a conclusion by its outcome, never by the reason's words", () => {
    const b = (status: Build["status"], outcome: Build["outcome"], reason: string | null = null) => ({ status, outcome, reason }) as Build;
    expect(conclusionOf(b("succeeded", "succeeded"))).toBe("success");
    expect(conclusionOf(b("failed", "command_failed", "command 1 failed with exit code 2"))).toBe("failure");
    expect(conclusionOf(b("cancelled", "cancelled"))).toBe("cancelled");
    expect(conclusionOf(b("cancelled", "superseded"))).toBe("cancelled");
    expect(conclusionOf(b("cancelled", "untrusted_refused"))).toBe("action_required");
    expect(conclusionOf(b("error", "timed_out", "timed out after 30m"))).toBe("timed_out");
    // A system error whose reason happens to say "timed out" is not a build that timed out.
    expect(conclusionOf(b("error", "executor_failed", "the engine timed out; gave up after 3 attempts"))).toBe("failure");
    expect(conclusionOf(b("error", "executor_failed", "the builder container exited"))).toBe("failure");
  });

  it("sends at most 50 annotations per request and the rest in follow-up updates", async () => {
    const t = setup({ subscribe: false });
    const { build } = await t.queue();
    const errors = Array.from({ length: 120 }, (_, i) => `/workspace/src/file${i}.c:${i + 1}:5: error: expected ';' before '}' token`);
    writeFileSync(t.service.logPath(build.key), `$ make\n${errors.join("\n")}\nmake: *** [all] Error 1\n`);
    const final = t.service.update(build.key, finished({ status: "failed", exitCode: 2, reason: "command 1 failed with exit code 2", commands: [{ command: "make", exitCode: 2, durationMs: 900 }] }));
    const created: Body[] = [];
    const updated: Body[] = [];
    nockInstallationToken();
    nockCreate(created);
    nockUpdate(42, updated);
    nockUpdate(42, updated);
    t.reporter.report(final);
    await t.reporter.idle();
    expect(created[0]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(created[0]!.output.title).toBe("Build failed: command 1 failed with exit code 2");
    expect(created[0]!.output.summary).toContain("| 1 | <code>make</code> | 2 |");
    const chunks = [created[0]!.output.annotations, ...updated.map((u) => u.output.annotations)];
    expect(chunks.map((c) => c.length)).toEqual([50, 50, 20]);
    const all = chunks.flat();
    expect(new Set(all.map((a: Body) => a.path)).size).toBe(120);
    expect(all[7]).toEqual({
      path: "src/file7.c", start_line: 8, end_line: 8, start_column: 5, end_column: 5, annotation_level: "failure", message: "expected ';' before '}' token",
    });
    // Follow-ups only add annotations: they keep the title and summary and change nothing else.
    expect(updated.every((u) => Object.keys(u).join() === "output" && u.output.title === created[0]!.output.title)).toBe(true);
  });

  it("keeps the log text within GitHub's 65,535 characters, showing the end", async () => {
    const t = setup({ subscribe: false });
    const { build } = await t.queue();
    const lines = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${"x".repeat(20)}`);
    writeFileSync(t.service.logPath(build.key), `${lines.join("\n")}\n`);
    const final = t.service.update(build.key, finished({ status: "failed", reason: "command 1 failed with exit code 1" }));
    const created: Body[] = [];
    nockInstallationToken();
    nockCreate(created);
    t.reporter.report(final);
    await t.reporter.idle();
    const text: string = created[0]!.output.text;
    expect(text.length).toBeLessThanOrEqual(OUTPUT_LIMIT);
    expect(text.length).toBeGreaterThan(60_000);
    expect(text.startsWith("Last part of the log")).toBe(true);
    expect(text).toContain(`line 39999 ${"x".repeat(20)}\n\`\`\``);
    expect(text).not.toContain("\nline 0 ");
  });

  it("brings the check run up to date when GitHub answers again, and never touches the build", async () => {
    const t = setup();
    const created: Body[] = [];
    const updated: Body[] = [];
    nockInstallationToken();
    nockCreate(created, [500]);
    nockLookup();
    nockCreate(created, [502]);
    nockLookup();
    nockCreate(created);
    nockUpdate(42, updated, 503);
    nock(API).patch(`${repo}/check-runs/42`).reply(429, { message: "slow down" }, { "retry-after": "0" });
    nockUpdate(42, updated);
    const { build } = await t.queue();
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z" });
    await t.reporter.idle();
    // While GitHub was down the build moved on: the check run is created in its newest state.
    expect(created.map((c) => c.status)).toEqual(["queued", "in_progress", "in_progress"]);
    writeFileSync(t.service.logPath(build.key), "done\n");
    t.service.update(build.key, finished({ status: "succeeded", exitCode: 0 }));
    await t.reporter.idle();
    expect(updated.map((u) => u.conclusion)).toEqual(["success", "success"]);
    expect(t.service.get(build.key)).toMatchObject({ status: "succeeded", meta: { checkRunId: 42 } });
    expect(t.logger.lines.filter((l) => l.includes("will retry"))).toHaveLength(4);
  });

  it("sends only the newest state after GitHub was down for a whole build", async () => {
    const t = setup();
    const created: Body[] = [];
    nockInstallationToken();
    nockCreate(created, [500]);
    nockLookup();
    nockCreate(created);
    const { build } = await t.queue();
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z" });
    t.service.update(build.key, finished({ status: "cancelled" }));
    await t.reporter.idle();
    expect(created.map((c) => c.status)).toEqual(["queued", "completed"]);
    expect(created[1]).toMatchObject({ conclusion: "cancelled" });
  });

  it("sends a change that happens while a request is in flight right after it", async () => {
    const t = setup();
    const created: Body[] = [];
    const updated: Body[] = [];
    nockInstallationToken();
    nock(API)
      .post(`${repo}/check-runs`, (b) => (created.push(b), true))
      .delay(300)
      .reply(201, { id: 42, html_url: "https://github.com/Codertocat/Hello-World/runs/42" });
    nockUpdate(42, updated);
    const { build } = await t.queue();
    await waitUntil(() => created.length === 1, { timeout: 5000 }); // the POST of "queued" is on its way
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z" });
    await t.reporter.idle();
    expect(created.map((c) => c.status)).toEqual(["queued"]);
    expect(updated.map((u) => u.status)).toEqual(["in_progress"]);
  });

  it("waits for the commit of a build that has none yet (a /build on an issue)", async () => {
    const t = setup();
    const created: Body[] = [];
    const { build } = await t.queue({ sha: undefined });
    await t.reporter.idle(); // nothing to send: nock would fail on any request
    nockInstallationToken();
    nockCreate(created);
    t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z", commit: "c".repeat(40) });
    await t.reporter.idle();
    expect(created).toEqual([expect.objectContaining({ head_sha: "c".repeat(40), status: "in_progress" })]);
  });

  it("updates the check run a build already has (after a restart) instead of creating another", async () => {
    const t = setup({ subscribe: false });
    const { build } = await t.queue({ meta: { checkRunId: 77 } });
    const updated: Body[] = [];
    nockInstallationToken();
    nockUpdate(77, updated);
    t.reporter.report(t.service.update(build.key, { status: "running", startedAt: "2026-01-01T10:00:00.000Z" }));
    await t.reporter.idle();
    expect(updated).toEqual([expect.objectContaining({ status: "in_progress" })]);
  });

  it("falls back to the bare state when GitHub refuses the details, and gives up on other refusals", async () => {
    const t = setup({ subscribe: false });
    const { build } = await t.queue();
    writeFileSync(t.service.logPath(build.key), "src/a.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.\n");
    const final = t.service.update(build.key, finished({ status: "failed", reason: "command 1 failed with exit code 2" }));
    const created: Body[] = [];
    nockInstallationToken();
    nockCreate(created, [422, { message: "Validation Failed" }]);
    nockCreate(created);
    t.reporter.report(final);
    await t.reporter.idle();
    expect(created[0]!.output.annotations).toHaveLength(1);
    expect(created[1]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(created[1]).not.toHaveProperty("details_url");
    expect(created[1]!.output).not.toHaveProperty("annotations");

    const other = (await t.queue({ installationId: 1 })).build;
    nock(API).post(`${repo}/check-runs`).reply(403, { message: "Resource not accessible by integration" });
    t.reporter.report(other);
    await t.reporter.idle();
    expect(t.logger.lines.some((l) => l.includes("giving up") && l.includes(other.key))).toBe(true);
    // A restart could not change GitHub's mind either: the outbox entry is closed, not retried at every start.
    expect(t.service.reported.get(other.key)).toBe("queued");
  });

  it("keeps a bounded number of pending check runs while GitHub is unreachable", async () => {
    const t = setup({ maxTracked: 2 });
    nockInstallationToken();
    nock(API).post(`${repo}/check-runs`).reply(503, { message: "down" }).persist();
    nock(API).get(/\/commits\/\w+\/check-runs/).query(true).reply(503, { message: "down" }).persist();
    const keys = [];
    for (let i = 0; i < 3; i++) keys.push((await t.queue({ sha: `${i}`.repeat(40) })).build.key);
    await waitUntil(() => t.logger.lines.filter((l) => l.includes("will retry")).length >= 6, { timeout: 5000 });
    expect(t.logger.lines.filter((l) => l.includes("dropped the oldest pending update"))).toEqual([expect.stringContaining(keys[0]!)]);
    const retried = new Set(t.logger.lines.filter((l) => l.includes("will retry")).slice(-4).map((l) => /build=(\S+)/.exec(l)?.[1]));
    expect([...retried].sort()).toEqual([keys[1], keys[2]]);
    await t.reporter.close(); // stops the retrying at once
    nock.cleanAll(); // the outage mock is persistent
    expect(t.logger.lines.join("\n")).not.toContain(INSTALLATION_TOKEN);
  });

  it("says on the check run of a fork's pull request that secrets were withheld", async () => {
    const t = setup({ subscribe: false });
    const { build } = await t.queue({ ref: "refs/pull/2/head", pullRequest: 2, untrusted: true });
    writeFileSync(t.service.logPath(build.key), "ok\n");
    const final = t.service.update(build.key, finished({ status: "succeeded" }));
    const created: Body[] = [];
    nockInstallationToken();
    nockCreate(created);
    t.reporter.report(final);
    await t.reporter.idle();
    expect(created[0]!.output.summary).toContain("Built without the target's secrets and token: this pull request comes from a fork.");
  });

  it("reports only builds that came from GitHub", async () => {
    const t = setup();
    const { build } = await t.queue({ installationId: undefined, repository: undefined });
    t.service.update(build.key, { status: "running", commit: sha });
    await t.reporter.idle(); // any request would fail: nock allows none
    expect(t.service.get(build.key)!.meta).toEqual({});
  });
});
