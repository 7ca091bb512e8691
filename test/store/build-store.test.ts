import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { BuildStore, REPLAY_WINDOW_MS, type NewBuild } from "../../src/store/build-store.js";
import { migrations } from "../../src/store/migrations.js";
import { openDatabase } from "../../src/store/open-database.js";

const root = mkdtempSync(path.join(os.tmpdir(), "cicd-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const newFile = () => path.join(root, `${++files}`, "cicd.sqlite");

let keys = 0;
function newBuild(fields: Partial<NewBuild> = {}): NewBuild {
  const key = `k${String(++keys).padStart(4, "0")}`;
  return {
    key,
    target: "hello",
    ref: "refs/heads/main",
    sha: "a".repeat(40),
    trigger: "push",
    deliveryId: `delivery-${key}`,
    repository: "acme/hello",
    installationId: 1,
    pullRequest: null,
    untrusted: false,
    meta: { note: "x" },
    logPath: `/logs/${key}.log`,
    createdAt: "2026-01-01T10:00:00.000Z",
    ...fields,
  };
}

describe("BuildStore", () => {
  it("returns a newly queued build exactly as it reads back, and dedupes a delivery", () => {
    const store = new BuildStore(openDatabase(newFile()));
    const { build, duplicate } = store.insertQueued(newBuild({ untrusted: true, pullRequest: 7, meta: { checkRunId: 3, nested: { a: [1] } } }));
    expect(duplicate).toBe(false);
    expect(build).toEqual(store.get(build.key));
    expect(build).toMatchObject({ status: "queued", attempts: 0, commit: null, artifacts: [], untrusted: true, pullRequest: 7 });
    const again = store.insertQueued(newBuild({ deliveryId: `delivery-${build.key}` }));
    expect(again).toEqual({ build: store.get(build.key), duplicate: true });
    expect(store.queueFront(100).map((e) => e.key)).toEqual([build.key]);
  });

  it("inserts a group in one transaction, in order, deduping inside the group, or nothing at all", () => {
    const file = newFile();
    const store = new BuildStore(openDatabase(file));
    const [a, b] = [newBuild(), newBuild()];
    const results = store.insertQueuedAll([a, b, newBuild({ deliveryId: a.deliveryId })]);
    expect(results.map((r) => [r.build.key, r.duplicate])).toEqual([[a.key, false], [b.key, false], [a.key, true]]);
    expect(store.queueFront(100).map((e) => e.key)).toEqual([a.key, b.key]);
    // A write that fails (a key already taken) undoes the whole group.
    expect(() => store.insertQueuedAll([newBuild(), newBuild({ key: a.key, deliveryId: "another" })])).toThrow();
    expect(store.queueFront(100).map((e) => e.key)).toEqual([a.key, b.key]);
    expect(new Database(file, { readonly: true }).prepare("SELECT COUNT(*) AS n FROM builds").get()).toEqual({ n: 2 });
  });

  it("keeps the front of the queue right through triggers, dispatches and requeues", () => {
    const file = newFile();
    const store = new BuildStore(openDatabase(file));
    // A second connection reads the file itself: what the queue really is.
    const reader = new Database(file, { readonly: true }).prepare<[number], { key: string; target: string; untrusted: number }>(
      "SELECT q.key, b.target, b.untrusted FROM queue q JOIN builds b ON b.key = q.key ORDER BY q.position LIMIT ?",
    );
    const length = new Database(file, { readonly: true }).prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM queue");
    const check = (limit: number) => {
      expect(store.queueFront(limit)).toEqual(reader.all(limit).map((r) => ({ key: r.key, target: r.target, untrusted: r.untrusted === 1 })));
      expect(store.queueLength()).toBe(length.get()!.n);
    };
    const a = store.insertQueued(newBuild()).build.key;
    check(3);
    const b = store.insertQueued(newBuild({ target: "other", untrusted: true })).build.key;
    check(3);
    check(1);
    for (let i = 0; i < 4; i++) store.insertQueued(newBuild());
    check(3);
    check(6);
    check(10);
    store.dequeue(a, { status: "running" });
    check(3);
    store.requeue(a, "front");
    check(3);
    expect(store.queueFront(2).map((e) => e.key)).toEqual([a, b]);
    store.dequeue(b, { status: "running" });
    store.requeue(b, "back");
    check(10);
    expect(store.queueFront(10).at(-1)).toMatchObject({ key: b, target: "other", untrusted: true });
    store.dequeue(b, { status: "cancelled" });
    store.dequeue(b, {}); // no longer queued: takes nothing off
    check(10);
    // A group that fails half-way is rolled back, and so is what the store counted of it.
    const dup = newBuild();
    expect(() => store.insertQueuedAll([newBuild(), dup, { ...dup, deliveryId: null }])).toThrow();
    check(10);
  });

  it("lists newest first, by target and status", () => {
    const store = new BuildStore(openDatabase(newFile()));
    const made = Array.from({ length: 5 }, (_, i) => store.insertQueued(newBuild({ target: i % 2 ? "odd" : "even" })).build.key);
    store.dequeue(made[4]!, { status: "running" });
    expect(store.list().map((b) => b.key)).toEqual([...made].reverse());
    expect(store.list({ target: "odd" }).map((b) => b.key)).toEqual([made[3], made[1]]);
    expect(store.list({ status: "running" }).map((b) => b.key)).toEqual([made[4]]);
    expect(store.list({ limit: 2 }).map((b) => b.key)).toEqual([made[4], made[3]]);
  });

  it("upgrades a database written before the seq index, keeping its builds in order", () => {
    const file = newFile();
    const current = openDatabase(file);
    const first = new BuildStore(current).insertQueued(newBuild()).build.key;
    current.close();
    // Roll the file back to schema 2 (no builds_by_seq, nothing of schema 4), as an older cicd left it.
    const old = new Database(file);
    old.exec(`
      DROP INDEX builds_by_seq;
      DROP INDEX builds_by_replay;
      DROP TABLE pull_heads;
      ALTER TABLE builds DROP COLUMN replay_key;
      ALTER TABLE builds DROP COLUMN check_reported;
      ALTER TABLE builds DROP COLUMN outcome;
      DROP INDEX builds_by_target_number;
      DROP INDEX builds_active_by_ref;
      DROP INDEX builds_active_by_pull;
      DROP TABLE target_numbers;
      ALTER TABLE builds DROP COLUMN number;
      DROP TABLE sessions;
      DROP INDEX builds_running;
    `);
    old.pragma("user_version = 2");
    old.close();

    const db = openDatabase(file);
    expect(db.pragma("user_version", { simple: true })).toBe(migrations.length);
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM builds ORDER BY seq DESC LIMIT 5").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toContain("builds_by_seq");
    const store = new BuildStore(db);
    const second = store.insertQueued(newBuild()).build.key;
    expect(store.list().map((b) => b.key)).toEqual([second, first]);
    expect(store.queueFront(100).map((e) => e.key)).toEqual([first, second]);
    // Builds from before numbers were kept are numbered in their order, and numbering goes on.
    expect([store.get(first)?.number, store.get(second)?.number]).toEqual([1, 2]);
    // What a restart reads (through its own index, which the upgrade made): the running builds only.
    store.dequeue(first, { status: "running" });
    expect(store.running().map((b) => b.key)).toEqual([first]);
    expect(store.queueLength()).toBe(1);
  });

  it("treats a build of the same target and replay key within the window as a duplicate, whatever the delivery id", () => {
    const store = new BuildStore(openDatabase(newFile()));
    const replayKey = `push acme/hello refs/heads/main ${"a".repeat(40)}`;
    const at = (ms: number) => new Date(Date.parse("2026-01-01T10:00:00.000Z") + ms).toISOString();
    const first = store.insertQueued(newBuild({ replayKey, createdAt: at(0) }));
    expect(first.duplicate).toBe(false);
    // The same push re-sent under new delivery ids, up to the window's last millisecond.
    for (const ms of [1, 60_000, REPLAY_WINDOW_MS]) {
      expect(store.insertQueued(newBuild({ replayKey, createdAt: at(ms) }))).toEqual({ build: store.get(first.build.key), duplicate: true });
    }
    expect(store.queueFront(100).map((e) => e.key)).toEqual([first.build.key]);
    // Another target of the same push, another key, or no key at all (REST, /build, re-run) is new.
    expect(store.insertQueued(newBuild({ replayKey, target: "other", createdAt: at(1) })).duplicate).toBe(false);
    expect(store.insertQueued(newBuild({ replayKey: `${replayKey}x`, createdAt: at(1) })).duplicate).toBe(false);
    expect(store.insertQueued(newBuild({ createdAt: at(1) })).duplicate).toBe(false);
    // Past the window, the same content queues a build again, and that one is the new reference.
    const later = store.insertQueued(newBuild({ replayKey, createdAt: at(REPLAY_WINDOW_MS + 1) }));
    expect(later.duplicate).toBe(false);
    expect(store.insertQueued(newBuild({ replayKey, createdAt: at(REPLAY_WINDOW_MS + 2) })).build.key).toBe(later.build.key);
    // Inside one group commit too.
    const group = store.insertQueuedAll([newBuild({ replayKey: "k2", createdAt: at(5) }), newBuild({ replayKey: "k2", createdAt: at(5) })]);
    expect(group.map((r) => r.duplicate)).toEqual([false, true]);
  });
});
