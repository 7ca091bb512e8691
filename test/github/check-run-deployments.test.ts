import { writeFileSync } from "node:fs";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { addDeployNote } from "../../src/github/deployment-notes.js";
import type { Build } from "../../src/manager/types.js";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import { API, nockInstallationToken } from "../fixtures/github-app-fixture.js";
import { useNock } from "../fixtures/handler-harness.js";

useNock();

const newReporter = checkRunReporterFixture();

const repo = "/repos/Codertocat/Hello-World";
const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const rebuild = { label: "Rebuild", identifier: "rebuild", description: "Build this commit again" };
const deploy = { label: "Deploy", identifier: "deploy", description: "Run this build on the target's runner" };

function setup(deployable = true) {
  const { service, logger, reporter } = newReporter({ deployable: () => deployable });
  /** A build that finished `status` and already has check run 42. */
  const finished = async (status: Build["status"], fields: Partial<Build> = {}) => {
    const { build } = await service.trigger({ target: "hello", ref: "refs/heads/master", sha, trigger: "push", repository: "Codertocat/Hello-World", installationId: 1 });
    service.setMeta(build.key, { checkRunId: 42 });
    return service.update(build.key, { status, commit: sha, startedAt: "2026-01-01T10:00:00.000Z", finishedAt: "2026-01-01T10:00:30.000Z", ...fields });
  };
  return { service, logger, reporter, finished };
}

const patches = (bodies: Body[], status = 200, times = 1) =>
  nock(API).patch(`${repo}/check-runs/42`, (b) => (bodies.push(b), true)).times(times).reply(status, status < 300 ? { id: 42 } : { message: "down" });

describe("check runs and runners", () => {
  it("a successful build of a target with a runner gets a Deploy button; failed, untrusted or runner-less ones do not", async () => {
    const t = setup();
    const bodies: Body[] = [];
    nockInstallationToken();
    patches(bodies, 200, 3);
    // One after the other: the first request fetches the installation token the others reuse.
    for (const build of [await t.finished("succeeded"), await t.finished("failed", { reason: "command 1 failed with exit code 2" }), await t.finished("succeeded", { untrusted: true })]) {
      t.reporter.report(build);
      await t.reporter.idle();
    }
    expect(bodies.map((b) => b.actions)).toEqual([[rebuild, deploy], [rebuild], [rebuild]]);

    const plain = setup(false);
    const more: Body[] = [];
    nockInstallationToken();
    patches(more);
    plain.reporter.report(await plain.finished("succeeded"));
    await plain.reporter.idle();
    expect(more[0]!.actions).toEqual([rebuild]);
  });

  it("says on the check run that the runner marked the build bad: when and why, output only, and no Deploy button", async () => {
    const t = setup();
    const build = await t.finished("succeeded", { commands: [{ command: "make", exitCode: 0, durationMs: 1000 }] });
    t.service.setMeta(build.key, { markedBad: { at: "2026-01-02T08:00:00.000Z", exitCode: 3, signal: null, reason: "exited with code 3 after 2.0 s" } });
    const bodies: Body[] = [];
    nockInstallationToken();
    patches(bodies);
    t.reporter.refresh(t.service.get(build.key)!);
    await t.reporter.idle();
    expect(bodies).toHaveLength(1);
    const body = bodies[0]!;
    // Status and annotations stay as they were (GitHub appends annotations: never send them twice).
    expect(Object.keys(body).sort()).toEqual(["actions", "output"]);
    expect(Object.keys(body.output).sort()).not.toContain("annotations");
    expect(body.actions).toEqual([rebuild]);
    expect(body.output.title).toBe("Marked bad by the runner · Build succeeded in 30.0 s");
    expect(body.output.summary).toContain(
      "⛔ **Marked bad by the runner** at 2026-01-02T08:00:00.000Z (exit code 3; exited with code 3 after 2.0 s). Runners no longer start this build",
    );
    expect(body.output.summary).toContain("| 1 | <code>make</code> | 0 |");
  });

  it("keeps trying while GitHub is down and sends the newest summary once it answers", async () => {
    const t = setup();
    const build = await t.finished("succeeded");
    const bodies: Body[] = [];
    nockInstallationToken();
    patches(bodies, 502, 2);
    patches(bodies);
    addDeployNote(t.service, build.key, { at: "2026-01-02T09:00:00.000Z", by: "octocat", ok: true, message: "runner r1 now runs this build." });
    t.reporter.refresh(t.service.get(build.key)!);
    addDeployNote(t.service, build.key, { at: "2026-01-02T09:05:00.000Z", by: "hubot", ok: false, message: "failed: no good build" });
    t.reporter.refresh(t.service.get(build.key)!);
    await t.reporter.idle();
    expect(bodies).toHaveLength(3);
    const summary: string = bodies.at(-1)!.output.summary;
    expect(summary).toContain("**Deploys**");
    expect(summary).toContain("- 2026-01-02T09:00:00.000Z by @octocat: ✅ runner r1 now runs this build.");
    expect(summary).toContain("- 2026-01-02T09:05:00.000Z by @hubot: ❌ failed: no good build");
    expect(t.logger.lines.some((l) => l.includes("will retry"))).toBe(true);
  });

  it("keeps the newest five deploy notes", async () => {
    const t = setup();
    const build = await t.finished("succeeded");
    for (let i = 1; i <= 7; i++) addDeployNote(t.service, build.key, { at: `2026-01-02T09:0${i}:00.000Z`, by: "octocat", ok: true, message: `deploy ${i}` });
    const notes = t.service.get(build.key)!.meta.deploys as { message: string }[];
    expect(notes.map((n) => n.message)).toEqual(["deploy 3", "deploy 4", "deploy 5", "deploy 6", "deploy 7"]);
  });

  it("does nothing for a build without a check run or from outside GitHub", async () => {
    const t = setup();
    const { build } = await t.service.trigger({ target: "hello", trigger: "push", sha, repository: "Codertocat/Hello-World", installationId: 1 });
    t.reporter.refresh(t.service.update(build.key, { status: "succeeded" }));
    const { build: local } = await t.service.trigger({ target: "hello", trigger: "api" });
    t.reporter.refresh(t.service.update(local.key, { status: "succeeded", meta: { checkRunId: 42 } }));
    await t.reporter.idle();
    // useNock fails the test on any request nobody expected.
  });

  it("a refresh during the final status update is sent after it, without sending the annotations twice", async () => {
    const t = setup();
    const { build } = await t.service.trigger({ target: "hello", ref: "refs/heads/master", sha, trigger: "push", repository: "Codertocat/Hello-World", installationId: 1 });
    t.service.setMeta(build.key, { checkRunId: 42 });
    writeFileSync(t.service.logPath(build.key), "src/a.c:1:1: error: boom\n");
    const final = t.service.update(build.key, { status: "failed", commit: sha, reason: "command 1 failed with exit code 1" });
    const bodies: Body[] = [];
    nockInstallationToken();
    patches(bodies, 200, 2);
    t.reporter.report(final);
    t.service.setMeta(build.key, { markedBad: { at: "2026-01-02T08:00:00.000Z", exitCode: 1, signal: null, reason: null } });
    t.reporter.refresh(t.service.get(build.key)!);
    await t.reporter.idle();
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(bodies[0]!.output.annotations).toHaveLength(1);
    expect(bodies[1]!.status).toBeUndefined();
    expect(bodies[1]!.output.annotations).toBeUndefined();
    expect(bodies[1]!.output.summary).toContain("Marked bad by the runner");
  });
});
