import nock from "nock";
import { describe, expect, it } from "vitest";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import { API, nockInstallationToken } from "../fixtures/github-app-fixture.js";
import { useNock } from "../fixtures/handler-harness.js";

useNock();

const newReporter = checkRunReporterFixture();
const repo = "/repos/Codertocat/Hello-World";
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("check run reporting under a burst of builds", () => {
  it("sends one request at a time, started builds before queued ones, and gives every build its check run", async () => {
    const { service, reporter } = newReporter();
    service.onChange(({ build }) => reporter.report(build));
    const created: Body[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    let nextId = 100;
    nockInstallationToken();
    const scope = nock(API)
      .post(`${repo}/check-runs`, (b) => (created.push(b), true))
      .times(12)
      .delay(20)
      .reply(201, () => ({ id: nextId, html_url: `https://github.com/Codertocat/Hello-World/runs/${nextId++}` }));
    scope.on("request", () => (mostInFlight = Math.max(mostInFlight, ++inFlight)));
    scope.on("replied", () => inFlight--);

    const keys: string[] = [];
    for (let i = 0; i < 12; i++) {
      const sha = `${i % 10}`.repeat(40);
      keys.push((await service.trigger({ target: "hello", sha, trigger: "push", deliveryId: `d-${i}`, repository: "Codertocat/Hello-World", installationId: 1 })).build.key);
    }
    // The last build starts while eleven check runs wait: its check run is next, already in progress.
    service.update(keys[11]!, { status: "running", startedAt: "2026-01-01T10:00:00.000Z" });
    await reporter.idle();

    expect(mostInFlight).toBe(1);
    expect(created.map((c) => c.external_id).sort()).toEqual([...keys].sort());
    expect(created[1]).toMatchObject({ external_id: keys[11], status: "in_progress" });
    expect(created.filter((c) => c.status === "queued")).toHaveLength(11);
    // Each build knows its own check run.
    expect(new Set(keys.map((k) => service.get(k)!.meta.checkRunId)).size).toBe(12);
  });
});
