import { afterEach, describe, expect, it } from "vitest";
import type { Build, TriggerRequest } from "../../src/manager/types.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);
const sha = (c: string) => c.repeat(40);

async function start(more: Record<string, unknown> = {}, commands = ["sleep 400"]) {
  const server = await startTestServer(
    testConfig({ concurrency: 1, warmBuilders: false, targets: [{ name: "app", url: "files:///nowhere", commands, artifacts: ["artifact.txt"], ...more }, { name: "other", url: "files:///nowhere", commands, artifacts: ["artifact.txt"] }] }),
    { executor: new FakeExecutor() },
  );
  servers.push(server);
  const trigger = async (request: Partial<TriggerRequest>) => (await server.manager.trigger({ target: "app", trigger: "push", ...request })).build;
  const done = (build: Build) => server.manager.waitFor(build.key, finished, 10_000);
  return { server, trigger, done };
}

describe("superseded builds", () => {
  it("cancels a branch's queued builds when it is built again, saying which build took their place", async () => {
    const { server, trigger, done } = await start();
    const running = await trigger({ ref: "refs/heads/main", sha: sha("a") });
    await server.manager.waitFor(running.key, (b) => b.status === "running", 10_000);
    const second = await trigger({ ref: "refs/heads/main", sha: sha("b") });
    const third = await trigger({ ref: "refs/heads/main", sha: sha("c") });
    const newest = await trigger({ ref: "refs/heads/main", sha: sha("d") });
    // Each was the newest until the next came.
    for (const [old, by] of [[second, third], [third, newest]] as const) {
      expect(await done(old)).toMatchObject({ status: "cancelled", outcome: "superseded", reason: `superseded by ${by.key}`, meta: { supersededBy: by.key } });
    }
    // The running build goes on (supersede: true stops only queued ones), and the newest runs.
    expect(await done(running)).toMatchObject({ status: "succeeded" });
    expect(await done(newest)).toMatchObject({ status: "succeeded" });
  });

  it("keeps only the newest of pushes that arrive together, each superseded by a newer one, in order", async () => {
    const { server, trigger, done } = await start({}, ["echo fine"]);
    const events: { key: string; status: string }[] = [];
    server.manager.onChange(({ build }) => events.push({ key: build.key, status: build.status }));
    // One turn of the event loop: the manager commits these together (group commit).
    const burst = await Promise.all(["1", "2", "3", "4", "5", "6"].map((c) => trigger({ ref: "refs/heads/main", sha: sha(c) })));
    const byNumber = [...burst].sort((a, b) => a.number - b.number);
    const finals = await Promise.all(byNumber.map(done));
    expect(finals.at(-1)).toMatchObject({ status: "succeeded" });
    for (const [i, b] of finals.slice(0, -1).entries()) {
      expect(b).toMatchObject({ status: "cancelled", outcome: "superseded" });
      const by = server.manager.get(b.meta.supersededBy as string)!;
      expect(by.number).toBeGreaterThan(byNumber[i]!.number);
    }
    // No build is told queued after it was told finished.
    for (const b of burst) {
      const mine = events.filter((e) => e.key === b.key).map((e) => e.status);
      const end = mine.findIndex((s) => ["succeeded", "cancelled"].includes(s));
      expect(mine.slice(end + 1)).toEqual([]);
    }
  });

  it("never across branches, targets or tags, and never for a REST build of an exact commit", async () => {
    const { server, trigger, done } = await start({ tags: true });
    const running = await trigger({ ref: "refs/heads/main", sha: sha("a") });
    await server.manager.waitFor(running.key, (b) => b.status === "running", 10_000);
    const feature = await trigger({ ref: "refs/heads/feature", sha: sha("b") });
    const tag = await trigger({ ref: "refs/tags/v1", sha: sha("c") });
    const pinned = await trigger({ trigger: "api", ref: "main", sha: sha("e") });
    const otherTarget = (await server.manager.trigger({ target: "other", trigger: "push", ref: "refs/heads/main", sha: sha("f") })).build;
    const tag2 = await trigger({ ref: "refs/tags/v2", sha: sha("9") });
    const latest = await trigger({ ref: "refs/heads/main", sha: sha("8") });
    for (const b of [feature, tag, pinned, otherTarget, tag2, latest]) expect((await done(b)).status, b.ref ?? "").toBe("succeeded");
  });

  it("with `supersede: running` also stops the running build of an older commit; with `false` nothing", async () => {
    const { server, trigger, done } = await start({ supersede: "running" });
    const running = await trigger({ ref: "refs/heads/main", sha: sha("a") });
    await server.manager.waitFor(running.key, (b) => b.status === "running", 10_000);
    const newer = await trigger({ ref: "refs/heads/main", sha: sha("b") });
    expect(await done(running)).toMatchObject({ status: "cancelled", outcome: "superseded", reason: `superseded by ${newer.key}` });
    expect(await done(newer)).toMatchObject({ status: "succeeded" });

    const keeping = await start({ supersede: false });
    const first = await keeping.trigger({ ref: "refs/heads/main", sha: sha("a") });
    const second = await keeping.trigger({ ref: "refs/heads/main", sha: sha("b") });
    const third = await keeping.trigger({ ref: "refs/heads/main", sha: sha("c") });
    for (const b of [first, second, third]) expect((await keeping.done(b)).status).toBe("succeeded");
  });

  it("cancels a pull request's queued build of an older head when a new head is built", async () => {
    const { server, trigger, done } = await start();
    const blocker = await trigger({ ref: "refs/heads/main", sha: sha("a") });
    await server.manager.waitFor(blocker.key, (b) => b.status === "running", 10_000);
    const head1 = await trigger({ trigger: "pull_request", ref: "refs/pull/7/head", sha: sha("b"), pullRequest: 7 });
    const otherPull = await trigger({ trigger: "pull_request", ref: "refs/pull/8/head", sha: sha("c"), pullRequest: 8 });
    const head2 = await trigger({ trigger: "pull_request", ref: "refs/pull/7/head", sha: sha("d"), pullRequest: 7 });
    expect(await done(head1)).toMatchObject({ outcome: "superseded", reason: `superseded by ${head2.key}` });
    expect((await done(otherPull)).status).toBe("succeeded");
    expect((await done(head2)).status).toBe("succeeded");
  });
});

