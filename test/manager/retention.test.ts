import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { artifactsRoutes } from "../../src/api/artifacts-routes.js";
import type { Config } from "../../src/config/load-config.js";
import type { Build, TriggerRequest } from "../../src/manager/types.js";
import { keepOf, Retention } from "../../src/manager/retention.js";
import { openDatabase, type Db } from "../../src/store/open-database.js";
import { RunnerStore } from "../../src/store/runner-store.js";
import { targetListSchema } from "../../src/shared/api/targets.js";
import { closeGate, FakeExecutor, openGate } from "../helpers/fake-executor.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

/**
 * Retention (issue 14): a target's finished builds past `keep.builds`, or older than
 * `keep.days`, lose their record, log and artifacts, and their routes answer 404 — never the
 * newest `keep.good` good builds of builds.json, a runner's build, or a queued or running build.
 * Real builds (the fake executor's builders speak the real protocol and upload real files), a
 * real server and SQLite file; the clean-up runs on a second connection to that database, as
 * `cicd gc` would, so each test says exactly when it runs.
 */

const servers: TestServer[] = [];
const dbs: Db[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const db of dbs.splice(0)) db.close();
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

/** A server whose own schedule keeps everything (keep 0/0), and a clean-up with `keep` for target app. */
async function start(keep: Record<string, number>, options: { commands?: string[]; now?: () => Date } = {}) {
  const server = await startTestServer(
    testConfig({ concurrency: 1, warmBuilders: false, keep: { builds: 0, days: 0 }, targets: [{ name: "app", url: "files:///nowhere", commands: options.commands ?? ["echo hi"], artifacts: ["artifact.txt"], supersede: false }] }),
    { executor: new FakeExecutor() },
  );
  servers.push(server);
  const db = openDatabase(server.config.database);
  dbs.push(db);
  const config: Config = { ...server.config, targets: server.config.targets.map((t) => ({ ...t, keep })) };
  const logger = memoryLogger();
  const retention = new Retention({ config, db, servicefs: server.manager.servicefs, buildArtifacts: server.manager.buildArtifacts, runners: new RunnerStore(db), logger, now: options.now });
  const trigger = async (request: Partial<TriggerRequest> = {}) => (await server.manager.trigger({ target: "app", trigger: "api", ref: "main", ...request })).build;
  const done = (build: Build) => server.manager.waitFor(build.key, finished, 10_000);
  /** Builds one after the other, each finished before the next is triggered. */
  const build = async (n: number, request: Partial<TriggerRequest> = {}) => {
    const builds: Build[] = [];
    for (let i = 0; i < n; i++) builds.push(await done(await trigger(request)));
    return builds;
  };
  const recorded = async () => (await server.manager.servicefs.builds("app").read()).builds.map((b) => b.key);
  return { server, db, retention, logger, trigger, done, build, recorded };
}

