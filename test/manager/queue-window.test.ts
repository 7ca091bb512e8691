import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DispatchSlots, type SlotWork } from "../../src/manager/dispatch-slots.js";
import type { Build } from "../../src/manager/types.js";
import { BuildStore } from "../../src/store/build-store.js";
import { openDatabase } from "../../src/store/open-database.js";
import { FakeExecutor } from "../helpers/fake-executor.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const finished = (b: Build) => ["succeeded", "failed", "cancelled", "error"].includes(b.status);

describe("dispatch slots", () => {
  it("run at most `concurrency` works, re-attached ones first, and pull the next when one ends", async () => {
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const work = (name: string): SlotWork => () => new Promise<void>((resolve) => {
      order.push(name);
      gates.set(name, resolve);
    });
    const queue = ["q1", "q2", "q3"];
    const slots = new DispatchSlots(2, () => {
      const next = queue.shift();
      return next ? work(next) : undefined;
    });
    slots.first(work("resumed"));
    expect(order).toEqual([]); // created paused: recovery first
    slots.start();
    expect(order).toEqual(["resumed", "q1"]);
    gates.get("resumed")!();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["resumed", "q1", "q2"]);
    // Paused (shutdown): nothing new starts, and a re-attached work that never started is told.
    let dropped = 0;
    slots.first(work("late"), () => dropped++);
    slots.pause();
    expect(dropped).toBe(1);
    gates.get("q1")!();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["resumed", "q1", "q2"]);
  });
});

describe("the queue in SQLite", () => {
  it("dispatches in queue order from the store, and skips (and removes) a queue entry whose build already ended", async () => {
    const config = testConfig({ concurrency: 1, targets: [{ name: "app", url: "files:///nowhere", commands: ["echo ok"], artifacts: ["artifact.txt"] }] });
    mkdirSync(path.dirname(config.database), { recursive: true });
    const db = openDatabase(config.database);
    const store = new BuildStore(db);
    const base = { target: "app", ref: null, sha: null, trigger: "api" as const, deliveryId: null, repository: null, installationId: null, pullRequest: null, untrusted: false, meta: {}, logPath: path.join(path.dirname(config.database), "logs", "x.log") };
    const keys = ["qa000000000001", "qa000000000002", "qa000000000003"];
    store.insertQueuedAll(keys.map((key, i) => ({ ...base, key, createdAt: new Date(Date.now() - 1000 + i).toISOString() })));
    // An entry the queue still holds for a build that ended (a database another tool changed).
    db.prepare("UPDATE builds SET status = 'cancelled' WHERE key = ?").run(keys[1]);
    db.close();

    const executor = new FakeExecutor();
    const server = await startTestServer(config, { executor });
    servers.push(server);
    for (const key of [keys[0]!, keys[2]!]) expect((await server.manager.waitFor(key, finished, 10_000)).status).toBe("succeeded");
    // In order: the first had finished before the third started.
    expect(Date.parse(server.manager.get(keys[2]!)!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(server.manager.get(keys[0]!)!.finishedAt!));
    expect(server.manager.get(keys[1]!)).toMatchObject({ status: "cancelled", attempts: 0, startedAt: null });
    expect(server.manager.queued()).toEqual([]);
    expect((await (await server.api("/healthz")).json()) as { queued: number }).toMatchObject({ queued: 0 });
  });
});
