import { describe, expect, it } from "vitest";
import { directEvents } from "../../src/handlers/direct-events.js";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, pullRequestPayload } from "../fixtures/webhook-payloads.js";

useNock();

describe("pull_request webhooks", () => {
  it("builds the head commit of an opened pull request for targets that build pull requests", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("pull_request", "opened");
    await h.receive("pull_request", payload, "pr-delivery");
    const sha = payload.pull_request.head.sha;
    expect(h.service.requests).toEqual(
      ["hello", "hello-release"].map((target) => ({
        target,
        ref: "refs/pull/2/head",
        sha,
        trigger: "pull_request",
        deliveryId: "pr-delivery",
        replayKey: `pull_request codertocat/hello-world#2 ${sha}`,
        repository: "Codertocat/Hello-World",
        installationId: 1,
        pullRequest: 2,
        untrusted: false,
      })),
    );
  });

  it("builds a synchronized pull request from a fork untrusted", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("pull_request", "synchronize");
    payload.pull_request.head.repo.full_name = "forker/Hello-World";
    payload.pull_request.head.sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    await h.receive("pull_request", payload);
    const builds = h.service.all();
    expect(builds.map((b) => [b.target, b.sha, b.untrusted, b.pullRequest])).toEqual([
      ["hello", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, 2],
      ["hello-release", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, 2],
    ]);
  });

  it("treats a pull request whose head repository was deleted as a fork", async () => {
    const h = await handlerHarness();
    const payload = examplePayload("pull_request", "reopened");
    payload.pull_request.head.repo = null;
    await h.receive("pull_request", payload);
    expect(h.service.all().every((b) => b.untrusted)).toBe(true);
    expect(h.service.all()).toHaveLength(2);
  });

  it("ignores other pull request actions", async () => {
    const h = await handlerHarness();
    await h.receive("pull_request", examplePayload("pull_request", "closed"));
    await h.receive("pull_request", examplePayload("pull_request", "labeled"));
    expect(h.service.requests).toEqual([]);
  });

  it("records the head of every action with GitHub's time, through Probot and on the direct path alike", async () => {
    const h = await handlerHarness();
    const [a, b] = ["a".repeat(40), "b".repeat(40)];
    await h.receive("pull_request", pullRequestPayload("labeled", { sha: a, at: "2026-03-01T11:00:00Z" }));
    const direct = directEvents({ service: h.service, config: h.config, logger: h.logger, pullHeads: h.pullHeads });
    await direct.pull_request(pullRequestPayload("synchronize", { sha: b, at: "2026-03-01T11:30:00Z" }), "direct-delivery");
    expect(h.pullHeads.heads("codertocat/hello-world", 2)).toEqual([
      { sha: a, at: "2026-03-01T11:00:00.000Z" },
      { sha: b, at: "2026-03-01T11:30:00.000Z" },
    ]);
    // Only the push built anything.
    expect(h.service.requests.map((r) => [r.target, r.sha, r.deliveryId])).toEqual([
      ["hello", b, "direct-delivery"],
      ["hello-release", b, "direct-delivery"],
    ]);
  });
});
