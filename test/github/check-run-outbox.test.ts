import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Build } from "../../src/manager/types.js";
import { BuildStore, type NewBuild } from "../../src/store/build-store.js";
import { CheckOutbox } from "../../src/store/check-outbox.js";
import { openDatabase } from "../../src/store/open-database.js";
import { checkRunReporterFixture } from "../fixtures/check-run-reporter-fixture.js";
import { startFakeGitHubApi } from "../fixtures/fake-github-api.js";

const repository = "Codertocat/Hello-World";
const sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const dir = mkdtempSync(path.join(tmpdir(), "cicd-outbox-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the check-run outbox in SQLite", () => {
  const newBuild = (key: string, fields: Partial<NewBuild> = {}): NewBuild => ({
    key, target: "hello", ref: "refs/heads/master", sha, trigger: "push", deliveryId: null, repository, installationId: 1,
    pullRequest: null, untrusted: false, meta: {}, logPath: path.join(dir, `${key}.log`), createdAt: new Date().toISOString(), ...fields,
  });

  it("holds every build of a GitHub repository until GitHub confirmed its current status, across a reopen", () => {
    const file = path.join(dir, "cicd.sqlite");
    let db = openDatabase(file);
    const store = new BuildStore(db);
    let outbox = new CheckOutbox(db);
    store.insertQueuedAll([newBuild("a"), newBuild("b"), newBuild("rest", { repository: null, installationId: null }), newBuild("c")]);
    const open = () => outbox.unreported().map((b) => b.key);
    expect(open()).toEqual(["a", "b", "c"]); // oldest first; builds not from GitHub never wait

    outbox.markReported("a", "queued");
    outbox.markReported("b", "queued");
    expect(open()).toEqual(["c"]);
    store.dequeue("a", { status: "running" }); // a status change opens the entry again at once
    store.dequeue("b", { status: "running" });
    outbox.markReported("b", "running");
    expect(open()).toEqual(["a", "c"]);

    // The entries live in the database: a process killed now finds them on its next start.
    db.close();
    db = openDatabase(file);
    outbox = new CheckOutbox(db);
    expect(open()).toEqual(["a", "c"]);
    db.close();
  });
});

describe("reconciling check runs after a restart", () => {
  const newReporter = checkRunReporterFixture();
  let api: Awaited<ReturnType<typeof startFakeGitHubApi>>;
  beforeAll(async () => {
    api = await startFakeGitHubApi();
  });
  afterAll(() => api.close());

  it("creates missing check runs, brings stale ones up to date, finds unrecorded ones, and leaves the rest alone", async () => {
    const baseUrl = `http://${api.host}/api/v3`;
    // What the killed process left behind: builds and the outbox, and check runs at GitHub.
    const { service } = newReporter({ baseUrl });
    const queue = async (fields: Partial<Build>, reported?: Build["status"]) => {
      const { build } = await service.trigger({ target: "hello", ref: "refs/heads/master", sha, trigger: "push", repository, installationId: 1 });
      writeFileSync(service.logPath(build.key), "done\n");
      service.update(build.key, { commit: sha, ...fields });
      if (reported) service.markReported(build.key, reported);
      return service.get(build.key)!;
    };
    const checkRun = (build: Build, status: string) => {
      const id = 1000 + api.checkRuns.size;
      api.checkRuns.set(id, { id, name: `cicd/${build.target}`, head_sha: sha, external_id: build.key, status, html_url: `http://${api.host}/runs/${id}` });
      return id;
    };
    const finished = { status: "succeeded", finishedAt: "2026-01-01T10:01:00.000Z" } as const;
    // Finished while its in-progress check run was the last GitHub confirmed.
    const stale = await queue(finished, "running");
    service.setMeta(stale.key, { checkRunId: checkRun(stale, "in_progress") });
    // Never reported: the process died with it in memory.
    const missing = await queue({ status: "running", startedAt: "2026-01-01T10:00:00.000Z" });
    // Created at GitHub, but the process died before it stored the id; a later build of the
    // same target and commit has a newer check run of the same name.
    const unrecorded = await queue(finished);
    checkRun(unrecorded, "queued");
    const later = await queue(finished, "succeeded");
    service.setMeta(later.key, { checkRunId: checkRun(later, "completed") });
    // Not from GitHub: never reported.
    const rest = (await service.trigger({ target: "hello", sha, trigger: "api" })).build;
    service.update(rest.key, finished);

    const { reporter, logger } = newReporter({ baseUrl, service });
    expect(reporter.reconcile()).toBe(3);
    await reporter.idle();

    for (const build of [stale, unrecorded]) {
      expect(api.checkRunsOf(build.key)).toEqual([expect.objectContaining({ status: "completed", conclusion: "success" })]);
    }
    expect(api.checkRunsOf(missing.key)).toEqual([expect.objectContaining({ status: "in_progress", head_sha: sha })]);
    expect(service.get(unrecorded.key)!.meta.checkRunId).toBe(api.checkRunsOf(unrecorded.key)[0]!.id);
    const touched = api.requests.filter((r) => r.method !== "GET" && r.path.includes("/check-runs"));
    expect(touched.map((r) => `${r.method} ${String(r.body?.external_id ?? r.path.split("/").at(-1))}`).sort()).toEqual(
      [`PATCH ${service.get(stale.key)!.meta.checkRunId}`, `PATCH ${service.get(unrecorded.key)!.meta.checkRunId}`, `POST ${missing.key}`].sort(),
    );
    expect(service.unreported()).toEqual([]);
    expect(logger.lines.join("\n")).toContain("Bringing 3 check run(s) up to date after a restart");
  });
});
