import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRunState, conclusionOf } from "../../src/github/check-run-state.js";
import type { Build } from "../../src/manager/types.js";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";

const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const reason = "Pull request #2 comes from a fork, and fork builds on the local executor would run as the server's own user.";
const refused = (meta: Record<string, unknown>) => ({ key: "k1", status: "cancelled", reason: null, commands: [], artifacts: [], sizes: {}, meta }) as unknown as Build;

describe("a build refused for trust", () => {
  it("concludes action_required with the reason and how to allow such builds", async () => {
    const state = await checkRunState(refused({ actionRequired: { reason } }), "/nonexistent/k1.log");
    expect(state).toMatchObject({ status: "completed", conclusion: "action_required" });
    expect(state.output.title).toBe("Not built: a maintainer must allow builds from forks");
    expect(state.output.summary).toContain(reason);
    expect(state.output.summary).toContain("`untrusted: allow`");
    expect(state.output.summary).toContain("`executor: docker`");
    expect(state.output.text).toBeUndefined();
  });

  it("stays a plain cancel without meta.actionRequired, and only a cancelled build can need action", () => {
    expect(conclusionOf(refused({}))).toBe("cancelled");
    expect(conclusionOf({ ...refused({ actionRequired: { reason } }), status: "failed" })).toBe("failure");
    expect(conclusionOf(refused({ actionRequired: {} }))).toBe("action_required");
  });

  describe("through the reporter", () => {
    const newReporter = checkRunReporterFixture();
    let api: Awaited<ReturnType<typeof startFakeGitHubApi>>;
    beforeAll(async () => {
      api = await startFakeGitHubApi();
    });
    afterAll(() => api.close());

    it("shows action_required on the fork's commit", async () => {
      const { service, reporter } = newReporter({ baseUrl: `http://${api.host}/api/v3` });
      service.onChange(({ build }) => reporter.report(build));
      const { build } = await service.trigger({
        target: "hello", ref: "refs/pull/2/head", sha, trigger: "pull_request", repository: "Codertocat/Hello-World", installationId: 1, pullRequest: 2, untrusted: true,
        meta: { actionRequired: { reason } },
      });
      service.update(build.key, { status: "cancelled", reason: "refused: untrusted build on the local executor", finishedAt: new Date().toISOString() });
      await reporter.idle();
      const [run] = api.checkRunsOf(build.key);
      expect(run).toMatchObject({ status: "completed", conclusion: "action_required" });
      expect((run!.output as { summary: string }).summary).toContain("untrusted: allow");
    });
  });
});
