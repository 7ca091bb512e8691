import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { closeGate, FakeExecutor, openGate } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";
import type { Build } from "../../src/manager/types.js";
import { waitForValue } from "../helpers/wait-for.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});

async function start(targets: Record<string, unknown>[], extra: Record<string, unknown> = {}, executor = new FakeExecutor()) {
  const server = await startTestServer(testConfig({ targets, ...extra }), { executor });
  servers.push(server);
  return { server, executor };
}

const target = (name: string, commands: string[], more: Record<string, unknown> = {}) => ({ name, url: "files:///nowhere", commands, artifacts: ["artifact.txt"], ...more });

async function trigger(server: TestServer, body: unknown): Promise<Build> {
  const res = await server.api("/api/v1/builds", { method: "POST", json: body });
  expect(res.status).toBe(202);
  return (await res.json()) as Build;
}

const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

describe("manager with a scripted executor", () => {
  it("queues a build over REST, dispatches it, and records the published artifact", async () => {
    const { server, executor } = await start([target("hello", ["echo compiling", "sleep 20"])]);
    const queued = await trigger(server, { target: "hello" });
    expect(queued).toMatchObject({ target: "hello", status: "queued" });
    expect(queued.key).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const done = await server.manager.waitFor(queued.key, finished, 10_000);
    expect(done.status).toBe("succeeded");
    expect(done.artifacts).toHaveLength(1);
    expect(done.artifacts[0]).toMatch(/^artifact-\d{8}T\d{9}Z\.txt$/);
    const spec = executor.started[0]!;
    expect(spec).toMatchObject({ role: "builder", target: "hello", buildKey: queued.key });
    const metadata = (await (await server.api("/api/v1/targets/hello/artifacts")).json()) as { builds: unknown[] };
    expect(metadata.builds).toEqual([expect.objectContaining({ key: queued.key, status: "good", artifacts: done.artifacts })]);
    const log = await (await server.api(`/api/v1/builds/${queued.key}/log`)).text();
    expect(log).toContain("compiling");
    const get = (await (await server.api(`/api/v1/builds/${queued.key}`)).json()) as Build;
    expect(get).toMatchObject({ key: queued.key, status: "succeeded", attempts: 1 });
  });

  it("puts a build back at the front of the queue when the builder answers busy", async () => {
    const executor = new FakeExecutor();
    executor.busyOnce = 1;
    const { server } = await start([target("hello", ["sleep 10"])], { warmBuilders: false }, executor);
    const queued = await trigger(server, { target: "hello" });
    const done = await server.manager.waitFor(queued.key, finished, 10_000);
    expect(done.status).toBe("succeeded");
    expect(executor.started.map((s) => s.buildKey)).toEqual([queued.key, queued.key]);
    expect(await (await server.api(`/api/v1/builds/${queued.key}/log`)).text()).toContain("busy");
  });

  it("reports a failing command as failed with its exit code and publishes nothing", async () => {
    const { server } = await start([target("hello", ["echo one", "exit 3"])]);
    const done = await server.manager.waitFor((await trigger(server, { target: "hello" })).key, finished, 10_000);
    expect(done).toMatchObject({ status: "failed", exitCode: 3, reason: "command 2 failed with exit code 3" });
    expect(((await (await server.api("/api/v1/targets/hello/artifacts")).json()) as { builds: unknown[] }).builds).toEqual([]);
  });

  it("ends a build that runs past its timeout as error, timed out", async () => {
    const { server, executor } = await start([target("slow", ["sleep 5000"], { timeout: "300ms" })]);
    const done = await server.manager.waitFor((await trigger(server, { target: "slow" })).key, finished, 10_000);
    expect(done).toMatchObject({ status: "error", reason: "timed out after 300 ms" });
    const served = [...executor.handles.values()].filter((h) => h.spec.buildKey === done.key);
    expect(served.map((h) => h.destroyed)).toEqual([true]);
  });

  it("reports an out-of-memory kill as a failure that says so", async () => {
    const { server } = await start([target("big", ["oom"], { limits: { memory: "64m" } })]);
    const done = await server.manager.waitFor((await trigger(server, { target: "big" })).key, finished, 10_000);
    expect(done.status).toBe("failed");
    expect(done.reason).toContain("out of memory (limit 64m)");
  });

  it("cancels queued and running builds; cancelling a finished one is a 409", async () => {
    const { server } = await start([target("slow", ["sleep 5000"])], { concurrency: 1 });
    const first = await trigger(server, { target: "slow" });
    const second = await trigger(server, { target: "slow" });
    await server.manager.waitFor(first.key, (b) => b.status === "running", 10_000);
    const cancelQueued = await server.api(`/api/v1/builds/${second.key}/cancel`, { method: "POST" });
    expect(await cancelQueued.json()).toMatchObject({ status: "cancelled" });
    const cancelRunning = await server.api(`/api/v1/builds/${first.key}/cancel`, { method: "POST" });
    expect(await cancelRunning.json()).toMatchObject({ status: "cancelled", reason: "cancelled" });
    const again = await server.api(`/api/v1/builds/${first.key}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: "CONFLICT" });
  });

  it("hands secrets to the build and masks them in the stored log", async () => {
    const { server } = await start([target("hello", ["echo the secret is $SECRET"], { secrets: "./hello.env" })]);
    writeFileSync(path.join(server.dir, "hello.env"), "SECRET=hunter2-very-secret\n");
    const done = await server.manager.waitFor((await trigger(server, { target: "hello" })).key, finished, 10_000);
    const log = readFileSync(server.manager.logPath(done.key), "utf8");
    expect(log).toContain("the secret is ***");
    expect(log).not.toContain("hunter2");
  });

  it("builds an untrusted build without secrets, caches or network, and keeps it out of builds.json", async () => {
    const { server, executor } = await start([target("hello", ["echo the secret is $SECRET"], { secrets: "./hello.env", cache: ["/root/.m2"] })]);
    writeFileSync(path.join(server.dir, "hello.env"), "SECRET=hunter2-very-secret\n");
    const { build } = await server.manager.trigger({ target: "hello", trigger: "pull_request", sha: "b".repeat(40), pullRequest: 7, untrusted: true });
    const done = await server.manager.waitFor(build.key, finished, 10_000);
    expect(done.status).toBe("succeeded");
    expect(readFileSync(server.manager.logPath(done.key), "utf8")).toContain("the secret is \n");
    const spec = executor.started.find((s) => s.buildKey === build.key)!;
    expect(spec.mounts.map((m) => m.container)).not.toContain("/root/.m2");
    expect(spec.mounts.some((m) => m.host.startsWith(server.config.servicefs))).toBe(false);
    // Nor a node's cache volume (what executors without the manager's disk mount instead).
    expect(spec.mounts.filter((m) => m.volume !== undefined)).toEqual([]);
    expect(spec.args).toContain("--isolate-network");
    expect(spec.capabilities).toContain("NET_ADMIN");
    const published = (await (await server.api("/api/v1/targets/hello/artifacts")).json()) as { builds: unknown[] };
    expect(published.builds).toEqual([]);
    const kept = (await (await server.api(`/api/v1/builds/${build.key}/artifacts`)).json()) as { artifacts: { name: string; size: number }[] };
    expect(kept.artifacts).toEqual([{ name: "artifact.txt", size: `built ${build.key}\n`.length }]);
    expect(await (await server.api(`/api/v1/builds/${build.key}/artifacts/artifact.txt`)).text()).toBe(`built ${build.key}\n`);
  });

  it("never queues the same target and commit twice for one delivery", async () => {
    const { server } = await start([target("hello", ["sleep 1"])]);
    const request = { target: "hello", sha: "a".repeat(40), trigger: "push" as const, deliveryId: "delivery-1" };
    const a = await server.manager.trigger(request);
    const b = await server.manager.trigger(request);
    expect(a.duplicate).toBe(false);
    expect(b).toMatchObject({ duplicate: true, build: { key: a.build.key } });
    const c = await server.manager.trigger({ ...request, deliveryId: "delivery-2" });
    expect(c.build.key).not.toBe(a.build.key);
    expect(server.manager.list({ target: "hello" })).toHaveLength(2);
  });

  it("runs builds at most `concurrency` at a time, in order", async () => {
    const { server } = await start([target("hello", ["sleep 100"])], { concurrency: 2 });
    const builds = await Promise.all([1, 2, 3, 4].map(() => trigger(server, { target: "hello" })));
    let maxRunning = 0;
    const off = server.manager.onChange(() => {
      maxRunning = Math.max(maxRunning, server.manager.list({ status: "running" }).length);
    });
    const done = await Promise.all(builds.map((b) => server.manager.waitFor(b.key, finished, 10_000)));
    off();
    expect(done.every((b) => b.status === "succeeded")).toBe(true);
    expect(maxRunning).toBeLessThanOrEqual(2);
    const starts = done.map((b) => b.startedAt!);
    expect(starts[0]! <= starts[2]!).toBe(true);
  });
});

describe("warm builders", () => {
  it("starts the next build's builder before its trigger arrives, and replaces one that died", async () => {
    const { server, executor } = await start([target("hello", ["sleep 5"])]);
    const first = await trigger(server, { target: "hello" });
    await server.manager.waitFor(first.key, finished, 10_000);
    // The target built recently: a builder for its next key is already up.
    const warm = (await waitForValue(() => [...executor.handles.values()].find((h) => h.spec.buildKey !== first.key && !h.exited), (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 }))!;
    const second = await trigger(server, { target: "hello" });
    expect(second.key).toBe(warm.spec.buildKey);
    expect((await server.manager.waitFor(second.key, finished, 10_000)).status).toBe("succeeded");
    await waitForValue(() => warm.destroyed || undefined, (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 });

    // The next warm builder dies before it is used: the build still runs, on a fresh builder.
    const doomed = (await waitForValue(() => [...executor.handles.values()].find((h) => ![first.key, second.key].includes(h.spec.buildKey!) && !h.exited), (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 }))!;
    await doomed.stop();
    const third = await trigger(server, { target: "hello" });
    const done = await server.manager.waitFor(third.key, finished, 10_000);
    expect(done.status).toBe("succeeded");
  });

  it("keeps at most twice `concurrency` builders waiting ahead during a burst", async () => {
    const { server, executor } = await start([target("hello", ["sleep 50"])], { concurrency: 2 });
    let mostAlive = 0;
    const timer = setInterval(() => {
      mostAlive = Math.max(mostAlive, [...executor.handles.values()].filter((h) => !h.exited && !h.destroyed).length);
    }, 5);
    const builds = await Promise.all(Array.from({ length: 12 }, () => trigger(server, { target: "hello" })));
    const done = await Promise.all(builds.map((b) => server.manager.waitFor(b.key, finished, 20_000)));
    clearInterval(timer);
    expect(done.every((b) => b.status === "succeeded")).toBe(true);
    // Two running, four waiting ahead (plus one whose removal is still under way).
    expect(mostAlive).toBeLessThanOrEqual(7);
    // Every build's builder, and the two kept for the target's next builds; none wasted.
    expect(executor.started.length).toBeLessThanOrEqual(12 + 2);
  });

  it("keeps `concurrency` builders for a target's next triggers, and gives one up for a queued build", async () => {
    // The builds of "a" run until the gate opens, however long the checks below take.
    const gate = `scenarios-${process.pid}-reserved`;
    closeGate(gate);
    const { server, executor } = await start([target("a", [`gate ${gate}`]), target("b", ["sleep 50"])], { concurrency: 2 });
    const alive = () => [...executor.handles.values()].filter((h) => !h.exited && !h.destroyed);
    const first = await trigger(server, { target: "a" });
    await server.manager.waitFor(first.key, (b) => b.status === "running", 10_000);
    // Two builders wait for the next builds of "a": a burst's first two builds both start warm.
    const reservedForA = (await waitForValue(() => {
      const waiting = alive().filter((h) => h.spec.target === "a" && h.spec.buildKey !== first.key);
      return waiting.length === 2 ? waiting : undefined;
    }, (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 }))!;
    const [second, third] = [await trigger(server, { target: "a" }), await trigger(server, { target: "a" })];
    expect([second.key, third.key].sort()).toEqual(reservedForA.map((h) => h.spec.buildKey).sort());

    // Both slots busy, four builders waiting (the cap): a queued build of "b" still gets its
    // builder ahead, in place of one kept for "a".
    await waitForValue(() => (alive().filter((h) => h.spec.target === "a").length >= 5 ? true : undefined), (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 });
    const queued = await trigger(server, { target: "b" });
    await waitForValue(() => executor.started.some((s) => s.buildKey === queued.key) || undefined, (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 });
    expect(server.manager.get(first.key)!.status).toBe("running");
    expect(server.manager.get(queued.key)!.status).toBe("queued");
    expect(alive().length).toBeLessThanOrEqual(2 + 4 + 1);
    openGate(gate);
    const done = await Promise.all([first, second, third, queued].map((b) => server.manager.waitFor(b.key, finished, 10_000)));
    expect(done.map((b) => b.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("prestarts builders for queued builds while earlier ones run", async () => {
    // The first build runs until the gate opens: surely still running when the second is looked at.
    const gate = `scenarios-${process.pid}-prestart`;
    closeGate(gate);
    const { server, executor } = await start([target("hello", [`gate ${gate}`])], { concurrency: 1 });
    const builds = await Promise.all([1, 2, 3].map(() => trigger(server, { target: "hello" })));
    await server.manager.waitFor(builds[0]!.key, (b) => b.status === "running", 10_000);
    await waitForValue(() => executor.started.some((s) => s.buildKey === builds[1]!.key) || undefined, (v) => !!v, { what: "the builders to get there", timeout: 5_000, interval: 10 });
    expect(server.manager.get(builds[1]!.key)!.status).toBe("queued");
    openGate(gate);
    const done = await Promise.all(builds.map((b) => server.manager.waitFor(b.key, finished, 10_000)));
    expect(done.map((b) => b.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
  });
});


describe("shutdown", () => {
  it("does not hang when an image never becomes ready (e.g. a hung engine)", async () => {
    const executor = new FakeExecutor();
    executor.prepareImage = () => new Promise(() => undefined);
    const { server } = await start([target("hello", ["sleep 1"])], {}, executor);
    await trigger(server, { target: "hello" });
    const started = Date.now();
    await server.close(0);
    servers.splice(servers.indexOf(server), 1);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe("REST errors", () => {
  it("answers each bad request with the right status and a JSON error", async () => {
    const { server } = await start([target("hello", ["sleep 1"])]);
    const cases: [string, RequestInit & { json?: unknown }, number, string][] = [
      ["/api/v1/builds", { headers: { authorization: "Bearer wrong" } }, 401, "UNAUTHORIZED"],
      ["/api/v1/builds", { headers: { authorization: "" } }, 401, "UNAUTHORIZED"],
      ["/api/v1/builds", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: 42 } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: "hello", sha: "not-a-sha" } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: "hello", colour: "blue" } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: "hello", ref: "--upload-pack=touch /tmp/x" } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: "hello", ref: "main..evil" } }, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds", { method: "POST", json: { target: "nope" } }, 404, "NOT_FOUND"],
      ["/api/v1/builds", { method: "POST", json: { target: "hello", ref: "x".repeat(2_000_000) } }, 413, "PAYLOAD_TOO_LARGE"],
      ["/api/v1/builds?status=weird", {}, 400, "INVALID_ARGUMENT"],
      ["/api/v1/builds/doesnotexist", {}, 404, "NOT_FOUND"],
      ["/api/v1/builds/doesnotexist/log", {}, 404, "NOT_FOUND"],
      ["/api/v1/builds/doesnotexist/cancel", { method: "POST" }, 404, "NOT_FOUND"],
      ["/api/v1/targets/nope/artifacts", {}, 404, "NOT_FOUND"],
      ["/api/v1/targets/hello/artifacts/..%2F..%2Fcicd.sqlite", {}, 404, "NOT_FOUND"],
      ["/api/v1/no-such-route", {}, 404, "NOT_FOUND"],
    ];
    for (const [url, init, status, code] of cases) {
      const res = await server.api(url, init);
      expect({ url, status: res.status }).toEqual({ url, status });
      const body = (await res.json()) as { error: unknown };
      expect(body).toMatchObject({ code });
      expect(typeof body.error).toBe("string");
    }
    expect(server.manager.list()).toHaveLength(0);
  });

  it("lists builds filtered by target and status, newest first, with a limit", async () => {
    const { server } = await start([target("a", ["sleep 1"]), target("b", ["exit 2"])]);
    const a1 = await trigger(server, { target: "a" });
    const b1 = await trigger(server, { target: "b" });
    const a2 = await trigger(server, { target: "a" });
    await Promise.all([a1, b1, a2].map((b) => server.manager.waitFor(b.key, finished, 10_000)));
    const list = async (q: string) => ((await (await server.api(`/api/v1/builds${q}`)).json()) as { builds: Build[] }).builds.map((b) => b.key);
    expect(await list("?target=a")).toEqual([a2.key, a1.key]);
    expect(await list("?status=failed")).toEqual([b1.key]);
    expect(await list("?limit=1")).toEqual([a2.key]);
  });
});