describe("keep.builds and keep.good", () => {
  it("removes the record, log and artifacts of builds past keep.builds, and their routes answer 404", async () => {
    const { server, retention, build, recorded } = await start({ builds: 2, good: 0 });
    const builds = await build(5);
    expect(builds.every((b) => b.status === "succeeded")).toBe(true);
    const old = builds[0]!;
    const oldFile = old.artifacts[0]!;
    expect(existsSync(path.join(server.config.servicefs, "app", oldFile))).toBe(true);
    expect(existsSync(server.manager.logPath(old.key))).toBe(true);

    const removed = await retention.run();
    expect(removed.map((r) => r.key)).toEqual(builds.slice(0, 3).map((b) => b.key));
    expect(removed[0]).toEqual({ target: "app", number: old.number, key: old.key, why: "past keep.builds (2)" });
    expect(await recorded()).toEqual(builds.slice(3).map((b) => b.key));
    // Only the kept builds' files are left beside builds.json.
    const files = readdirSync(path.join(server.config.servicefs, "app")).filter((f) => !f.startsWith(".") && f !== "builds.json");
    expect(files.sort()).toEqual(builds.slice(3).flatMap((b) => b.artifacts).sort());
    expect(existsSync(server.manager.logPath(old.key))).toBe(false);
    for (const route of [`/api/v1/builds/${old.key}`, `/api/v1/builds/${old.key}/log`, `/api/v1/builds/${old.key}/artifacts`, `/api/v1/targets/app/builds/${old.number}`, `/api/v1/targets/app/artifacts/${oldFile}`]) {
      expect((await server.api(route)).status, route).toBe(404);
    }
    expect((await server.api(`/api/v1/builds/${builds[4]!.key}`)).status).toBe(200);
    // A second run finds nothing more to do.
    expect(await retention.run()).toEqual([]);
  });

  it("keeps the newest keep.good good builds of builds.json whatever keep.builds says (a build a runner marked bad is not good)", async () => {
    const { server, retention, build, recorded } = await start({ builds: 1, good: 2 });
    const builds = await build(5);
    // The newest build is bad: the two newest good ones are then the 3rd and 4th.
    await server.manager.servicefs.builds("app").markBad(builds[4]!.key, { reason: "crashed" });
    const removed = await retention.run();
    expect(removed.map((r) => r.key).sort()).toEqual([builds[0]!.key, builds[1]!.key].sort());
    expect(await recorded()).toEqual(builds.slice(2).map((b) => b.key));
    for (const b of builds.slice(2)) expect((await server.api(`/api/v1/builds/${b.key}`)).status).toBe(200);
  });

  it("keeps the build a runner runs and the build a runner is pinned to", async () => {
    const { server, db, retention, build, recorded } = await start({ builds: 1, good: 0 });
    const builds = await build(5);
    // Two runners of the target, as the manager records them, with their state files.
    const runners = new RunnerStore(db);
    const stateDir = path.join(server.dir, "runners-test");
    mkdirSync(stateDir, { recursive: true });
    const runnerState = (id: string, state: Record<string, unknown>) => {
      const stateFile = path.join(stateDir, `${id}.json`);
      writeFileSync(stateFile, JSON.stringify({ pid: 1, dir: "", pin: null, phase: "running", startedAt: "", updatedAt: "", current: null, lastExit: null, tried: [], decisions: [], exitCode: null, error: null, ...state }));
      runners.insert({ id, target: "app", state: "running", createdAt: new Date().toISOString(), stoppedAt: null, exitCode: null, stateFile });
    };
    runnerState("runs", { current: { key: builds[1]!.key, artifact: "", file: "", pid: 2, startedAt: "", restarts: 0 } });
    runnerState("pinned", { pin: builds[2]!.key });
    // A runner that stopped protects nothing.
    runnerState("stopped", { current: { key: builds[0]!.key, artifact: "", file: "", pid: 2, startedAt: "", restarts: 0 } });
    runners.finish("stopped", "stopped", 0);

    const removed = await retention.run();
    expect(removed.map((r) => r.key).sort()).toEqual([builds[0]!.key, builds[3]!.key].sort());
    expect(await recorded()).toEqual([builds[1]!.key, builds[2]!.key, builds[4]!.key]);
  });
});

