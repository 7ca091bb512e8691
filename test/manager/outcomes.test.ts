import { afterEach, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { OUTCOMES } from "../../src/shared/outcome.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
const target = (name: string, commands: string[], more: Record<string, unknown> = {}) => ({ name, url: "files:///nowhere", commands, artifacts: ["artifact.txt"], ...more });

/**
 * Each way a build can end is a typed outcome, set where it happens and served by the API;
 * its status follows from it (shared/outcome.ts is the one table).
 */
describe("typed build outcomes", () => {
  it("records the outcome where each build ends, and the API returns it with the status it means", async () => {
    const executor = new FakeExecutor();
    const server = await startTestServer(
      testConfig({
        targets: [
          target("ok", ["echo fine"]),
          target("broken", ["exit 3"]),
          target("hog", ["oom"]),
          target("slow", ["sleep 5000"], { timeout: "300ms" }),
          target("forged", ["forge"]),
          target("long", ["sleep 5000"]),
        ],
      }),
      { executor },
    );
    servers.push(server);
    const run = async (name: string, extra: Record<string, unknown> = {}) => {
      const { build } = await server.manager.trigger({ target: name, trigger: "api", ...extra });
      return build.key;
    };
    const keys = { ok: await run("ok"), broken: await run("broken"), hog: await run("hog"), slow: await run("slow"), forged: await run("forged") };
    const long = await run("long");
    await server.manager.waitFor(long, (b) => b.status === "running", 10_000);
    await server.manager.cancel(long);
    const expected = { ok: "succeeded", broken: "command_failed", hog: "out_of_memory", slow: "timed_out", forged: "publish_failed" } as const;
    for (const [name, key] of Object.entries(keys)) {
      await server.manager.waitFor(key, finished, 15_000);
      const served = (await (await server.api(`/api/v1/builds/${key}`)).json()) as Build;
      const outcome = expected[name as keyof typeof expected];
      expect({ name, outcome: served.outcome, status: served.status }).toEqual({ name, outcome, status: OUTCOMES[outcome].status });
    }
    const cancelled = (await (await server.api(`/api/v1/builds/${long}`)).json()) as Build;
    expect(cancelled).toMatchObject({ status: "cancelled", outcome: "cancelled" });
  });

  it("gives an untrusted build that the executor may not run the outcome that asks for approval", async () => {
    const executor = new FakeExecutor();
    executor.isolated = false;
    const server = await startTestServer(testConfig({ targets: [target("ok", ["echo fine"])] }), { executor });
    servers.push(server);
    const { build } = await server.manager.trigger({ target: "ok", trigger: "pull_request", pullRequest: 4, untrusted: true });
    const done = await server.manager.waitFor(build.key, finished, 10_000);
    expect(done).toMatchObject({ status: "cancelled", outcome: "untrusted_refused" });
    expect(OUTCOMES[done.outcome!].conclusion).toBe("action_required");
  });
});
