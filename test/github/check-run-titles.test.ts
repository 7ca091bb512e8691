import { describe, expect, it } from "vitest";
import { checkRunState } from "../../src/github/check-run-state.js";
import type { Build } from "../../src/manager/types.js";

const finished = (over: Partial<Build>) =>
  ({ key: "k1", number: 12, status: "succeeded", outcome: "succeeded", reason: null, commands: [], artifacts: [], sizes: {}, meta: {}, startedAt: null, finishedAt: null, commit: null, ...over }) as Build;

describe("check run titles and summaries", () => {
  it("name the build by its number", async () => {
    expect((await checkRunState(finished({}), "/nonexistent/k1.log")).output.title).toBe("#12 · Build succeeded");
    expect((await checkRunState(finished({ status: "error", outcome: "timed_out", reason: "timed out after 30m" }), "/nonexistent/k1.log")).output.title).toBe("#12 · Build timed out: timed out after 30m");
  });

  it("link a superseded build to the build that took its place", async () => {
    const state = await checkRunState(finished({ status: "cancelled", outcome: "superseded", reason: "superseded by k2", meta: { supersededBy: "k2" } }), "/nonexistent/k1.log", {
      buildUrl: (key) => `https://ci.example.test/api/v1/builds/${key}/log`,
    });
    expect(state.conclusion).toBe("cancelled");
    expect(state.output.title).toBe("#12 · Build superseded");
    expect(state.output.summary).toContain("Superseded by build [`k2`](https://ci.example.test/api/v1/builds/k2/log)");
  });
});
