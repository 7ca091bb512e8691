import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Broadcaster } from "../../src/builder/broadcaster.js";
import { BuilderSession } from "../../src/builder/builder-session.js";
import { serveBuilds, type ServeHandle } from "../../src/builder/serve-builds.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { createRepo, type TestRepo } from "../helpers/git-repos.js";
import { createBench, jarScript, type Bench } from "./harness.js";
import { freePort } from "../helpers/free-port.js";
import { startEventSink } from "./event-sink.js";

const MANAGER_TOKEN = "manager-token-0123456789";

describe("the builder's HTTP endpoint and broadcasts", () => {
  let bench: Bench;
  let repo: TestRepo;
  let commit: string;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    bench = await createBench();
    repo = await createRepo({ name: "hello.git" });
    commit = await repo.commit({ "build.sh": jarScript("served") }, "first");
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
  });
  afterAll(async () => {
    await repo.cleanup();
    await bench.cleanup();
  });

  async function startBuilder(options: { once?: boolean; maxBuilds?: number; idleExitMs?: number; managerUrl?: string; giveUpAfterMs?: number; logDir?: string } = {}) {
    const log = memoryLogger();
    const broadcaster = new Broadcaster({ url: options.managerUrl, token: MANAGER_TOKEN, log, initialDelayMs: 50, maxDelayMs: 200, giveUpAfterMs: options.giveUpAfterMs ?? 20_000 });
    const session = new BuilderSession({
      builderId: "builder-test",
      environment: { servicefs: bench.servicefs, workdir: bench.workdir, logDir: options.logDir ?? bench.logDir, out: () => {} },
      broadcaster,
      defaults: { secrets: {}, mask: [MANAGER_TOKEN] },
      log,
      once: options.once,
    });
    const handle: ServeHandle = await serveBuilds({ session, broadcaster, builderId: "builder-test", host: "127.0.0.1", port: 0, token: MANAGER_TOKEN, once: options.once ?? false, maxBuilds: options.maxBuilds, idleExitMs: options.idleExitMs, log });
    open.push(handle);
    const base = `http://127.0.0.1:${handle.port}`;
    const call = (method: string, route: string, body?: unknown, token: string | null = MANAGER_TOKEN) =>
      fetch(`${base}${route}`, {
        method,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    return { handle, call, log };
  }

  function request(key: string, extra: Record<string, unknown> = {}) {
    return { key, target: "hello", url: `file://${repo.bare}`, commands: ["./build.sh"], artifacts: ["dist/*.jar"], ...extra };
  }

  it("accepts a build, answers busy with the running key, reports status, and broadcasts in order", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    open.push(sink);
    const { call } = await startBuilder({ managerUrl: sink.url });
    await sink.waitFor(1);
    const gate = path.join(bench.dir, "gate-1");
    const waitForGate = `while [ ! -f ${gate} ]; do sleep 0.05; done`;

    const first = await call("POST", "/build", request("build-one", { commands: [waitForGate, "./build.sh"] }));
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ status: "accepted", key: "build-one" });
    const second = await call("POST", "/build", request("build-two"));
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({ status: "busy", key: "build-one" });
    expect(await (await call("GET", "/status")).json()).toEqual({ builderId: "builder-test", state: "building", key: "build-one" });

    await writeFile(gate, "");
    const events = await sink.waitFor(3);
    expect(events.map((e) => e.type)).toEqual(["ready", "started", "success"]);
    const success = events[2]!;
    if (success.type !== "success") throw new Error("expected success");
    const record = (await bench.builds()).builds.find((b) => b.key === "build-one")!;
    expect(success).toMatchObject({ key: "build-one", exitCode: 0, commit, artifacts: record.artifacts });
    expect(success.commands?.map((c) => c.exitCode)).toEqual([0, 0]);
    expect(await (await call("GET", "/status")).json()).toMatchObject({ state: "idle", key: "build-one", result: "success" });
    // Not --once: the next build is accepted, in a fresh workspace.
    expect((await call("POST", "/build", request("build-three"))).status).toBe(202);
    await sink.waitFor(5);
    expect(sink.refused).toBe(0);
  });

  it("answers 400, 401, 404 and 413 with a JSON error and starts nothing", async () => {
    const { call } = await startBuilder();
    const badJson = await call("POST", "/build", "{not json");
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({ error: "The body is not valid JSON." });
    const missing = await call("POST", "/build", { key: "build-x1", target: "hello", url: "file:///x", artifacts: ["a"] });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toContain("commands");
    const badKey = await call("POST", "/build", request("bad key!"));
    expect(((await badKey.json()) as { error: string }).error).toContain("key");
    const dots = await call("POST", "/build", request("build-x5", { target: "a..b" }));
    expect(dots.status).toBe(400);
    expect(((await dots.json()) as { error: string }).error).toContain("target");
    expect((await call("POST", "/build", request("build-x2"), null)).status).toBe(401);
    expect((await call("GET", "/status", undefined, "wrong-token")).status).toBe(401);
    expect((await call("GET", "/nope")).status).toBe(404);
    const huge = await call("POST", "/build", request("build-x3", { env: { BIG: "x".repeat(1_200_000) } }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: string }).error).toContain("larger than");
    expect(await (await call("GET", "/status")).json()).toEqual({ builderId: "builder-test", state: "idle" });
  });

  it("with --once serves one failing build, reports the failed command, then finishes with 1", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    open.push(sink);
    const { handle, call } = await startBuilder({ once: true, managerUrl: sink.url });
    const before = await bench.files();
    const answer = await call("POST", "/build", request("build-fail", { commands: ["./build.sh", "exit 7", "echo never"] }));
    expect(answer.status).toBe(202);
    expect(await handle.finished).toBe(1);
    const failure = sink.events.at(-1)!;
    expect(failure).toMatchObject({ type: "failure", key: "build-fail", exitCode: 7, failedCommand: 1 });
    if (failure.type !== "failure") throw new Error("expected failure");
    expect(failure.reason).toContain("Command 2 failed (exit code 7)");
    expect(sink.events.map((e) => e.type)).toEqual(["ready", "started", "failure"]);
    expect(await bench.files()).toEqual(before);
    await expect(call("GET", "/status")).rejects.toThrow();
  });

  it("with --max-builds says ready after each build, and ends by itself after the last", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    open.push(sink);
    const { handle, call } = await startBuilder({ maxBuilds: 2, managerUrl: sink.url });
    await sink.waitFor(1);
    expect((await call("POST", "/build", request("build-m1"))).status).toBe(202);
    // Ready again only once the first build's end is told.
    expect((await sink.waitFor(4)).map((e) => e.type)).toEqual(["ready", "started", "success", "ready"]);
    expect((await call("POST", "/build", request("build-m2"))).status).toBe(202);
    expect(await handle.finished).toBe(0);
    expect(sink.events.map((e) => [e.type, "key" in e ? e.key : undefined])).toEqual([
      ["ready", undefined],
      ["started", "build-m1"],
      ["success", "build-m1"],
      ["ready", undefined],
      ["started", "build-m2"],
      ["success", "build-m2"],
    ]);
    await expect(call("GET", "/status")).rejects.toThrow();
  });

  it("with --max-builds ends by itself, with 0, when no next build comes in its idle time", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    open.push(sink);
    const { handle, call } = await startBuilder({ maxBuilds: 5, idleExitMs: 300, managerUrl: sink.url });
    expect((await call("POST", "/build", request("build-idle"))).status).toBe(202);
    await sink.waitFor(4); // ready, started, success, ready again
    expect(await handle.finished).toBe(0);
    expect(sink.events.map((e) => e.type)).toEqual(["ready", "started", "success", "ready"]);
    await expect(call("GET", "/status")).rejects.toThrow();
  });

  it("with --max-builds ends, rather than say ready, when the manager did not hear of a build's end", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    const { handle, call } = await startBuilder({ maxBuilds: 5, managerUrl: sink.url, giveUpAfterMs: 300 });
    await sink.waitFor(1);
    await sink.close();
    expect((await call("POST", "/build", request("build-lost"))).status).toBe(202);
    // The build itself succeeded; its end never reached the manager, so a new manager must read it from the exit.
    expect(await handle.finished).toBe(1);
    expect(sink.events.map((e) => e.type)).toEqual(["ready"]);
  });

  it("reports a failure, not silence, when the builder itself cannot run the build", async () => {
    const sink = await startEventSink({ token: MANAGER_TOKEN });
    open.push(sink);
    const notAFolder = path.join(bench.dir, "log-dir-is-a-file");
    await writeFile(notAFolder, "");
    const { handle, call } = await startBuilder({ once: true, managerUrl: sink.url, logDir: notAFolder });
    expect((await call("POST", "/build", request("build-broken"))).status).toBe(202);
    expect(await handle.finished).toBe(1);
    expect(sink.events.at(-1)).toMatchObject({ type: "failure", key: "build-broken" });
  });

  it("keeps retrying while the manager is down and delivers every event in order once it is up", async () => {
    const port = await freePort();
    const { call } = await startBuilder({ managerUrl: `http://127.0.0.1:${port}/internal/builders/events` });
    expect((await call("POST", "/build", request("build-late"))).status).toBe(202);
    await new Promise((r) => setTimeout(r, 800));
    const sink = await startEventSink({ token: MANAGER_TOKEN, port });
    open.push(sink);
    const events = await sink.waitFor(3);
    expect(events.map((e) => [e.type, "key" in e ? e.key : undefined])).toEqual([
      ["ready", undefined],
      ["started", "build-late"],
      ["success", "build-late"],
    ]);
  });

  it("gives up on an event after the configured time and goes on with the next", async () => {
    const log = memoryLogger();
    const port = await freePort();
    const broadcaster = new Broadcaster({ url: `http://127.0.0.1:${port}/`, log, initialDelayMs: 20, maxDelayMs: 50, giveUpAfterMs: 300 });
    const started = Date.now();
    const at = new Date().toISOString();
    const results = await Promise.all([
      broadcaster.send({ type: "started", builderId: "b", at, key: "k1" }),
      broadcaster.send({ type: "started", builderId: "b", at, key: "k2" }),
    ]);
    expect(results).toEqual([false, false]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(log.lines.filter((l) => l.includes("gave up"))).toHaveLength(2);
  });
});
