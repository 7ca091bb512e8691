import { describe, expect, it } from "vitest";
import { handlerHarness, useNock } from "../fixtures/handler-harness.js";
import { examplePayload, pushPayload } from "../fixtures/webhook-payloads.js";

useNock();

describe("push webhooks", () => {
  it("builds the pushed commit for targets that follow the default branch", async () => {
    const h = await handlerHarness();
    const payload = pushPayload("refs/heads/master");
    await h.receive("push", payload, "delivery-1");
    expect(h.service.requests).toEqual([
      {
        target: "hello",
        ref: "refs/heads/master",
        sha: payload.after,
        trigger: "push",
        deliveryId: "delivery-1",
        // The push's content, whatever its delivery id: a replay of it queues nothing.
        replayKey: `push codertocat/hello-world refs/heads/master ${payload.after}`,
        repository: "Codertocat/Hello-World",
        installationId: 1,
      },
    ]);
  });

  it("builds branches listed in a target (globs too) and nothing for other branches", async () => {
    const h = await handlerHarness();
    await h.receive("push", pushPayload("refs/heads/feature/x"));
    expect(h.service.requests).toEqual([]);
    await h.receive("push", pushPayload("refs/heads/release/1.2"));
    expect(h.service.requests.map((r) => r.target)).toEqual(["hello-release"]);
    await h.receive("push", pushPayload("refs/heads/main"));
    expect(h.service.requests.map((r) => r.target)).toEqual(["hello-release", "hello-main-only"]);
  });

  it("matches the repository name case-insensitively and ignores other repositories", async () => {
    const h = await handlerHarness();
    const payload = pushPayload();
    payload.repository.full_name = "codertocat/hello-world";
    await h.receive("push", payload);
    expect(h.service.requests.map((r) => r.target)).toEqual(["hello"]);
    const other = pushPayload();
    other.repository.full_name = "someone/else";
    await h.receive("push", other);
    expect(h.service.requests).toHaveLength(1);
  });

  it("ignores deleted branches", async () => {
    const h = await handlerHarness();
    const deleted = examplePayload("push", undefined, (p) => p.deleted === true);
    deleted.ref = "refs/heads/master";
    await h.receive("push", deleted);
    const zeroAfter = pushPayload();
    zeroAfter.after = "0000000000000000000000000000000000000000";
    await h.receive("push", zeroAfter);
    expect(h.service.requests).toEqual([]);
  });

  it("builds tags only for targets with tags: true", async () => {
    const h = await handlerHarness();
    const tag = examplePayload("push", undefined, (p) => p.ref.startsWith("refs/tags/") && !p.deleted);
    await h.receive("push", tag);
    expect(h.service.requests.map((r) => [r.target, r.ref, r.sha])).toEqual([["hello-release", "refs/tags/simple-tag", tag.after]]);
  });

  it("queues one build when GitHub redelivers the same webhook", async () => {
    const h = await handlerHarness();
    await h.receive("push", pushPayload(), "same-delivery");
    await h.receive("push", pushPayload(), "same-delivery");
    expect(h.service.all()).toHaveLength(1);
    expect(h.logger.lines.some((l) => l.includes("already queued"))).toBe(true);
    await h.receive("push", pushPayload(), "another-delivery");
    expect(h.service.all()).toHaveLength(2);
  });

  it("skips commits marked [skip ci]", async () => {
    const h = await handlerHarness();
    const payload = pushPayload();
    payload.head_commit = { ...(payload.head_commit ?? {}), message: "docs: typo [skip ci]" };
    await h.receive("push", payload);
    expect(h.service.requests).toEqual([]);
  });
});