describe("what retention never touches, and keep.days", () => {
  it("never removes a queued or running build, however old", async () => {
    const tenYears = () => new Date(Date.now() + 3650 * 24 * 3600_000);
    const gate = `retention-${process.pid}-running`;
    const { server, retention, build, trigger, done } = await start({ builds: 1, days: 1, good: 0 }, { commands: [`gate ${gate}`], now: tenYears });
    const old = await build(2);
    // The next build runs until the gate opens, however long the checks below take.
    closeGate(gate);
    const running = await trigger();
    await server.manager.waitFor(running.key, (b) => b.status === "running", 10_000);
    const queued = await trigger();

    const removed = await retention.run();
    expect(removed.map((r) => r.key).sort()).toEqual(old.map((b) => b.key).sort());
    expect(removed.every((r) => r.why === "older than keep.days (1)")).toBe(true);
    expect(server.manager.get(running.key)?.status).toBe("running");
    expect(server.manager.get(queued.key)?.status).toBe("queued");
    openGate(gate);
    expect((await done(running)).status).toBe("succeeded");
    expect((await done(queued)).status).toBe("succeeded");
  });

  it("removes builds older than keep.days and keeps younger ones", async () => {
    let now = new Date();
    const { retention, build, recorded } = await start({ builds: 0, days: 2, good: 0 }, { now: () => now });
    const builds = await build(2);
    expect(await retention.run()).toEqual([]);
    now = new Date(Date.now() + 3 * 24 * 3600_000);
    expect((await retention.run()).map((r) => r.key).sort()).toEqual(builds.map((b) => b.key).sort());
    expect(await recorded()).toEqual([]);
  });

  it("removes a pull request build's artifacts kept by key", async () => {
    const { server, retention, build } = await start({ builds: 1, good: 0 });
    const [pull] = await build(1, { trigger: "pull_request", ref: "refs/pull/7/head", sha: "b".repeat(40), pullRequest: 7 });
    await build(1);
    const dir = path.join(server.manager.buildArtifacts.root, pull!.key);
    expect(readdirSync(dir)).toContain("artifact.txt");
    expect((await server.api(`/api/v1/builds/${pull!.key}/artifacts/artifact.txt`)).status).toBe(200);

    expect((await retention.run()).map((r) => r.key)).toEqual([pull!.key]);
    expect(existsSync(dir)).toBe(false);
    expect((await server.api(`/api/v1/builds/${pull!.key}/artifacts/artifact.txt`)).status).toBe(404);
  });

  it("a dry run says what it would remove and removes nothing", async () => {
    const { server, retention, build, recorded } = await start({ builds: 1, good: 0 });
    const builds = await build(3);
    const would = await retention.run({ dryRun: true });
    expect(would.map((r) => r.key)).toEqual([builds[0]!.key, builds[1]!.key]);
    expect(await recorded()).toEqual(builds.map((b) => b.key));
    for (const b of builds) expect(existsSync(server.manager.logPath(b.key))).toBe(true);
    expect((await retention.run()).map((r) => r.key)).toEqual(would.map((r) => r.key));
  });
});

describe("keep of a target over the server's", () => {
  it("takes each field the target sets, the server's for the rest", () => {
    expect(keepOf({ keep: { builds: 100, days: 0, good: 3 } }, { keep: { builds: 5 } })).toEqual({ builds: 5, days: 0, good: 3 });
    expect(keepOf({ keep: { builds: 100, days: 30, good: 3 } }, {})).toEqual({ builds: 100, days: 30, good: 3 });
  });
});

describe("disk", () => {
  it("measures each target's servicefs folder, logs and kept artifacts, and GET /targets reports them", async () => {
    const { server, retention, build } = await start({ builds: 0 });
    const [branch] = await build(1);
    await build(1, { trigger: "pull_request", ref: "refs/pull/7/head", sha: "b".repeat(40), pullRequest: 7 });
    expect(retention.usage("app")).toBeUndefined();
    await retention.measure();
    const usage = retention.usage("app")!;
    expect(usage.servicefs).toBeGreaterThan(branch!.sizes[branch!.artifacts[0]!]!); // the artifact and builds.json
    expect(usage.logs).toBeGreaterThan(0);
    expect(usage.artifacts).toBeGreaterThan(0);
    expect(usage.total).toBe(usage.servicefs + usage.logs + usage.artifacts);

    const app = express().use(artifactsRoutes(server.config, server.manager.servicefs, (t) => retention.usage(t)));
    const listener = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => listener.once("listening", resolve));
    try {
      const { port } = listener.address() as { port: number };
      const answer = targetListSchema.parse(await (await fetch(`http://127.0.0.1:${port}/targets`)).json());
      expect(answer.targets[0]!.disk).toEqual(usage);
    } finally {
      listener.close();
    }
  });

  it("warns once when the service file system's disk goes past the limit, and once when it is back under", async () => {
    const { retention, logger } = await start({ builds: 0 });
    const warnings = () => logger.lines.filter((l) => l.includes("disk is"));
    retention.diskFullAt = 0; // any use is "full": the real statfs of the test's disk
    await retention.checkDisk();
    await retention.checkDisk();
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatch(/service file system's disk is \d+% full/);
    retention.diskFullAt = 1;
    await retention.checkDisk();
    await retention.checkDisk();
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toMatch(/back to \d+% full/);
  });
});
