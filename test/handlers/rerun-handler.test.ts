import { describe, expect, it } from "vitest";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, type Payload } from "../fixtures/webhook-payloads.js";

useNock();

function checkRunPayload(action: string, name: string, externalId = ""): Payload {
  const p = examplePayload("check_run", "rerequested");
  p.action = action;
  p.check_run.name = name;
  p.check_run.external_id = externalId;
  return p;
}

describe("re-runs from the checks UI", () => {
  it("check_run rerequested queues a new build of the same target, commit and ref", async () => {
    const h = await handlerHarness();
    const sha = "d6fde92930d4715a2b49857d24b940956b26d2d3";
    const { build: original } = await h.service.trigger({
      target: "randscape", ref: "refs/heads/master", sha, trigger: "push", repository: "github/hello-world", installationId: 1,
    });
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/randscape", original.key), "rerun-1");
    const builds = h.service.all();
    expect(builds).toHaveLength(2);
    expect(builds[1]).toMatchObject({ target: "randscape", sha, ref: "refs/heads/master", trigger: "rerun", untrusted: false, installationId: 1 });
    // The same delivery again is a duplicate; a new click is a new build.
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/randscape", original.key), "rerun-1");
    expect(h.service.all()).toHaveLength(2);
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/randscape", original.key), "rerun-2");
    expect(h.service.all()).toHaveLength(3);
  });

  it("keeps a fork pull request's build untrusted on re-run", async () => {
    const h = await handlerHarness();
    const sha = "d6fde92930d4715a2b49857d24b940956b26d2d3";
    const { build } = await h.service.trigger({
      target: "randscape", ref: "refs/pull/7/head", sha, trigger: "pull_request", repository: "github/hello-world", installationId: 1, pullRequest: 7, untrusted: true,
    });
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/randscape", build.key));
    expect(h.service.all()[1]).toMatchObject({ ref: "refs/pull/7/head", pullRequest: 7, untrusted: true, trigger: "rerun" });
  });

  it("the Rebuild button rebuilds; Deploy on an unknown build queues nothing; other check runs are not ours", async () => {
    const h = await handlerHarness();
    const rebuild = checkRunPayload("requested_action", "cicd/randscape");
    rebuild.requested_action = { identifier: "rebuild" };
    await h.receive("check_run", rebuild);
    expect(h.service.requests.map((r) => [r.target, r.trigger, r.sha])).toEqual([["randscape", "rerun", rebuild.check_run.head_sha]]);

    const deploy = checkRunPayload("requested_action", "cicd/randscape");
    deploy.requested_action = { identifier: "deploy" };
    await h.receive("check_run", deploy);
    expect(h.logger.lines.some((l) => l.includes("Deploy requested") && l.includes("ignored"))).toBe(true);

    await h.receive("check_run", checkRunPayload("rerequested", "randscape"));
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/not-configured"));
    expect(h.service.requests).toHaveLength(1);
  });

  it("an unknown original is rebuilt untrusted from the payload (no record of where the commit came from)", async () => {
    const h = await handlerHarness();
    await h.receive("check_run", checkRunPayload("rerequested", "cicd/randscape", "unknown-key"));
    expect(h.service.all()[0]).toMatchObject({ ref: "refs/heads/master", untrusted: true, trigger: "rerun" });
  });

  it("check_suite rerequested rebuilds the targets that built the commit", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("check_suite", "rerequested");
    const sha = payload.check_suite.head_sha;
    await h.service.trigger({ target: "hello", ref: "refs/pull/2/head", sha, trigger: "pull_request", repository: "Codertocat/Hello-World", installationId: 1, pullRequest: 2 });
    await h.receive("check_suite", payload);
    expect(h.service.all().slice(1).map((b) => [b.target, b.sha, b.ref, b.trigger])).toEqual([["hello", sha, "refs/pull/2/head", "rerun"]]);
  });

  it("check_suite rerequested with no record rebuilds every target of the repository from the suite's pull request", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("check_suite", "rerequested");
    await h.receive("check_suite", payload);
    expect(h.service.all().map((b) => [b.target, b.ref, b.pullRequest, b.untrusted])).toEqual([
      ["hello", "refs/pull/2/head", 2, false],
      ["hello-release", "refs/pull/2/head", 2, false],
      ["hello-main-only", "refs/pull/2/head", 2, false],
    ]);
  });
});
