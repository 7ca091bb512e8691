import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BadBuildsWatcher } from "../../src/manager/bad-builds-watcher.js";
import type { MarkedBadEvent } from "../../src/manager/types.js";
import { ServiceFs } from "../../src/servicefs/index.js";
import { memoryLogger } from "../helpers/memory-logger.js";
import { FakeBuildService } from "../fixtures/fake-build-service.js";

let work: string;
let sfs: ServiceFs;
let service: FakeBuildService;
const watchers: BadBuildsWatcher[] = [];

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "cicd-bad-builds-"));
  sfs = new ServiceFs(path.join(work, "servicefs"));
  service = new FakeBuildService();
});
afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await rm(work, { recursive: true, force: true });
});

/** A build of the store published to the target's builds.json (good). */
async function published(target = "svc"): Promise<string> {
  const { build } = await service.trigger({ target, trigger: "api" });
  const file = path.join(work, `${build.key}.sh`);
  await writeFile(file, "exit 0\n");
  await sfs.publish(target, { key: build.key, commit: null, ref: null, files: [file] });
  return build.key;
}

function watcher(options: { pollMs?: number; catchUpMs?: number; targets?: string[] } = {}) {
  const logger = memoryLogger();
  const w = new BadBuildsWatcher({ service, servicefs: sfs, targets: options.targets ?? ["svc"], logger, pollMs: options.pollMs ?? 100, catchUpMs: options.catchUpMs });
  watchers.push(w);
  const events: MarkedBadEvent[] = [];
  w.onMarkedBad((e) => events.push(e));
  return { w, events, logger };
}


describe("BadBuildsWatcher", () => {
  it("reports a build that turns bad once, with the runner's reason, and records it with the build", async () => {
    const good = await published();
    const failing = await published();
    const { w, events } = watcher();
    await w.start();
    expect(events).toEqual([]);

    await sfs.builds("svc").markBad(failing, { exitCode: 3, signal: null, reason: "exited with code 3 after 1.0 s" });
    await expect.poll(() => events.length === 1, { timeout: 5000, interval: 20 }).toBe(true);
    const [event] = events;
    expect(event!.record).toMatchObject({ key: failing, status: "bad", exitCode: 3, reason: "exited with code 3 after 1.0 s" });
    expect(event!.build.key).toBe(failing);
    const markedBad = { at: event!.record.markedBadAt, exitCode: 3, signal: null, reason: "exited with code 3 after 1.0 s" };
    expect(event!.build.meta.markedBad).toEqual(markedBad);
    expect(service.get(failing)!.meta.markedBad).toEqual(markedBad);

    // Later changes of the file (a new build, another poll) do not report it again.
    await published();
    await new Promise((r) => setTimeout(r, 400));
    await w.scanAll();
    expect(events).toHaveLength(1);
    expect(service.get(good)!.meta.markedBad).toBeUndefined();
  });

  it("notices through fs.watch without waiting for the poll", async () => {
    const key = await published();
    const { w, events } = watcher({ pollMs: 60_000 });
    await w.start();
    const started = Date.now();
    await sfs.builds("svc").markBad(key, { signal: "SIGKILL", exitCode: null, reason: "was killed" });
    await expect.poll(() => events.length === 1, { timeout: 3000, interval: 20 }).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(events[0]!.build.meta.markedBad).toMatchObject({ signal: "SIGKILL", exitCode: null });
  });

  it("ignores builds the store does not know (published by a builder run by hand)", async () => {
    const { w, events } = watcher();
    await w.start();
    const file = path.join(work, "x.sh");
    await writeFile(file, "exit 0\n");
    await sfs.publish("svc", { key: "handmade", commit: null, ref: null, files: [file] });
    await sfs.builds("svc").markBad("handmade", { exitCode: 1 });
    await new Promise((r) => setTimeout(r, 400));
    await w.scanAll();
    expect(events).toEqual([]);
  });

  it("on start catches up with recent marks not reported yet, but not old ones or reported ones", async () => {
    const recent = await published();
    const old = await published();
    const reported = await published();
    const file = sfs.builds("svc");
    await file.markBad(recent, { exitCode: 2 });
    await file.markBad(reported, { exitCode: 4 });
    await file.update((doc) => {
      doc.builds.find((b) => b.key === old)!.status = "bad";
      doc.builds.find((b) => b.key === old)!.markedBadAt = "2020-01-01T00:00:00.000Z";
    });
    const at = (await file.read()).builds.find((b) => b.key === reported)!.markedBadAt;
    service.setMeta(reported, { markedBad: { at, exitCode: 4, signal: null, reason: null } });

    const { w, events } = watcher();
    await w.start();
    expect(events.map((e) => e.build.key)).toEqual([recent]);
  });

  it("survives a corrupt builds.json (one warning) and carries on once it is fixed; stops on close", async () => {
    const key = await published();
    const { w, events, logger } = watcher();
    await w.start();
    const file = path.join(sfs.targetDir("svc"), "builds.json");
    // Replaced whole, as BuildsFile does, so the watcher never reads a half-written file.
    const replace = async (text: string) => {
      await writeFile(`${file}.tmp`, text);
      await rename(`${file}.tmp`, file);
    };
    const good = await readFile(file, "utf8");
    await replace("{ not json");
    await new Promise((r) => setTimeout(r, 300));
    await replace("{ not json ");
    await new Promise((r) => setTimeout(r, 300));
    expect(logger.lines.filter((l) => l.includes("cannot read builds.json"))).toHaveLength(1);

    await replace(good);
    await new Promise((r) => setTimeout(r, 300));
    await sfs.builds("svc").markBad(key, { exitCode: 1 });
    await expect.poll(() => events.length === 1, { timeout: 5000, interval: 20 }).toBe(true);

    w.close();
    const second = await published();
    await sfs.builds("svc").markBad(second, { exitCode: 1 });
    await new Promise((r) => setTimeout(r, 400));
    expect(events).toHaveLength(1);
  });

  it("watches a target whose folder appears only later", async () => {
    const { w, events } = watcher({ targets: ["later"] });
    await w.start();
    const key = await published("later");
    await sfs.builds("later").markBad(key, { exitCode: 7 });
    await expect.poll(() => events.length === 1, { timeout: 5000, interval: 20 }).toBe(true);
    expect(events[0]!.build.target).toBe("later");
  });
});