describe("build numbers", () => {
  it("numbers each target's builds 1, 2, 3 …, kept across a restart and never reused", async () => {
    const config = testConfig({ warmBuilders: false, targets: [{ name: "app", url: "files:///nowhere", commands: ["echo ok"], artifacts: ["artifact.txt"], supersede: false }, { name: "other", url: "files:///nowhere", commands: ["echo ok"], artifacts: ["artifact.txt"] }] });
    let server = await startTestServer(config, { executor: new FakeExecutor() });
    const numbers: number[] = [];
    for (let i = 0; i < 3; i++) numbers.push((await server.manager.trigger({ target: "app", trigger: "api" })).build.number);
    const other = (await server.manager.trigger({ target: "other", trigger: "api" })).build;
    expect(numbers).toEqual([1, 2, 3]);
    expect(other.number).toBe(1);
    const third = server.manager.byNumber("app", 3)!;
    await server.manager.waitFor(third.key, finished, 10_000);
    const served = (await (await server.api(`/api/v1/builds/${third.key}`)).json()) as Build;
    expect(served.number).toBe(3);
    const byNumber = await server.api("/api/v1/targets/app/builds/3");
    expect(((await byNumber.json()) as Build).key).toBe(third.key);
    expect((await server.api("/api/v1/targets/app/builds/9")).status).toBe(404);
    expect((await server.api("/api/v1/targets/app/builds/0x3")).status).toBe(400);
    await server.close();
    server = await startTestServer(config, { executor: new FakeExecutor() });
    servers.push(server);
    expect((await server.manager.trigger({ target: "app", trigger: "api" })).build.number).toBe(4);
    expect(server.manager.byNumber("app", 2)?.number).toBe(2);
  });
});
